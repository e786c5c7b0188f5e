"""Keras model builders and the search-space protocol they are written against.

``get_hypermodel(name)`` returns a hypermodel class by its spec name. Importing this package
does not import Keras.
"""

from __future__ import annotations

from hypermodels.base import BuildContext, Hypermodel, OptionError, compile_model
from hypermodels.cnn import CNN
from hypermodels.hp_space import HpSpace
from hypermodels.mlp import MLP, SizedMLP
from hypermodels.space import (
    ChoiceParam,
    FixedParam,
    FixedSpace,
    FloatParam,
    IntParam,
    Param,
    Space,
)

__all__ = [
    "HYPERMODELS",
    "get_hypermodel",
    "BuildContext",
    "Hypermodel",
    "OptionError",
    "HpSpace",
    "compile_model",
    "CNN",
    "MLP",
    "SizedMLP",
    "Space",
    "FixedSpace",
    "Param",
    "IntParam",
    "FloatParam",
    "ChoiceParam",
    "FixedParam",
]

HYPERMODELS: dict[str, type[Hypermodel]] = {cls.name: cls for cls in (MLP, SizedMLP, CNN)}


def get_hypermodel(name: str) -> type[Hypermodel]:
    """The hypermodel class registered as ``name``; ``KeyError`` if there is none."""
    return HYPERMODELS[name]
