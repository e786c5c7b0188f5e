"""What every engine offers the runner."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeps.events import SweepObserver
from sweeps.spec import SweepSpec
from sweeps.training import Trainer
from sweeps.training.checkpoints import BestTrialModel

if TYPE_CHECKING:
    import keras

    from sweeps.builders import Builder
    from sweeps.declared import DeclaredSpace
    from sweeps.executions import ExecutionPlan

__all__ = ["Engine"]


class Engine(ABC):
    """Turns a spec into trials, reporting each through ``observer``.

    An engine builds and trains every trial's model through a
    :class:`~sweeps.training.Trainer` over ``builder`` (the spec's narrowed space in
    ``declared``), reports each trial through a
    :class:`~sweeps.training.lifecycle.TrialLifecycle` and reports trial ids that
    :meth:`load_model` accepts.
    """

    #: The name tracking records as the sweep's engine tag.
    name: str

    def __init__(self, spec: SweepSpec, builder: Builder, declared: DeclaredSpace,
                 observer: SweepObserver, work_dir: Path) -> None:
        self.spec = spec
        self.builder = builder
        self.declared = declared
        self.observer = observer
        self.work_dir = work_dir
        #: The one way every trial's model is built and trained.
        self.trainer = Trainer(spec, builder)
        #: The best completed trial's trained model, which engines offer as trials complete.
        self.kept = BestTrialModel(spec.objective)

    @property
    @abstractmethod
    def planned_trials(self) -> int | None:
        """How many trials the search will run, if the engine can tell in advance."""

    @abstractmethod
    def search(self, plan: ExecutionPlan) -> None:
        """Run every trial, each training as ``plan`` says on ``plan.data``; returns when the
        search is done."""

    def load_model(self, trial_id: str) -> keras.Model:
        """The trained model of a completed trial, at its best epoch: the one still in
        memory if it is the best trial this process ran, else loaded from its checkpoint."""
        model = self.kept.take(trial_id)
        return model if model is not None else self.load_checkpoint(trial_id)

    @abstractmethod
    def load_checkpoint(self, trial_id: str) -> keras.Model:
        """A completed trial's model built again and loaded from its checkpoint file."""

    @abstractmethod
    def trial_hyperparameters(self, trial_id: str) -> Any:
        """An ``hp`` holding a completed trial's values: ``builder.build(hp)`` builds its
        model again, untrained (what the final fit retrains)."""

    @abstractmethod
    def epochs_to_best(self, trial_id: str) -> int:
        """How many epochs of training :meth:`load_model`'s weights had: the trial's epochs
        up to and including its best one, plus those of any trial whose weights it continued
        (Hyperband's earlier rounds)."""

    def start_with(self, values: Mapping[str, Any]) -> None:
        """Make a fresh search's first trial ``values`` (the builder's defaults), so that the
        search compares every configuration it finds with them, on the same validation.
        Engines that cannot take given values (Hyperband draws its brackets itself) ignore it."""
        return None

    #: What the engine repaired in its own state when resuming (shown to the user), if anything.
    recovery_note: str | None = None

    def check_budget(self) -> None:
        """On resume: raise :class:`~sweeps.errors.SweepsError` if the spec's budget is
        smaller than what the search already ran (a larger one extends it)."""
        return None

    def interrupted_trial_ids(self) -> list[str]:
        """Trials a previous process left unfinished; the engine runs them again."""
        return []

    def pareto_trial_ids(self) -> list[str]:
        """The trials on the Pareto front of a multi-objective search (else none)."""
        return []
