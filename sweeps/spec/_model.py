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
from sweeps.metrics import Direction
from sweeps.task import TaskKind

__all__ = [
    "TunerKind",
    "Direction",
    "TaskKind",
    "DataSpec",
    "ParamOverride",
    "HypermodelSpec",
    "TunerSpec",
    "ObjectiveSpec",
    "EarlyStoppingSpec",
    "ScheduleSpec",
    "TrainingSpec",
    "TrackingSpec",
    "FinalSpec",
    "ValidationSpec",
    "SweepSpec",
]


class TunerKind(str, enum.Enum):
    HYPERBAND = "hyperband"
    RANDOM = "random"
    BAYESIAN = "bayesian"
    GRID = "grid"
    OPTUNA = "optuna"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class DataSpec:
    """Where the examples come from and how they are split.

    ``name`` is a source kind: ``mnist``, ``fashion_mnist`` (IDX files), ``npz``, ``csv``,
    ``image_folder`` (read from ``path``), a scikit-learn dataset (``digits``, ``iris``,
    ``wine``, ``breast_cancer``, ``diabetes``), ``loader`` (a function named by ``loader``) or
    ``arrays`` (given from Python, :func:`sweeps.tune`).
    """

    name: str
    #: Folder with the four IDX files; ``None``: $SWEEPS_DATA_DIR, then the fallbacks.
    dir: str | None = None
    #: The file or folder of ``npz``, ``csv`` and ``image_folder``.
    path: str | None = None
    #: The label column of ``csv``.
    target: str | None = None
    #: ``(height, width)`` images of ``image_folder`` are resized to.
    image_size: tuple[int, int] | None = None
    #: ``"module:function"`` returning the data, for ``name: loader``.
    loader: str | None = None
    #: Held out for validation unless the source has a validation set.
    validation_split: float = 0.1
    #: Held out for the final test unless the source has a test set; None: no test set.
    test_split: float | None = None
    #: Train (and validate) on the first ``subset`` training examples only.
    subset: int | None = None
    #: Shuffle (with the spec's seed) before holding slices out; otherwise they come from
    #: the end, as MNIST's validation slice does.
    shuffle: bool = False
    #: In-memory data given from Python (``name: arrays``); not part of the spec's YAML.
    arrays: Any = field(default=None, compare=False, repr=False)
    #: A digest of ``arrays``: what identifies in-memory data in the sweep's identity.
    digest: str | None = None


@dataclass(frozen=True)
class ParamOverride:
    """A partial search-space entry for a builder whose space is declared in code
    (``units: {max: 256}``): merged into what the builder declares when it is first built."""

    fields: Mapping[str, Any]


@dataclass(frozen=True)
class HypermodelSpec:
    #: A bundled name (``mlp``), an import path (``my_models:build_model``) or the name of a
    #: ``sweeps.hypermodels`` entry point.
    name: str
    options: Mapping[str, Scalar] = field(default_factory=dict)
    #: ``bundled``, ``import``, ``entry_point`` or ``object`` (given from Python).
    origin: str = "bundled"
    #: The builder itself when given from Python (:func:`sweeps.tune`).
    obj: Any = field(default=None, compare=False, repr=False)

    @property
    def bundled(self) -> bool:
        return self.origin == "bundled"


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
        return self.direction.better(a, b)


