"""Sweep specs: YAML files validated into typed, frozen objects.

    spec = load_spec("mnist_mlp", overrides=["data.subset=2000"])
    spec.tuner.kind, spec.search_space["units"], spec.training.max_epochs
"""

from __future__ import annotations

from sweeps.spec._loader import (
    BUNDLED_DIR,
    DATASETS,
    METRICS,
    bundled_specs,
    load_spec,
    parse_spec,
)
from sweeps.spec._model import (
    DataSpec,
    Direction,
    EarlyStoppingSpec,
    HypermodelSpec,
    ObjectiveSpec,
    ScheduleSpec,
    SweepSpec,
    TrackingSpec,
    TrainingSpec,
    TunerKind,
    TunerSpec,
)

__all__ = [
    "BUNDLED_DIR",
    "DATASETS",
    "METRICS",
    "bundled_specs",
    "load_spec",
    "parse_spec",
    "DataSpec",
    "Direction",
    "EarlyStoppingSpec",
    "HypermodelSpec",
    "ObjectiveSpec",
    "ScheduleSpec",
    "SweepSpec",
    "TrackingSpec",
    "TrainingSpec",
    "TunerKind",
    "TunerSpec",
]
