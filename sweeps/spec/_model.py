"""Typed, frozen objects a sweep spec is validated into.

Everything downstream (runner, engines, tracking) reads these, never the raw YAML.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hypermodels.space import Param, Scalar, param_to_dict

__all__ = [
    "TunerKind",
    "Direction",
    "DataSpec",
    "HypermodelSpec",
    "TunerSpec",
    "ObjectiveSpec",
    "EarlyStoppingSpec",
    "ScheduleSpec",
    "TrainingSpec",
    "TrackingSpec",
    "SweepSpec",
]


class TunerKind(str, enum.Enum):
    HYPERBAND = "hyperband"
    RANDOM = "random"
    BAYESIAN = "bayesian"
    GRID = "grid"
    OPTUNA = "optuna"


class Direction(str, enum.Enum):
    MAX = "max"
    MIN = "min"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class DataSpec:
    name: str
    #: Folder with the four IDX files; ``None``: $SWEEPS_DATA_DIR, then the fallbacks.
    dir: str | None = None
    validation_split: float = 0.1
    #: Train (and validate) on the first ``subset`` training examples only.
    subset: int | None = None


@dataclass(frozen=True)
class HypermodelSpec:
    name: str
    options: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class TunerSpec:
    """The chosen engine and every engine's settings.

    Settings for all kinds live side by side so ``--tuner random`` works on a spec written
    for Hyperband; only ``kind``'s are used.
    """

    kind: TunerKind
    #: Per kind: ``max_trials`` plus its own settings (``factor``, ``num_initial_points``...).
    settings: Mapping[TunerKind, Mapping[str, Any]]

    @property
    def max_trials(self) -> int | None:
        return self.settings[self.kind].get("max_trials")

    @property
    def options(self) -> Mapping[str, Any]:
        """The chosen kind's settings other than ``max_trials``."""
        return {k: v for k, v in self.settings[self.kind].items() if k != "max_trials"}


@dataclass(frozen=True)
class ObjectiveSpec:
    metric: str
    direction: Direction

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.direction is Direction.MAX else a < b


@dataclass(frozen=True)
class EarlyStoppingSpec:
    monitor: str
    patience: int
    min_delta: float = 0.0
    restore_best_weights: bool = True


@dataclass(frozen=True)
class ScheduleSpec:
    """InverseTimeDecay: ``lr = initial / (1 + decay_rate * step / decay_steps)``."""

    #: ``epoch``: decay_steps is one epoch's steps; ``steps``: decay_steps as given.
    decay_per: str = "epoch"
    decay_steps: int | None = None
    decay_rate: float = 0.5
    staircase: bool = False


@dataclass(frozen=True)
class TrainingSpec:
    batch_size: int
    max_epochs: int
    early_stopping: EarlyStoppingSpec
    lr_schedule: ScheduleSpec


@dataclass(frozen=True)
class TrackingSpec:
    experiment: str
    #: ``None``: $MLFLOW_TRACKING_URI, else MLflow's default (``sqlite:///mlflow.db``).
    uri: str | None = None


@dataclass(frozen=True)
class SweepSpec:
    name: str
    description: str
    #: Where the spec came from (a path, or ``<bundled>/name.yaml``), for messages.
    source: str
    data: DataSpec
    hypermodel: HypermodelSpec
    #: The hypermodel's defaults with the spec's overrides applied.
    search_space: Mapping[str, Param]
    tuner: TunerSpec
    #: What the search optimises; the first is primary (ranking, "best so far"). Several
    #: objectives (Optuna only) make a multi-objective search with a Pareto front.
    objectives: tuple[ObjectiveSpec, ...]
    training: TrainingSpec
    seed: int
    tracking: TrackingSpec

    @property
    def objective(self) -> ObjectiveSpec:
        """The primary objective."""
        return self.objectives[0]

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec in its YAML form: what ``show`` prints and runs log."""
        objectives = [{"metric": o.metric, "direction": o.direction.value}
                      for o in self.objectives]
        return {
            "name": self.name,
            "description": self.description,
            "data": {
                "name": self.data.name,
                "dir": self.data.dir,
                "validation_split": self.data.validation_split,
                "subset": self.data.subset,
            },
            "hypermodel": {"name": self.hypermodel.name, "options": dict(self.hypermodel.options)},
            "search_space": {k: param_to_dict(p) for k, p in self.search_space.items()},
            "tuner": {
                "kind": self.tuner.kind.value,
                **{kind.value: dict(s) for kind, s in self.tuner.settings.items()},
            },
            "objective": objectives[0] if len(objectives) == 1 else objectives,
            "training": {
                "batch_size": self.training.batch_size,
                "max_epochs": self.training.max_epochs,
                "early_stopping": vars_of(self.training.early_stopping),
                "lr_schedule": vars_of(self.training.lr_schedule),
            },
            "seed": self.seed,
            "tracking": {"experiment": self.tracking.experiment, "uri": self.tracking.uri},
        }


def vars_of(obj: Any) -> dict[str, Any]:
    return dict(vars(obj))
