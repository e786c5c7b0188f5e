"""The final fit: the best hyperparameters trained again, from scratch, on training plus
validation data (``final: {retrain: true}``; docs/tasks.md, "Final fit").

Once the search has chosen, the validation slice has done its job, and a model trained on it
as well sees more examples: the last step of the Keras Tuner tutorial. With no validation data
left there is nothing for EarlyStopping to watch, so the length is fixed in advance: the
epochs the best trial's own weights had (:meth:`~sweeps.engines.Engine.epochs_to_best`: up to
its best epoch, across Hyperband's rounds). Everything else is the trial's: its builder
(and the builder's own ``fit``), batch size, learning-rate schedule (``decay_per: epoch``
decays per epoch of the larger data, as the trials did per epoch of theirs), and the spec's
seed. The inputs' normalisation, for float features, is computed from the data it trains on.

    fit = retrain(spec, dataset, engine, best.trial_id)
    fit.model, fit.epochs, fit.examples, fit.wall_time_s

With ``final: {max_epochs: 50}`` the epoch count comes from the tutorial's own last step
instead: the best hyperparameters train on the training data for up to 50 epochs with
validation and EarlyStopping, and their best epoch count is what the final fit trains for.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweeps.spec import SweepSpec

if TYPE_CHECKING:
    from sweeps.data import Dataset
    from sweeps.engines.base import Engine

__all__ = ["FinalFit", "retrain", "fit_on_all", "best_epoch_count"]


@dataclass(frozen=True)
class FinalFit:
    """What the final fit made, and how."""

    #: The retrained model; None if its training loss became NaN or infinite.
    model: Any
    #: The best trial the hyperparameters came from (its engine id).
    trial_id: str
    epochs: int
    #: Training plus validation examples it trained on.
    examples: int
    wall_time_s: float
    #: Why there is no model (the loss diverged), if there is none.
    failure: str | None = None
    #: With ``final.max_epochs``: the most epochs the validated fit that chose ``epochs``
    #: could train.
    searched_epochs: int | None = None


def retrain(spec: SweepSpec, dataset: Dataset, engine: Engine, trial_id: str) -> FinalFit:
    """Train trial ``trial_id``'s hyperparameters from scratch on training + validation data,
    for the epochs its own weights had, or with ``final.max_epochs`` for the epochs a longer
    fit on the training data found best on validation."""
    hp = engine.trial_hyperparameters(trial_id)
    if spec.final.max_epochs is None:
        return fit_on_all(spec, dataset, hp, engine.epochs_to_best(trial_id), trial_id)
    epochs = best_epoch_count(spec, dataset, hp, spec.final.max_epochs)
    fit = fit_on_all(spec, dataset, hp, epochs, trial_id)
    return dataclasses.replace(fit, searched_epochs=spec.final.max_epochs)


def best_epoch_count(spec: SweepSpec, dataset: Dataset, hp: Any, max_epochs: int) -> int:
    """The Keras Tuner tutorial's last step: train ``hp`` on the training data for up to
    ``max_epochs`` epochs, validating (the spec's EarlyStopping), and count the epochs up to
    the best value of the objective."""
    from sweeps.builders import make_builder
    from sweeps.training import Trainer, build_context, checkpoint_monitor

    longer = dataclasses.replace(spec, training=dataclasses.replace(spec.training,
                                                                    max_epochs=max_epochs))
    builder, _ = make_builder(longer, build_context(longer, dataset))
    trainer = Trainer(longer, builder)
    trained = trainer.train(hp, trainer.inputs(dataset), seed=spec.seed,
                            run_label="final/epoch_search")
    return trained.outcome.epochs_to_best(*checkpoint_monitor(spec.objective))


def fit_on_all(spec: SweepSpec, dataset: Dataset, hp: Any, epochs: int,
               trial_id: str = "", run_label: str = "final") -> FinalFit:
    """Train the configuration ``hp`` from scratch on training + validation data for
    ``epochs`` epochs (the final fit; the defaults baseline when the final model is one)."""
    from sweeps.builders import make_builder
    from sweeps.training import Trainer, build_context

    data = dataset.pooled()
    # A builder bound to the combined data: its schedule's epoch length and its inputs'
    # statistics are those of the data it now trains on.
    builder, _ = make_builder(spec, build_context(spec, data))
    trainer = Trainer(spec, builder)
    started = time.monotonic()
    # No validation data is left, so nothing for EarlyStopping to watch.
    trained = trainer.train(hp, {**trainer.inputs(data), "validation_data": None,
                                 "epochs": epochs}, seed=spec.seed, early_stopping=False,
                            run_label=run_label)
    failure = trained.outcome.failure
    return FinalFit(model=None if failure else trained.model, trial_id=trial_id, epochs=epochs,
                    examples=len(data.x_train), wall_time_s=time.monotonic() - started,
                    failure=failure)
