"""Keras on TensorFlow or on JAX: the flagship MLP's epoch time, and whether a sweep works.

    python scripts/bench_backend.py [--repeats 3] [--epochs 3] [--subset N]
        [--python tensorflow=PATH] [--python jax=/tmp/jaxenv/bin/python] [--no-timing]
        [--no-sweeps]

Keras chooses its backend once per process, from ``KERAS_BACKEND`` at import, so every
measurement runs in a child process (this script, with ``--child``) under the backend's
interpreter (``--python BACKEND=PATH``; default this one, which must then have JAX too).

Timing: mnist_mlp's own hypermodel, data (54,000 training digits unless ``--subset``),
compile step and batch size, at fixed configurations (depth 2 × 512 units and depth 3 × 1024
units), trained ``--epochs`` epochs with validation, as a trial trains. The backends
alternate (TF, JAX, JAX, TF, ...) so that a neighbour's load falls on both; per backend and
configuration it prints the median over ``--repeats`` of the first epoch (tracing and
compilation included) and of the later epochs' median.

Sweeps: one tiny real sweep per engine (hyperband, random, optuna with its Hyperband pruner)
under each backend, into a temp MLflow store: trials completed and pruned, runs left open,
and the final model logged with MLflow's Keras flavor and loaded back for a prediction.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax")
CONFIGS = {
    "depth 2 x 512": {"depth": 2, "units_0": 512, "units_1": 512, "dropout": 0.2,
                      "learning_rate": 1e-3},
    "depth 3 x 1024": {"depth": 3, "units_0": 1024, "units_1": 1024, "units_2": 1024,
                       "dropout": 0.2, "learning_rate": 1e-3},
}
ENGINES = ("hyperband", "random", "optuna")
#: Trial lengths to price (first epoch + later ones): Hyperband's first round, about the
#: flagship's mean (226 epochs over 30 trials) and the spec's max_epochs.
TRIAL_EPOCHS = (3, 8, 20)
_MARK = "BENCH-RESULT "  # the child's one line of JSON on stdout, among whatever else


def child_timing(epochs: int, subset: int | None) -> dict[str, Any]:
    """Seconds per epoch of each configuration, in this process's backend."""
    from sweeps.backend import load_backend

    load_backend()
    import keras

    from hypermodels import FixedSpace, compile_model, get_hypermodel
    from sweeps.data import load_dataset
    from sweeps.spec import load_spec
    from sweeps.training import build_context

    spec = load_spec("mnist_mlp", [f"data.subset={subset}"] if subset else [])
    data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics, seed=spec.seed)
    context = build_context(spec, data)
    hypermodel = get_hypermodel(spec.hypermodel.name)(**spec.hypermodel.options)

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)

    times = {}
    for name, params in CONFIGS.items():
        keras.utils.set_random_seed(spec.seed)
        space = FixedSpace(spec.search_space, params)
        model = hypermodel.build(space, context)
        compile_model(model, space.value("learning_rate"), context)
        timer = EpochTimer()
        model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                  batch_size=spec.training.batch_size, epochs=epochs, verbose=0,
                  callbacks=[timer])
        times[name] = timer.seconds
    return {"backend": keras.backend.backend(), "train": len(data.x_train), "epochs": times}


