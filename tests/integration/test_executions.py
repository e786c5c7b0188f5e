"""Folds and repeats (``validation.folds``, ``training.executions_per_trial``) under every
engine, and the plan of fits they make."""

from __future__ import annotations

import statistics
import sys

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import sweeps
from sweeps.data import load_dataset
from sweeps.errors import SpecError
from sweeps.executions import ExecutionPlan
from sweeps.spec import DataSpec, parse_spec
from sweeps.state import spec_hash
from tracking import tags as T

IRIS = "name: iris\ndata: {name: iris, shuffle: true}\nhypermodel: mlp\n"


def test_folds_and_repeats_are_spec_keys_that_keep_older_sweeps_hashes() -> None:
    plain = parse_spec(IRIS, "iris.yaml")
    assert plain.validation.folds == 1 and plain.training.executions_per_trial == 1
    same = parse_spec(IRIS + "validation: {folds: 1}\ntraining: {executions_per_trial: 1}\n",
                      "iris.yaml")
    assert spec_hash(same) == spec_hash(plain)  # a sweep from before these keys resumes
    folded = parse_spec(IRIS + "validation: {folds: 5}\n", "iris.yaml")
    assert spec_hash(folded) != spec_hash(plain)  # other trials: another sweep
    assert folded.to_dict()["validation"] == {"folds": 5}
    with pytest.raises(SpecError, match=r"iris.yaml: validation.folds: expected an integer >= 1"):
        parse_spec(IRIS + "validation: {folds: 0}\n", "iris.yaml")
    with pytest.raises(SpecError, match=r"iris.yaml: validation.fold: unknown key"):
        parse_spec(IRIS + "validation: {fold: 3}\n", "iris.yaml")


def plan_for(text: str) -> ExecutionPlan:
    spec = parse_spec(IRIS + text, "iris.yaml")
    return ExecutionPlan.of(spec, load_dataset(spec.data, seed=spec.seed))


def test_stratified_folds_cover_every_example_once() -> None:
    plan = plan_for("validation: {folds: 3}\ntraining: {executions_per_trial: 2}\n")
    assert plan.count == 6
    assert [plan.label(n) for n in range(6)] == [
        "fold_1_run_1", "fold_1_run_2", "fold_2_run_1", "fold_2_run_2", "fold_3_run_1",
        "fold_3_run_2"]
    pooled = len(plan.data.x_train) + len(plan.data.x_val)
    seen = []
    for n in (0, 2, 4):
        fit = plan.fit_data(n)
        x_val, y_val = fit["validation_data"]
        assert len(fit["x"]) + len(x_val) == pooled
        assert sorted(np.bincount(y_val)) == [16, 17, 17] or max(np.bincount(y_val)) - min(
            np.bincount(y_val)) <= 1  # stratified: each class in equal shares
        seen.append(x_val)
    rows = np.concatenate(seen)
    assert len(np.unique(rows, axis=0)) == len(np.unique(
        np.concatenate([plan.data.x_train, plan.data.x_val]), axis=0))


def test_repeats_alone_keep_the_validation_slice() -> None:
    plan = plan_for("training: {executions_per_trial: 3}\n")
    assert [plan.label(n) for n in range(3)] == ["run_1", "run_2", "run_3"]
    assert plan.fit_data(2)["x"] is plan.data.x_train


def test_more_folds_than_examples_is_one_line() -> None:
    x = np.random.default_rng(0).random((40, 3)).astype("float32")
    y = np.array([0, 1] * 20)
    spec = parse_spec(IRIS + "validation: {folds: 50}\n", "few.yaml")
    data = load_dataset(DataSpec("arrays", arrays=(x, y), validation_split=0.1), seed=0)
    with pytest.raises(SpecError, match=r"few.yaml: validation.folds: cannot split 40 training "
                                        r"and validation examples into 50 folds: "):
        ExecutionPlan.of(spec, data)


@pytest.mark.parametrize("tuner", ["random", "hyperband", "optuna"])
def test_a_folded_trial_logs_every_fold_and_ranks_by_their_mean(workdir, tracking_uri,
                                                                tuner) -> None:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    result = sweeps.tune(
        _small_model, data=(x.astype("float32"), y), tuner=tuner,
        max_trials=2, max_epochs=3, folds=3, test_split=0.2, name="folded",
        objective="val_auc", stream=sys.stderr, search_space={"learning_rate": 0.01})
    client = MlflowClient(tracking_uri)
    trials = client.search_runs([result.experiment_id], "tags.`sweeps.kind` = 'trial'")
    assert trials
    for run in trials:
        if run.data.tags[T.TRIAL_STATUS] != "COMPLETED":
            continue
        metrics = run.data.metrics
        bests = [metrics[f"fold_{i}/best_val_auc"] for i in (1, 2, 3)]
        assert metrics["best_val_auc"] == pytest.approx(statistics.fmean(bests))
        assert metrics["best_val_auc_std"] == pytest.approx(statistics.pstdev(bests))
        for i in (1, 2, 3):
            history = client.get_metric_history(run.info.run_id, f"fold_{i}/val_auc")
            assert history and max(m.value for m in history) == pytest.approx(bests[i - 1])
        # the plain per-epoch metric is the mean curve over the folds
        mean_curve = client.get_metric_history(run.info.run_id, "val_auc")
        assert len(mean_curve) == max(len(client.get_metric_history(
            run.info.run_id, f"fold_{i}/val_auc")) for i in (1, 2, 3))
    sweep = client.get_run(result.sweep_run_id)
    # several fits per trial: the final model is the best configuration retrained on all
    assert sweep.data.tags[T.FINAL_MODEL] == T.FINAL_RETRAINED
    assert "test_auc" in sweep.data.metrics and "baseline_default_test_auc" in sweep.data.metrics


def _small_model(hp):
    import keras

    model = keras.Sequential([keras.layers.Dense(hp.Int("units", 4, 8, step=4),
                                                 activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    return model
