"""What engines report while a sweep runs, and the observer interface that receives it.

Engines know nothing of MLflow or the console: they call a :class:`SweepObserver`, and the
runner hands them one that fans out to tracking (MLflow runs) and the console. The events
arrive in this order for each trial::

    trial_started → model_built → epoch_ended × epochs → trial_ended

``model_built`` carries the hyperparameters because define-by-run spaces (keras-tuner's
conditional scopes, Optuna) only know every value once the model has been built. A trial
that fails before its model is built goes straight from ``trial_started`` to ``trial_ended``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TrialStatus",
    "SweepStarted",
    "TrialStarted",
    "ModelBuilt",
    "EpochEnded",
    "TrialEnded",
    "SweepEnded",
    "SweepObserver",
    "Broadcast",
]


class TrialStatus(str, enum.Enum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PRUNED = "PRUNED"
    KILLED = "KILLED"


@dataclass(frozen=True)
class SweepStarted:
    spec: Any  # sweeps.spec.SweepSpec; typed loosely to keep this module import-free
    engine: str
    #: How many trials the engine plans (Hyperband's plan, or max_trials); None if open-ended.
    planned_trials: int | None
    data_source: str
    data_sizes: Mapping[str, int]
    #: Set on --resume: the sweep's existing MLflow run, and the trials the engine will run
    #: again because a previous process was killed or interrupted during them.
    resume_run_id: str | None = None
    rerun_trial_ids: Sequence[str] = ()
    #: What the engine had to repair in its own state on resume, if anything.
    recovery_note: str | None = None
    #: On a resume that extends (or trims) the sweep: ``key.path: old -> new`` per budget key.
    budget_changes: Sequence[str] = ()
    #: Set for a worker joining a sweep another process founded: log under this run,
    #: leave its ending to the founder.
    join_run_id: str | None = None
    #: The task (sweeps.task.Task) the data and spec resolved to.
    task: Any = None
    #: Who compiles the trials' models: ``sweeps`` (the spec's optimizer and schedule) or
    #: ``builder`` (the builder's own compile step, kept as it is).
    compiled_by: str = "sweeps"
    #: The data (sweeps.data.Dataset): tracking records its splits and takes the final
    #: model's input example from it.
    dataset: Any = None


@dataclass(frozen=True)
class TrialStarted:
    trial_id: str
    number: int
    #: Engine-specific facts worth a tag, e.g. ``hyperband.bracket``.
    tags: Mapping[str, str] = field(default_factory=dict)
    #: The trial this one continues training from (Hyperband's later rounds).
    continues: str | None = None
    initial_epoch: int = 0


@dataclass(frozen=True)
class ModelBuilt:
    trial_id: str
    params: Mapping[str, Any]
    #: None for a model that was never built (its trial failed before its first epoch).
    param_count: int | None
    summary: str
    compiled_by: str = "sweeps"


@dataclass(frozen=True)
class EpochEnded:
    trial_id: str
    epoch: int
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class TrialEnded:
    trial_id: str
    status: TrialStatus
    #: The best value of the (primary) objective over the trial's epochs; None if it has none.
    objective: float | None
    epochs_run: int
    wall_time_s: float
    #: Every objective's value by metric, for multi-objective searches.
    values: Mapping[str, float] = field(default_factory=dict)
    #: Why a trial failed: the error, possibly a whole traceback (last line = the error).
    message: str | None = None
    #: Metrics logged as they are: with several fits per trial, each fit's best values
    #: (``fold_2/best_val_loss``) and their spread (``best_val_loss_std``).
    extra: Mapping[str, float] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """The last line of ``message``: the exception, without the traceback."""
        return self.message.strip().splitlines()[-1] if self.message else None


@dataclass(frozen=True)
class SweepEnded:
    best_trial_id: str | None
    best_objective: float | None
    test_metrics: Mapping[str, float]
    #: Trials on the Pareto front of a multi-objective search.
    pareto_trial_ids: Sequence[str] = ()
    #: The final Keras model, for tracking to log and register: the best trial's, or the
    #: final fit's (``final.retrain``); None if no trial completed.
    best_model: Any = None
    #: Why there is no test evaluation (no test set, weights elsewhere), if there is none.
    test_note: str | None = None
    #: With ``final.retrain``: how the final model was made (sweeps.final.fit.FinalFit).
    final_fit: Any = None
    #: With ``final.retrain``: the best trial's own model on the test set, for comparison
    #: (``test_metrics`` are then the final fit's).
    best_trial_test_metrics: Mapping[str, float] = field(default_factory=dict)
    #: The baselines tested beside the final model (sweeps.final.uplift.Baselines), if any.
    baselines: Any = None


class SweepObserver:
    """Receives a sweep's events. Every method is a no-op here; override what you need."""

    def sweep_started(self, event: SweepStarted) -> None: ...

    def trial_started(self, event: TrialStarted) -> None: ...

    def model_built(self, event: ModelBuilt) -> None: ...

    def epoch_ended(self, event: EpochEnded) -> None: ...

    def trial_ended(self, event: TrialEnded) -> None: ...

    def sweep_ended(self, event: SweepEnded) -> None: ...

    def close(self) -> None:
        """The sweep is over, however it ended: release terminals, files, threads."""


class Broadcast(SweepObserver):
    """Passes every event to several observers, in order."""

    def __init__(self, observers: Sequence[SweepObserver]) -> None:
        self.observers = list(observers)

    def sweep_started(self, event: SweepStarted) -> None:
        for observer in self.observers:
            observer.sweep_started(event)

    def trial_started(self, event: TrialStarted) -> None:
        for observer in self.observers:
            observer.trial_started(event)

    def model_built(self, event: ModelBuilt) -> None:
        for observer in self.observers:
            observer.model_built(event)

    def epoch_ended(self, event: EpochEnded) -> None:
        for observer in self.observers:
            observer.epoch_ended(event)

    def trial_ended(self, event: TrialEnded) -> None:
        for observer in self.observers:
            observer.trial_ended(event)

    def sweep_ended(self, event: SweepEnded) -> None:
        for observer in self.observers:
            observer.sweep_ended(event)

    def close(self) -> None:
        for observer in self.observers:
            observer.close()
