"""keras-tuner's ``HyperParameters`` API, answered by an Optuna trial.

A KerasTuner user already has a ``build_model(hp)`` written against ``hp.Int``, ``hp.Float``,
``hp.Choice``, ``hp.Boolean``, ``hp.Fixed`` and ``hp.conditional_scope``. Handing that
function an :class:`OptunaHyperParameters` instead of a ``keras_tuner.HyperParameters`` lets
the same builder run, unchanged, under Optuna's samplers and pruners: one builder, every
engine. Each declaration becomes a ``trial.suggest_*`` call (define-by-run), and a sweep spec
can still narrow or fix any of the builder's hyperparameters through ``overrides``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import optuna

from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam, Param

__all__ = ["OptunaHyperParameters"]

_SAMPLINGS = ("linear", "log", "reverse_log")


class OptunaHyperParameters:
    """Drop-in for ``keras_tuner.HyperParameters`` inside a ``build(hp)`` function.

    ``values`` holds the active values in declaration order (fixed ones included), as in
    keras-tuner; ``trial.params`` holds only what was actually suggested. ``overrides`` maps
    a hyperparameter name to the distribution the sweep spec wants instead of the one the
    builder declares (a :class:`FixedParam` pins it without suggesting anything).
    """

    def __init__(self, trial: optuna.Trial, overrides: Mapping[str, Param] | None = None) -> None:
        self.trial = trial
        self.overrides: dict[str, Param] = dict(overrides or {})
        #: Active values, as keras-tuner's ``HyperParameters.values``.
        self.values: dict[str, Any] = {}
        #: The ``default=`` each declaration gave (Optuna's samplers ignore them; the
        #: defaults baseline, :mod:`sweeps.final.baselines`, trains them).
        self.defaults: dict[str, Any] = {}
        self._declared: set[str] = set()  # every name seen, active or not
        self._conditions: list[tuple[str, tuple[Any, ...]]] = []

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Declarations inside are active only while ``parent_name``'s value is one of
        ``parent_values``; scopes nest (every enclosing condition must hold)."""
        if parent_name not in self._declared:
            raise ValueError(f"`HyperParameter` named: {parent_name} not defined.")
        if isinstance(parent_values, (str, bytes)) or not isinstance(parent_values, Sequence):
            parent_values = [parent_values]
        self._conditions.append((parent_name, tuple(parent_values)))
        try:
            yield
        finally:
            self._conditions.pop()

    def _declare(
        self, name: str, suggest: Callable[[], Any], parent_name: str | None, parent_values: Any
    ) -> Any:
        """Common path of every declaration: scope, activity, first value wins, overrides."""
        scope = self.conditional_scope(parent_name, parent_values) if parent_name else None
        with scope or contextlib.nullcontext():
            if any(parent == name for parent, _ in self._conditions):
                raise ValueError(f"A conditional `HyperParameter` cannot be its own parent: {name}")
            self._declared.add(name)
            # An inactive parent has no value and so fails its condition, as in keras-tuner.
            if not all(p in self.values and self.values[p] in ok for p, ok in self._conditions):
                return None  # inactive: keras-tuner hands out None so nobody relies on it
            if name not in self.values:  # declared twice: the first value wins
                override = self.overrides.get(name)
                self.values[name] = suggest() if override is None else self._apply(name, override)
            return self.values[name]

    def _apply(self, name: str, param: Param) -> Any:
        """Suggest ``name`` from a sweep spec's distribution instead of the declared one."""
        if isinstance(param, FixedParam):
            return param.value
        if isinstance(param, IntParam):
            log = bool(getattr(param, "log", False))  # IntParam.log is a recent field
            return self.trial.suggest_int(name, param.min, param.max, step=param.step, log=log)
        if isinstance(param, FloatParam):
            return self.trial.suggest_float(
                name, param.min, param.max, step=param.step, log=param.log
            )
        if isinstance(param, ChoiceParam):
            return self.trial.suggest_categorical(name, list(param.values))
        raise TypeError(f"unsupported override for {name!r}: {param!r}")

    def Int(
        self, name: str, min_value: int, max_value: int, step: int | None = None,
        sampling: str = "linear", default: int | None = None,
        parent_name: str | None = None, parent_values: Any = None,
    ) -> int | None:  # fmt: skip
        """An integer in ``[min_value, max_value]`` (both included), ``step`` apart (default 1).

        ``sampling`` "log" and "reverse_log" both mean Optuna's ``log=True``. ``default`` is
        accepted for compatibility and ignored: Optuna's sampler chooses every value.
        """
        log = _is_log("Int", name, sampling, min_value, max_value)
        self._default(name, default)

        def suggest() -> int:
            if log and step is not None and step > 1:
                raise _log_step_error("Int", name, sampling, step)
            return self.trial.suggest_int(name, min_value, max_value, step=step or 1, log=log)

        return self._declare(name, suggest, parent_name, parent_values)

    def Float(
        self, name: str, min_value: float, max_value: float, step: float | None = None,
        sampling: str = "linear", default: float | None = None,
        parent_name: str | None = None, parent_values: Any = None,
    ) -> float | None:  # fmt: skip
        """A float in ``[min_value, max_value]``: uniform, on a ``step`` grid, or log-uniform.

        keras-tuner's "reverse_log" (dense near ``max_value``) has no Optuna counterpart: it
        is mapped to ``log=True``. ``default`` is accepted and ignored.
        """
        log = _is_log("Float", name, sampling, min_value, max_value)
        self._default(name, default)

        def suggest() -> float:
            if log and step is not None:
                raise _log_step_error("Float", name, sampling, step)
            return self.trial.suggest_float(name, min_value, max_value, step=step, log=log)

        return self._declare(name, suggest, parent_name, parent_values)

    def Choice(
        self, name: str, values: Sequence[Any], ordered: bool | None = None,
        default: Any = None, parent_name: str | None = None, parent_values: Any = None,
    ) -> Any:  # fmt: skip
        """One of ``values``; ``ordered`` and ``default`` are accepted and ignored."""
        if not values:
            raise ValueError(f"Choice(name={name!r}): `values` must be non-empty.")
        choices = list(values)
        self._default(name, default)
        suggest = partial(self.trial.suggest_categorical, name, choices)
        return self._declare(name, suggest, parent_name, parent_values)

    def Boolean(
        self, name: str, default: bool = False,
        parent_name: str | None = None, parent_values: Any = None,
    ) -> bool | None:  # fmt: skip
        """``False`` or ``True``; ``default`` is accepted and ignored."""
        self._default(name, default)
        suggest = partial(self.trial.suggest_categorical, name, [False, True])
        return self._declare(name, suggest, parent_name, parent_values)

    def Fixed(
        self, name: str, value: Any, parent_name: str | None = None, parent_values: Any = None
    ) -> Any:
        """``value``, recorded in ``values`` but never suggested to Optuna."""
        return self._declare(name, lambda: value, parent_name, parent_values)

    def _default(self, name: str, default: Any) -> None:
        if default is not None:
            self.defaults.setdefault(name, default)

    def get(self, name: str) -> Any:
        """The active value of ``name``: ValueError if inactive, KeyError if never declared."""
        if name in self.values:
            return self.values[name]
        if name in self._declared:
            raise ValueError(f"{name} is currently inactive.")
        raise KeyError(f"{name} does not exist.")

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.values


def _is_log(kind: str, name: str, sampling: str | None, low: float, high: float) -> bool:
    """Validate keras-tuner's ``sampling`` and bounds; True for the log scales."""
    sampling = (sampling or "linear").lower()
    if sampling not in _SAMPLINGS:
        raise ValueError(f"{kind}(name={name!r}): sampling must be one of {_SAMPLINGS}.")
    if low > high:
        raise ValueError(f"{kind}(name={name!r}): min_value {low} > max_value {high}.")
    if sampling != "linear" and low <= 0:
        raise ValueError(f"{kind}(name={name!r}): sampling={sampling!r} needs min_value > 0.")
    return sampling != "linear"


def _log_step_error(kind: str, name: str, sampling: str, step: float) -> ValueError:
    """keras-tuner reads ``step`` under log sampling as a multiplier; Optuna has no such grid."""
    return ValueError(
        f"{kind}(name={name!r}): sampling={sampling!r} with step={step} is a multiplicative grid "
        "in keras-tuner, which Optuna cannot express (log takes no step, or step 1 for Int); "
        "drop `step`, or use hp.Choice over the grid's values."
    )
