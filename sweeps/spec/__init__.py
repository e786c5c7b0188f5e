"""Sweep specs: YAML files validated into typed, frozen objects.

    spec = load_spec("mnist_mlp", overrides=["data.subset=2000"])
    spec.tuner.kind, spec.search_space["units"], spec.training.max_epochs
"""

from __future__ import annotations

from sweeps.spec._data_section import DATASETS
from sweeps.spec._hypermodel_section import ENTRY_POINT_GROUP
from sweeps.spec._loader import (
    BUNDLED_DIR,
    bundled_specs,
    load_spec,
    parse_param,
    parse_spec,
    parse_spec_dict,
)
from sweeps.spec._model import (
    DataSpec,
    Direction,
    EarlyStoppingSpec,
    FinalSpec,
    HypermodelSpec,
    ObjectiveSpec,
    ParamOverride,
    ScheduleSpec,
    SweepSpec,
    TaskKind,
    TrackingSpec,
    TrainingSpec,
    TunerKind,
    TunerSpec,
    ValidationSpec,
)

__all__ = [
    "BUNDLED_DIR",
    "DATASETS",
    "ENTRY_POINT_GROUP",
    "bundled_specs",
    "load_spec",
    "parse_param",
    "parse_spec",
    "parse_spec_dict",
    "DataSpec",
    "Direction",
    "EarlyStoppingSpec",
    "FinalSpec",
    "ValidationSpec",
    "HypermodelSpec",
    "ObjectiveSpec",
    "ParamOverride",
    "ScheduleSpec",
    "SweepSpec",
    "TaskKind",
    "TrackingSpec",
    "TrainingSpec",
    "TunerKind",
    "TunerSpec",
]
