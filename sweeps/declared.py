"""The first build of a sweep: what the builder declares, checked against the spec.

Before any trial (and before anything is logged) the builder is built once with
keras-tuner's ``HyperParameters`` at their default values. That tells

- which hyperparameters it declares, so that the spec's ``search_space`` entries can narrow
  or fix them (``units: {max: 256}`` merges into the declared ``hp.Int("units", 32, 512)``),
  and an entry naming a hyperparameter the builder never asks for is an error;
- whether the builder compiles its model itself;
- which metrics the model reports, so that an objective or EarlyStopping monitor it never
  reports is an error now rather than a failed sweep later.

Narrowed entries reach keras-tuner as pre-declared hyperparameters (its own way to tailor a
space: ``hyperparameters=``, ``tune_new_entries=True``) and Optuna through the overrides of
:class:`~sweeps.engines.optuna_hp.OptunaHyperParameters`.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam, Param, param_to_dict
from sweeps.builders import COMPILED_BY_BUILDER, Builder
from sweeps.errors import SpecError, in_your_code, one_line
from sweeps.spec import ParamOverride, SweepSpec, parse_param

if TYPE_CHECKING:
    from sweeps.data import Dataset

__all__ = ["DeclaredSpace", "declare_space", "to_param"]


@dataclass(frozen=True)
class DeclaredSpace:
    #: Every hyperparameter of the default-valued build, as declared.
    declared: dict[str, Param]
    #: The spec's entries for a builder that declares its space in code, merged: name -> final.
    narrowed: dict[str, Param]
    #: Who compiled the model: ``sweeps`` or ``builder``.
    compiled_by: str
    #: What the model reports each epoch on the training data (``loss``, ``mae``...).
    metrics: tuple[str, ...]
    #: What is searched: a sweeps Hypermodel's resolved space, else ``declared`` narrowed.
    searched: dict[str, Param] = field(default_factory=dict)
    #: ``narrowed`` as keras-tuner hyperparameters, with the conditions they were declared in.
    kt_hyperparameters: Any = field(default=None, repr=False)


def to_param(hp: Any) -> Param:
    """A keras-tuner hyperparameter as a sweeps distribution."""
    config = hp.get_config()
    kind = type(hp).__name__
    if kind == "Int":
        return IntParam(config["min_value"], config["max_value"], config.get("step") or 1,
                        config.get("sampling") == "log")
    if kind == "Float":
        return FloatParam(config["min_value"], config["max_value"], config.get("step"),
                          config.get("sampling") in ("log", "reverse_log"))
    if kind == "Choice":
        return ChoiceParam(tuple(config["values"]))
    if kind == "Boolean":
        return ChoiceParam((False, True))
    return FixedParam(config["value"])


def _to_kt(name: str, param: Param, conditions: Any) -> Any:
    from keras_tuner.engine import hyperparameters as kth

    if isinstance(param, IntParam):
        return kth.Int(name, param.min, param.max, step=param.step,
                       sampling="log" if param.log else "linear", conditions=conditions)
    if isinstance(param, FloatParam):
        return kth.Float(name, param.min, param.max, step=param.step,
                         sampling="log" if param.log else "linear", conditions=conditions)
    if isinstance(param, ChoiceParam):
        return kth.Choice(name, list(param.values), conditions=conditions)
    return kth.Fixed(name, param.value, conditions=conditions)


def declare_space(builder: Builder, spec: SweepSpec, data: Dataset,
                  space: Mapping[str, Param] | None) -> DeclaredSpace:
    """Build once with default values and check the spec against what the builder declares.

    ``space``: a sweeps Hypermodel's resolved space (the spec's entries already applied);
    None for a builder that declares its space in code, whose declarations the spec's
    ``search_space`` entries narrow.
    """
    import keras
    import keras_tuner as kt

    from hypermodels import OptionError

    hp = kt.HyperParameters()
    keras.backend.clear_session()
    try:
        model = builder.build(hp)
    except OptionError as exc:  # a bundled hypermodel's option that does not fit the data
        raise SpecError(spec.source, f"hypermodel.options.{exc.option}", str(exc)) from None
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's builder failed: say where, once
        raise SpecError(spec.source, "hypermodel", f"{spec.hypermodel.name} failed when built "
                        "with default values, before any trial: "
                        f"{type(exc).__name__}: {one_line(exc)}"
                        + in_your_code(traceback.format_exc())) from None
    declared_hps: dict[str, list[Any]] = {}
    for item in hp.space:
        declared_hps.setdefault(item.name, []).append(item)
    declared = {name: to_param(items[0]) for name, items in declared_hps.items()}
    narrowed: dict[str, Param] = {}
    kt_hps = kt.HyperParameters()
    if space is None:
        for name, entry in spec.search_space.items():
            if name not in declared:
                close = difflib.get_close_matches(name, list(declared), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                raise SpecError(spec.source, f"search_space.{name}",
                                "not a hyperparameter the builder declares when built with "
                                f"default values{hint}; it declares: "
                                f"{', '.join(declared) or 'none'} (one inside a conditional "
                                "scope that defaults leave inactive cannot be narrowed)")
            if isinstance(entry, ParamOverride):
                entry = parse_param({**param_to_dict(declared[name]), **entry.fields},
                                    f"search_space.{name}", spec.source)
            _check_kind(spec, name, declared[name], entry)
            narrowed[name] = entry
            kt_hps.merge([_to_kt(name, entry, item.conditions) for item in declared_hps[name]])
    metrics = _reported_metrics(spec, builder, model, data)
    if not builder.custom_fit:  # a fit of the builder's own may log metrics of its own
        _check_metrics(spec, metrics)
    keras.backend.clear_session()
    return DeclaredSpace(declared=declared, narrowed=narrowed, compiled_by=builder.compiled_by,
                         metrics=metrics, searched=dict(space or {**declared, **narrowed}),
                         kt_hyperparameters=kt_hps)


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return "a string"


def _param_values(param: Param) -> list[Any]:
    if isinstance(param, (IntParam, FloatParam)):
        return [param.min, param.max]
    if isinstance(param, ChoiceParam):
        return list(param.values)
    return [param.value]


def _check_kind(spec: SweepSpec, name: str, declared: Param, entry: Param) -> None:
    """A spec entry gives the builder values of the kind it declared: ``hp.Int`` integers
    (an integral float such as ``64.0`` is refused too), ``hp.Float`` numbers, ``hp.Boolean``
    booleans, ``hp.Choice`` values like its own. Otherwise the builder would get, say, the
    text "big" for its ``Dense(units)`` and every trial would fail inside Keras."""
    if isinstance(declared, IntParam):
        allowed, what = {"an integer"}, f"an integer (hp.Int {declared.min}..{declared.max})"
    elif isinstance(declared, FloatParam):
        allowed = {"an integer", "a number"}
        what = f"a number (hp.Float {declared.min:g}..{declared.max:g})"
    else:
        allowed = {_value_kind(v) for v in _param_values(declared)}
        if allowed == {"an integer", "a number"} or allowed == {"a number"}:
            allowed = {"an integer", "a number"}
        shown = ", ".join(repr(v) for v in _param_values(declared))
        what = f"{' or '.join(sorted(allowed))} value (declared with {shown})"
    if isinstance(entry, FloatParam) and isinstance(declared, IntParam):
        raise SpecError(spec.source, f"search_space.{name}",
                        f"the builder declares {name} as {what}; expected an integer range, "
                        f"got a float range {entry.min:g}..{entry.max:g}")
    for value in _param_values(entry):
        if _value_kind(value) not in allowed:
            raise SpecError(spec.source, f"search_space.{name}",
                            f"the builder declares {name} as {what}; expected values of that "
                            f"kind, got {value!r} ({_value_kind(value)})")


def _reported_metrics(spec: SweepSpec, builder: Builder, model: Any,
                      data: Dataset) -> tuple[str, ...]:
    """The per-epoch metric names (without ``val_``) the model will log."""
    if builder.compiled_by != COMPILED_BY_BUILDER:
        return ("loss", *builder.context.task.metric_names)
    # The builder compiled it with metrics of its own: one tiny evaluation names them.
    try:
        x, y = data.sample(2)
        logs = model.evaluate(x, y, return_dict=True, verbose=0)
    except Exception as exc:  # noqa: BLE001 - the user's model does not fit the data: say so
        raise SpecError(spec.source, "hypermodel", f"{spec.hypermodel.name}'s model, built "
                        "with default values, failed on two training examples, before any "
                        f"trial: {type(exc).__name__}: {one_line(exc)}"
                        + in_your_code(traceback.format_exc())) from None
    return tuple(logs)


def _check_metrics(spec: SweepSpec, metrics: tuple[str, ...]) -> None:
    available = {*metrics, *(f"val_{m}" for m in metrics)}
    wanted = [(f"objective[{i}].metric" if len(spec.objectives) > 1 else "objective.metric",
               o.metric) for i, o in enumerate(spec.objectives) if o.metric != "params"]
    wanted.append(("training.early_stopping.monitor", spec.training.early_stopping.monitor))
    for key_path, metric in wanted:
        if metric not in available:
            close = difflib.get_close_matches(metric, sorted(available), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise SpecError(spec.source, key_path,
                            f"expected a metric the model reports ({', '.join(sorted(available))}"
                            f"; add Keras metrics with `metrics:`), got \"{metric}\"{hint}")
