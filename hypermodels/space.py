"""The search-space vocabulary every hypermodel is written against.

A hypermodel asks a :class:`Space` for values by name (``space.value("units", name="units_0")``)
and never learns which engine answers. The distributions come from the resolved sweep spec:
the hypermodel's ``default_space`` with the spec's overrides applied. Engines adapt their own
objects to this interface: keras-tuner's ``HyperParameters`` (``hp.Int``/``hp.Float``/
``hp.Choice`` with ``conditional_scope``), Optuna's ``Trial`` (``suggest_*``), and
:class:`FixedSpace` for rebuilding a known configuration (tests, the best trial).

This module imports nothing heavy: the CLI's ``show`` resolves spaces without Keras.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "IntParam",
    "FloatParam",
    "ChoiceParam",
    "FixedParam",
    "Param",
    "Space",
    "FixedSpace",
    "param_to_dict",
]

Scalar = int | float | str | bool


@dataclass(frozen=True)
class IntParam:
    """Integers ``min, min+step, ..., max`` (both ends included); log-uniform with ``log``."""

    min: int
    max: int
    step: int = 1
    log: bool = False

    def values(self) -> range:
        return range(self.min, self.max + 1, self.step)


@dataclass(frozen=True)
class FloatParam:
    """Floats in ``[min, max]``: uniform, on a ``step`` grid, or log-uniform (``log``)."""

    min: float
    max: float
    step: float | None = None
    log: bool = False


@dataclass(frozen=True)
class ChoiceParam:
    """One of a fixed, ordered tuple of values."""

    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class FixedParam:
    """A value the sweep does not search over."""

    value: Scalar


Param = IntParam | FloatParam | ChoiceParam | FixedParam


def param_to_dict(param: Param) -> dict[str, Any]:
    """The YAML form of ``param``, as ``sweeps show`` prints it and specs write it."""
    if isinstance(param, IntParam):
        out_int: dict[str, Any] = {"type": "int", "min": param.min, "max": param.max,
                                   "step": param.step}
        if param.log:
            out_int["log"] = True
        return out_int
    if isinstance(param, FloatParam):
        out: dict[str, Any] = {"type": "float", "min": param.min, "max": param.max}
        if param.step is not None:
            out["step"] = param.step
        if param.log:
            out["log"] = True
        return out
    if isinstance(param, ChoiceParam):
        return {"type": "choice", "values": list(param.values)}
    return {"type": "fixed", "value": param.value}


def discrete_values(param: Param) -> Sequence[Scalar]:
    """Every value a discrete parameter can take (for conditional scopes)."""
    if isinstance(param, IntParam):
        return param.values()
    if isinstance(param, ChoiceParam):
        return param.values
    if isinstance(param, FixedParam):
        return (param.value,)
    if param.step is not None:
        count = math.floor((param.max - param.min) / param.step + 1e-9) + 1
        return tuple(param.min + i * param.step for i in range(count))
    raise TypeError("a continuous float parameter has no finite set of values")


class Space(ABC):
    """Answers a hypermodel's questions about hyperparameter values.

    Subclasses implement :meth:`_suggest` for one engine; ``conditional`` is a no-op
    unless the engine (keras-tuner) records which parameters a value activates.
    """

    def __init__(self, params: Mapping[str, Param]) -> None:
        self.params = params

    def value(self, key: str, *, name: str | None = None) -> Any:
        """The value of parameter ``key``, recorded under ``name`` (default: ``key``).

        ``name`` lets one declared distribution serve several hyperparameters, e.g.
        ``units`` for ``units_0``, ``units_1``, ... in a per-layer network.
        """
        try:
            param = self.params[key]
        except KeyError:
            raise KeyError(
                f"hyperparameter {key!r} is not in the search space ({sorted(self.params)})"
            ) from None
        return self._suggest(name or key, param)

    def max_value(self, key: str) -> Scalar:
        """The largest value ``key`` can take: how many layers to declare, say."""
        return max(discrete_values(self.params[key]))

    @contextlib.contextmanager
    def conditional(self, parent: str, values: Sequence[Scalar]) -> Iterator[None]:
        """Parameters declared inside are active only when ``parent`` is in ``values``."""
        yield

    @abstractmethod
    def _suggest(self, name: str, param: Param) -> Any:
        """The engine's value for ``name`` drawn from ``param``."""


class FixedSpace(Space):
    """A space whose answers are given up front, like Optuna's ``FixedTrial``.

    Rebuilds a model from a trial's logged hyperparameters, and builds models in tests
    with no tuner at all.
    """

    def __init__(self, params: Mapping[str, Param], values: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.values = dict(values)

    def _suggest(self, name: str, param: Param) -> Any:
        if name in self.values:
            return self.values[name]
        if isinstance(param, FixedParam):
            return param.value
        raise KeyError(f"FixedSpace has no value for hyperparameter {name!r}")
