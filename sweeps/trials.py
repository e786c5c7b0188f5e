"""What the runner remembers about each trial: enough for 'best so far' and the final table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sweeps.events import ModelBuilt, SweepObserver, TrialEnded, TrialStarted, TrialStatus
from sweeps.spec import ObjectiveSpec

__all__ = ["TrialRecord", "TrialBook"]


@dataclass
class TrialRecord:
    trial_id: str
    number: int
    params: dict[str, Any] = field(default_factory=dict)
    param_count: int | None = None
    status: TrialStatus | None = None
    objective: float | None = None
    epochs_run: int = 0
    wall_time_s: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    #: Why the trial failed (its error, possibly a traceback); None otherwise.
    message: str | None = None
    #: With folds or repeats: each fit's best objective value, by its label (``fold_2``).
    executions: dict[str, float] = field(default_factory=dict)


class TrialBook(SweepObserver):
    """Collects trial outcomes in the order trials ran."""

    def __init__(self, objective: ObjectiveSpec) -> None:
        self.objective = objective
        self.records: dict[str, TrialRecord] = {}

    def seed(self, records: list[TrialRecord]) -> None:
        """Trials finished before a resume, so rankings cover the whole sweep."""
        for record in records:
            self.records[record.trial_id] = record

    def trial_started(self, event: TrialStarted) -> None:
        self.records[event.trial_id] = TrialRecord(event.trial_id, event.number,
                                                   tags=dict(event.tags))

    def model_built(self, event: ModelBuilt) -> None:
        record = self.records[event.trial_id]
        record.params = dict(event.params)
        record.param_count = event.param_count

    def trial_ended(self, event: TrialEnded) -> None:
        record = self.records[event.trial_id]
        record.status = event.status
        record.objective = event.objective
        record.epochs_run = event.epochs_run
        record.wall_time_s = event.wall_time_s
        record.message = event.message
        suffix = f"/best_{self.objective.metric}"
        record.executions = {key.removesuffix(suffix): value for key, value in event.extra.items()
                             if key.endswith(suffix)}

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