@dataclass(frozen=True)
class EarlyStoppingSpec:
    monitor: str
    #: Whether ``monitor`` improves upwards (max) or downwards (min).
    mode: Direction
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
    #: Fits per trial (per fold with ``validation.folds``), from fresh weights: keras-tuner's
    #: ``executions_per_trial``; the objective is their mean (:mod:`sweeps.executions`).
    executions_per_trial: int = 1
    #: The user's own Keras callbacks (``sweeps.tune(..., callbacks=[...])``, as
    #: ``tuner.search(callbacks=...)`` takes them): each trial trains with deep copies.
    callbacks: tuple[Any, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class ValidationSpec:
    """How trials are validated: on the validation slice, or by k-fold cross-validation of
    the training and validation examples pooled (:mod:`sweeps.executions`)."""

    folds: int = 1


@dataclass(frozen=True)
class TrackingSpec:
    experiment: str
    #: ``None``: $MLFLOW_TRACKING_URI, else MLflow's default (``sqlite:///mlflow.db``).
    uri: str | None = None
    #: The Model Registry name the sweep's model is registered under (by default the spec's
    #: name); ``None`` (``register_model: false``): logged on the sweep run, not registered.
    register_model: str | None = None
    #: How long a sweep trains on through a tracking-store outage, its writes journaled,
    #: before it stops (``tracking.patience_minutes``).
    patience_minutes: float = 30.0
    #: ``tracking.tensorboard``: TensorBoard logs written while the sweep runs, under its
    #: folder (``<work_dir>/<name>/<hash>/tensorboard``); ``sweeps tensorboard`` writes the
    #: same from MLflow at any time.
    tensorboard: bool = False


#: Training examples up to which ``final.retrain: auto`` retrains the best configuration on
#: training plus validation data: with 10 % held out, 1,000 more examples or fewer to learn
#: from, a gain worth the one extra fit; beyond it the extra fit costs more than it adds.
SMALL_DATA = 10_000


@dataclass(frozen=True)
class FinalSpec:
    """What makes the sweep's final model once the search is over (docs/tasks.md, "Final fit")."""

    #: True: the best hyperparameters are trained again from scratch on training plus
    #: validation data, for as many epochs as the best trial's weights had, and that model is
    #: tested, logged and registered (the best trial's own model is tested beside it).
    #: False: the best trial's model is the final model. None ("auto", the default): True
    #: when the data is small (:data:`SMALL_DATA` training examples or fewer), where the
    #: validation slice is a large share of what there is to learn from.
    retrain: bool | None = None
    #: True: the builder's default hyperparameters (trained as a trial) and, for a table of
    #: features, a linear model are tested beside the final model (:mod:`sweeps.final.baselines`).
    baselines: bool = True
    #: The epoch count of the final fit found as the Keras Tuner tutorial finds it: the
    #: best hyperparameters trained up to this many epochs with validation (EarlyStopping),
    #: their best epoch taken. None: the epochs the best trial's weights had. Implies
    #: ``retrain``.
    max_epochs: int | None = None

    def retrains(self, train_examples: int, executions: int = 1) -> bool:
        """Whether the final model is retrained, for data of ``train_examples`` and trials
        of ``executions`` fits each (with several, no one fit's weights are the trial's)."""
        if self.retrain is None:
            return (train_examples <= SMALL_DATA or executions > 1
                    or self.max_epochs is not None)
        return self.retrain


@dataclass(frozen=True)
class SweepSpec:
    name: str
    description: str
    #: Where the spec came from (a path, or ``<bundled>/name.yaml``), for messages.
    source: str
    data: DataSpec
    hypermodel: HypermodelSpec
    #: Bundled hypermodels: their defaults with the spec's overrides applied. Builders that
    #: declare their space in code: the spec's entries only, full (a Param) or partial.
    search_space: Mapping[str, Param | ParamOverride]
    tuner: TunerSpec
    #: What the search optimises; the first is primary (ranking, "best so far"). Several
    #: objectives (Optuna only) make a multi-objective search with a Pareto front.
    objectives: tuple[ObjectiveSpec, ...]
    training: TrainingSpec
    seed: int
    tracking: TrackingSpec
    #: ``None``: inferred from the training labels when the data is loaded.
    task: TaskKind | None = None
    #: Keras metric names compiled in besides the task's defaults.
    metrics: tuple[str, ...] = ()
    final: FinalSpec = field(default_factory=FinalSpec)
    validation: ValidationSpec = field(default_factory=ValidationSpec)

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
            "data": _data_dict(self.data),
            "task": self.task.value if self.task else None,
            "metrics": list(self.metrics),
            "hypermodel": {"name": self.hypermodel.name, "options": dict(self.hypermodel.options)},
            "search_space": {k: dict(p.fields) if isinstance(p, ParamOverride) else param_to_dict(p)
                             for k, p in self.search_space.items()},
            "tuner": {
                "kind": self.tuner.kind.value,
                **{kind.value: dict(s) for kind, s in self.tuner.settings.items()},
            },
            "objective": objectives[0] if len(objectives) == 1 else objectives,
            "training": {
                "batch_size": self.training.batch_size,
                "max_epochs": self.training.max_epochs,
                "early_stopping": {**vars_of(self.training.early_stopping),
                                   "mode": self.training.early_stopping.mode.value},
                "lr_schedule": vars_of(self.training.lr_schedule),
                "executions_per_trial": self.training.executions_per_trial,
            },
            "validation": {"folds": self.validation.folds},
            "final": {"retrain": "auto" if self.final.retrain is None else self.final.retrain,
                      "baselines": self.final.baselines, "max_epochs": self.final.max_epochs},
            "seed": self.seed,
            "tracking": {"experiment": self.tracking.experiment, "uri": self.tracking.uri,
                         "register_model": self.tracking.register_model or False,
                         "patience_minutes": self.tracking.patience_minutes,
                         "tensorboard": self.tracking.tensorboard},
        }


def vars_of(obj: Any) -> dict[str, Any]:
    return dict(vars(obj))


#: The keys each data source reads besides the split settings; ``show`` prints only these.
DATA_KEYS = {
    "mnist": ("dir",), "fashion_mnist": ("dir",), "npz": ("path",), "csv": ("path", "target"),
    "image_folder": ("path", "image_size"), "loader": ("loader",), "arrays": ("digest",),
}


def _data_dict(data: DataSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": data.name}
    for key in DATA_KEYS.get(data.name, ()):
        value = getattr(data, key)
        out[key] = list(value) if isinstance(value, tuple) else value
    out.update(validation_split=data.validation_split, test_split=data.test_split,
               subset=data.subset, shuffle=data.shuffle)
    return out
