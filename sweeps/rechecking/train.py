"""Training one of a sweep's configurations again, from its stored values, as a trial trains.

The re-check (:func:`sweeps.rechecking.recheck`) loads the sweep's data, builder and declared space
once, then trains each configuration under each seed from scratch through the one training
path (:class:`~sweeps.training.Trainer`), as its trials trained::

    trainer = ConfigurationTrainer(spec, quiet=True)
    value, epochs, status = trainer.train(candidate, seed, observer)  # its stored values
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sweeps.errors import SweepsError
from sweeps.events import TrialStatus

if TYPE_CHECKING:
    from sweeps.rechecking.records import Candidate, RecheckObserver

__all__ = ["ConfigurationTrainer"]


class ConfigurationTrainer:
    """The sweep's data, builder and declared space, loaded once for every retraining."""

    def __init__(self, spec: Any, *, quiet: bool) -> None:
        from sweeps.data import load_dataset

        self.spec = spec
        self.data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics,
                                 seed=spec.seed)
        from sweeps.backend import load_backend

        load_backend(quiet=quiet)
        from sweeps import runtime

        runtime.freeze_what_lives_on()  # each retraining builds and clears a model
        from sweeps.builders import make_builder
        from sweeps.declared import declare_space
        from sweeps.training import Trainer, build_context

        self.builder, space = make_builder(spec, build_context(spec, self.data))
        self.declared = declare_space(self.builder, spec, self.data, space)
        self.trainer = Trainer(spec, self.builder)

    def hyperparameters(self, candidate: Candidate) -> Any:
        """An ``hp`` that answers with the candidate's stored values."""
        import optuna

        from sweeps.engines.optuna_hp import OptunaHyperParameters

        # Optuna's FixedTrial answers every hp.* call with the stored value, whichever engine
        # drew it: one way to rebuild a configuration for every builder kind.
        return OptunaHyperParameters(optuna.trial.FixedTrial(dict(candidate.params)),
                                     self.declared.narrowed)

    def check(self, candidate: Candidate) -> None:
        """Build the candidate's model once: a builder that asks for values the sweep's
        trials did not have fails here, in one line, before anything trains."""
        import keras

        with self._values_of(candidate):
            self.builder.build(self.hyperparameters(candidate))
        keras.backend.clear_session()

    def train(self, candidate: Candidate, seed: int,
              observer: RecheckObserver) -> tuple[float, int, TrialStatus]:
        """Train one configuration from scratch as a trial trains; its objective (NaN if the
        loss diverged), the epochs it ran, and how it ended."""
        with self._values_of(candidate):
            trained = self.trainer.train(self.hyperparameters(candidate),
                                         self.trainer.inputs(self.data), seed=seed,
                                         on_epoch=observer.epoch_ended,
                                         run_label=f"recheck/{candidate.trial_number}/seed{seed}")
        outcome = trained.outcome
        if outcome.failure:
            return math.nan, outcome.epochs, TrialStatus.FAILED
        objective = self.spec.objective
        if objective.metric == "params":
            return float(trained.model.count_params()), outcome.epochs, TrialStatus.COMPLETED
        return (outcome.best(objective.metric, objective.direction), outcome.epochs,
                TrialStatus.COMPLETED)

    @staticmethod
    @contextlib.contextmanager
    def _values_of(candidate: Candidate) -> Iterator[None]:
        try:
            yield
        except ValueError as exc:
            if "is not found" not in str(exc):  # FixedTrial: a value it was not given
                raise
            raise SweepsError(
                f"the builder asks for a hyperparameter that trial {candidate.trial_number} "
                f"of the sweep did not have ({exc}); is it the sweep's builder? Its values: "
                f"{', '.join(f'{k}={v}' for k, v in candidate.params.items())}") from None
