"""From a YAML file (plus ``--set`` overrides) to a validated :class:`SweepSpec`.

Validation happens here, once, before anything is trained or logged; errors are
:class:`SpecError` naming the file, the key path, what was expected and what was found.
Every number must be finite and within the bounds below (README, "Sweep specs").
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hypermodels import HYPERMODELS
from hypermodels.space import (
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    param_to_dict,
)
from sweeps.errors import SpecError
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
from sweeps.spec._reader import Node, Origin, describe, is_non_finite, read_yaml, suggestion

__all__ = ["BUNDLED_DIR", "DATASETS", "METRICS", "bundled_specs", "load_spec", "parse_spec"]

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "specs"
DATASETS = ("mnist", "fashion_mnist")
#: What every trial logs per epoch; objectives and EarlyStopping monitor one of these.
METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")
#: Objectives may also minimise (or maximise) the model's parameter count.
OBJECTIVE_METRICS = (*METRICS, "params")
SAMPLERS = ("tpe", "random", "gp", "cmaes", "nsga2")
PRUNERS = ("hyperband", "median", "successive_halving", "none")
_DEFAULT_MAX_TRIALS = 20

# Bounds on what a spec may ask for, each kept here only; an error names the bound it broke.
# They are far above any sensible sweep, and stop a typo (or a hostile file) from asking for
# a billion epochs, a batch larger than memory, or a YAML document that expands without end.
MAX_SPEC_BYTES = 1 << 20  #: spec text, checked before it is parsed
MAX_YAML_ALIASES = 100  #: uses of ``*alias`` in one spec
MAX_YAML_NODES = 100_000  #: YAML nodes, every alias counted at its expanded size
MAX_EPOCHS = 100_000  #: training.max_epochs and early_stopping.patience
MAX_BATCH_SIZE = 1 << 20  #: training.batch_size
MAX_TRIALS = 100_000  #: every tuner integer: max_trials, num_initial_points, factor, ...
MAX_CHOICES = 10_000  #: values of one ``choice`` hyperparameter
MAX_SEED = 2**31 - 1  #: trial n uses seed + n, which must stay a 32-bit seed
MAX_INTEGER = 10**12  #: |n| of every other integer: search-space values and steps, subset, ...
#: |x| of every other float: search-space values and steps, alpha, min_delta, ... Well inside
#: float32 (Keras's dtype, up to 3.4e38), yet loose enough for a learning rate meant to diverge.
MAX_MAGNITUDE = 1e30


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def bundled_specs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(BUNDLED_DIR.glob("*.yaml"))}


def load_spec(ref: str, overrides: Sequence[str] = ()) -> SweepSpec:
    """Load a bundled spec by name, or a spec file by path, and apply ``--set`` overrides.

    ``overrides`` are ``dotted.key=value`` strings; values are YAML (``3``, ``true``,
    ``null``, ``[1, 2]``), validated exactly like the file's own.
    """
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        source = ref
    else:
        bundled = bundled_specs()
        if ref not in bundled:
            raise SpecError(
                ref, "", "no such spec file, and no bundled spec of that name"
                + suggestion(ref, bundled) + f"; bundled specs: {', '.join(bundled)}"
            )
        path, source = bundled[ref], f"{ref}.yaml (bundled)"
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SPEC_BYTES + 1)  # bounded: a huge file is refused unread
    except OSError as exc:
        raise SpecError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    _check_size(len(data), source)
    try:
        text = data.decode("utf-8-sig")  # a BOM (some Windows editors write one) is dropped
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(source, "", f"not UTF-8 text: expected UTF-8, got byte "
                                    f"0x{data[exc.start]:02x} at byte offset {exc.start} "
                                    f"(line {line}); save the file as UTF-8") from None
    return parse_spec(text, source, overrides, default_name=path.stem)


def _check_size(size: int, source: str) -> None:
    if size > MAX_SPEC_BYTES:
        raise SpecError(source, "", f"expected a spec of at most {MAX_SPEC_BYTES} bytes "
                                    "(1 MiB), got more")


def parse_spec(
    text: str, source: str, overrides: Sequence[str] = (), *, default_name: str = "sweep"
) -> SweepSpec:
    _check_size(len(text), source)  # characters: never more than the bytes they came from
    origin = Origin(source)
    try:
        raw = read_yaml(text, origin, max_aliases=MAX_YAML_ALIASES, max_nodes=MAX_YAML_NODES)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # its str() spans two lines
            where, problem = "", (f"character #x{exc.character:04x} at offset "
                                  f"{exc.position} is not allowed in YAML")
        raise SpecError(source, "", f"not valid YAML{where}: {problem}") from None
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        origin.fail("(top level)", f"expected a mapping of spec keys, got {describe(raw)}")
    raw = copy.deepcopy(dict(raw))
    for text_override in overrides:
        _apply_override(raw, text_override, origin)
    return _sweep(Node(raw, "", origin), default_name)


def _apply_override(raw: dict[str, Any], text: str, origin: Origin) -> None:
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise SpecError(origin.source, "", f"--set expects dotted.key=value, got \"{text}\"")
    origin.overrides[key] = text  # first: errors in the value itself name the --set too
    try:
        value = read_yaml(value_text, origin, at=key, max_aliases=MAX_YAML_ALIASES,
                          max_nodes=MAX_YAML_NODES) if value_text.strip() else None
    except yaml.YAMLError:
        value = value_text  # not YAML: take it as the plain string the user typed
    parts = key.split(".")
    node: dict[str, Any] = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise SpecError(origin.source, prefix,
                            f"--set {text}: {prefix} is {describe(child)}, not a mapping")
        node = child
    node[parts[-1]] = value


def _sweep(root: Node, default_name: str) -> SweepSpec:
    name = root.string("name", default_name)
    description = root.raw("description", "")
    if not isinstance(description, str):
        root.fail("description", f"expected a string, got {describe(description)}")
    data = _data(root.child("data", required=True))
    hypermodel_spec, defaults = _hypermodel(root)
    search_space = _search_space(root.child("search_space"), defaults)
    tuner = _tuner(root.child("tuner"))
    objectives = _objectives(root, tuner)
    training = _training(root.child("training"))
    seed = root.integer("seed", 0, minimum=0, maximum=MAX_SEED)
    tracking_node = root.child("tracking")
    tracking = TrackingSpec(
        experiment=tracking_node.string("experiment", name),
        uri=tracking_node.string("uri", None, nullable=True),
    )
    tracking_node.finish()
    root.finish()
    return SweepSpec(
        name=name, description=description, source=root.origin.source, data=data,
        hypermodel=hypermodel_spec, search_space=search_space, tuner=tuner,
        objectives=objectives, training=training, seed=seed, tracking=tracking,
    )


def _data(node: Node) -> DataSpec:
    spec = DataSpec(
        name=node.string("name", choices=DATASETS),
        dir=node.string("dir", None, nullable=True),
        validation_split=node.number("validation_split", 0.1, minimum=0.0, maximum=0.5,
                                     exclusive_minimum=True),
        subset=node.integer("subset", None, minimum=20, maximum=MAX_INTEGER,
                            nullable=True),
    )
    node.finish()
    return spec


def _hypermodel(root: Node) -> tuple[HypermodelSpec, Mapping[str, Param]]:
    value = root.raw("hypermodel")
    if isinstance(value, str):  # shorthand: `hypermodel: mlp`
        value = {"name": value}
    node = Node(value, "hypermodel", root.origin)
    name = node.string("name", choices=sorted(HYPERMODELS))
    cls = HYPERMODELS[name]
    options_node = node.child("options")
    options = {}
    for key, default in cls.default_options.items():
        found = options_node.raw(key, default)
        if type(found) is not type(default) or is_non_finite(found):
            options_node.fail(key, f"expected {type(default).__name__} like the default "
                                   f"{describe(default)}, got {describe(found)}")
        options[key] = found
    options_node.finish()
    node.finish()
    return HypermodelSpec(name=name, options=options), cls.default_space


def _search_space(node: Node, defaults: Mapping[str, Param]) -> dict[str, Param]:
    space = dict(defaults)
    for key in node.data:
        if key not in defaults:
            node.origin.fail(node.key_path(str(key)), "not a hyperparameter of this hypermodel"
                             + suggestion(str(key), defaults)
                             + f"; it has: {', '.join(defaults)}")
        space[key] = _param(node, key, defaults[key])
    return space


def _param(parent: Node, key: str, default: Param) -> Param:
    value = parent.raw(key)
    if not isinstance(value, Mapping):
        if isinstance(value, (list, type(None))):
            parent.fail(key, "expected a mapping with `type` (int, float, choice, fixed) or a "
                             f"single fixed value, got {describe(value)}")
        _check_value(parent, key, value)
        return FixedParam(value)
    merged = dict(value)
    if "type" not in merged:  # partial override: `units: {max: 2048}` keeps the default's type
        merged = {**param_to_dict(default), **merged}
    node = Node(merged, parent.key_path(key), parent.origin)
    kind = node.string("type", choices=("int", "float", "choice", "fixed"))
    param: Param
    if kind == "int":
        low = _check_value(node, "min", node.integer("min"))
        high = _check_value(node, "max", node.integer("max"))
        step = node.integer("step", 1, minimum=1, maximum=MAX_INTEGER)
        if high < low:
            node.fail("max", f"expected an integer >= min ({low}), got {describe(high)}")
        param = IntParam(low, high, step)
    elif kind == "float":
        low = node.number("min", minimum=-MAX_MAGNITUDE, maximum=MAX_MAGNITUDE)
        high = node.number("max", minimum=-MAX_MAGNITUDE, maximum=MAX_MAGNITUDE)
        log = node.boolean("log", False)
        step = None
        if node.raw("step", None) is not None:
            step = node.number("step", minimum=0, maximum=MAX_MAGNITUDE, exclusive_minimum=True)
        if high < low:
            node.fail("max", f"expected a number >= min ({low}), got {describe(high)}")
        if log and low <= 0:
            node.fail("min", f"expected a number > 0 when log is true, got {describe(low)}")
        if log and step is not None:
            node.fail("step", "expected no step when log is true (a log scale has no even "
                              f"step), got {describe(step)}")
        param = FloatParam(low, high, step, log)
    elif kind == "choice":
        values = node.raw("values")
        if not isinstance(values, list) or not values or any(
            isinstance(v, (list, Mapping)) or v is None for v in values
        ):
            node.fail("values", "expected a non-empty list of numbers or strings, "
                                f"got {describe(values)}")
        if len(values) > MAX_CHOICES:
            node.fail("values", f"expected at most {MAX_CHOICES} values, got {len(values)}")
        for i, choice in enumerate(values):
            _check_value(node, f"values[{i}]", choice)
        param = ChoiceParam(tuple(values))
    else:
        param = FixedParam(_check_value(node, "value", node.raw("value")))
    node.finish()
    return param


def _check_value(node: Node, key: str, value: Any) -> Any:
    """A search-space value (a bound, a choice, a fixed value): a finite number within
    ``MAX_INTEGER`` or ``MAX_MAGNITUDE``, or anything else that is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    limit = MAX_INTEGER if isinstance(value, int) else MAX_MAGNITUDE
    if is_non_finite(value) or abs(value) > limit:
        node.fail(key, f"expected a finite number with |x| <= {limit:g}, got {describe(value)}")
    return value


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
    metric = node.string("metric", "val_accuracy", choices=OBJECTIVE_METRICS)
    inferred = Direction.MIN if metric.endswith("loss") or metric == "params" else Direction.MAX
    direction = Direction(node.string("direction", inferred.value, choices=("max", "min")))
    node.finish()
    return ObjectiveSpec(metric=metric, direction=direction)


def _training(node: Node) -> TrainingSpec:
    batch_size = node.integer("batch_size", 128, minimum=1, maximum=MAX_BATCH_SIZE)
    max_epochs = node.integer("max_epochs", 20, minimum=1, maximum=MAX_EPOCHS)
    es = node.child("early_stopping")
    early_stopping = EarlyStoppingSpec(
        monitor=es.string("monitor", "val_loss", choices=METRICS),
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
        decay_rate=sch.number("decay_rate", 0.5, minimum=0.0, maximum=MAX_MAGNITUDE),
        staircase=sch.boolean("staircase", False),
    )
    sch.finish()
    node.finish()
    return TrainingSpec(batch_size, max_epochs, early_stopping, schedule)
