"""Re-check: a real tiny sweep read back from MLflow, its top configurations trained again
under other seeds, mean and spread logged as nested runs."""

from __future__ import annotations

import math
import statistics

import pytest
from mlflow.tracking import MlflowClient

from sweeps.cli import main
from sweeps.rechecking import SEED_OFFSET, Candidate, spread, top_configurations
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


def test_recheck_a_hyperband_sweep_from_mlflow(tracking_uri: str, capsys) -> None:
    # Hyperband at 3 epochs: three 1-epoch trials, then trial 4 continues the best of them
    # under the same values. Four trials, three configurations.
    assert main(["run", "mnist_mlp", "--tuner", "hyperband", "--max-trials", "4",
                 "--max-epochs", "3", *TINY[4:]]) == 0
    client = MlflowClient(tracking_uri)
    [sweep_run] = runs_of(client, T.KIND_SWEEP)
    [continued] = [r for r in runs_of(client, T.KIND_TRIAL)
                   if r.data.tags.get("hyperband.continues_trial")]
    pair = {int(continued.data.tags[T.TRIAL_NUMBER]),
            int(continued.data.tags["hyperband.continues_trial"])}
    capsys.readouterr()

    assert main(["recheck", "mnist_mlp", "--top", "4", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "has 3 distinct completed configuration(s); re-checking those" in out
    assert "re-check of sweep 'mnist_mlp': 3 configuration(s) x 2 seed(s)" in out
    assert ("the ranking by mean is the sweep's" in out) != (
        "the ranking differs from the sweep's" in out)
    check_recheck_runs(client, sweep_run.info.run_id, top=3, seeds=2)
    # The continued trial and its parent are one configuration, re-checked once.
    [merged] = [r for r in runs_of(client, T.KIND_RECHECK_CONFIG) if T.SAME_AS in r.data.tags]
    assert {int(merged.data.tags[T.TRIAL_NUMBER]), int(merged.data.tags[T.SAME_AS])} == pair
    # The sweep itself still has its four trials: re-check runs are not trials.
    [sweep] = find_sweeps(client, ["mnist_mlp"])
    assert len(sweep.trials) == 4

    # An unknown sweep: one line naming what exists, and no run created.
    before = len(client.search_runs([sweep_run.info.experiment_id]))
    assert main(["recheck", "mnist_mpl"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sweep named 'mnist_mpl'" in err
    assert err.rstrip().endswith("sweeps there: mnist_mlp")
    assert main(["recheck", "0" * 32]) == 1  # a run id the store does not hold
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no MLflow run {'0' * 32} in this store" in err
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


def test_top_configurations_counts_a_configuration_once() -> None:
    def candidate(number: int, value: float, **params: object) -> Candidate:
        return Candidate(number, sweep_rank=0, params=params, sweep_value=value)

    ranked = [candidate(4, 0.9, units=32, lr=0.01), candidate(2, 0.8, units=16, lr=0.01),
              candidate(3, 0.7, units=32, lr=0.01), candidate(1, 0.6, units=16, lr=0.02)]
    top = top_configurations(ranked, 3)
    assert [(c.trial_number, c.sweep_rank, c.same_as) for c in top] == [
        (4, 1, (3,)), (2, 2, ()), (1, 3, ())]
    assert [c.trial_number for c in top_configurations(ranked, 2)] == [4, 2]


def test_recheck_a_tune_sweep_from_python(tracking_uri: str, capsys) -> None:
    import keras
    import numpy as np

    import sweeps
    from sweeps.errors import SweepsError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")

    def build_model(hp):
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(
            hp.Int("units", 4, 16, step=4), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        return model

    swept = sweeps.tune(build_model, data=(x, y), tuner="random", max_trials=2, max_epochs=2,
                        register_model=False)
    client = MlflowClient(tracking_uri)
    experiment = swept.experiment_id
    before = len(client.search_runs([experiment]))
    # MLflow holds neither the builder nor the arrays: asked for, and checked against the sweep's.
    with pytest.raises(SweepsError, match=r"trained on arrays given from Python"):
        sweeps.recheck(swept, top=2, seeds=2)
    with pytest.raises(SweepsError, match=r"the data given is not the data"):
        sweeps.recheck(swept, top=2, seeds=2, build_model=build_model, data=(x[:-1], y[:-1]))
    assert len(client.search_runs([experiment])) == before

    result = sweeps.recheck(swept, top=2, seeds=2, build_model=build_model, data=(x, y))
    assert [c.rank for c in result.checked] == [1, 2] and result.metric == "val_loss"
    means = [c.spread.mean for c in result.checked]
    assert means == sorted(means)  # val_loss: lowest first
    configs = client.search_runs([experiment], f"tags.`{T.KIND}` = '{T.KIND_RECHECK_CONFIG}'")
    assert sorted(r.data.metrics["val_loss_mean"] for r in configs) == pytest.approx(means)
    assert all(r.data.metrics["val_loss_ci95_low"] < r.data.metrics["val_loss_ci95_high"]
               for r in configs)


def test_recheck_refuses_before_touching_any_store(workdir, capsys) -> None:
    missing = workdir / "elsewhere.db"
    assert main(["recheck", "mnist_mlp", "--tracking-uri", f"sqlite:///{missing}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no MLflow store at sqlite:///{missing}" in err
    for args in (["recheck", "mnist_mlp", "--top", "0"], ["run", "mnist_mlp", "--recheck", "-1"],
                 ["run", "mnist_mlp", "--recheck", "2", "--recheck-seeds", "two"]):
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2
        assert "expected an integer >= 1" in capsys.readouterr().err
    assert not missing.exists() and not (workdir / "mlflow.db").exists()
    assert not (workdir / ".sweeps").exists()
