"""The one training path: every model sweeps trains goes through :class:`Trainer`.

- :mod:`~sweeps.training.trainer`: build and fit a configuration as the spec says.
- :mod:`~sweeps.training.outcome`: what a fit recorded, its best value and epochs to best.
- :mod:`~sweeps.training.lifecycle`: a trial's events, seeding, folds and objective.
- :mod:`~sweeps.training.checkpoints`: each trial's best epoch, kept and written once.
- :mod:`~sweeps.training.context`: what the data tells a builder (shapes, scales, schedule).

Keras is imported only inside functions here, so importing the package stays cheap.
"""

from __future__ import annotations

from sweeps.training.context import build_context
from sweeps.training.outcome import Outcome, checkpoint_monitor, epochs_to_best
from sweeps.training.trainer import Trained, Trainer, fit_arguments, training_callbacks

__all__ = ["Trainer", "Trained", "Outcome", "build_context", "checkpoint_monitor",
           "epochs_to_best", "fit_arguments", "training_callbacks"]
