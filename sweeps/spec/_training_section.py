"""The spec's ``tuner:``, ``objective:``, ``metrics:`` and ``training:`` sections: which search
runs and for how long, what it optimises and in which direction, and how each trial trains.

    tuner: {kind: optuna, optuna: {sampler: tpe}}
    objective: {metric: val_accuracy}
    training: {batch_size: 128, max_epochs: 20, early_stopping: {patience: 3}}
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from sweeps.metrics import direction_of
from sweeps.spec._limits import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_EXECUTIONS,
    MAX_FOLDS,
    MAX_INTEGER,
    MAX_MAGNITUDE,
    MAX_TRIALS,
)
from sweeps.spec._model import (
    Direction,
    EarlyStoppingSpec,
    ObjectiveSpec,
    ScheduleSpec,
    TrainingSpec,
    TunerKind,
    TunerSpec,
    ValidationSpec,
)
from sweeps.spec._reader import Node, describe

__all__ = ["PRUNERS", "SAMPLERS"]

#: A Keras metric or logged key: letters, digits and underscores.
_METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
SAMPLERS = ("tpe", "random", "gp", "cmaes", "nsga2")
PRUNERS = ("hyperband", "median", "successive_halving", "none")
_DEFAULT_MAX_TRIALS = 20


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _metric_name(node: Node, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _METRIC_NAME.fullmatch(value):
        node.fail(key, "expected a metric name (letters, digits, underscores, as Keras logs it),"
                       f" got {describe(value)}")
    return value


def _metric_list(root: Node) -> tuple[str, ...]:
    """``metrics: [mse, precision]``: Keras metric names compiled in besides the task's."""
    value = root.raw("metrics", None)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        root.fail("metrics", f"expected a list of Keras metric names, got {describe(value)}")
    return tuple(_metric_name(root, f"metrics[{i}]", item) for i, item in enumerate(value))


_TUNER_SETTINGS: dict[TunerKind, dict[str, tuple[str, Any]]] = {
    TunerKind.HYPERBAND: {"max_trials": ("int?", None), "factor": ("int2", 3),
                          "iterations": ("int", 1)},
    TunerKind.RANDOM: {"max_trials": ("int", _DEFAULT_MAX_TRIALS)},
    TunerKind.BAYESIAN: {"max_trials": ("int", _DEFAULT_MAX_TRIALS),
                         "num_initial_points": ("int?", None), "alpha": ("pos", 1e-4),
                         "beta": ("pos", 2.6)},
    TunerKind.GRID: {"max_trials": ("int?", None)},  # null: every combination
    TunerKind.OPTUNA: {"max_trials": ("int", _DEFAULT_MAX_TRIALS), "sampler": (SAMPLERS, "tpe"),
                       "pruner": (PRUNERS, "hyperband"), "storage": ("str?", None)},
}


def _tuner(node: Node) -> TunerSpec:
    kinds = [k.value for k in TunerKind]
    kind = TunerKind(node.string("kind", TunerKind.HYPERBAND.value, choices=kinds))
    settings: dict[TunerKind, dict[str, Any]] = {}
    for tuner_kind, schema in _TUNER_SETTINGS.items():
        sub = node.child(tuner_kind.value)
        values: dict[str, Any] = {}
        for key, (rule, default) in schema.items():
            if isinstance(rule, tuple):
                values[key] = sub.string(key, default, choices=rule)
            elif rule == "str?":
                values[key] = sub.string(key, default, nullable=True)
            elif rule == "pos":
                values[key] = sub.number(key, default, minimum=0, maximum=MAX_MAGNITUDE,
                                         exclusive_minimum=True)
            else:
                values[key] = sub.integer(key, default, minimum=2 if rule == "int2" else 1,
                                          maximum=MAX_TRIALS, nullable=rule == "int?")
        sub.finish()
        settings[tuner_kind] = values
    if kind is TunerKind.OPTUNA and settings[kind]["sampler"] == "gp" and not _has("torch"):
        node.fail("optuna.sampler", "expected a sampler whose needs are installed: gp needs "
                                    "PyTorch (pip install 'keras-sweeps[gp]'); got \"gp\"")
    # `tuner.max_trials` (what --max-trials sets) applies to whichever kind runs.
    if node.has("max_trials"):
        settings[kind]["max_trials"] = node.integer("max_trials", minimum=1, maximum=MAX_TRIALS)
    else:
        node.raw("max_trials", None)
    node.finish()
    return TunerSpec(kind=kind, settings=settings)


