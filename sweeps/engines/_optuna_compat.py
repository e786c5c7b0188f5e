"""Every Optuna API sweeps uses that is private or moving between releases, in one place.

``tests/unit/test_compat.py`` fails by name when a release changes one of them.

- A dead worker's trial is run again by Optuna's own callback, under its current name
  (``RetryHeartbeatStaleTrialCallback`` with ``heartbeat_stale_trial_callback``, since
  Optuna 4.9; ``RetryFailedTrialCallback`` / ``failed_trial_callback`` before, removed in 6).
- ``Study._storage`` and ``FrozenTrial._trial_id``: a trial that a killed process left
  RUNNING is marked interrupted (a user attribute) before it is failed; Optuna's public API
  sets user attributes only from inside the running trial. The state itself is set with
  the public ``Study.tell``.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from sweeps import runtime

__all__ = ["PRIVATE_NAMES", "heartbeat_retry", "retried_trial_number", "fail_with_attr"]

#: Private attributes of instances this module relies on, by the class they live on; the
#: contract test checks them on a real study.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (("Study", "_storage"), ("FrozenTrial", "_trial_id"))


def heartbeat_retry() -> dict[str, Any]:
    """``RDBStorage`` arguments that run a stale (dead worker's) trial again."""
    # Experimental since Optuna 2.8 (as the heartbeat itself is): not the user's concern.
    with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning):
        return {"heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback()}


def retried_trial_number(trial: FrozenTrial | optuna.Trial) -> int | None:
    """The number of the trial that ``trial`` re-runs for Optuna's retry callback, if any."""
    frozen = trial if isinstance(trial, FrozenTrial) else None
    if frozen is None:  # a live trial: the same system attributes, read through its study
        frozen = trial.study.get_trials(deepcopy=False)[trial.number]
    # Experimental since Optuna 2.8 and still there.
    with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning):
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)


def fail_with_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Set a user attribute of another process's RUNNING ``trial``, then fail it."""
    study._storage.set_trial_user_attr(trial._trial_id, key, value)  # noqa: SLF001
    study.tell(trial.number, state=TrialState.FAIL)
