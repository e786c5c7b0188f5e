"""Each trial's best-epoch weights: kept in memory while it trains, written once at its end.

keras-tuner's ``SaveBestEpoch`` and Keras's ``ModelCheckpoint(save_best_only=True)`` write
the weights file at every epoch that improves on the best so far: most epochs early in
training, each a few megabytes through h5py on the training thread. Only the last of those
files is ever read (the best trial's model at the end, a later Hyperband round continuing
it), so these callbacks copy the weights in memory at each improvement and write the file once,
when training ends, to the same path and in the same format. A trial whose training does not
end (interrupted, pruned, failed) is not loaded from its checkpoint and gets none.

The best trial's model itself is kept too (:class:`BestTrialModel`): at the sweep's end it is
tested and logged as it is, instead of built, compiled, loaded from its file and traced again
(about 0.7 s of a 40-second sweep on two cores, most of it tracing the test step anew).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras

from sweeps.metrics import Direction
from sweeps.spec import ObjectiveSpec

__all__ = ["BestEpochWeights", "BestTrialModel", "write_best"]


def write_best(model: Any, best: list[Any] | None, write: Any) -> None:
    """Write ``best`` through ``write()`` and leave the model with its own weights (a
    builder's fit, or EarlyStopping's restore, may still use them)."""
    if best is None:
        return
    current = model.get_weights()
    model.set_weights(best)
    try:
        write()
    finally:
        model.set_weights(current)


class BestEpochWeights(keras.callbacks.Callback):
    """``ModelCheckpoint(path, monitor, mode, save_best_only=True, save_weights_only=True)``,
    kept in memory until ``fit`` ends."""

    def __init__(self, path: Path, monitor: str, mode: Direction) -> None:
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self._best_value = mode.worst
        self._best: list[Any] | None = None

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if self.mode.better(value, self._best_value):
            self._best_value = value
            self._best = self.model.get_weights()

    @property
    def best_weights(self) -> list[Any] | None:
        """The best epoch's weights so far (``None`` before any improved)."""
        return self._best

    def on_train_end(self, logs: Any = None) -> None:
        write_best(self.model, self._best, lambda: self.model.save_weights(self.path))


class BestTrialModel:
    """The best completed trial's trained model so far, with its best epoch's weights.

    Engines offer each completed trial's model; one is kept at a time (a strictly better
    objective replaces it, so the earlier of equal trials stays, as the runner ranks them).
    :meth:`take` hands it over at its best epoch for the trial it holds, else ``None``: the
    engine then loads that trial from its checkpoint file (a resumed sweep's earlier trials,
    another worker's).
    """

    def __init__(self, objective: ObjectiveSpec) -> None:
        self.objective = objective
        self.trial_id: str | None = None
        self._objective = math.nan
        self._model: Any = None
        self._weights: list[Any] | None = None

    def offer(self, trial_id: str, objective: float | None, model: Any,
              weights: list[Any] | None) -> None:
        """``weights``: the best epoch's (``None`` when no epoch improved: not kept)."""
        if objective is None or not math.isfinite(objective) or weights is None:
            return
        if self.trial_id is not None and not self.objective.better(objective, self._objective):
            return
        self.trial_id, self._objective = trial_id, objective
        self._model, self._weights = model, weights

    def take(self, trial_id: str) -> Any:
        """The kept model at its best epoch if it is ``trial_id``'s, else ``None``."""
        if trial_id != self.trial_id:
            return None
        self._model.set_weights(self._weights)
        return self._model
