"""Which way a metric is better: the one place that decides it.

Objectives, EarlyStopping monitors, rankings in the console, ``compare`` and reports all ask
:func:`direction_of`; a spec may still give ``direction`` for a metric whose name says nothing.

    direction_of("val_mae")   # Direction.MIN
    direction_of("val_auc")   # Direction.MAX
    direction_of("my_score")  # None: the spec must say
"""

from __future__ import annotations

import enum

__all__ = ["Direction", "direction_of", "base_name"]


class Direction(str, enum.Enum):
    MAX = "max"
    MIN = "min"


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
    parts = set(base_name(metric).lower().split("_"))
    if parts & _MINIMISED:
        return Direction.MIN
    if parts & _MAXIMISED:
        return Direction.MAX
    return None
