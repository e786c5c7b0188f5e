"""Training one of a sweep's configurations again, from its stored values, as a trial trains.

The re-check (:mod:`sweeps.rechecking`) loads the sweep's data, builder and declared space
once, then trains each configuration under each seed from scratch: the spec's batch size,
learning-rate schedule, EarlyStopping and objective (its best epoch)::

    trainer = ConfigurationTrainer(spec, quiet=True)
    value, epochs, status = trainer.train(candidate, seed, observer)  # its stored values
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sweeps import interrupts
from sweeps.errors import SweepsError
from sweeps.events import TrialStatus
from sweeps.metrics import Direction

if TYPE_CHECKING:
    from sweeps.rechecking import Candidate, RecheckObserver

__all__ = ["ConfigurationTrainer", "train_configuration", "epochs_to_best"]


class ConfigurationTrainer:
    """The sweep's data, builder and declared space, loaded once for every retraining."""

    def __init__(self, spec: Any, *, quiet: bool) -> None:
        from sweeps.data import load_dataset

        self.spec = spec
        self.data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics,
                                 seed=spec.seed)
        from sweeps.backend import load_backend

        load_backend(quiet=quiet)
        from sweeps import process

        process.freeze_what_lives_on()  # each retraining builds and clears a model
        from sweeps.builders import make_builder
        from sweeps.declared import declare_space
        from sweeps.engines import build_context

        self.builder, space = make_builder(spec, build_context(spec, self.data))
        self.declared = declare_space(self.builder, spec, self.data, space)

    def build(self, candidate: Candidate) -> tuple[Any, Any]:
        """The candidate's model, built from its stored values, and the ``hp`` that built it."""
        import optuna

        from sweeps.engines.optuna_hp import OptunaHyperParameters

        # Optuna's FixedTrial answers every hp.* call with the stored value, whichever engine
        # drew it: one way to rebuild a configuration for every builder kind.
        hp = OptunaHyperParameters(optuna.trial.FixedTrial(dict(candidate.params)),
                                   self.declared.narrowed)
        try:
            return hp, self.builder.build(hp)
        except ValueError as exc:
            if "is not found" not in str(exc):  # FixedTrial: a value it was not given
                raise
            raise SweepsError(
                f"the builder asks for a hyperparameter that trial {candidate.trial_number} "
                f"of the sweep did not have ({exc}); is it the sweep's builder? Its values: "
                f"{', '.join(f'{k}={v}' for k, v in candidate.params.items())}") from None

    def train(self, candidate: Candidate, seed: int,
              observer: RecheckObserver) -> tuple[float, int, TrialStatus]:
        """Train one configuration from scratch as a trial trains; its objective (NaN if the
        loss diverged), the epochs it ran, and how it ended."""
        import keras

        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        hp, model = self.build(candidate)
        history = train_configuration(self.spec, self.builder, self.data, hp, model,
                                      on_epoch=observer.epoch_ended)
        epochs = len(history.get("loss", []))
        losses = history.get("loss") or [math.nan]
        if not math.isfinite(losses[-1]):
            return math.nan, epochs, TrialStatus.FAILED
        objective = self.spec.objective
        if objective.metric == "params":
            return float(model.count_params()), epochs, TrialStatus.COMPLETED
        series = history.get(objective.metric) or [math.nan]
        best = max if objective.direction is Direction.MAX else min
        return float(best(series)), epochs, TrialStatus.COMPLETED


def train_configuration(spec: Any, builder: Any, data: Any, hp: Any, model: Any, *,
                        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                        ) -> dict[str, list[float]]:
    """Train ``model`` (built by ``builder`` from ``hp``) as a trial trains: the spec's fit
    arguments and callbacks (EarlyStopping restoring the best weights, as the spec says),
    through the builder's own ``fit`` if it has one. The per-epoch history; ``on_epoch``
    hears each epoch. The re-check and the defaults baseline train this way."""
    import keras

    from sweeps.engines.base import fit_arguments, training_callbacks

    history: dict[str, list[float]] = {}

    def epoch_end(epoch: int, logs: Mapping[str, Any] | None) -> None:
        interrupts.check()
        metrics = {k: float(v) for k, v in (logs or {}).items()
                   if isinstance(v, (int, float)) or hasattr(v, "__float__")}
        for key, value in metrics.items():
            history.setdefault(key, []).append(value)
        if on_epoch is not None:
            on_epoch(epoch, metrics)

    builder.fit(hp, model, **fit_arguments(spec, data), callbacks=[
        *training_callbacks(spec), keras.callbacks.LambdaCallback(on_epoch_end=epoch_end)])
    return history


def epochs_to_best(spec: Any, history: Mapping[str, list[float]]) -> int:
    """Epochs of ``history`` up to and including the best of the objective (``val_loss`` for
    the parameter count), as the engines count a trial's: what a fit on all data trains for."""
    from sweeps.metrics import direction_of

    metric = spec.objective.metric if spec.objective.metric != "params" else "val_loss"
    series = history.get(metric) or history.get("loss") or [0.0]
    direction = direction_of(metric) or spec.objective.direction
    best = max(series) if direction is Direction.MAX else min(series)
    return series.index(best) + 1
