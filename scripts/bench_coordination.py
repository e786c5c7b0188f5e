"""What coordinating workers costs, apart from training: trials of a fixed 2 s that hardly use
the CPU, on 1, 2, 4, 8 and 16 workers of one Optuna study in PostgreSQL.

    python scripts/bench_coordination.py [--postgres postgresql://USER@HOST:PORT]
        [--workers 1 2 4 8 16] [--trials 64] [--sleep 2.0]

Each worker count gets fresh databases for the Optuna study and the MLflow store (PostgreSQL
for both, as a cluster would have them; without ``--postgres`` a temporary server is started
on loopback from Debian's ``postgresql`` binaries) and runs
``python -m sweeps run SPEC --workers N``. The builder is a tiny Keras model whose trial sleeps
``--sleep`` seconds in a callback after one epoch on 64 rows. From the trial runs' start and end
times in MLflow it prints, per worker count:

- trials per minute from the first trial's start to the last trial's end, and the efficiency
  against 1 worker (trials per minute / (N x those of 1 worker));
- the median trial run's length beyond the sleep (building, one epoch, logging: ms) and the
  median gap between one worker's trials (Optuna's ask and tell, the next run's creation: ms);
- the start-up: seconds from the command's start to the first trial.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SLEEPY = '''
import time

import keras
import keras_tuner
import numpy as np

SLEEP_S = {sleep}


class Sleep(keras.callbacks.Callback):
    """The trial's fixed length, spent without the CPU."""

    def on_train_end(self, logs=None):
        time.sleep(SLEEP_S)


class Sleepy(keras_tuner.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(hp.Int("units", 4, 64, step=4)),
                                  keras.layers.Dense(1)])
        hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        return model

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        return model.fit(*args, callbacks=[*(callbacks or []), Sleep()], **kwargs)


hypermodel = Sleepy()


def load():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = x.sum(axis=1)
    return {{"train": (x[:64], y[:64]), "validation": (x[64:80], y[64:80]),
             "test": (x[80:], y[80:])}}
'''

SPEC = """
name: coordination
data: {{loader: "sleepy:load"}}
task: regression
hypermodel: {{name: "sleepy:hypermodel"}}
tuner:
  kind: optuna
  optuna: {{max_trials: {trials}, sampler: random, pruner: none}}
training: {{batch_size: 64, max_epochs: 1}}
final: {{retrain: false, baselines: false}}
tracking: {{experiment: coordination, register_model: false}}
"""


def database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def measure(server: str, workers: int, trials: int, sleep: float, folder: Path) -> dict:
    from mlflow.tracking import MlflowClient

    tag = uuid.uuid4().hex[:8]
    storage = database(server, f"optuna_{workers}_{tag}")
    tracking = database(server, f"mlflow_{workers}_{tag}")
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "sweeps", "run", "spec.yaml", "--workers", str(workers),
         "--storage", storage, "--tracking-uri", tracking, "--work-dir", f"w{workers}"],
        cwd=folder, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{folder}",
             "MLFLOW_LOGGING_LEVEL": "WARNING"})
    wall = time.time() - started
    if done.returncode != 0:
        sys.exit(f"{workers} workers failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("coordination").experiment_id],
                              "tags.`sweeps.kind` = 'trial'", max_results=1000)
    runs = [r for r in runs if r.info.status == "FINISHED"]
    starts = [r.info.start_time / 1000 for r in runs]
    ends = [r.info.end_time / 1000 for r in runs]
    gaps = []
    by_worker: dict[str, list] = {}
    for run in runs:
        by_worker.setdefault(run.data.tags.get("sweeps.worker", ""), []).append(run.info)
    for infos in by_worker.values():
        infos.sort(key=lambda i: i.start_time)
        gaps += [(b.start_time - a.end_time) for a, b in itertools.pairwise(infos)]
    return {
        "workers": workers, "trials": len(runs), "wall": wall,
        "per_min": len(runs) / (max(ends) - min(starts)) * 60,
        "beyond_ms": statistics.median(e - s for s, e in zip(starts, ends)) * 1000 - sleep * 1000,
        "gap_ms": statistics.median(gaps) if gaps else float("nan"),
        "startup": min(starts) - started,
    }


@contextlib.contextmanager
def postgres(url: str | None):
    if url:
        yield url
        return
    sys.path.insert(0, str(REPO))
    from tests.integration.postgres import postgres_server, server_binaries

    if server_binaries() is None:
        sys.exit("give --postgres URL, or install Debian's postgresql")
    with postgres_server() as (server, _):
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="server URL, without a database")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--sleep", type=float, default=2.0)
    args = parser.parse_args()
    print(f"{args.trials} trials of {args.sleep:g} s (a sleep) on one Optuna study in PostgreSQL, "
          f"MLflow in PostgreSQL; {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.2f} at start", flush=True)
    print(f"{'workers':>7} {'wall':>7} {'start-up':>8} {'trials/min':>10} {'efficiency':>10} "
          f"{'trial beyond sleep':>18} {'gap between trials':>18}", flush=True)
    with postgres(args.postgres) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "sleepy.py").write_text(textwrap.dedent(SLEEPY.format(sleep=args.sleep)))
        (folder / "spec.yaml").write_text(SPEC.format(trials=args.trials))
        base = None
        for workers in args.workers:
            row = measure(server, workers, args.trials, args.sleep, folder)
            base = base or row["per_min"] / row["workers"]
            print(f"{workers:>7} {row['wall']:>6.0f}s {row['startup']:>7.1f}s "
                  f"{row['per_min']:>10.1f} {row['per_min'] / (workers * base):>10.2f} "
                  f"{row['beyond_ms']:>15.0f} ms {row['gap_ms']:>15.0f} ms", flush=True)


if __name__ == "__main__":
    main()
