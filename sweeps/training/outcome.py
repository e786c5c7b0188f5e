"""What one fit leaves behind, and how the epochs it ran are read.

Every fit (a trial's, a fold's, the final fit's, a re-check's) records its per-epoch metrics
into an :class:`Outcome`; the objective a fit scored, the epochs up to its best one and
whether its loss diverged are read from it here, the same way for all of them::

    outcome.best("val_loss", Direction.MIN)            # its best epoch's value
    outcome.epochs_to_best("val_loss", Direction.MIN)  # what a fit on all data trains for
    outcome.failure                                    # "the training loss became nan at ..."
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweeps.events import TrialStatus
from sweeps.metrics import Direction
from sweeps.spec import ObjectiveSpec

__all__ = ["Outcome", "best_value", "epochs_to_best", "checkpoint_monitor", "numeric_logs"]


def numeric_logs(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """An epoch's logs as Keras hands them to callbacks, the numbers only (a builder's own
    metric may log something else)."""
    found = {}
    for name, value in (logs or {}).items():
        try:
            found[name] = float(value)
        except (TypeError, ValueError):
            continue
    return found


def best_value(history: Mapping[str, list[float]], metric: str, direction: Direction) -> float:
    """The best of ``metric``'s epochs (NaN if the fit never reported it)."""
    series = history.get(metric) or [math.nan]
    return float(direction.best(series))


def epochs_to_best(history: Mapping[str, list[float]], metric: str,
                   direction: Direction) -> int:
    """The epochs up to and including the best value of ``metric`` (the first of equal
    values, the epoch Keras's ``save_best_only`` checkpoint keeps); every epoch the fit ran if
    it never reported ``metric``."""
    series = history.get(metric)
    if not series:
        return len(history.get("loss", ()))
    return series.index(direction.best(series)) + 1


def checkpoint_monitor(objective: ObjectiveSpec) -> tuple[str, Direction]:
    """What picks a fit's best epoch: the primary objective, as keras-tuner's checkpoints do
    (``val_loss`` when that is the parameter count, which no epoch changes)."""
    monitor = objective.metric if objective.metric != "params" else "val_loss"
    return monitor, Direction.MIN if monitor.endswith("loss") else objective.direction


@dataclass(frozen=True)
class Outcome:
    """One fit's per-epoch metrics (the learning rate the schedule reached among them)."""

    history: Mapping[str, list[float]] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return max((len(series) for series in self.history.values()), default=0)

    @property
    def failure(self) -> str | None:
        """Why the fit made no model: its training loss became NaN or infinite."""
        losses = self.history.get("loss") or []
        if losses and not math.isfinite(losses[-1]):
            return f"the training loss became {losses[-1]} at epoch {len(losses) - 1}"
        return None

    @property
    def status(self) -> TrialStatus:
        return TrialStatus.FAILED if self.failure else TrialStatus.COMPLETED

    def best(self, metric: str, direction: Direction) -> float:
        return best_value(self.history, metric, direction)

    def epochs_to_best(self, metric: str, direction: Direction) -> int:
        return max(1, epochs_to_best(self.history, metric, direction) or self.epochs)