def child_sweep(engine: str, subset: int) -> dict[str, Any]:
    """A tiny real sweep under this process's backend; what worked."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import io

    import sweeps

    with tempfile.TemporaryDirectory(prefix="bench-backend-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        start = time.perf_counter()
        result = sweeps.run("mnist_mlp", tuner=engine, max_trials=6, max_epochs=3, seed=1,
                            tracking_uri=uri, work_dir=Path(tmp) / ".sweeps",
                            settings=[f"data.subset={subset}"], stream=io.StringIO())
        wall = time.perf_counter() - start
        import keras
        import mlflow.pyfunc
        import numpy as np
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        runs = client.search_runs([result.experiment_id])
        statuses = [t.status.value for t in result.trials]
        prediction = None
        if result.model_uri:
            mlflow.set_tracking_uri(uri)
            loaded = mlflow.pyfunc.load_model(result.model_uri)
            example = np.zeros((2, 28, 28), dtype=np.uint8)
            prediction = list(np.asarray(loaded.predict(example)).shape)
        return {"backend": keras.backend.backend(), "engine": engine, "wall_s": wall,
                "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
                "best": result.best.objective if result.best else None,
                "open_runs": sum(r.info.status == "RUNNING" for r in runs),
                "model_uri": result.model_uri, "loaded_prediction_shape": prediction}


def run_child(python: str, backend: str, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([python, __file__, "--child", *args], env=env, capture_output=True,
                          text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARK)]
    if proc.returncode != 0 or not lines:
        return {"backend": backend, "error": (proc.stderr or proc.stdout)[-1500:].strip()}
    return json.loads(lines[-1][len(_MARK):])


def timing(pythons: dict[str, str], repeats: int, epochs: int, subset: int | None) -> None:
    child_args = ["timing", "--epochs", str(epochs)]
    if subset:
        child_args += ["--subset", str(subset)]
    results: dict[str, list[dict[str, list[float]]]] = {b: [] for b in BACKENDS}
    for repeat in range(repeats):
        order = BACKENDS if repeat % 2 == 0 else BACKENDS[::-1]
        for backend in order:
            load = os.getloadavg()[0]
            result = run_child(pythons[backend], backend, child_args)
            if "error" in result:
                sys.exit(f"{backend}: the timing child failed:\n{result['error']}")
            results[backend].append(result["epochs"])
            summary = "  ".join(f"{name}: " + " ".join(f"{s:.2f}" for s in secs)
                                for name, secs in result["epochs"].items())
            print(f"  repeat {repeat + 1} {backend:<10} (load {load:.2f}) {summary}", flush=True)
    print(f"\nmedian over {repeats} repeats, seconds ({result['train']} training examples, "
          f"batch 256, validation each epoch):")
    print(f"{'configuration':<16} {'backend':<11} {'first epoch':>11} {'later epochs':>12}  "
          + "  ".join(f"{n:>2}-epoch trial" for n in TRIAL_EPOCHS))
    per_epoch: dict[tuple[str, str], tuple[float, float]] = {}
    for name in CONFIGS:
        for backend in BACKENDS:
            runs = [r[name] for r in results[backend]]
            first = statistics.median(r[0] for r in runs)
            rest = statistics.median(statistics.median(r[1:] or r) for r in runs)
            per_epoch[name, backend] = first, rest
            print(f"{name:<16} {backend:<11} {first:>11.2f} {rest:>12.2f}  "
                  + "  ".join(f"{trial_s(first, rest, n):>14.2f}" for n in TRIAL_EPOCHS))
        tf, jax = (per_epoch[name, b] for b in BACKENDS)
        trials = ", ".join(f"{n}-epoch trial x{trial_s(*tf, n) / trial_s(*jax, n):.2f}"
                           for n in TRIAL_EPOCHS)
        print(f"{'':<16} JAX speed-up (TF time / JAX time): later epochs "
              f"x{tf[1] / jax[1]:.2f}, {trials}")


def trial_s(first: float, later: float, epochs: int) -> float:
    """A trial's training seconds: its first epoch (compilation included), then the rest."""
    return first + (epochs - 1) * later


def sweeps_check(pythons: dict[str, str], subset: int) -> None:
    print(f"\ntiny sweeps (6 trials at most, 3 epochs, {subset} digits), per backend and engine:")
    for backend in BACKENDS:
        for engine in ENGINES:
            result = run_child(pythons[backend], backend, ["sweep", engine, "--subset",
                                                           str(subset)])
            if "error" in result:
                print(f"  {backend:<10} {engine:<9} FAILED: {result['error']}")
                continue
            print(f"  {result['backend']:<10} {engine:<9} {result['wall_s']:6.1f} s  "
                  f"trials {result['statuses']}  best {result['best']:.4f}  "
                  f"open runs {result['open_runs']}  model {result['model_uri']} loaded, "
                  f"predicts {result['loaded_prediction_shape']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=None,
                        help="training examples for the timing (default: all 54,000)")
    parser.add_argument("--sweep-subset", type=int, default=1000,
                        help="digits the tiny sweeps train on")
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH",
                        help="the interpreter to run a backend under (default: this one)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-sweeps", action="store_true")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = (child_timing(args.epochs, args.subset) if kind == "timing"
                  else child_sweep(rest[0], args.sweep_subset if not args.subset
                                   else args.subset))
        print(_MARK + json.dumps(result), flush=True)
        return
    pythons = {backend: sys.executable for backend in BACKENDS}
    for item in args.python:
        backend, _, path = item.partition("=")
        if backend not in BACKENDS or not path:
            parser.error(f"--python: expected BACKEND=PATH with BACKEND in {BACKENDS}, "
                         f"got {item!r}")
        pythons[backend] = path
    print(f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.2f} at start; "
          f"interpreters: " + ", ".join(f"{b} {p}" for b, p in pythons.items()))
    if not args.no_timing:
        timing(pythons, args.repeats, args.epochs, args.subset)
    if not args.no_sweeps:
        sweeps_check(pythons, args.sweep_subset)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
