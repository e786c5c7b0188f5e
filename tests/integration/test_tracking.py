"""The MLflow layout, written from engine events into a real sqlite store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from sweeps.errors import TrackingError
from sweeps.events import (
    EpochEnded,
    ModelBuilt,
    SweepEnded,
    SweepStarted,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from sweeps.spec import load_spec
from tracking import MlflowTracker
from tracking import tags as T
from tracking.tags import KIND as KIND_TAG
from tracking.tags import PARENT as PARENT_TAG


@pytest.fixture
def trackers() -> Iterator[Callable[[str, str], MlflowTracker]]:
    """Trackers closed after the test, as a sweep's session closes its own: closing ends the
    figure helper a started sweep has."""
    made: list[MlflowTracker] = []

    def make(uri: str, experiment: str) -> MlflowTracker:
        made.append(MlflowTracker(uri, experiment))
        return made[-1]

    yield make
    for tracker in made:
        tracker.close()


def start(tracker: MlflowTracker) -> None:
    tracker.sweep_started(SweepStarted(
        spec=load_spec("mnist_mlp"), engine="test", planned_trials=2, data_source="here",
        data_sizes={"train": 10, "validation": 2, "test": 3},
    ))


def run_trial(tracker: MlflowTracker, trial_id: str, epochs: int, status=TrialStatus.COMPLETED,
              continues: str | None = None) -> None:
    tracker.trial_started(TrialStarted(trial_id, int(trial_id) + 1, tags={"hyperband.round": "0"},
                                       continues=continues))
    tracker.model_built(ModelBuilt(trial_id, {"depth": 1, "units_0": 32}, 1234, "summary text"))
    for epoch in range(epochs):
        tracker.epoch_ended(EpochEnded(trial_id, epoch, {
            "loss": 1.0 / (epoch + 1), "val_loss": 1.1 / (epoch + 1),
            "accuracy": 0.5 + epoch / 10, "val_accuracy": 0.4 + epoch / 10, "learning_rate": 0.1}))
    tracker.trial_ended(TrialEnded(trial_id, status, 0.4 + (epochs - 1) / 10 if epochs else None,
                                   epochs, 1.5, message="Traceback...\nValueError: boom" if status is TrialStatus.FAILED else None))


def test_parent_and_nested_trial_runs(tracking_uri: str, trackers) -> None:
    tracker = trackers(tracking_uri, "exp")
    start(tracker)
    run_trial(tracker, "0", 3)
    run_trial(tracker, "1", 2, continues="0")
    run_trial(tracker, "2", 1, status=TrialStatus.FAILED)
    tracker.sweep_ended(SweepEnded("0", 0.6, {"test_accuracy": 0.5, "test_loss": 0.9}))

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([tracker.experiment_id])
    parent = [r for r in runs if r.data.tags[KIND_TAG] == "sweep"]
    trials = {r.data.tags["sweeps.trial_id"]: r for r in runs if r.data.tags[KIND_TAG] == "trial"}
    assert len(parent) == 1 and len(trials) == 3
    parent_run = parent[0]
    assert parent_run.info.status == "FINISHED"
    assert parent_run.data.metrics["test_accuracy"] == 0.5
    assert parent_run.data.metrics["trials_completed"] == 2
    assert parent_run.data.metrics["trials_failed"] == 1
    assert parent_run.data.tags["sweeps.best_run_id"] == trials["0"].info.run_id
    assert parent_run.data.tags["sweeps.best_trial"] == "1"  # numbers, like the run names
    assert parent_run.data.params["tuner"] == "hyperband"
    assert [a.path for a in client.list_artifacts(parent_run.info.run_id)] == ["spec.yaml"]
    for trial_id, run in trials.items():
        assert run.data.tags[PARENT_TAG] == parent_run.info.run_id
        assert run.data.params == {"depth": "1", "units_0": "32"}
        assert run.data.metrics["param_count"] == 1234
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
            "learning_curves.png", "model_summary.txt"} | ({"error.txt"} if trial_id == "2" else set())
    history = client.get_metric_history(trials["0"].info.run_id, "val_loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert trials["0"].data.metrics["epochs_run"] == 3
    assert trials["0"].data.metrics["best_val_accuracy"] == pytest.approx(0.6)
    assert trials["1"].data.tags["sweeps.continues_run_id"] == trials["0"].info.run_id
    assert trials["2"].info.status == "FAILED"
    assert trials["2"].data.tags["sweeps.error"] == "ValueError: boom"
    assert trials["2"].data.tags["sweeps.trial_status"] == "FAILED"


def test_close_marks_every_open_run_killed(tracking_uri: str, trackers) -> None:
    tracker = trackers(tracking_uri, "exp")
    start(tracker)
    run_trial(tracker, "0", 1)
    tracker.trial_started(TrialStarted("1", 2))
    tracker.epoch_ended(EpochEnded("1", 0, {"loss": 1.0}))
    tracker.end_open_runs(TrialStatus.KILLED)
    tracker.end_open_runs(TrialStatus.KILLED)  # idempotent
    statuses = {r.info.run_name: r.info.status
                for r in MlflowClient(tracking_uri).search_runs([tracker.experiment_id])}
    assert statuses.pop("trial-001") == "FINISHED"
    assert statuses.pop("trial-002") == "KILLED"
    assert list(statuses.values()) == ["KILLED"]  # the sweep run
    assert tracker.renderer.pid is not None  # the figure helper, started with the sweep
    tracker.close()
    assert tracker.renderer.pid is None


def test_deleted_experiment_is_a_clear_error(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri)
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(TrackingError, match=r"experiment 'gone' .* is deleted; restore it"):
        MlflowTracker(tracking_uri, "gone")


@pytest.mark.parametrize("before", [None, "false"])
def test_run_urls_unprinted_only_while_a_sweep_runs(before: str | None, monkeypatch, capsys) -> None:
    from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT as SWITCH
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

    if before is None:
        monkeypatch.delenv(SWITCH.name, raising=False)
    else:
        monkeypatch.setenv(SWITCH.name, before)
    with MlflowTracker.run_urls_unprinted():
        assert SWITCH.get() is True
        # What prints the lines when a run on an http store ends: with the switch on it
        # returns before asking the (here absent) server anything.
        client = TrackingServiceClient("http://127.0.0.1:9")
        client._log_url("0" * 32)  # noqa: SLF001 - the very method that prints, nothing public
    assert capsys.readouterr().out == ""
    assert os.environ.get(SWITCH.name) == before


def test_experiment_is_tagged_for_training_unless_it_has_a_kind(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri)
    tracker = MlflowTracker(tracking_uri, "new")
    assert client.get_experiment(tracker.experiment_id).tags[T.EXPERIMENT_KIND] == (
        "custom_model_development")
    mine = client.create_experiment("mine", tags={T.EXPERIMENT_KIND: "genai_development"})
    MlflowTracker(tracking_uri, "mine")
    assert client.get_experiment(mine).tags[T.EXPERIMENT_KIND] == "genai_development"


def test_data_splits_are_inputs_of_the_sweep_and_every_trial(tracking_uri: str, trackers) -> None:
    from tests.integration.test_tracking_models import dataset

    data = dataset(np.arange(40, dtype="float32").reshape(10, 4))
    tracker = trackers(tracking_uri, "exp")
    tracker.sweep_started(SweepStarted(
        spec=load_spec("mnist_mlp"), engine="test", planned_trials=1, data_source=data.source,
        data_sizes=data.sizes, dataset=data))
    run_trial(tracker, "0", 1)
    tracker.sweep_ended(SweepEnded("0", 0.4, {}))
    client = MlflowClient(tracking_uri)

    def inputs(run_id: str) -> dict[str, str]:
        return {i.tags[0].value: i.dataset.digest
                for i in client.get_run(run_id).inputs.dataset_inputs
                if i.tags and i.tags[0].key == T.DATA_CONTEXT}

    sweep = inputs(tracker.parent_run_id)
    assert set(sweep) == {"train", "validation", "test"} and len(set(sweep.values())) == 3
    trial = client.search_runs([tracker.experiment_id], "tags.`sweeps.kind` = 'trial'")[0]
    assert inputs(trial.info.run_id) == {k: sweep[k] for k in ("train", "validation")}
