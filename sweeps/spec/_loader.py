"""From a YAML file (plus ``--set`` overrides) to a validated :class:`SweepSpec`.

Validation happens here, once, before anything is trained or logged; errors are
:class:`SpecError` naming the file, the key path, what was expected and what was found.
Every number must be finite and within the bounds below (README, "Sweep specs").
"""

from __future__ import annotations

import copy
import importlib.util
import re
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
from sweeps.metrics import direction_of
from sweeps.spec._final import parse_final
from sweeps.spec._model import (
    DATA_KEYS,
    DataSpec,
    Direction,
    EarlyStoppingSpec,
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
)
from sweeps.spec._reader import (
    MISSING,
    Node,
    Origin,
    describe,
    is_non_finite,
    read_yaml,
    suggestion,
)

__all__ = ["BUNDLED_DIR", "DATASETS", "bundled_specs", "load_spec", "parse_spec",
           "parse_spec_dict", "parse_param"]

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "specs"
#: Every ``data.name``: IDX datasets, files, scikit-learn's bundled sets, a loader function,
#: and arrays given from Python.
DATASETS = ("mnist", "fashion_mnist", "npz", "csv", "image_folder", "digits", "iris", "wine",
            "breast_cancer", "diabetes", "loader", "arrays")
_IDX_DATASETS = ("mnist", "fashion_mnist")
#: A Keras metric or logged key: letters, digits and underscores.
_METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
ENTRY_POINT_GROUP = "sweeps.hypermodels"
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
MAX_MODEL_NAME = 256  #: tracking.register_model: the length MLflow's registry stores


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
    return parse_spec_dict({} if raw is None else raw, source, overrides,
                           default_name=default_name)


def parse_spec_dict(
    raw: Any, source: str = "<dict>", overrides: Sequence[str] = (), *,
    default_name: str = "sweep", objects: Mapping[str, Any] | None = None,
) -> SweepSpec:
    """Validate a spec given as a mapping (the YAML's, or one built in Python).

    ``objects`` carries what YAML cannot: ``{"hypermodel": build_model, "data": (x, y)}``
    from :func:`sweeps.tune`.
    """
    origin = Origin(source)
    if not isinstance(raw, Mapping):
        origin.fail("(top level)", f"expected a mapping of spec keys, got {describe(raw)}")
    objects = dict(objects or {})
    raw = {k: v for k, v in raw.items()}
    raw = copy.deepcopy(raw)
    for text_override in overrides:
        _apply_override(raw, text_override, origin)
    return _sweep(Node(raw, "", origin), default_name, objects)


def parse_param(value: Any, key_path: str, source: str) -> Param:
    """One full search-space entry, validated as a spec's (for entries merged at run time)."""
    parent, _, key = key_path.rpartition(".")
    return _param(Node({key: value}, parent, Origin(source)), key, None)


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
        elif isinstance(child, str) and part == "hypermodel":
            child = node[part] = {"name": child}  # `hypermodel: mlp` shorthand
        elif not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise SpecError(origin.source, prefix,
                            f"--set {text}: {prefix} is {describe(child)}, not a mapping")
        node = child
    node[parts[-1]] = value


def _sweep(root: Node, default_name: str, objects: Mapping[str, Any]) -> SweepSpec:
    name = root.string("name", default_name)
    description = root.raw("description", "")
    if not isinstance(description, str):
        root.fail("description", f"expected a string, got {describe(description)}")
    data = _data(root.child("data", required=True), objects.get("data"))
    task_name = root.string("task", None, nullable=True, choices=[k.value for k in TaskKind])
    metrics = _metric_list(root)
    hypermodel_spec, defaults = _hypermodel(root, objects.get("hypermodel"))
    search_space = _search_space(root.child("search_space"), defaults)
    tuner = _tuner(root.child("tuner"))
    objectives = _objectives(root, tuner)
    training = _training(root.child("training"))
    final = parse_final(root.child("final"))
    seed = root.integer("seed", 0, minimum=0, maximum=MAX_SEED)
    tracking_node = root.child("tracking")
    tracking = TrackingSpec(
        experiment=tracking_node.string("experiment", name),
        uri=tracking_node.string("uri", None, nullable=True),
        register_model=_registered_name(tracking_node, name),
    )
    tracking_node.finish()
    root.finish()
    return SweepSpec(
        name=name, description=description, source=root.origin.source, data=data,
        hypermodel=hypermodel_spec, search_space=search_space, tuner=tuner,
        objectives=objectives, training=training, seed=seed, tracking=tracking,
        task=TaskKind(task_name) if task_name else None, metrics=metrics, final=final,
    )


