"""Start-up time of the quick CLI commands, and proof they load no TensorFlow/Keras/MLflow.

    python scripts/bench_cli.py [--repeat 10]

Prints, per command, the best and median wall time of a fresh interpreter running it
(target: <= 0.3 s), and which heavy modules it imported (target: none).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = (["--help"], ["list"], ["show", "mnist_mlp"])
PROBE = (
    "import json, sys\nfrom sweeps.cli import main\n"
    "try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
    "print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
    "{{'tensorflow', 'keras', 'mlflow'}})), file=sys.stderr)\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    print(f"{'command':<32} {'best s':>7} {'median s':>9}  heavy modules imported")
    for command in COMMANDS:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sweeps", *command], cwd=REPO,
                           capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        probe = subprocess.run([sys.executable, "-c", PROBE.format(args=command)], cwd=REPO,
                               capture_output=True, text=True, check=True)
        heavy = json.loads(probe.stderr.strip().splitlines()[-1])
        label = "python -m sweeps " + " ".join(command)
        print(f"{label:<32} {min(times):>7.3f} {statistics.median(times):>9.3f}  "
              f"{', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
