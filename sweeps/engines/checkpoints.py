"""Each trial's best-epoch weights: kept in memory while it trains, written once at its end.

keras-tuner's ``SaveBestEpoch`` and Keras's ``ModelCheckpoint(save_best_only=True)`` write
the weights file at every epoch that improves on the best so far: most epochs early in
training, each a few megabytes through h5py on the training thread. Only the last of those
files is ever read (the best trial's model at the end, a later Hyperband round continuing
it), so these callbacks copy the weights in memory at each improvement and write the file once,
when training ends, to the same path and in the same format. A trial whose training does not
end (interrupted, pruned, failed) is not loaded from its checkpoint and gets none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from sweeps.metrics import Direction

__all__ = ["BestEpochWeights", "KerasTunerBestEpoch"]


def _write_best(model: Any, best: list[Any] | None, write: Any) -> None:
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


class KerasTunerBestEpoch(SaveBestEpoch):
    """keras-tuner's best-epoch checkpoint (same objective, path and file), kept in memory
    until the trial's ``fit`` ends. Replaces the one keras-tuner's ``run_trial`` creates
    (see ``sweeps.engines.keras_tuner``)."""

    def __init__(self, original: SaveBestEpoch) -> None:
        super().__init__(original.objective, original.filepath)
        self._best: list[Any] | None = None

    def _save_model(self) -> None:
        self._best = self.model.get_weights()  # NumPy copies, taken between epochs

    def on_train_end(self, logs: Any = None) -> None:
        _write_best(self.model, self._best, super()._save_model)


class BestEpochWeights(keras.callbacks.Callback):
    """``ModelCheckpoint(path, monitor, mode, save_best_only=True, save_weights_only=True)``,
    kept in memory until ``fit`` ends."""

    def __init__(self, path: Path, monitor: str, mode: Direction) -> None:
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self._best_value = -math.inf if mode is Direction.MAX else math.inf
        self._best: list[Any] | None = None

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        better = value > self._best_value if self.mode is Direction.MAX else (
            value < self._best_value)
        if better:
            self._best_value = value
            self._best = self.model.get_weights()

    def on_train_end(self, logs: Any = None) -> None:
        _write_best(self.model, self._best, lambda: self.model.save_weights(self.path))
