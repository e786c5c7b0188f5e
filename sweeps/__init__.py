"""sweeps: hyperparameter search for Keras models, every trial tracked in MLflow.

    import sweeps
    sweeps.run("mnist_mlp", tuner="optuna", max_trials=5)
    sweeps.tune(build_model, data=(x, y), tuner="hyperband")
    sweeps.recheck("mnist_mlp", top=3, seeds=3)     # the top 3 again, under 3 other seeds
    sweeps.run_workers("mnist_mlp", workers=4, tuner="optuna")   # 4 processes, one study
    sweeps.sync(".sweeps")                            # writes kept through a tracking outage

Importing this package is cheap: TensorFlow, Keras and MLflow load only when a sweep runs.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["run", "tune", "recheck", "run_workers", "sync", "SweepResult", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, as Optuna loads its heavier modules: `python -m sweeps --help` stays fast.
    if name in ("run", "tune", "recheck", "run_workers", "sync"):
        from sweeps import api

        return getattr(api, name)
    if name == "SweepResult":
        from sweeps.session import SweepResult

        return SweepResult
    raise AttributeError(f"module 'sweeps' has no attribute {name!r}")
