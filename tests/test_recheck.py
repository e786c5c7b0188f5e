"""Re-check: a real tiny sweep read back from MLflow, its top configurations trained again
under other seeds, mean and spread logged as nested runs."""

from __future__ import annotations

import math
import statistics

import pytest
from mlflow.tracking import MlflowClient

from sweeps.cli import main
from sweeps.rechecking import SEED_OFFSET, spread
from tracking import tags as T
from tracking.queries import find_sweeps

TINY = ["--max-trials", "3", "--max-epochs", "2", "--set", "data.subset=400",
        "--set", "search_space.units={min: 16, max: 32, step: 16}",
        "--set", "tuner.optuna.pruner=none"]


def runs_of(client: MlflowClient, kind: str) -> list:
    experiment = client.get_experiment_by_name("mnist_mlp").experiment_id
    return client.search_runs([experiment], f"tags.`{T.KIND}` = '{kind}'")


def check_recheck_runs(client: MlflowClient, sweep_run_id: str, top: int, seeds: int) -> None:
    [recheck] = runs_of(client, T.KIND_RECHECK)
    assert recheck.data.tags[T.PARENT] == sweep_run_id and recheck.info.status == "FINISHED"
    configs = runs_of(client, T.KIND_RECHECK_CONFIG)
    assert len(configs) == top
    by_rank = {}
    for config in configs:
        assert config.data.tags[T.PARENT] == recheck.info.run_id
        assert config.info.status == "FINISHED"
        seed_runs = client.search_runs(
            [config.info.experiment_id], f"tags.`{T.PARENT}` = '{config.info.run_id}'")
        assert len(seed_runs) == seeds
        assert all(r.info.status == "FINISHED" for r in seed_runs)
        values = [r.data.metrics["best_val_accuracy"] for r in seed_runs]
        # Every epoch is there, and each seed's best is its best epoch.
        for run in seed_runs:
            history = client.get_metric_history(run.info.run_id, "val_accuracy")
            assert len(history) == run.data.metrics["epochs_run"]
            assert max(m.value for m in history) == run.data.metrics["best_val_accuracy"]
        metrics = config.data.metrics
        assert metrics["val_accuracy_mean"] == pytest.approx(statistics.fmean(values))
        assert metrics["val_accuracy_std"] == pytest.approx(statistics.stdev(values))
        assert metrics["val_accuracy_ci95_low"] <= metrics["val_accuracy_mean"] <= (
            metrics["val_accuracy_ci95_high"])
        assert {int(r.data.tags[T.SEED]) for r in seed_runs} == {
            42 + SEED_OFFSET + k for k in range(1, seeds + 1)}
        by_rank[int(config.data.tags[T.RECHECK_RANK])] = (
            metrics["val_accuracy_mean"], config.data.tags[T.TRIAL_NUMBER])
    means = [by_rank[rank][0] for rank in sorted(by_rank)]
    assert means == sorted(means, reverse=True)  # ranked by mean, best first
    assert recheck.data.tags[T.RECHECK_RANKING] == ",".join(
        by_rank[rank][1] for rank in sorted(by_rank))


def test_recheck_a_keras_tuner_sweep_from_mlflow(tracking_uri: str, capsys) -> None:
    assert main(["run", "mnist_mlp", "--tuner", "random", *TINY]) == 0
    client = MlflowClient(tracking_uri)
    [sweep_run] = runs_of(client, T.KIND_SWEEP)
    capsys.readouterr()

    assert main(["recheck", "mnist_mlp", "--top", "2", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "re-check of sweep 'mnist_mlp': 2 configuration(s) x 2 seed(s)" in out
    assert ("the ranking by mean is the sweep's" in out) != (
        "the ranking differs from the sweep's" in out)
    check_recheck_runs(client, sweep_run.info.run_id, top=2, seeds=2)
    # The sweep itself still has its three trials: re-check runs are not trials.
    [sweep] = find_sweeps(client, ["mnist_mlp"])
    assert len(sweep.trials) == 3

    # An unknown sweep: one line naming what exists, and no run created.
    before = len(client.search_runs([sweep_run.info.experiment_id]))
    assert main(["recheck", "mnist_mpl"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sweep named 'mnist_mpl'" in err
    assert err.rstrip().endswith("sweeps there: mnist_mlp")
    assert len(client.search_runs([sweep_run.info.experiment_id])) == before


def test_run_with_recheck_under_optuna(tracking_uri: str, capsys) -> None:
    assert main(["run", "mnist_mlp", "--tuner", "optuna", *TINY,
                 "--recheck", "2", "--recheck-seeds", "2"]) == 0
    assert "re-check of sweep 'mnist_mlp'" in capsys.readouterr().out
    client = MlflowClient(tracking_uri)
    [sweep_run] = runs_of(client, T.KIND_SWEEP)
    check_recheck_runs(client, sweep_run.info.run_id, top=2, seeds=2)


def test_spread_is_a_student_t_interval() -> None:
    s = spread([1.0, 2.0, 3.0, math.nan])  # a failed seed (NaN) does not count
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert s.high - s.mean == pytest.approx(4.302653 / math.sqrt(3))  # t(0.975, 2 dof)
    one = spread([0.5])
    assert one.mean == 0.5 and math.isnan(one.std) and set(one.metrics("m")) == {
        "m_mean", "seeds_finished"}