def _registered_name(node: Node, spec_name: str) -> str | None:
    """``tracking.register_model``: a Model Registry name, ``false`` (do not register), or
    absent, ``null`` or ``true`` (the spec's name)."""
    value = node.raw("register_model", None)
    if value is False:
        return None
    default = value is None or value is True
    name = spec_name if default else value
    if not isinstance(name, str) or not name.strip():
        node.fail("register_model", f"expected a model name or false, got {describe(value)}")
    why = (f" (the default is the spec's name, {describe(name)}: set tracking.register_model "
           "to a name, or false)") if default else ""
    if "/" in name or ":" in name:
        node.fail("register_model", "expected a Model Registry name without '/' or ':' "
                                    f"(MLflow refuses them), got {describe(name)}{why}")
    if len(name) > MAX_MODEL_NAME:
        node.fail("register_model", f"expected a name of at most {MAX_MODEL_NAME} characters, "
                                    f"got {len(name)}{why}")
    return name


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


def _data(node: Node, arrays: Any) -> DataSpec:
    name = node.string("name", "arrays" if arrays is not None else
                       "loader" if node.has("loader") else MISSING, choices=DATASETS)
    keys = DATA_KEYS.get(name, ())
    values: dict[str, Any] = {}
    for key in ("dir", "path", "target", "loader"):
        if key in keys:
            required = key != "dir"
            values[key] = node.string(key, MISSING if required else None, nullable=not required)
        elif node.raw(key, None) is not None:
            node.fail(key, f"is not used by data.name {name!r} (it reads: "
                           f"{', '.join(keys) or 'no file'}), got {describe(node.data[key])}")
    if "image_size" in keys:
        size = node.raw("image_size")
        if (not isinstance(size, list) or len(size) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size)):
            node.fail("image_size", f"expected [height, width] in pixels, got {describe(size)}")
        values["image_size"] = (size[0], size[1])
    else:
        node.raw("image_size", None)
    if "loader" in values and not _IMPORT_PATH.fullmatch(values["loader"]):
        node.fail("loader", "expected an import path \"module:function\", got "
                            f"{describe(values['loader'])}")
    if name == "arrays" and arrays is None:
        node.fail("name", "expected a data source that a YAML spec can name (\"arrays\" is "
                          "given from Python by sweeps.tune), got \"arrays\"")
    test_split = node.raw("test_split", None)
    spec = DataSpec(
        name=name,
        validation_split=node.number("validation_split", 0.1, minimum=0.0, maximum=0.5,
                                     exclusive_minimum=True),
        test_split=None if test_split is None else node.number(
            "test_split", minimum=0.0, maximum=0.5, exclusive_minimum=True),
        subset=node.integer("subset", None, minimum=20, maximum=MAX_INTEGER,
                            nullable=True),
        shuffle=node.boolean("shuffle", name not in _IDX_DATASETS),
        arrays=arrays, digest=_digest(arrays) if arrays is not None else None,
        **values,
    )
    node.raw("digest", None)  # written by `show` for in-memory data; recomputed, not read
    node.finish()
    return spec


