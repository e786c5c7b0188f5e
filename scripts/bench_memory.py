"""Does a long sweep's memory grow with its trials? RSS after each trial, under each engine.

    python scripts/bench_memory.py [--trials 200] [--tuners random optuna] [--subset 3000]
                                   [--every 20] [--set KEY=VALUE ...]

Runs ``python -m sweeps run mnist_mlp --tuner T --max-trials N --max-epochs 1 --set
data.subset=S`` in a fresh directory and sqlite store, reads the sweep process's resident set
(``/proc/PID/status``, VmRSS) each time it prints a trial's line, and prints the RSS at trial
1 and every ``--every`` trials, the growth from trial 20 to the last (target: under 100 MB
from trial 20 to trial 200) and the growth per trial over that stretch (least squares).
Linux only (``/proc``). Needs MNIST offline ($SWEEPS_DATA_DIR) or online.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sweep_rss(tuner: str, trials: int, subset: int, settings: list[str]) -> list[float]:
    """The sweep's RSS in MB as each trial's line appears, trial 1 first."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as name:
        tmp = Path(name)
        command = [sys.executable, "-m", "sweeps", "run", "mnist_mlp", "--tuner", tuner,
                   "--max-trials", str(trials), "--max-epochs", "1",
                   "--set", f"data.subset={subset}", "--set", "tuner.optuna.pruner=none",
                   "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}",
                   "--work-dir", str(tmp / ".sweeps")]
        for setting in settings:
            command += ["--set", setting]
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
               "MLFLOW_LOGGING_LEVEL": "WARNING"}
        proc = subprocess.Popen(command, cwd=tmp, env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None
        rss = []
        for line in proc.stdout:
            if line.startswith("trial ") and "/" in line.split()[1]:
                rss.append(rss_mb(proc.pid))
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0:
            sys.exit(f"the sweep ({tuner}) exited {proc.returncode}:\n{err[-2000:]}")
        return rss


def slope(values: list[float]) -> float:
    """Least-squares MB per trial."""
    xs = list(range(len(values)))
    return statistics.linear_regression(xs, values).slope if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--tuners", nargs="+", default=["random", "optuna"])
    parser.add_argument("--subset", type=int, default=3000)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a spec override, as in `sweeps run --set`")
    args = parser.parse_args()
    print(f"mnist_mlp, {args.trials} trials of 1 epoch on {args.subset} digits; "
          f"{os.cpu_count()} CPU cores", flush=True)
    for tuner in args.tuners:
        rss = sweep_rss(tuner, args.trials, args.subset, args.settings)
        marks = [1, *range(args.every, len(rss) + 1, args.every)]
        print(f"{tuner}: " + ", ".join(f"trial {m} {rss[m - 1]:.0f} MB" for m in marks))
        if len(rss) > 20:
            tail = rss[19:]
            print(f"{tuner}: from trial 20 to trial {len(rss)}: {rss[-1] - rss[19]:+.0f} MB, "
                  f"{slope(tail):+.2f} MB per trial (least squares)", flush=True)


if __name__ == "__main__":
    main()
