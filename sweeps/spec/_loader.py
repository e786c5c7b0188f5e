"""From a YAML file (plus ``--set`` overrides) to a validated :class:`SweepSpec`.

Validation happens here, once, before anything is trained or logged; errors are
:class:`SpecError` naming the file, the key path, what was expected and what was found.
Every number must be finite and within the bounds in ``_limits`` (docs/data.md lists them).

Each section is parsed in a module named for it (``_data_section``, ``_hypermodel_section``,
``_training_section``, ``_final``); this one reads the text and assembles the whole.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hypermodels.space import Param
from sweeps.errors import SpecError
from sweeps.spec._data_section import _data
from sweeps.spec._final import parse_final
from sweeps.spec._hypermodel_section import _hypermodel, _param, _search_space
from sweeps.spec._limits import (
    MAX_MODEL_NAME,
    MAX_SEED,
    MAX_SPEC_BYTES,
    MAX_YAML_ALIASES,
    MAX_YAML_NODES,
)
from sweeps.spec._model import SweepSpec, TaskKind, TrackingSpec
from sweeps.spec._reader import Node, Origin, describe, read_yaml, suggestion
from sweeps.spec._training_section import (
    _metric_list,
    _objectives,
    _training,
    _tuner,
    _validation,
)

__all__ = ["BUNDLED_DIR", "bundled_specs", "load_spec", "parse_spec", "parse_spec_dict",
           "parse_param"]

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "specs"


def bundled_specs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(BUNDLED_DIR.glob("*.yaml"))}


def load_spec(ref: str, overrides: Sequence[str] = ()) -> SweepSpec:
    """Load a bundled spec by name, or a spec file by path, and apply ``--set`` overrides.

    ``overrides`` are ``dotted.key=value`` strings; values are YAML (``3``, ``true``,
    ``null``, ``[1, 2]``), validated exactly like the file's own.
    """
    path = Path(ref)
    # A folder named like a bundled spec (a sweep's state under --work-dir .) is not one.
    if path.suffix in (".yaml", ".yml") or path.is_file():
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

    ``objects`` carries what YAML cannot: ``{"hypermodel": build_model, "data": (x, y),
    "callbacks": [...]}`` from :func:`sweeps.tune`.
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
    hypermodel_spec, bundled = _hypermodel(root, objects.get("hypermodel"))
    search_space = _search_space(root.child("search_space"), bundled)
    tuner = _tuner(root.child("tuner"))
    objectives = _objectives(root, tuner)
    training = _training(root.child("training"), objects.get("callbacks"))
    validation = _validation(root.child("validation"))
    final = parse_final(root.child("final"))
    seed = root.integer("seed", 0, minimum=0, maximum=MAX_SEED)
    tracking_node = root.child("tracking")
    tracking = TrackingSpec(
        experiment=tracking_node.string("experiment", name),
        uri=tracking_node.string("uri", None, nullable=True),
        register_model=_registered_name(tracking_node, name),
        patience_minutes=tracking_node.number("patience_minutes", 30.0, minimum=0,
                                              maximum=7 * 24 * 60),
        tensorboard=tracking_node.boolean("tensorboard", False),
    )
    tracking_node.finish()
    root.finish()
    return SweepSpec(
        name=name, description=description, source=root.origin.source, data=data,
        hypermodel=hypermodel_spec, search_space=search_space, tuner=tuner,
        objectives=objectives, training=training, seed=seed, tracking=tracking,
        task=TaskKind(task_name) if task_name else None, metrics=metrics, final=final,
        validation=validation,
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
