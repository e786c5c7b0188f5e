"""The :class:`~hypermodels.space.Space` of a bundled hypermodel, answered through any object
with keras-tuner's ``HyperParameters`` API.

keras-tuner's engines pass their own ``HyperParameters``; Optuna's engine passes
``sweeps.engines.optuna_hp.OptunaHyperParameters``, which has the same API. So bundled
hypermodels and a user's ``build_model(hp)`` are driven the same way under every engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam, Param, Space

__all__ = ["HpSpace", "declare"]


def declare(hp: Any, name: str, param: Param) -> Any:
    """Declare ``name`` with ``param``'s distribution on ``hp``; its value for this trial."""
    if isinstance(param, IntParam):
        return hp.Int(name, param.min, param.max, step=param.step,
                      sampling="log" if param.log else "linear")
    if isinstance(param, FloatParam):
        return hp.Float(name, param.min, param.max, step=param.step,
                        sampling="log" if param.log else "linear")
    if isinstance(param, ChoiceParam):
        return hp.Choice(name, list(param.values))
    assert isinstance(param, FixedParam)
    return hp.Fixed(name, param.value)


class HpSpace(Space):
    """Answers a hypermodel through keras-tuner-style ``hp``; conditional scopes included."""

    def __init__(self, hp: Any, params: Mapping[str, Param]) -> None:
        super().__init__(params)
        self.hp = hp

    def _suggest(self, name: str, param: Param) -> Any:
        return declare(self.hp, name, param)

    def conditional(self, parent: str, values: Sequence[Any]) -> Any:
        return self.hp.conditional_scope(parent, list(values))
