"""Engines turn a spec into trials. One module per engine family.

Engines report through :class:`sweeps.events.SweepObserver` and never touch MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sweeps.events import SweepObserver
from sweeps.spec import SweepSpec, TunerKind

if TYPE_CHECKING:
    from sweeps.builders import Builder
    from sweeps.declared import DeclaredSpace
    from sweeps.engines.base import Engine

# The engines (and Keras with them) load only when one is created: importing a light module
# of this package, such as the Optuna storage helpers, does not start TensorFlow.
__all__ = ["create_engine"]


def create_engine(
    spec: SweepSpec, builder: Builder, declared: DeclaredSpace, observer: SweepObserver,
    work_dir: Path, *, resume: bool, storage: str, study_name: str,
) -> Engine:
    """The engine for ``spec.tuner.kind``, keeping its state under ``work_dir``.

    ``storage`` and ``study_name`` locate the Optuna study; keras-tuner keeps its state in
    ``work_dir`` and reloads it when ``resume``.
    """
    if spec.tuner.kind is TunerKind.OPTUNA:
        from sweeps.engines.optuna import OptunaEngine

        return OptunaEngine(spec, builder, declared, observer, work_dir, storage=storage,
                            study_name=study_name)
    from sweeps.engines.keras_tuner import KerasTunerEngine

    return KerasTunerEngine(spec, builder, declared, observer, work_dir, resume=resume)
