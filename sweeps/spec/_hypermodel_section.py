"""The spec's ``hypermodel:`` and ``search_space:`` sections: the model builder (bundled, an
import path, an entry point, or an object from Python) and the hyperparameters it is searched
over.

    hypermodel: {name: mlp, options: {hidden_layers: 2}}
    search_space:
      units: {type: int, min: 32, max: 512, step: 32}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypermodels import HYPERMODELS, Hypermodel
from hypermodels.space import (
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    param_to_dict,
)
from sweeps.spec._data_section import _IMPORT_PATH
from sweeps.spec._limits import MAX_CHOICES, MAX_INTEGER, MAX_MAGNITUDE
from sweeps.spec._model import HypermodelSpec, ParamOverride
from sweeps.spec._reader import MISSING, Node, describe, is_non_finite, suggestion

__all__ = ["ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "sweeps.hypermodels"


def _hypermodel(root: Node, obj: Any) -> tuple[HypermodelSpec, type[Hypermodel] | None]:
    """The builder: bundled (its class returned, whose default and optional spaces the spec's
    ``search_space`` is read against), an import path, an entry point, or an object from
    Python (``None`` returned: the builder declares its space in code)."""
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
            if key in cls.option_bounds:
                low, high = cls.option_bounds[key]
                if not low <= found <= high:
                    options_node.fail(key, f"expected a number from {low:g} to {high:g}, got "
                                           f"{describe(found)}")
            options[key] = found
        options_node.finish()
        node.finish()
        return HypermodelSpec(name=name, options=options), cls
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

    from sweeps.importer import module_findable

    found = module_findable(module)
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


def _search_space(node: Node, hypermodel: type[Hypermodel] | None) -> dict[str, Any]:
    """Bundled hypermodels (``hypermodel``, the class): their defaults with the spec's
    entries applied, an optional hyperparameter joining only when the spec names it.
    Builders that declare their space in code (``None``): the spec's entries as given,
    checked once the builder has declared its own (partial entries are merged then)."""
    if hypermodel is None:
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
    space = dict(hypermodel.default_space)
    known = hypermodel.known_space()
    for key in node.data:
        if key not in known:
            node.origin.fail(node.key_path(str(key)), "not a hyperparameter of this hypermodel"
                             + suggestion(str(key), known)
                             + f"; it has: {hypermodel.space_names()}")
        space[key] = _param(node, key, known[key])
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
