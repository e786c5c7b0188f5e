"""What every engine offers the runner, and the training pieces all engines share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypermodels import BuildContext
from sweeps.engines.checkpoints import BestTrialModel
from sweeps.events import SweepObserver
from sweeps.spec import SweepSpec
from sweeps.task import TaskKind

if TYPE_CHECKING:
    import keras

    from sweeps.builders import Builder
    from sweeps.data import Dataset
    from sweeps.declared import DeclaredSpace

__all__ = ["Engine", "build_context", "training_callbacks", "fit_arguments"]


class Engine(ABC):
    """Turns a spec into trials, reporting each through ``observer``.

    An engine builds every trial's model with ``builder`` (the spec's narrowed space in
    ``declared``), trains with :func:`training_callbacks`, reports each trial through a
    :class:`~sweeps.engines.lifecycle.TrialLifecycle` and reports trial ids that
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
        #: The best completed trial's trained model, which engines offer as trials complete.
        self.kept = BestTrialModel(spec.objective)

    @property
    @abstractmethod
    def planned_trials(self) -> int | None:
        """How many trials the search will run, if the engine can tell in advance."""

    @abstractmethod
    def search(self, data: Dataset) -> None:
        """Run every trial; returns when the search is done."""

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


def build_context(spec: SweepSpec, data: Dataset) -> BuildContext:
    """The hypermodels' build context: the task, the input preprocessing the data calls for
    and, for regression, the targets' scale (both from the training slice only), and the
    schedule's ``decay_per: epoch`` resolved."""
    import numpy as np

    from sweeps.data import feature_sample

    schedule = spec.training.lr_schedule
    if schedule.decay_per == "epoch":
        decay_steps = data.steps_per_epoch(spec.training.batch_size)
    else:
        assert schedule.decay_steps is not None  # the loader requires it for "steps"
        decay_steps = schedule.decay_steps
    pixels = data.x_train.dtype == np.uint8
    mean = variance = None
    if not pixels and np.issubdtype(data.x_train.dtype, np.floating):
        # Per feature for a table; one mean and variance for anything of more axes. A stream's
        # from its first batches: a pass over the features is what it must not need.
        x = feature_sample(data.x_train) if data.streamed else data.x_train
        axis = 0 if x.ndim == 2 else None
        mean = np.asarray(x.mean(axis=axis, dtype=np.float64), dtype=np.float32)
        variance = np.asarray(x.var(axis=axis, dtype=np.float64), dtype=np.float32)
    target_mean = target_std = None
    if data.task.kind is TaskKind.REGRESSION:
        y = np.asarray(data.y_train, dtype=np.float64).reshape(len(data.y_train), -1)
        target_mean = y.mean(axis=0)
        target_std = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
    return BuildContext(
        input_shape=data.input_shape, task=data.task, decay_steps=decay_steps,
        decay_rate=schedule.decay_rate, staircase=schedule.staircase, pixels=pixels,
        feature_mean=mean, feature_variance=variance, target_mean=target_mean,
        target_std=target_std,
    )


def training_callbacks(spec: SweepSpec, *, early_stopping: bool = True) -> list[Any]:
    """The callbacks of every trial: EarlyStopping as the spec says, TerminateOnNaN, and a
    deep copy of each of the user's own (``training.callbacks``), so that no state passes
    from one trial to the next (keras-tuner copies them per execution the same way).
    ``early_stopping=False`` (the final fit, which has no validation data): no EarlyStopping."""
    import copy

    import keras

    es = spec.training.early_stopping
    stopping = [keras.callbacks.EarlyStopping(
        monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
        mode=es.mode.value, restore_best_weights=es.restore_best_weights,
    )] if early_stopping else []
    return [*stopping, keras.callbacks.TerminateOnNaN(),
            *(copy.deepcopy(callback) for callback in spec.training.callbacks)]


def fit_arguments(spec: SweepSpec, data: Dataset) -> dict[str, Any]:
    """What every engine hands ``fit`` besides callbacks."""
    # A stream comes batched: Keras refuses a batch_size beside it.
    batch = {} if data.streamed else {"batch_size": spec.training.batch_size}
    return dict(**data.fit_inputs(), epochs=spec.training.max_epochs, verbose=0, **batch)