def _digest(arrays: Any) -> str:
    """A content digest of in-memory data: two sweeps on different arrays differ in identity."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, Mapping):
            for key in sorted(value):
                digest.update(str(key).encode())
                feed(value[key])
        elif isinstance(value, (tuple, list)):
            for item in value:
                feed(item)
        elif value is not None:
            array = np.ascontiguousarray(value)
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(memoryview(array).cast("B"))

    feed(arrays)
    return digest.hexdigest()[:16]


def _hypermodel(root: Node, obj: Any) -> tuple[HypermodelSpec, Mapping[str, Param] | None]:
    """The builder: bundled (its default space returned), an import path, an entry point, or
    an object from Python (``None`` returned: the builder declares its space in code)."""
    value = root.raw("hypermodel", None if obj is not None else MISSING)
    if value is None:
        value = {}
    if isinstance(value, str):  # shorthand: `hypermodel: mlp`
        value = {"name": value}
    node = Node(value, "hypermodel", root.origin)
    if obj is not None:
        name = node.string("name", _qualified_name(obj))
        options = node.raw("options", None) or {}
        node.finish()
        return HypermodelSpec(name=name, options=dict(options), origin="object", obj=obj), None
    name = node.string("name")
    options_node = node.child("options")
    if name in HYPERMODELS:
        cls = HYPERMODELS[name]
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
    # A builder of the user's: its options go to its constructor (classes) as they are.
    options = dict(options_node.data)
    for key in options:
        options_node.raw(key)
    if _IMPORT_PATH.fullmatch(name):
        origin = "import"
        _check_module(node, name.partition(":")[0])
    elif name in _entry_point_names():
        origin = "entry_point"
    else:
        choices = sorted(HYPERMODELS) + sorted(_entry_point_names())
        node.fail("name", "expected a bundled hypermodel (" + ", ".join(choices) + "), an "
                          "import path \"module:builder\" or a sweeps.hypermodels entry point, "
                          f"got {describe(name)}" + suggestion(name, choices))
    node.finish()
    return HypermodelSpec(name=name, options=options, origin=origin), None


def _check_module(node: Node, module: str) -> None:
    """The builder's module must be findable (from the working directory, as Python's own
    ``-m`` would); it is imported only when the sweep runs."""
    import os
    import sys

    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        found = False
    finally:
        if added:
            sys.path.remove(os.getcwd())
    if not found:
        node.fail("name", f"cannot find module {module!r} (looked in the working directory "
                          f"{os.getcwd()} and the installed packages)")


def _qualified_name(obj: Any) -> str:
    target = obj if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")) \
        else type(obj)
    return f"{target.__module__}:{target.__qualname__}"


def _entry_point_names() -> set[str]:
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


_PARAM_KEYS = ("type", "min", "max", "step", "log", "values", "value")


def _search_space(node: Node, defaults: Mapping[str, Param] | None) -> dict[str, Any]:
    """Bundled hypermodels: their defaults with the spec's entries applied. Builders that
    declare their space in code: the spec's entries as given, checked once the builder has
    declared its own (partial entries are merged then)."""
    if defaults is None:
        space: dict[str, Any] = {}
        for key in node.data:
            value = node.raw(key)
            if isinstance(value, Mapping) and "type" not in value:
                unknown = [k for k in value if k not in _PARAM_KEYS]
                if unknown or not value:
                    node.origin.fail(node.key_path(str(key)), "expected a search-space entry "
                                     f"({', '.join(_PARAM_KEYS)}), got "
                                     + (f"unknown key {unknown[0]!r}" if unknown else "{}"))
                space[key] = ParamOverride(dict(value))
            else:
                space[key] = _param(node, key, None)
        return space
    space = dict(defaults)
    for key in node.data:
        if key not in defaults:
            node.origin.fail(node.key_path(str(key)), "not a hyperparameter of this hypermodel"
                             + suggestion(str(key), defaults)
                             + f"; it has: {', '.join(defaults)}")
        space[key] = _param(node, key, defaults[key])
    return space


def _param(parent: Node, key: str, default: Param | None) -> Param:
    value = parent.raw(key)
    if not isinstance(value, Mapping):
        if isinstance(value, (list, type(None))):
            parent.fail(key, "expected a mapping with `type` (int, float, choice, fixed) or a "
                             f"single fixed value, got {describe(value)}")
        _check_value(parent, key, value)
        return FixedParam(value)
    merged = dict(value)
    if "type" not in merged and default is not None:
        # partial override: `units: {max: 2048}` keeps the default's type
        merged = {**param_to_dict(default), **merged}
    node = Node(merged, parent.key_path(key), parent.origin)
    kind = node.string("type", choices=("int", "float", "choice", "fixed"))
    param: Param
    if kind == "int":
        low = _check_value(node, "min", node.integer("min"))
        high = _check_value(node, "max", node.integer("max"))
        step = node.integer("step", 1, minimum=1, maximum=MAX_INTEGER)
        log = node.boolean("log", False)
        if high < low:
            node.fail("max", f"expected an integer >= min ({low}), got {describe(high)}")
        if log and low <= 0:
            node.fail("min", f"expected an integer > 0 when log is true, got {describe(low)}")
        if log and step != 1:
            node.fail("step", f"expected no step (1) when log is true, got {describe(step)}")
        param = IntParam(low, high, step, log)
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


def _training(node: Node) -> TrainingSpec:
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
        decay_rate=sch.number("decay_rate", 0.5, minimum=0.0, maximum=MAX_MAGNITUDE),
        staircase=sch.boolean("staircase", False),
    )
    sch.finish()
    node.finish()
    return TrainingSpec(batch_size, max_epochs, early_stopping, schedule)
