"""Which way a metric is better: the one place that decides it.

Objectives, EarlyStopping monitors, rankings in the console, ``compare`` and reports all ask
:func:`direction_of`; a spec may still give ``direction`` for a metric whose name says nothing.

    direction_of("val_mae")   # Direction.MIN
    direction_of("val_auc")   # Direction.MAX
    direction_of("my_score")  # None: the spec must say
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

__all__ = ["Direction", "direction_of", "base_name"]


class Direction(str, enum.Enum):
    """Which way a value is better; the only place that compares values by it."""

    MAX = "max"
    MIN = "min"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self is Direction.MAX else a < b

    def gain(self, a: float, b: float) -> float:
        """How much better ``a`` is than ``b`` (negative if worse)."""
        return a - b if self is Direction.MAX else b - a

    def best(self, values: Iterable[float]) -> float:
        """The best of ``values`` (the first of equals)."""
        return max(values) if self is Direction.MAX else min(values)

    def sort_key(self, value: float) -> float:
        """Ascending order of this key puts the best value first."""
        return -value if self is Direction.MAX else value

    @property
    def optuna(self) -> str:
        """Optuna's name for it: ``maximize`` or ``minimize``."""
        return "maximize" if self is Direction.MAX else "minimize"

    @property
    def worst(self) -> float:
        """A value every finite one beats."""
        return -math.inf if self is Direction.MAX else math.inf


#: Word parts of metric names that are better small, and better large. Checked as parts of
#: the underscore-separated name, so ``mean_absolute_error`` and ``val_rmse`` both match.
_MINIMISED = frozenset({
    "loss", "error", "mae", "mse", "rmse", "mape", "msle", "crossentropy", "hinge",
    "poisson", "divergence", "logcosh", "huber", "params",
})
_MAXIMISED = frozenset({
    "accuracy", "acc", "auc", "precision", "recall", "f1", "fbeta", "r2", "iou",
    "specificity", "sensitivity", "score",
})
_PREFIXES = ("val_", "test_", "best_")


def base_name(metric: str) -> str:
    """``val_mae`` -> ``mae``: the metric a logged key is about."""
    for prefix in _PREFIXES:
        if metric.startswith(prefix):
            return base_name(metric.removeprefix(prefix))
    return metric


def direction_of(metric: str) -> Direction | None:
    """Whether ``metric`` is maximised or minimised, from its name; None if it cannot tell."""
    # Keras snake-cases class names into metric names: MeanIoU logs "mean_io_u".
    parts = set(base_name(metric).lower().replace("io_u", "iou").split("_"))
    if parts & _MINIMISED:
        return Direction.MIN
    if parts & _MAXIMISED:
        return Direction.MAX
    return None
