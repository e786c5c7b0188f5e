"""Overhead of a sweep over bare Keras: the same trial configurations, trained both ways.

    python scripts/bench_overhead.py [--tuner random] [--max-trials 5] [--max-epochs 3]
                                     [--subset N] [--spec mnist_mlp]

Runs a real sweep (keras-tuner + MLflow logging + artifacts + test evaluation) into a temp
MLflow store, then trains every trial's hyperparameters again in a plain Keras loop, for the
epochs that trial ran, with the same data, batch size and schedule, and evaluates the best
model on the test set. Prints both wall times and their ratio (target <= 1.05).
Needs the dataset offline ($SWEEPS_DATA_DIR) or online.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="mnist_mlp")
    parser.add_argument("--tuner", default="random", choices=["hyperband", "random", "bayesian"])
    parser.add_argument("--max-trials", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    from sweeps.runner import load_backend, run_sweep

    load_backend()  # TensorFlow's import and start-up are paid by neither side
    import keras

    from hypermodels import FixedSpace, compile_model, get_hypermodel
    from sweeps.data import load_dataset
    from sweeps.engines import build_context
    from sweeps.spec import load_spec

    overrides = [f"tuner.kind={args.tuner}", f"tuner.max_trials={args.max_trials}",
                 f"training.max_epochs={args.max_epochs}"]
    if args.subset:
        overrides.append(f"data.subset={args.subset}")
    spec = load_spec(args.spec, overrides)

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        start = time.perf_counter()
        result = run_sweep(spec, work_dir=Path(tmp) / "work", stream=io.StringIO())
        sweep_s = time.perf_counter() - start

    start = time.perf_counter()
    data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics, seed=spec.seed)
    context = build_context(spec, data)
    hypermodel = get_hypermodel(spec.hypermodel.name)(**spec.hypermodel.options)
    models = {}
    for trial in result.trials:
        keras.utils.set_random_seed(spec.seed + trial.number)
        space = FixedSpace(spec.search_space, trial.params)
        model = hypermodel.build(space, context)
        compile_model(model, space.value("learning_rate"), context)
        model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                  batch_size=spec.training.batch_size, epochs=trial.epochs_run, verbose=0)
        models[trial.trial_id] = model
    if result.best is not None:
        models[result.best.trial_id].evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
    bare_s = time.perf_counter() - start

    epochs = sum(t.epochs_run for t in result.trials)
    print(f"{spec.name} --tuner {args.tuner}: {len(result.trials)} trials, {epochs} epochs, "
          f"{len(data.x_train)} training examples")
    print(f"sweep (keras-tuner + MLflow + artifacts): {sweep_s:8.1f} s")
    print(f"bare Keras, same configurations:          {bare_s:8.1f} s")
    print(f"overhead ratio:                           {sweep_s / bare_s:8.3f}")


if __name__ == "__main__":
    main()
