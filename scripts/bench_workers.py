"""Trials per hour with 1 and with 2 workers on one Optuna study in PostgreSQL.

    python scripts/bench_workers.py --postgres postgresql://USER@HOST:PORT \\
        [--workers 1 2] [--trials 8] [--epochs 3] [--subset 20000]

For each worker count, creates fresh databases for the Optuna study and the MLflow store on
that server, starts the workers as separate processes (`python -m sweeps worker`), and prints
the wall time from start until the last worker exits, and trials per hour. Needs
`pip install 'keras-sweeps[postgres]'` and MNIST offline ($SWEEPS_DATA_DIR) or online.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid


def create_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="server URL, without a database")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=20000)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

    import optuna
    from mlflow.tracking import MlflowClient

    print(f"{args.trials} trials of up to {args.epochs} epochs on {args.subset} MNIST examples, "
          f"{os.cpu_count()} CPU cores")
    print(f"{'workers':>7} {'wall s':>8} {'trials/hour':>12}")
    for count in args.workers:
        tag = uuid.uuid4().hex[:8]
        storage = create_database(args.postgres, f"optuna_{tag}")
        tracking = create_database(args.postgres, f"mlflow_{tag}")
        MlflowClient(tracking).search_experiments()  # schemas once, as a team's servers do
        optuna.storages.RDBStorage(storage)
        cmd = [sys.executable, "-m", "sweeps", "worker", "mnist_mlp", "--storage", storage,
               "--tracking-uri", tracking, "--max-trials", str(args.trials),
               "--max-epochs", str(args.epochs), "--set", f"data.subset={args.subset}",
               "--set", "tuner.optuna.pruner=none", "--work-dir", f".sweeps-bench-{tag}"]
        start = time.perf_counter()
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True) for _ in range(count)]
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"a worker failed:\n{err}")
        wall = time.perf_counter() - start
        print(f"{count:>7} {wall:>8.1f} {args.trials / wall * 3600:>12.0f}")


if __name__ == "__main__":
    main()
