"""The flagship's accuracy and wall time over seeds: min, median and max.

    python scripts/bench_flagship.py [--spec mnist_mlp] [--seeds 1 2 3] [--tuner optuna]
        [--set KEY=VALUE ...]

Runs ``python -m sweeps run SPEC --seed S`` once per seed, each in its own process, working
directory and sqlite MLflow store (so no run can see another's state), and prints per seed the
wall time, peak memory of the sweep's process, the best trial's validation objective and the
final model's test metric read back from MLflow; then min, median and max over the seeds.
Figures in docs/benchmarks.md come from this script. MNIST must be offline ($SWEEPS_DATA_DIR)
or downloadable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_once(spec: str, seed: int, tuner: str | None, settings: list[str]) -> dict[str, float]:
    """One sweep in a fresh directory: wall seconds, peak RSS (GB) and the sweep run's metrics."""
    with tempfile.TemporaryDirectory(prefix="bench-flagship-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        command = [sys.executable, "-m", "sweeps", "run", spec, "--seed", str(seed),
                   "--tracking-uri", uri, "--work-dir", str(Path(tmp) / ".sweeps")]
        if tuner:
            command += ["--tuner", tuner]
        for setting in settings:
            command += ["--set", setting]
        env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_LOGGING_LEVEL": "WARNING"}
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, not the max
        wall = time.perf_counter() - start     # over every child so far
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            sys.exit(f"seed {seed}: the sweep exited {proc.returncode}:\n{err[-2000:]}")
        return {"wall_s": wall, "rss_gb": usage.ru_maxrss / 1024**2,
                **sweep_metrics(uri, spec)}


def sweep_metrics(uri: str, spec: str) -> dict[str, float]:
    """The sweep run's metrics: its best objective and its test_* metrics."""
    from mlflow.tracking import MlflowClient

    from tracking.tags import KIND, KIND_SWEEP

    client = MlflowClient(uri)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments],
                              filter_string=f"tags.`{KIND}` = '{KIND_SWEEP}'")
    if len(runs) != 1:
        sys.exit(f"{spec}: expected one sweep run in {uri}, found {len(runs)}")
    return dict(runs[0].data.metrics)


def summary(values: list[float]) -> str:
    return (f"min {min(values):.4f}  median {statistics.median(values):.4f}  "
            f"max {max(values):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="mnist_mlp")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--tuner", default=None, help="the engine (default: the spec's)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a spec override, as in `sweeps run --set`")
    parser.add_argument("--metric", default="test_accuracy", help="the sweep metric to report")
    args = parser.parse_args()

    print(f"{args.spec} ({args.tuner or 'its own tuner'}) over seeds {args.seeds}, "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'seed':>4} {'wall':>9} {'peak RSS':>9} {args.metric:>14}")
    results = []
    for seed in args.seeds:
        result = run_once(args.spec, seed, args.tuner, args.settings)
        results.append(result)
        minutes, seconds = divmod(result["wall_s"], 60)
        print(f"{seed:>4} {int(minutes):>3}m{seconds:04.1f}s {result['rss_gb']:>7.2f}GB "
              f"{result.get(args.metric, float('nan')):>14.4f}", flush=True)
    print(f"wall minutes: {summary([r['wall_s'] / 60 for r in results])}")
    print(f"{args.metric}: {summary([r.get(args.metric, float('nan')) for r in results])}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