def _objectives(root: Node, tuner: TunerSpec) -> tuple[ObjectiveSpec, ...]:
    """``objective:`` is one mapping, or a list of them for a multi-objective search."""
    raw = root.raw("objective", None)
    if not isinstance(raw, list):
        return (_objective(root.child("objective")),)
    if not raw:
        root.fail("objective", "expected a mapping or a non-empty list of mappings, "
                               "got an empty list")
    objectives = tuple(_objective(Node(item, f"objective[{i}]", root.origin))
                       for i, item in enumerate(raw))
    metrics = [o.metric for o in objectives]
    duplicate = next((m for m in metrics if metrics.count(m) > 1), None)
    if duplicate:
        root.fail("objective", f"expected distinct metrics, got {duplicate!r} twice")
    if len(objectives) > 1 and tuner.kind is not TunerKind.OPTUNA:
        root.fail("objective", f"expected one objective for tuner {tuner.kind.value!r} "
                               "(several need tuner.kind: optuna), got "
                               f"{len(objectives)}: {', '.join(metrics)}")
    return objectives


def _objective(node: Node) -> ObjectiveSpec:
    metric = _metric_name(node, "metric", node.raw("metric", "val_loss"))
    direction = _direction(node, metric)
    node.finish()
    return ObjectiveSpec(metric=metric, direction=direction)


def _direction(node: Node, metric: str, key: str = "direction") -> Direction:
    """The spec's ``direction``, else the one the metric's name implies."""
    inferred = direction_of(metric)
    given = node.string(key, None, nullable=True, choices=("max", "min"))
    if given is None and inferred is None:
        node.fail(key, f"is required: the name {metric!r} does not say whether larger or "
                       "smaller is better; give max or min")
    return Direction(given) if given else inferred  # type: ignore[return-value]


def default_decay_rate(decay_per: str, max_epochs: int) -> float:
    """``lr_schedule.decay_rate`` when the spec gives none: per epoch, a rate that has the
    learning rate at a fifth of its start by the last epoch (0.2 for 20 epochs, 0.04 for
    100), so that small data, which needs many epochs, is not stalled after a few (at 0.5 a
    100-epoch trial ended at 1/51 of its rate); at most 0.5, as before, for short runs."""
    if decay_per != "epoch":
        return 0.5
    return min(0.5, 4.0 / max_epochs)


def _training(node: Node, callbacks: Any = None) -> TrainingSpec:
    batch_size = node.integer("batch_size", 128, minimum=1, maximum=MAX_BATCH_SIZE)
    max_epochs = node.integer("max_epochs", 20, minimum=1, maximum=MAX_EPOCHS)
    es = node.child("early_stopping")
    monitor = _metric_name(es, "monitor", es.raw("monitor", "val_loss"))
    early_stopping = EarlyStoppingSpec(
        monitor=monitor, mode=_direction(es, monitor, "mode"),
        patience=es.integer("patience", 3, minimum=0, maximum=MAX_EPOCHS),
        min_delta=es.number("min_delta", 0.0, minimum=0.0, maximum=MAX_MAGNITUDE),
        restore_best_weights=es.boolean("restore_best_weights", True),
    )
    es.finish()
    sch = node.child("lr_schedule")
    decay_per = sch.string("decay_per", "epoch", choices=("epoch", "steps"))
    if decay_per == "steps":
        decay_steps = sch.integer("decay_steps", minimum=1, maximum=MAX_INTEGER)
    else:
        decay_steps = sch.raw("decay_steps", None)
        if decay_steps is not None:
            sch.fail("decay_steps", "is only used with decay_per: steps (with decay_per: epoch "
                                    f"one epoch's steps are used), got {describe(decay_steps)}")
    schedule = ScheduleSpec(
        decay_per=decay_per, decay_steps=decay_steps,
        decay_rate=sch.number("decay_rate", default_decay_rate(decay_per, max_epochs),
                              minimum=0.0, maximum=MAX_MAGNITUDE),
        staircase=sch.boolean("staircase", False),
    )
    sch.finish()
    executions = node.integer("executions_per_trial", 1, minimum=1, maximum=MAX_EXECUTIONS)
    node.finish()
    return TrainingSpec(batch_size, max_epochs, early_stopping, schedule,
                        executions_per_trial=executions,
                        callbacks=_user_callbacks(node, callbacks))


def _validation(node: Node) -> ValidationSpec:
    """``validation.folds``: 1 (the validation slice) or k-fold cross-validation."""
    folds = node.integer("folds", 1, minimum=1, maximum=MAX_FOLDS)
    node.finish()
    return ValidationSpec(folds=folds)


def _user_callbacks(node: Node, callbacks: Any) -> tuple[Any, ...]:
    """Keras callbacks given from Python, checked by shape (Keras is not imported here)."""
    if callbacks is None:
        return ()
    if not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    for index, callback in enumerate(callbacks):
        if not (callable(getattr(callback, "set_model", None))
                and callable(getattr(callback, "on_epoch_end", None))):
            node.fail(f"callbacks[{index}]", "expected a keras.callbacks.Callback instance, "
                                            f"got {describe(callback)}")
    return tuple(callbacks)
