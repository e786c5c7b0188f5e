"""How a sweep's Optuna study is made: its storage, sampler and pruner, and the trial user
attributes sweeps sets to re-run interrupted trials and bound the budget across workers."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna

from sweeps import runtime
from sweeps.engines._optuna_compat import heartbeat_retry
from sweeps.errors import SweepsError

__all__ = ["EPOCHS_TO_BEST", "INTERRUPTED", "RETRY_OF", "SURPLUS", "SWEEP_RUN_ID",
           "ReconnectingStorage", "open_storage", "patiently",
           "make_sampler", "make_pruner"]

#: User attributes on Optuna trials that sweeps sets.
INTERRUPTED = "sweeps_interrupted"  # stopped by Ctrl-C / SIGTERM / a kill: run it again
RETRY_OF = "sweeps_retry_of"  # on a re-run: the number of the trial it replaces
SURPLUS = "sweeps_surplus"  # asked for by a worker after the budget was used up: not run
EPOCHS_TO_BEST = "sweeps_epochs_to_best"  # epochs up to the checkpointed (best) one: final fit
#: On a workers' study: the MLflow sweep run every worker logs its trials under.
SWEEP_RUN_ID = "sweeps_run_id"


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
        # A server's pooled connections die with a restart: test each before use.
        engine = {} if url.startswith("sqlite") else {"engine_kwargs": {"pool_pre_ping": True}}
        for attempt in range(3):
            try:
                # The heartbeat's arguments are experimental (a warning per worker start).
                with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning):
                    return ReconnectingStorage(url, **beat, **engine)
            except Exception as exc:  # noqa: BLE001 - a bad URL or an unreachable server
                # Workers starting together race to create the tables; the loser retries.
                if attempt == 2:
                    raise SweepsError(f"cannot open the Optuna storage {url}: {exc}") from None
                time.sleep(1.0 + attempt)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(path))


class ReconnectingStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage, waiting out a database that went away (a restart, a failover, a
    sqlite file locked by another worker) instead of failing the trial or the worker.

    Each storage call that meets a lost or refused connection is tried again, with growing
    pauses, for up to ``$SWEEPS_STORAGE_PATIENCE_S`` (300 s); past that the error is one line.
    Ending a trial is retried safely: if the lost answer's commit went through, the trial is
    found already in the state asked for.
    """

    def set_trial_state_values(self, trial_id: int, state: optuna.trial.TrialState,
                               values: Sequence[float] | None = None) -> bool:
        first = [True]

        def attempt() -> bool:
            try:
                return optuna.storages.RDBStorage.set_trial_state_values(
                    self, trial_id, state, values)
            except optuna.exceptions.UpdateFinishedTrialError:
                # A retry whose first try was committed before its answer was lost.
                if first[0] or self.get_trial(trial_id).state is not state:
                    raise
                return True
            finally:
                first[0] = False

        return patiently(attempt)


#: The storage calls Optuna makes while a study runs (reads, writes, the heartbeat).
_RETRIED = ("create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
            "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
            "get_study_user_attrs", "get_study_system_attrs", "get_all_studies",
            "create_new_trial", "set_trial_param", "get_trial_id_from_study_id_trial_number",
            "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr",
            "get_trial", "get_all_trials", "get_best_trial", "record_heartbeat")


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: ReconnectingStorage, *args: Any, **kwargs: Any) -> Any:
        return patiently(lambda: method(self, *args, **kwargs))

    return call


for _name in _RETRIED:  # each one the same way: RDBStorage's own method, tried patiently
    setattr(ReconnectingStorage, _name, _retrying(getattr(optuna.storages.RDBStorage, _name)))


def patiently(call: Callable[[], Any]) -> Any:
    """``call()``, tried again while the database is unreachable, up to the patience."""
    patience = float(os.environ.get("SWEEPS_STORAGE_PATIENCE_S", "300"))
    deadline, pause = time.monotonic() + patience, 0.5
    while True:
        try:
            return call()
        except Exception as exc:
            if not _connection_lost(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise SweepsError(f"the Optuna storage did not answer for {patience:.0f} s "
                                  f"($SWEEPS_STORAGE_PATIENCE_S): {_first_line(exc)}") from None
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


#: What a database says when it is away or busy (PostgreSQL, MySQL, sqlite), in lower case.
_AWAY = ("connection refused", "could not connect", "server closed the connection",
         "terminating connection", "connection is closed", "connection already closed",
         "the database system is", "lost connection", "gone away", "can't connect",
         "connection reset", "timeout expired", "database is locked", "ssl connection has been")


def _connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it: Optuna wraps SQLAlchemy's errors) is a connection
    refused, closed or timed out, or a sqlite database locked: not a bad query."""
    from sqlalchemy import exc as sa

    while exc is not None:
        if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, (sa.OperationalError, sa.InterfaceError)) and any(
                marker in str(exc).lower() for marker in _AWAY):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _first_line(exc: BaseException) -> str:
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(getattr(cause, "orig", None) or cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


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
