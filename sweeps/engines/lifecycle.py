"""One trial's life as every engine reports it: seeding, events, epochs, timing, NaN.

An engine decides *which* trials run and *how* they are scheduled; what happens around each
trial is the same for all of them and lives here, so a third engine costs one file::

    trial = TrialLifecycle(spec, observer, trial_id="3", number=4)    # seeds, trial_started
    trial.model_built(model, hp.values, builder.compiled_by)
    trial.epoch_ended(model, epoch, logs)                             # each epoch; NaN raises
    trial.ended(TrialStatus.COMPLETED)                                # values from the epochs
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from sweeps import interrupts
from sweeps.events import (
    EpochEnded,
    ModelBuilt,
    SweepObserver,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from sweeps.metrics import Direction
from sweeps.spec import SweepSpec

__all__ = ["TrialLifecycle", "NonFiniteLoss", "model_summary"]


class NonFiniteLoss(Exception):
    """The training loss became NaN or infinite: the trial fails and the sweep goes on."""


def model_summary(model: Any) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


class TrialLifecycle:
    """Reports one trial to ``observer``; created when the trial starts."""

    def __init__(self, spec: SweepSpec, observer: SweepObserver, trial_id: str, number: int, *,
                 tags: Mapping[str, str] | None = None, continues: str | None = None,
                 initial_epoch: int = 0) -> None:
        import keras

        self.spec = spec
        self.observer = observer
        self.trial_id = trial_id
        self.number = number
        self.epochs = 0
        self.history: dict[str, list[float]] = {}
        self.param_count = 0
        #: A model not built yet (``Sequential()`` with no ``Input``, a subclassed model):
        #: its report waits for the first epoch, when Keras has built it.
        self._unbuilt: tuple[Any, dict[str, Any], str] | None = None
        # Seed each trial from the sweep seed and its number: reproducible weights and
        # shuffling, and independent of which trials ran before in this process.
        keras.utils.set_random_seed(spec.seed + number)
        self._start = time.monotonic()
        observer.trial_started(TrialStarted(trial_id=trial_id, number=number,
                                            tags=dict(tags or {}), continues=continues,
                                            initial_epoch=initial_epoch))

    def model_built(self, model: Any, params: Mapping[str, Any], compiled_by: str) -> None:
        """Report the model: now if it is built, else once its first epoch has built it
        (the parameter count and summary exist only then)."""
        if not model.built:
            self._unbuilt = (model, dict(params), compiled_by)
            return
        self._unbuilt = None
        self.param_count = model.count_params()
        self.observer.model_built(ModelBuilt(
            trial_id=self.trial_id, params=dict(params), param_count=self.param_count,
            summary=model_summary(model), compiled_by=compiled_by))

    def epoch_ended(self, model: Any, epoch: int, logs: Mapping[str, Any] | None) -> None:
        """Report one epoch's metrics plus the learning rate the schedule reached.

        Raises :class:`NonFiniteLoss` once the loss is NaN or infinite (TerminateOnNaN has
        then stopped training mid-epoch): such a trial is failed, not ranked.
        """
        interrupts.check()  # an interrupt the signal handler could not deliver ends it here
        if self._unbuilt is not None:
            self.model_built(*self._unbuilt)
        self.epochs += 1
        metrics = {name: float(value) for name, value in (logs or {}).items()
                   if _is_number(value)}
        rate = _learning_rate(model)
        if rate is not None:
            metrics["learning_rate"] = rate
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        self.observer.epoch_ended(EpochEnded(self.trial_id, epoch, metrics))
        loss = metrics.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLoss(f"the training loss became {loss} at epoch {epoch}")

    def objective_values(self) -> list[float]:
        """Each objective's best value over the epochs (``params``: the parameter count)."""
        values = []
        for objective in self.spec.objectives:
            if objective.metric == "params":
                values.append(float(self.param_count))
                continue
            series = self.history.get(objective.metric) or [math.nan]
            best = max if objective.direction is Direction.MAX else min
            values.append(float(best(series)))
        return values

    def epochs_to_best(self, metric: str, direction: Direction) -> int:
        """The epochs trained up to and including the best value of ``metric`` (the first of
        equal values, the epoch Keras's ``save_best_only`` checkpoint keeps); all of them if
        the model never reported it."""
        series = self.history.get(metric)
        if not series:
            return self.epochs
        best = max(series) if direction is Direction.MAX else min(series)
        return series.index(best) + 1

    def ended(self, status: TrialStatus, *, objective: float | None = None,
              message: str | None = None) -> TrialEnded:
        """Report the end. ``objective``: the engine's own score (keras-tuner's oracle);
        else the best epoch of the primary objective. Values that are not finite make no
        result: the trial ranks nowhere."""
        if self._unbuilt is not None:  # failed before Keras built it: its values, no size
            _, params, compiled_by = self._unbuilt
            self._unbuilt = None
            self.observer.model_built(ModelBuilt(
                trial_id=self.trial_id, params=params, param_count=None,
                summary="(the model was never built: the trial ended before its first epoch)",
                compiled_by=compiled_by))
        values = self.objective_values() if self.history else []
        finite = bool(values) and all(math.isfinite(v) for v in values)
        if objective is None and finite and status is not TrialStatus.FAILED:
            objective = values[0]
        event = TrialEnded(
            trial_id=self.trial_id, status=status, objective=objective,
            epochs_run=self.epochs, wall_time_s=time.monotonic() - self._start,
            values=dict(zip((o.metric for o in self.spec.objectives), values)) if finite else {},
            message=message,
        )
        self.observer.trial_ended(event)
        return event


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _learning_rate(model: Any) -> float | None:
    import keras

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - an optimizer of the builder's own may not expose it
        return None
