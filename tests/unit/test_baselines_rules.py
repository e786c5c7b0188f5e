"""The rules of sweeps.final.baselines that need no training: when the defaults stay the final
configuration (the one-standard-error rule over paired folds), and which values the defaults
are (built with the bundled mlp, not trained)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam
from sweeps.events import TrialStatus
from sweeps.final.baselines import default_values, defaults_kept
from sweeps.final.uplift import uplift
from sweeps.spec import Direction, ObjectiveSpec, load_spec
from sweeps.training.lifecycle import TrialLifecycle
from sweeps.trials import TrialBook, TrialRecord
from tests.unit.tiny import TWO_CONFIGURATIONS, building, prepared, tiny_spec

MAE = ObjectiveSpec("val_mae", Direction.MIN)
AUC = ObjectiveSpec("val_auc", Direction.MAX)


def record(number: int, folds: Sequence[float]) -> TrialRecord:
    return TrialRecord(str(number - 1), number, status=TrialStatus.COMPLETED,
                       objective=statistics.fmean(folds),
                       executions={f"fold_{k}": v for k, v in enumerate(folds, start=1)})


def one_standard_error(diffs: Sequence[float]) -> float:
    return float(np.std(diffs, ddof=1) / math.sqrt(len(diffs)))


def test_a_best_trial_ahead_on_every_fold_replaces_the_defaults() -> None:
    defaults = record(1, [40.0, 42.0, 44.0, 46.0, 48.0])
    best = record(5, [38.0, 40.5, 41.0, 44.0, 46.5])  # lower MAE on every fold
    assert defaults_kept(best, defaults, MAE) is None


def test_a_win_within_one_standard_error_keeps_the_defaults() -> None:
    defaults = record(1, [40.0, 42.0, 44.0, 46.0, 48.0])
    best = record(5, [36.0, 45.0, 41.0, 49.0, 47.5])  # ahead on the mean, behind on 2 folds
    diffs = [d - b for b, d in zip(best.executions.values(), defaults.executions.values())]
    gain = statistics.fmean(diffs)
    assert 0 < gain <= one_standard_error(diffs)
    kept = defaults_kept(best, defaults, MAE)
    assert kept is not None and "\n" not in kept
    assert kept.startswith(f"trial 5 beat the defaults (trial 1) by {gain:.4g} val_mae over 5 "
                           f"fits, within one standard error ({one_standard_error(diffs):.4g})")
    assert kept.endswith("the defaults are kept as the best configuration")


@pytest.mark.parametrize(("objective", "sign"), [(AUC, 1.0), (MAE, -1.0)], ids=["max", "min"])
def test_the_gain_is_counted_in_the_objectives_direction(objective: ObjectiveSpec,
                                                          sign: float) -> None:
    defaults = record(1, [0.80, 0.82, 0.84, 0.86])
    steady = record(2, [v + sign * 0.01 for v in defaults.executions.values()])
    backwards = record(3, [v - sign * 0.01 for v in defaults.executions.values()])
    noisy = record(4, [v + sign * s for v, s in zip(defaults.executions.values(),
                                                   [0.05, -0.04, 0.03, -0.035])])
    assert defaults_kept(steady, defaults, objective) is None
    assert defaults_kept(backwards, defaults, objective) is not None  # worse: never chosen over
    assert defaults_kept(noisy, defaults, objective) is not None


def test_only_the_fits_both_trials_ran_are_compared() -> None:
    defaults = record(1, [40.0, 42.0, 44.0])
    best = record(2, [39.0, 41.5, 43.0, 10.0, 10.0])  # two folds the defaults never ran
    assert defaults_kept(best, defaults, MAE) is None  # 1, 0.5, 1: a steady gain
    worse = record(3, [39.0, 43.0, 45.0, 10.0, 10.0])
    kept = defaults_kept(worse, defaults, MAE)
    assert kept is not None and "over 3 fits" in kept


@pytest.mark.parametrize(("best", "defaults"), [
    (record(2, [1.0]), record(1, [5.0])),  # one fit: no standard error
    (record(2, [1.0, 2.0]), TrialRecord("0", 1, executions={})),  # the defaults ran once
    (record(2, [1.0, 2.0]), record(2, [1.0, 2.0])),  # the defaults are the best trial
])
def test_no_rule_without_two_paired_fits_or_with_the_defaults_best(
        best: TrialRecord, defaults: TrialRecord) -> None:
    assert defaults_kept(best, defaults, MAE) is None


def test_the_rule_reads_the_folds_the_trials_reported() -> None:
    # From a real lifecycle's events to the book's records to the rule: fold labels line up.
    spec = load_spec("diabetes")
    book = TrialBook(spec.objective)
    for number, bests in [(1, [40.0, 42.0, 44.0]), (2, [39.0, 43.5, 41.0])]:
        trial = TrialLifecycle(spec, book, str(number - 1), number)
        for k, value in enumerate(bests, start=1):
            trial.execution_started(f"fold_{k}")
            trial.epoch_ended(None, 0, {"loss": 1.0, "val_mae": value + 5})
            trial.epoch_ended(None, 1, {"loss": 0.9, "val_mae": value})
        trial.ended(TrialStatus.COMPLETED)
    best, defaults = book.best(), book.records["0"]
    assert best is not None and best.number == 2
    kept = defaults_kept(best, defaults, spec.objective)
    diffs = [1.0, -1.5, 3.0]
    assert kept is not None and f"by {statistics.fmean(diffs):.4g} val_mae over 3 fits" in kept


@pytest.mark.parametrize(("metric", "tuned", "baseline", "better", "text"), [
    ("test_mae", 40.0, 50.0, True, "20.0 % lower"),
    ("test_mae", 55.0, 50.0, False, "10.0 % higher"),
    ("test_accuracy", 0.9, 0.8, True, "12.5 % higher"),
    ("test_auc", 0.8, 0.8, False, "the same"),
    ("test_loss", -1.0, -2.0, False, "50.0 % higher"),
    ("test_accuracy", 0.5, 0.0, True, "better"),
    ("test_mae", 0.0, 0.0, False, ""),
    ("test_custom", 2.0, 1.0, True, "100.0 % higher"),  # no direction: higher is better
])
def test_uplift_compares_in_the_metrics_direction(metric: str, tuned: float, baseline: float,
                                                  better: bool, text: str) -> None:
    assert uplift(metric, tuned, baseline) == (better, text)


# -- the default values --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def defaults() -> tuple[dict[str, Any], Any]:
    _, builder, declared = prepared(tiny_spec(tuner={"kind": "random", "max_trials": 2}))
    with building():
        return default_values(builder, declared), declared


def test_defaults_are_the_middle_of_each_searched_range(defaults: tuple[dict[str, Any], Any]) -> None:
    values, _ = defaults
    assert values["depth"] == 2  # int 1..3
    assert values["dropout"] == pytest.approx(0.1)  # 0.0..0.2 on a 0.1 grid
    assert values["learning_rate"] == pytest.approx(1e-3)  # 1e-4..1e-2, log: geometric
    assert [values[f"units_{i}"] for i in range(2)] == [16, 16]  # numeric choices: the median


def test_defaults_declare_exactly_the_layers_their_depth_builds(
        defaults: tuple[dict[str, Any], Any]) -> None:
    values, _ = defaults
    assert sorted(values) == sorted(["depth", "dropout", "learning_rate",
                                     *(f"units_{i}" for i in range(values["depth"]))])


def test_defaults_lie_in_the_searched_space(defaults: tuple[dict[str, Any], Any]) -> None:
    values, declared = defaults
    for name, value in values.items():
        param = declared.searched["units" if name.startswith("units_") else name]
        if isinstance(param, IntParam):
            assert value in param.values()
        elif isinstance(param, FloatParam):
            assert param.min <= value <= param.max
            if param.step:
                steps = (value - param.min) / param.step
                assert steps == pytest.approx(round(steps))
        elif isinstance(param, ChoiceParam):
            assert value in param.values
        else:
            assert isinstance(param, FixedParam) and value == param.value


def test_fixed_entries_and_two_choices_keep_the_first() -> None:
    spec = tiny_spec(tuner={"kind": "random", "max_trials": 2}, space=TWO_CONFIGURATIONS)
    _, builder, declared = prepared(spec)
    with building():
        values = default_values(builder, declared)
    assert values == {"depth": 1, "units_0": 8, "dropout": 0.0, "learning_rate": 0.001}
