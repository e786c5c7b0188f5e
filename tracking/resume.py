"""A resumed sweep's trial runs, reconciled with what its engine will run again.

A trial run left RUNNING by a killed process is ended as KILLED; a run of a trial the engine
is about to run again (its result never reached the engine's state) is marked superseded and
KILLED, so each trial keeps exactly one FINISHED run. The rest are kept, and the tracker
carries on from them::

    kept = reconcile(client, experiment_id, sweep_run_id, rerun={"3"}, objective="val_loss")
    kept.trial_runs["2"]   # the run of trial id "2"
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mlflow.entities import RunTag
from mlflow.tracking import MlflowClient

from sweeps.events import TrialStatus
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.runs import record_of, trial_runs_of

__all__ = ["Kept", "reconcile"]


@dataclass
class Kept:
    """The trial runs a resumed sweep keeps, by trial id, and what they hold."""

    trial_runs: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    counts: dict[TrialStatus, int] = field(default_factory=lambda: defaultdict(int))
    records: list[TrialRecord] = field(default_factory=list)
    #: Run ids tagged best / Pareto-optimal by an earlier end of the sweep, by tag.
    marked: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: Runs that ended before their learning curves were logged (tracking.writer).
    curves_pending: list[Any] = field(default_factory=list)


def reconcile(client: MlflowClient, experiment_id: str, sweep_run_id: str, *,
              rerun: set[str], objective: str) -> Kept:
    kept = Kept()
    for child in trial_runs_of(client, experiment_id, sweep_run_id):
        trial_id = child.data.tags.get(T.TRIAL_ID, "")
        status = child.data.tags.get(T.TRIAL_STATUS)
        if child.info.status == "RUNNING" or trial_id in rerun:
            tags = [RunTag(T.TRIAL_STATUS, TrialStatus.KILLED.value)]
            if child.info.status != "RUNNING":
                tags.append(RunTag(T.SUPERSEDED, "true"))
            client.log_batch(child.info.run_id, tags=tags)
            client.set_terminated(child.info.run_id, "KILLED")
        elif status in TrialStatus.__members__ and status != TrialStatus.KILLED.value:
            if T.CURVES_PENDING in child.data.tags:
                kept.curves_pending.append(child)
            for tag in (T.BEST, T.PARETO):
                if child.data.tags.get(tag) == "true":
                    kept.marked[tag].add(child.info.run_id)
            kept.trial_runs[trial_id] = child.info.run_id
            kept.numbers[trial_id] = int(child.data.tags[T.TRIAL_NUMBER])
            kept.counts[TrialStatus(status)] += 1
            kept.records.append(record_of(child, objective))
    return kept
