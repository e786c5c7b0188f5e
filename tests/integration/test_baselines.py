"""The baselines every sweep tests beside its final model: the builder's defaults and a
linear model, the uplift line, and the champion guard."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import sweeps
from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam
from sweeps.data import load_dataset
from sweeps.engines.optuna_hp import OptunaHyperParameters
from sweeps.final.baselines import DefaultsTrial, linear_baseline
from sweeps.final.uplift import compared_metric, uplift, uplift_lines
from sweeps.metrics import Direction
from sweeps.spec import DataSpec
from tracking import tags as T
from tracking.models import TestResult, _decide


def defaults_of(build, narrowed=None) -> dict:
    trial = DefaultsTrial()
    hp = OptunaHyperParameters(trial, narrowed or {})  # type: ignore[arg-type]
    trial.hp = hp
    build(hp)
    return hp.values


def test_defaults_are_the_builders_own_else_the_middle_of_each_range() -> None:
    def build(hp):
        hp.Int("given", 1, 9, default=3)
        hp.Int("layers", 1, 3)
        hp.Int("units", 32, 512, step=32)
        hp.Int("width", 8, 512, sampling="log")
        hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        hp.Float("dropout", 0.0, 0.5, step=0.1)
        hp.Float("momentum", 0.5, 0.9, default=0.8)
        hp.Choice("batch", [16, 32, 64, 128])
        hp.Choice("activation", ["relu", "tanh"])
        hp.Choice("optimizer", ["adam", "sgd"], default="sgd")
        hp.Boolean("bn")
        if hp.Boolean("extra", default=True):
            with hp.conditional_scope("extra", [True]):
                hp.Int("extra_units", 4, 8)

    values = defaults_of(build)
    assert values["given"] == 3 and values["layers"] == 2
    assert values["units"] == 32 + 32 * round(15 / 2)  # 288: on the step grid
    assert values["width"] == 64  # geometric middle of 8..512
    assert values["learning_rate"] == pytest.approx(1e-3)
    assert values["dropout"] == pytest.approx(0.2)  # round(2.5) = 2 steps of 0.1
    assert values["momentum"] == 0.8
    assert values["batch"] == 32 and values["activation"] == "relu"
    assert values["optimizer"] == "sgd" and values["bn"] is False
    assert values["extra"] is True and values["extra_units"] == 6


def test_defaults_honour_the_specs_narrowing_and_fixed_values() -> None:
    def build(hp):
        hp.Int("units", 32, 512, step=32, default=480)
        hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        hp.Choice("activation", ["relu", "tanh"])

    values = defaults_of(build, {"units": IntParam(32, 128, step=32),  # 480 lies outside
                                 "learning_rate": FloatParam(1e-3, 1e-1, log=True),
                                 "activation": FixedParam("tanh")})
    assert values["units"] == 96  # 32 + 32 * round(1.5): the narrowed range's middle
    assert values["learning_rate"] == pytest.approx(1e-2)
    assert values["activation"] == "tanh"
    assert defaults_of(lambda hp: hp.Choice("c", [1, 2, 3]),
                       {"c": ChoiceParam((7, 8, 9))})["c"] == 8


def test_uplift_reads_the_direction_from_the_metric() -> None:
    assert uplift("test_mae", 40.0, 50.0) == (True, "20.0 % lower")
    assert uplift("test_accuracy", 0.9, 0.95) == (False, "5.3 % lower")
    assert compared_metric({"test_loss": 1.0, "test_mae": 2.0}, "val_mae") == "test_mae"
    # The loss is not what a user reads: the task's own metric, as the champion is decided on.
    assert compared_metric({"test_loss": 1.0, "test_accuracy": 0.5}, "val_loss") == \
        "test_accuracy"
    assert compared_metric({"test_loss": 1.0}, "val_loss") == "test_loss"
    assert compared_metric({"test_loss": 1.0, "test_accuracy": 0.5}, "val_auc") == \
        "test_accuracy"
    assert uplift_lines({"test_mae": 40.0}, {"default": {"test_mae": 50.0},
                                             "linear": {"test_mae": 38.0}},
                        "val_mae", {"linear": "RidgeCV(alpha=1)"}) == [
        "tuned vs defaults: test_mae 40 vs 50 (20.0 % lower, better)",
        "tuned vs linear (RidgeCV(alpha=1)): test_mae 40 vs 38 (5.3 % higher, not better)"]


def test_a_model_that_loses_to_the_defaults_never_becomes_champion() -> None:
    losing = TestResult("test_mae", Direction.MIN, 46.9, "d1", defaults=44.5)
    moves, reason = _decide(losing, None)
    assert not moves and reason == "test_mae 46.9000 loses to the builder's defaults' 44.5000"
    winning = TestResult("test_mae", Direction.MIN, 43.0, "d1", defaults=44.5)
    assert _decide(winning, None) == (True, "the first; test_mae 43.0000")
    # The defaults won the search, so the final model is theirs: it does not lose to itself.
    same = TestResult("test_mae", Direction.MIN, 44.5, "d1", defaults=44.5)
    assert _decide(same, None) == (True, "the first; test_mae 44.5000")


def test_the_linear_baseline_on_a_table_and_none_on_images(mnist_dir) -> None:
    diabetes = load_dataset(DataSpec("diabetes", test_split=0.2, validation_split=0.2,
                                     shuffle=True), seed=1)
    name, metrics = linear_baseline(diabetes)
    assert name.startswith("RidgeCV(alpha=")
    assert set(metrics) == {"test_mae", "test_rmse", "test_mse"}
    assert 35 < metrics["test_mae"] < 55  # diabetes progression: a linear model's usual error
    assert metrics["test_rmse"] == pytest.approx(np.sqrt(metrics["test_mse"]))
    digits = load_dataset(DataSpec("digits", test_split=0.2, shuffle=True), seed=1)
    assert linear_baseline(digits)[1]["test_accuracy"] > 0.9
    images = load_dataset(DataSpec("mnist", dir=str(mnist_dir), subset=300), seed=1)
    assert linear_baseline(images) is None


def test_a_sweep_logs_both_baselines_and_says_the_uplift(workdir, tracking_uri) -> None:
    out = io.StringIO()
    result = sweeps.run("diabetes", tuner="random", max_trials=2, max_epochs=5, stream=out,
                        quiet=False)
    text = out.getvalue()
    metrics = MlflowClient(tracking_uri).get_run(result.sweep_run_id).data
    assert {"baseline_default_test_mae", "baseline_linear_test_mae",
            "baseline_default_test_rmse", "baseline_linear_test_rmse"} <= set(metrics.metrics)
    assert metrics.metrics["baseline_default_test_mae"] == \
        result.baselines.metrics["default"]["test_mae"]
    assert metrics.tags[T.BASELINE_LINEAR].startswith("RidgeCV(alpha=")
    assert "depth=" in metrics.tags[T.BASELINE_DEFAULT]
    tuned = result.test_metrics["test_mae"]
    assert (f"tuned vs defaults: test_mae {tuned:.4g} vs "
            f"{result.baselines.metrics['default']['test_mae']:.4g}") in text
    assert "tuned vs linear (RidgeCV(alpha=" in text
    report = Path(MlflowClient(tracking_uri).download_artifacts(
        result.sweep_run_id, "report/summary.md", str(workdir)))
    assert "- tuned vs defaults: test_mae" in report.read_text()
    print(text, file=sys.stderr)


def test_baselines_can_be_turned_off(workdir, tracking_uri) -> None:
    result = sweeps.run("diabetes", tuner="random", max_trials=1, max_epochs=2,
                        settings=["final.baselines=false"])
    assert result.baselines is None
    metrics = MlflowClient(tracking_uri).get_run(result.sweep_run_id).data.metrics
    assert not [k for k in metrics if k.startswith("baseline_")]


@pytest.mark.parametrize("tuner", ["random", "bayesian", "optuna"])
def test_the_defaults_are_the_searchs_first_trial_and_then_the_baseline(
        workdir, tracking_uri, tuner) -> None:
    # One trial: the defaults, so they won the search; the baseline is then the final
    # model itself (no second training), and the champion is not refused for a tie.
    out = io.StringIO()
    result = sweeps.run("diabetes", tuner=tuner, max_trials=1, max_epochs=3, stream=out,
                        quiet=False, settings=["validation.folds=1"])
    first = result.trials[0]
    assert result.baselines.what["default"] == " ".join(
        f"{k}={v}" for k, v in first.params.items())
    assert result.baselines.metrics["default"] == result.test_metrics
    assert "the defaults won the search: they are the model" in out.getvalue()
    assert result.registered_model.champion == result.registered_model.version


def test_the_defaults_stay_unless_beaten_beyond_one_standard_error_of_the_folds() -> None:
    from sweeps.final.baselines import defaults_kept
    from sweeps.spec import ObjectiveSpec
    from sweeps.trials import TrialRecord

    mae = ObjectiveSpec("val_mae", Direction.MIN)
    folds = [f"fold_{i}" for i in range(1, 6)]
    defaults = TrialRecord("0", 1, executions=dict(zip(folds, [44.0, 46.0, 45.0, 43.0, 47.0])))
    # 0.3 lower on average, but the per-fold differences swing by more than that.
    close = TrialRecord("3", 4, executions=dict(zip(folds, [43.0, 46.5, 44.0, 43.5, 46.5])))
    reason = defaults_kept(close, defaults, mae)
    assert reason is not None and reason.startswith(
        "trial 4 beat the defaults (trial 1) by 0.3 val_mae over 5 fits, within one standard "
        "error (0.3391)")
    # 2 lower on every fold: better beyond doubt.
    clear = TrialRecord("5", 6, executions={k: v - 2 for k, v in defaults.executions.items()})
    assert defaults_kept(clear, defaults, mae) is None
    # One validation slice: no error to weigh, the best trial is the best.
    assert defaults_kept(TrialRecord("1", 2, executions={}), defaults, mae) is None
    accuracy = ObjectiveSpec("val_accuracy", Direction.MAX)
    higher = TrialRecord("5", 6, executions={k: v + 2 for k, v in defaults.executions.items()})
    assert defaults_kept(higher, defaults, accuracy) is None
    assert defaults_kept(clear, defaults, accuracy) is not None  # lower accuracy: kept


def test_the_reason_the_defaults_were_kept_is_a_tag_of_the_sweep_run() -> None:
    from sweeps.events import SweepEnded
    from sweeps.final.uplift import Baselines
    from tracking.final_fit import baseline_tags

    kept = "trial 4 beat the defaults (trial 1) by 0.3 val_mae over 5 fits, within one ..."
    event = SweepEnded(best_trial_id="0", best_objective=44.0, test_metrics={},
                       baselines=Baselines(what={"default": "depth=2"}, kept=kept))
    assert baseline_tags(event) == {T.BASELINE_DEFAULT: "depth=2", T.DEFAULTS_KEPT: kept}
    plain = SweepEnded(best_trial_id="0", best_objective=44.0, test_metrics={},
                       baselines=Baselines(what={"default": "depth=2"}))
    assert T.DEFAULTS_KEPT not in baseline_tags(plain)
