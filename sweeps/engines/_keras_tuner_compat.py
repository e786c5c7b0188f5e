"""Every private keras-tuner API sweeps uses, in one place.

keras-tuner offers no public API for these; each is named here, next to why it is needed,
and ``tests/unit/test_compat.py`` fails by name when a keras-tuner release changes one
(:data:`PRIVATE_NAMES`). Nothing else in sweeps reaches into keras-tuner's privates.

- ``keras_tuner.src.config.DEBUG``: while on (its default) keras-tuner prints every failed
  trial's traceback; sweeps logs it to the trial's run instead.
- ``SaveBestEpoch`` (``keras_tuner.src.engine.tuner_utils``) and its ``_save_model``: the
  best-epoch checkpoint keras-tuner's ``run_trial`` adds, kept in memory until the fit ends.
- ``Tuner._build_and_fit_model``: the hook keras-tuner keeps for subclasses (AutoKeras
  overrides it), where a trial's fit arguments can be changed per execution.
- ``HyperbandOracle._get_num_brackets`` / ``_get_num_rounds`` / ``_get_size`` /
  ``_get_epochs`` / ``_current_iteration``: Hyperband's own plan, which no public API shows.
- ``GridSearchOracle._compare`` / ``_ordered_ids`` / ``_populate_next``: the grid's order,
  kept only in memory, rebuilt after a resume.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import keras_tuner as kt
from keras_tuner.src import config as _config
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from sweeps.training.checkpoints import write_best

__all__ = ["PRIVATE_NAMES", "FitHook", "KerasTunerBestEpoch", "SaveBestEpoch", "get_debug",
           "set_debug", "hyperband_rounds", "hyperband_iteration", "restore_grid_order"]

#: (object, attribute) pairs this module relies on; the contract test checks each exists.
PRIVATE_NAMES: tuple[tuple[Any, str], ...] = (
    (_config, "DEBUG"),
    (SaveBestEpoch, "_save_model"),
    (kt.Tuner, "_build_and_fit_model"),
    (kt.oracles.HyperbandOracle, "_get_num_brackets"),
    (kt.oracles.HyperbandOracle, "_get_num_rounds"),
    (kt.oracles.HyperbandOracle, "_get_size"),
    (kt.oracles.HyperbandOracle, "_get_epochs"),
    (kt.oracles.GridSearchOracle, "_compare"),
)
# SLF001 throughout: this module is where sweeps may use keras-tuner's privates.


def get_debug() -> bool:
    return bool(_config.DEBUG)


def set_debug(value: bool) -> None:
    _config.DEBUG = value


def hyperband_rounds(oracle: Any) -> Iterator[tuple[int, int, int, int, int]]:
    """One Hyperband iteration as ``oracle`` runs it: (bracket, round, trials, epochs,
    initial epoch) in order, the largest bracket first (its ``_increment_bracket_num`` counts
    down)."""
    for bracket in reversed(range(oracle._get_num_brackets())):  # noqa: SLF001
        for round_num in range(oracle._get_num_rounds(bracket)):  # noqa: SLF001
            initial = oracle._get_epochs(bracket, round_num - 1) if round_num else 0  # noqa: SLF001
            yield (bracket, round_num, int(oracle._get_size(bracket, round_num)),  # noqa: SLF001
                   int(oracle._get_epochs(bracket, round_num)), int(initial))  # noqa: SLF001


def hyperband_iteration(oracle: Any) -> int:
    """The 1-based Hyperband iteration ``oracle`` is in."""
    return int(oracle._current_iteration) + 1  # noqa: SLF001


def restore_grid_order(oracle: Any) -> None:
    """Rebuild a reloaded GridSearchOracle's in-memory order of the combinations it tried.

    The oracle walks the grid by taking each tried combination's successor
    (``_populate_next``) unless the next tried one in its order (``_ordered_ids``) already
    is that successor; both live only in memory. Every trial is queued again, as its
    ``end_trial`` does (the oracle skips those whose successor was tried), in the order of
    the oracle's own comparison.
    """
    ordered = sorted(oracle.trials.values(), key=functools.cmp_to_key(
        lambda a, b: oracle._compare(a.hyperparameters.values,  # noqa: SLF001
                                     b.hyperparameters.values)))
    for trial in ordered:
        oracle._ordered_ids.insert(trial.trial_id)  # noqa: SLF001
    oracle._populate_next = list(oracle.start_order)  # noqa: SLF001


class FitHook:
    """Mixin for a keras-tuner ``Tuner``: :meth:`before_fit` may change each execution's fit
    arguments, :meth:`after_fit` sees them once it has fitted, through the hook keras-tuner
    keeps for subclasses."""

    def before_fit(self, trial: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return kwargs

    def after_fit(self, trial: Any, kwargs: dict[str, Any]) -> None:
        return None

    def _build_and_fit_model(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs = self.before_fit(trial, kwargs)
        results = super()._build_and_fit_model(trial, *args, **kwargs)  # type: ignore[misc]
        self.after_fit(trial, kwargs)
        return results


class KerasTunerBestEpoch(SaveBestEpoch):
    """keras-tuner's best-epoch checkpoint (same objective, path and file), kept in memory
    until the trial's ``fit`` ends (see :mod:`sweeps.training.checkpoints` for why).
    Replaces the one keras-tuner's ``run_trial`` creates."""

    def __init__(self, original: SaveBestEpoch) -> None:
        super().__init__(original.objective, original.filepath)
        self._best: list[Any] | None = None

    @property
    def best_weights(self) -> list[Any] | None:
        """The best epoch's weights so far (``None`` before any improved)."""
        return self._best

    def _save_model(self) -> None:
        self._best = self.model.get_weights()  # NumPy copies, taken between epochs

    def on_train_end(self, logs: Any = None) -> None:
        write_best(self.model, self._best, super()._save_model)
