"""What every writer of sweeps' MLflow runs shares: the run status of each trial outcome,
timestamps, and how a sweep's trial runs are found and read back as trial records."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from mlflow.tracking import MlflowClient

from sweeps.events import TrialStatus
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.queries import read_trial

__all__ = ["RUN_STATUS", "now_ms", "record_of", "trial_runs_of"]

RUN_STATUS = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.FAILED: "FAILED",
    TrialStatus.PRUNED: "FINISHED",  # pruning is a normal end; the trial_status tag tells
    TrialStatus.KILLED: "KILLED",
}


def now_ms() -> int:
    """A metric's timestamp, as MLflow counts them."""
    return int(time.time() * 1000)


def trial_runs_of(client: MlflowClient, experiment_id: str, sweep_run_id: str) -> list[Any]:
    """The trial runs under a sweep run, oldest first (not a re-check's runs)."""
    return client.search_runs(
        [experiment_id], filter_string=f"tags.`{T.PARENT}` = '{sweep_run_id}' and "
        f"tags.`{T.KIND}` = '{T.KIND_TRIAL}'",
        max_results=50000, order_by=["attributes.start_time ASC"])


def record_of(run: Any, objective: str) -> TrialRecord:
    """A finished trial run, read back for the summary of a resumed or shared sweep: its
    engine's tags only, as the trial's events gave them."""
    record = read_trial(run, objective)
    return dataclasses.replace(record, tags={k: v for k, v in record.tags.items()
                                             if k.startswith(T.ENGINE_TAG_PREFIXES)})
