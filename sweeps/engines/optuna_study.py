"""How a sweep's Optuna study is made: its storage, sampler and pruner, and the trial user
attributes sweeps sets to re-run interrupted trials and bound the budget across workers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import optuna

from sweeps import runtime
from sweeps.engines._optuna_compat import heartbeat_retry
from sweeps.errors import SweepsError

__all__ = ["EPOCHS_TO_BEST", "INTERRUPTED", "RETRY_OF", "SURPLUS", "open_storage",
           "make_sampler", "make_pruner"]

#: User attributes on Optuna trials that sweeps sets.
INTERRUPTED = "sweeps_interrupted"  # stopped by Ctrl-C / SIGTERM / a kill: run it again
RETRY_OF = "sweeps_retry_of"  # on a re-run: the number of the trial it replaces
SURPLUS = "sweeps_surplus"  # asked for by a worker after the budget was used up: not run
EPOCHS_TO_BEST = "sweeps_epochs_to_best"  # epochs up to the checkpointed (best) one: final fit


def open_storage(url: str, *, heartbeat: bool = False) -> optuna.storages.BaseStorage:
    """Any Optuna storage: an RDB URL (``sqlite:///…``, ``postgresql://…``) or a journal file
    (``journal:///path/to/file.log``, or any path ending in ``.log`` / ``.journal``).

    With ``heartbeat`` (workers), running trials beat every 10 s; one silent for 60 s
    ($SWEEPS_HEARTBEAT_GRACE_S) belongs to a dead worker and is failed by the next worker to
    start a trial or waiting for the end, then run again by Optuna's own retry callback.
    """
    if url.startswith("journal:"):
        path = url.removeprefix("journal:").removeprefix("//")
    elif url.endswith((".log", ".journal")) and "://" not in url:
        path = url
    else:
        grace = int(os.environ.get("SWEEPS_HEARTBEAT_GRACE_S", "60"))
        beat = dict(heartbeat_interval=max(1, grace // 6), grace_period=grace,
                    **heartbeat_retry()) if heartbeat else {}
        for attempt in range(3):
            try:
                # The heartbeat's arguments are experimental (a warning per worker start).
                with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning):
                    return optuna.storages.RDBStorage(url, **beat)
            except Exception as exc:  # noqa: BLE001 - a bad URL or an unreachable server
                # Workers starting together race to create the tables; the loser retries.
                if attempt == 2:
                    raise SweepsError(f"cannot open the Optuna storage {url}: {exc}") from None
                time.sleep(1.0 + attempt)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(path))


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        # Multivariate, grouped TPE models parameters jointly and per conditional subspace
        # (units_1 exists only when depth >= 2): what Optuna advises for such spaces.
        with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning):
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    try:
        return optuna.samplers.GPSampler(seed=seed)
    except ImportError as exc:
        raise SweepsError(f"the gp sampler needs PyTorch ({exc}); pip install 'keras-sweeps[gp]' "
                          "or choose another sampler") from None


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs,
                                              reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()
