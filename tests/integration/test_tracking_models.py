"""The champion rules and dataset inputs of tracking, on a real sqlite store (no training)."""

from __future__ import annotations

import os

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from sweeps.data import Dataset, content_digest
from sweeps.metrics import Direction
from sweeps.runtime import tracking_uri as _global_tracking_uri
from sweeps.task import Task, TaskKind
from tracking import tags as T
from tracking.datasets import SweepDatasets
from tracking.models import TestResult, register

ACCURACY = "test_accuracy"


def logged_model(client: MlflowClient):
    """A logged model of a finished run: all the registry needs (its artifacts are not read)."""
    found = client.get_experiment_by_name("models")
    experiment = found.experiment_id if found else client.create_experiment("models")
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    return client.create_logged_model(experiment, name="m", source_run_id=run.info.run_id), run


def registered(client: MlflowClient, value: float | None, *, metric: str = ACCURACY,
               direction: Direction = Direction.MAX, digest: str | None = "d1"):
    model, run = logged_model(client)
    return register(client, "digits", model, run.info.run_id,
                    TestResult(metric, direction, value, digest))


def test_champion_moves_only_to_a_better_test_metric(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri)
    first = registered(client, 0.9851)
    assert first.describe() == ("registered digits version 1; champion: version 1 "
                                "(the first; test_accuracy 0.9851)")
    better = registered(client, 0.9862)
    assert better.describe() == ("registered digits version 2; champion: version 2 "
                                 "(test_accuracy 0.9862 > 0.9851)")
    worse = registered(client, 0.9840)
    assert worse.describe() == ("registered digits version 3; kept version 2 as champion "
                                "(test_accuracy 0.9840 <= 0.9862)")
    tie = registered(client, 0.9862)
    assert not tie.is_champion
    assert str(client.get_registered_model("digits").aliases[T.CHAMPION]) == "2"
    version = client.get_model_version("digits", "3")
    assert version.tags == {T.TEST_METRIC: ACCURACY, T.TEST_VALUE: "0.984", T.TEST_DIGEST: "d1"}
    assert version.source.startswith("models:/m-")
    model = client.get_logged_model(version.source.removeprefix("models:/"))
    assert '"version": "3"' in model.tags["mlflow.modelVersions"]  # the UI's link back


def test_lower_is_better_for_regression(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri)
    registered(client, 41.2, metric="test_mae", direction=Direction.MIN)
    assert registered(client, 40.1, metric="test_mae", direction=Direction.MIN).describe().endswith(
        "champion: version 2 (test_mae 40.1000 < 41.2000)")
    assert registered(client, 45.0, metric="test_mae", direction=Direction.MIN).describe().endswith(
        "kept version 2 as champion (test_mae 45.0000 >= 40.1000)")


def test_without_a_test_set_champion_only_if_there_is_none(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri)
    first = registered(client, None, digest=None)
    assert first.is_champion and "no test metric to compare" in first.describe()
    assert registered(client, 0.99).describe().endswith(
        "kept version 1 as champion (the champion has no test_accuracy to compare with; "
        "move the alias by hand)")
    client.set_registered_model_alias("digits", T.CHAMPION, "2")
    assert registered(client, None, digest=None).describe().endswith(
        "kept version 2 as champion (no test_accuracy for this one (no test set): only a first "
        "version becomes champion without one)")


def test_other_test_data_never_takes_the_alias(tracking_uri: str) -> None:
    client = MlflowClient(tracking_uri)
    registered(client, 0.5, digest="d1")
    outcome = registered(client, 0.9, digest="d2")
    assert not outcome.is_champion
    assert "the champion's test_accuracy is on other test data" in outcome.describe()


@pytest.mark.parametrize("global_uri", [None, "sqlite:///elsewhere.db"])
def test_registering_in_another_store_leaves_the_global_tracking_uri_as_it_was(
        tmp_path, global_uri: str | None, monkeypatch) -> None:
    env_at_start = os.environ["MLFLOW_TRACKING_URI"]  # conftest's store
    if global_uri is not None:
        mlflow.set_tracking_uri(global_uri)
    before = (mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI"))
    try:
        client = MlflowClient(f"sqlite:///{tmp_path / 'other.db'}")
        assert registered(client, 0.5).version == "1"  # found the logged model in its store
        assert (mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")) == before
        with pytest.raises(RuntimeError), _global_tracking_uri("sqlite:///third.db"):
            raise RuntimeError
        assert (mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")) == before
    finally:
        mlflow.set_tracking_uri(None)  # unsets the variable too
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env_at_start)


def dataset(x_train: np.ndarray, test: bool = True) -> Dataset:
    y = np.arange(len(x_train)) % 2
    return Dataset(name="pairs", source="/data/pairs.npz", x_train=x_train, y_train=y,
                   x_val=x_train[:2], y_val=y[:2], x_test=x_train[:3] if test else None,
                   y_test=y[:3] if test else None, task=Task(TaskKind.BINARY, num_classes=2))


def test_dataset_inputs_carry_digest_source_shape_and_context() -> None:
    x = np.arange(40, dtype="float32").reshape(10, 4)
    inputs = SweepDatasets.of(dataset(x))
    assert [i.tags[0].value for i in inputs.sweep_inputs()] == ["train", "validation", "test"]
    assert [i.tags[0].key for i in inputs.trial_inputs()] == [T.DATA_CONTEXT] * 2
    train = inputs.by_context["train"].dataset
    assert train.name == "pairs" and train.source_type == "local"
    assert train.source == '{"uri": "/data/pairs.npz"}'
    assert '"features_shape": [10, 4]' in train.profile
    assert train.digest == content_digest((x, np.arange(10) % 2))
    # One value changed far past the first 10,000 (all MLflow's own digest reads): it differs.
    big = np.zeros((20_000, 4), dtype="float32")
    changed = big.copy()
    changed[-1, -1] = 1
    assert content_digest(big) != content_digest(changed)
    assert SweepDatasets.of(dataset(x, test=False)).digest("test") is None
