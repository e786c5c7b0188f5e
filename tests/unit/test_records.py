"""One record of a trial: what the book builds from events and what tracking reads back
from a trial's MLflow run are the same type, frozen."""

from __future__ import annotations

import dataclasses

import pytest
from mlflow.entities import Metric, Param, Run, RunData, RunInfo, RunTag

from sweeps.events import TrialStatus
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.queries import read_trial
from tracking.runs import record_of


def trial_run(tags: dict[str, str], status: str = "FINISHED") -> Run:
    info = RunInfo(run_id="abc", experiment_id="1", user_id="u", status=status, start_time=0,
                   end_time=1, lifecycle_stage="active")
    data = RunData(metrics=[Metric("best_val_loss", 0.25, 0, 3), Metric("param_count", 1234, 0, 0),
                            Metric("epochs_run", 4, 0, 0), Metric("wall_time_s", 2.5, 0, 0)],
                   params=[Param("units", "64"), Param("learning_rate", "1e-05"),
                           Param("activation", "relu")],
                   tags=[RunTag(k, v) for k, v in tags.items()])
    return Run(info, data)


def test_a_trial_run_reads_back_as_the_record_the_book_keeps() -> None:
    run = trial_run({T.TRIAL_ID: "02", T.TRIAL_NUMBER: "3", T.TRIAL_STATUS: "COMPLETED",
                     "hyperband.bracket": "1", T.KIND: T.KIND_TRIAL})
    record = read_trial(run, "val_loss")
    assert isinstance(record, TrialRecord)
    assert (record.trial_id, record.number, record.status) == ("02", 3, TrialStatus.COMPLETED)
    assert record.params == {"units": 64, "learning_rate": 1e-05, "activation": "relu"}
    assert (record.objective, record.param_count, record.epochs_run) == (0.25, 1234, 4)
    assert record.run_id == "abc" and record.value("units") == 64
    assert record.value("best_val_loss") == 0.25 and record.value("status") == "COMPLETED"
    # For a resumed sweep's summary: only the engine's tags, as the trial's events gave them.
    assert dict(record_of(run, "val_loss").tags) == {"hyperband.bracket": "1"}


@pytest.mark.parametrize(("tag", "run_status", "status"), [
    (None, "FINISHED", TrialStatus.COMPLETED),  # a run logged before the status tag
    ("PRUNED", "FINISHED", TrialStatus.PRUNED),
    ("FAILED", "FAILED", TrialStatus.FAILED),
    (None, "KILLED", TrialStatus.KILLED),
])
def test_the_status_prefers_the_trial_tag_over_the_run_status(tag, run_status, status) -> None:
    tags = {T.TRIAL_NUMBER: "1", **({T.TRIAL_STATUS: tag} if tag else {})}
    assert read_trial(trial_run(tags, run_status)).status is status


def test_records_are_frozen() -> None:
    record = TrialRecord("0", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.objective = 1.0  # type: ignore[misc]
