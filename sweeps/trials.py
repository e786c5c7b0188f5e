"""The one record of a trial, and the book of a sweep's trials.

A :class:`TrialRecord` is what every part of sweeps knows about a trial, frozen and typed as
Optuna's ``FrozenTrial`` is: the book fills it from the trial's events while the sweep runs
(the console's "best so far", the final table, the result of :func:`sweeps.run`), tracking
reads it back from a trial's MLflow run (a resumed or shared sweep, ``compare``, reports,
the re-check). Records are replaced, never changed::

    book.best()                     # TrialRecord(trial_id="3", number=4, objective=0.981, ...)
    record.value("units_0")         # a parameter, a final metric, "trial" or "status"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweeps.events import ModelBuilt, SweepObserver, TrialEnded, TrialStarted, TrialStatus
from sweeps.spec import ObjectiveSpec

__all__ = ["TrialRecord", "TrialBook"]


@dataclass(frozen=True)
class TrialRecord:
    #: The engine's id of the trial (keras-tuner's ``"00"``, Optuna's number as text).
    trial_id: str
    #: 1-based, as the run names say (``trial-004``).
    number: int
    params: Mapping[str, Any] = field(default_factory=dict)
    param_count: int | None = None
    #: None while it runs.
    status: TrialStatus | None = None
    #: The primary objective's value (its best epoch; the mean over folds and repeats).
    objective: float | None = None
    epochs_run: int = 0
    wall_time_s: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Why the trial failed (its error, possibly a traceback); None otherwise.
    message: str | None = None
    #: With folds or repeats: each fit's best objective value, by its label (``fold_2``).
    executions: Mapping[str, float] = field(default_factory=dict)
    #: Its final metrics as its MLflow run holds them (``best_val_loss``, ``param_count``),
    #: when read back from MLflow.
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: Its MLflow run, when read back from MLflow.
    run_id: str | None = None

    def value(self, column: str) -> Any:
        """A parameter, a final metric, or ``trial`` / ``status``, by name."""
        if column in self.params:
            return self.params[column]
        if column in self.metrics:
            return self.metrics[column]
        return {"trial": self.number,
                "status": self.status.value if self.status else None}.get(column)


class TrialBook(SweepObserver):
    """Collects trial outcomes in the order trials ran."""

    def __init__(self, objective: ObjectiveSpec) -> None:
        self.objective = objective
        self.records: dict[str, TrialRecord] = {}

    def seed(self, records: list[TrialRecord]) -> None:
        """Trials finished before a resume, so rankings cover the whole sweep."""
        for record in records:
            self.records[record.trial_id] = record

    def _update(self, trial_id: str, **changes: Any) -> None:
        self.records[trial_id] = dataclasses.replace(self.records[trial_id], **changes)

    def trial_started(self, event: TrialStarted) -> None:
        self.records[event.trial_id] = TrialRecord(event.trial_id, event.number,
                                                   tags=dict(event.tags))

    def model_built(self, event: ModelBuilt) -> None:
        self._update(event.trial_id, params=dict(event.params), param_count=event.param_count)

    def trial_ended(self, event: TrialEnded) -> None:
        suffix = f"/best_{self.objective.metric}"
        self._update(event.trial_id, status=event.status, objective=event.objective,
                     epochs_run=event.epochs_run, wall_time_s=event.wall_time_s,
                     message=event.message,
                     executions={key.removesuffix(suffix): value
                                 for key, value in event.extra.items() if key.endswith(suffix)})

    def completed(self) -> list[TrialRecord]:
        return [r for r in self.records.values()
                if r.status is TrialStatus.COMPLETED and r.objective is not None]

    def top(self, n: int) -> list[TrialRecord]:
        """The ``n`` best completed trials, best first (earlier trial wins ties)."""
        direction = self.objective.direction
        ranked = sorted(self.completed(), key=lambda r: r.number)
        return sorted(ranked, key=lambda r: direction.sort_key(r.objective))[:n]  # type: ignore[arg-type]

    def best(self) -> TrialRecord | None:
        top = self.top(1)
        return top[0] if top else None
