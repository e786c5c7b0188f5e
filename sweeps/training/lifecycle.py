"""One trial's life as every engine reports it: seeding, events, epochs, timing, NaN.

An engine decides *which* trials run and *how* they are scheduled; what happens around each
trial is the same for all of them and lives here, so a third engine costs one file::

    trial = TrialLifecycle(spec, observer, trial_id="3", number=4)    # seeds, trial_started
    trial.model_built(model, hp.values, builder.compiled_by)
    trial.epoch_ended(model, epoch, logs)                             # each epoch; NaN raises
    trial.ended(TrialStatus.COMPLETED)                                # values from the epochs

A trial that trains several times (folds, repeats: :mod:`sweeps.executions`) calls
``trial.execution_started(label)`` before each fit: each fit's epochs are reported under its
label (``fold_2/val_loss``), its objective is the mean of the fits' best values, and at the
end the mean curve is reported under the plain names.
"""

from __future__ import annotations

import math
import statistics
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
from sweeps.training.outcome import best_value, epochs_to_best, numeric_logs

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
        #: The current fit's per-epoch metrics.
        self.history: dict[str, list[float]] = {}
        #: Earlier fits of the trial (several executions), with their labels.
        self._runs: list[tuple[str, dict[str, list[float]]]] = []
        self._label = ""
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

    def execution_started(self, label: str) -> None:
        """Another fit of the trial begins (``label``: ``fold_2``, ``run_3``...)."""
        if self.history or self._label:
            self._runs.append((self._label, self.history))
        self.history = {}
        self._label = label

    def _executions(self) -> list[tuple[str, dict[str, list[float]]]]:
        """Every fit so far, the current one last."""
        return [*self._runs, (self._label, self.history)] if self.history else list(self._runs)

    def epoch_ended(self, model: Any, epoch: int, logs: Mapping[str, Any] | None) -> None:
        """Report one epoch's metrics plus the learning rate the schedule reached.

        Raises :class:`NonFiniteLoss` once the loss is NaN or infinite (TerminateOnNaN has
        then stopped training mid-epoch): such a trial is failed, not ranked.
        """
        interrupts.check()  # an interrupt the signal handler could not deliver ends it here
        if self._unbuilt is not None:
            self.model_built(*self._unbuilt)
        self.epochs += 1
        metrics = numeric_logs(logs)
        rate = _learning_rate(model)
        if rate is not None:
            metrics["learning_rate"] = rate
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        reported = {f"{self._label}/{k}": v for k, v in metrics.items()} if self._label \
            else metrics
        self.observer.epoch_ended(EpochEnded(self.trial_id, epoch, reported))
        loss = metrics.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLoss(f"the training loss became {loss} at epoch {epoch}")

    def objective_values(self) -> list[float]:
        """Each objective's best value over the epochs (``params``: the parameter count);
        with several fits, the mean of their best values (as keras-tuner's oracle takes)."""
        values = []
        runs = [history for _, history in self._executions()] or [self.history]
        for objective in self.spec.objectives:
            if objective.metric == "params":
                values.append(float(self.param_count))
                continue
            values.append(statistics.fmean(best_value(h, objective.metric, objective.direction)
                                           for h in runs))
        return values

    def epochs_to_best(self, metric: str, direction: Direction) -> int:
        """The epochs trained up to and including the best value of ``metric`` (the first of
        equal values, the epoch Keras's ``save_best_only`` checkpoint keeps); all of them if
        the model never reported it. With several fits, the median over them."""
        counts = [epochs_to_best(history, metric, direction) or self.epochs
                  for _, history in self._executions() or [("", self.history)]]
        return max(1, round(statistics.median(counts)))

    def _execution_report(self) -> dict[str, float]:
        """With several fits: each fit's best objective values and their spread, and the
        mean curves reported under the plain metric names."""
        runs = self._executions()
        if len(runs) < 2:
            return {}
        longest = max(len(series) for _, h in runs for series in h.values())
        for epoch in range(longest):
            mean = {}
            for key in {k for _, h in runs for k in h}:
                found = [h[key][epoch] for _, h in runs if len(h.get(key, ())) > epoch]
                if found:
                    mean[key] = statistics.fmean(found)
            self.observer.epoch_ended(EpochEnded(self.trial_id, epoch, mean))
        extra = {}
        for objective in self.spec.objectives:
            if objective.metric == "params":
                continue
            bests = [best_value(h, objective.metric, objective.direction) for _, h in runs]
            for (label, _), value in zip(runs, bests):
                extra[f"{label}/best_{objective.metric}"] = value
            extra[f"best_{objective.metric}_std"] = statistics.pstdev(bests)
        return {k: v for k, v in extra.items() if math.isfinite(v)}

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
        values = self.objective_values() if self._executions() else []
        finite = bool(values) and all(math.isfinite(v) for v in values)
        extra = self._execution_report() if status is not TrialStatus.FAILED else {}
        if objective is None and finite and status is not TrialStatus.FAILED:
            objective = values[0]
        event = TrialEnded(
            trial_id=self.trial_id, status=status, objective=objective,
            epochs_run=self.epochs, wall_time_s=time.monotonic() - self._start,
            values=dict(zip((o.metric for o in self.spec.objectives), values)) if finite else {},
            message=message, extra=extra,
        )
        self.observer.trial_ended(event)
        return event


def _learning_rate(model: Any) -> float | None:
    import keras

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - an optimizer of the builder's own may not expose it
        return None
