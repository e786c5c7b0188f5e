"""What every engine offers the runner, and the training pieces all engines share."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypermodels import BuildContext, Hypermodel
from sweeps import interrupts
from sweeps.events import SweepObserver
from sweeps.spec import SweepSpec

if TYPE_CHECKING:
    import keras

    from sweeps.data import Dataset

__all__ = ["Engine", "build_context", "training_callbacks"]


class Engine(ABC):
    """Turns a spec into trials, reporting each through ``observer``.

    An engine trains with :func:`training_callbacks` in every trial and reports trial ids
    that :meth:`load_model` accepts.
    """

    #: The name tracking records as the sweep's engine tag.
    name: str

    def __init__(
        self, spec: SweepSpec, hypermodel: Hypermodel, context: BuildContext,
        observer: SweepObserver, work_dir: Path,
    ) -> None:
        self.spec = spec
        self.hypermodel = hypermodel
        self.context = context
        self.observer = observer
        self.work_dir = work_dir

    @property
    @abstractmethod
    def planned_trials(self) -> int | None:
        """How many trials the search will run, if the engine can tell in advance."""

    @abstractmethod
    def search(self, data: Dataset) -> None:
        """Run every trial; returns when the search is done."""

    @abstractmethod
    def load_model(self, trial_id: str) -> keras.Model:
        """The trained model of a completed trial, at its best epoch."""

    #: What the engine repaired in its own state when resuming (shown to the user), if anything.
    recovery_note: str | None = None

    def interrupted_trial_ids(self) -> list[str]:
        """Trials a previous process left unfinished; the engine runs them again."""
        return []

    def pareto_trial_ids(self) -> list[str]:
        """The trials on the Pareto front of a multi-objective search (else none)."""
        return []


def build_context(spec: SweepSpec, input_shape: tuple[int, ...], num_classes: int,
                  train_size: int) -> BuildContext:
    """The hypermodel's build context; resolves the schedule's ``decay_per: epoch``."""
    schedule = spec.training.lr_schedule
    if schedule.decay_per == "epoch":
        decay_steps = math.ceil(train_size / spec.training.batch_size)
    else:
        assert schedule.decay_steps is not None  # the loader requires it for "steps"
        decay_steps = schedule.decay_steps
    return BuildContext(
        input_shape=input_shape, num_classes=num_classes, decay_steps=decay_steps,
        decay_rate=schedule.decay_rate, staircase=schedule.staircase,
    )


def training_callbacks(spec: SweepSpec) -> list[Any]:
    """The callbacks of every trial: EarlyStopping as the spec says, and TerminateOnNaN."""
    import keras

    es = spec.training.early_stopping
    return [
        keras.callbacks.EarlyStopping(
            monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
            mode="min" if es.monitor.endswith("loss") else "max",
            restore_best_weights=es.restore_best_weights,
        ),
        keras.callbacks.TerminateOnNaN(),
    ]


class NonFiniteLoss(Exception):
    """The training loss became NaN or infinite: the trial fails and the sweep goes on."""


def epoch_metrics(model: Any, epoch: int, logs: Mapping[str, Any] | None) -> dict[str, float]:
    """One epoch's logged metrics plus the learning rate the schedule reached.

    Raises :class:`NonFiniteLoss` once the loss is NaN or infinite (TerminateOnNaN has
    then stopped training mid-epoch): such a trial is failed, not ranked.
    """
    import keras

    interrupts.check()  # an interrupt the signal handler could not deliver ends the trial here
    metrics = {name: float(value) for name, value in (logs or {}).items()}
    metrics["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    loss = metrics.get("loss")
    if loss is not None and not math.isfinite(loss):
        raise NonFiniteLoss(f"the training loss became {loss} at epoch {epoch}")
    return metrics


def objective_values(spec: SweepSpec, history: Mapping[str, Sequence[float]],
                     param_count: int) -> list[float]:
    """Each objective's best value over the epochs (``params``: the parameter count)."""
    values = []
    for objective in spec.objectives:
        if objective.metric == "params":
            values.append(float(param_count))
            continue
        series = history.get(objective.metric) or [math.nan]
        values.append(float(max(series) if objective.direction.value == "max" else min(series)))
    return values


def model_summary(model: Any) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)
