"""Engines turn a spec into trials. One module per engine family.

Engines report through :class:`sweeps.events.SweepObserver` and never touch MLflow.
"""

from __future__ import annotations

from pathlib import Path

from hypermodels import BuildContext, Hypermodel
from sweeps.engines.base import Engine, build_context, training_callbacks
from sweeps.events import SweepObserver
from sweeps.spec import SweepSpec, TunerKind

__all__ = ["Engine", "build_context", "create_engine", "training_callbacks"]


def create_engine(
    spec: SweepSpec, hypermodel: Hypermodel, context: BuildContext, observer: SweepObserver,
    work_dir: Path,
) -> Engine:
    """The engine for ``spec.tuner.kind``."""
    if spec.tuner.kind in (TunerKind.HYPERBAND, TunerKind.RANDOM, TunerKind.BAYESIAN):
        from sweeps.engines.keras_tuner import KerasTunerEngine

        return KerasTunerEngine(spec, hypermodel, context, observer, work_dir)
    raise ValueError(f"no engine for tuner kind {spec.tuner.kind!r}")
