"""The runner's record of trials (sweeps.trials.TrialBook): filled by the events a real
TrialLifecycle reports for made-up epochs (no model, no training), and ranked in the
objective's direction."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from sweeps.events import ModelBuilt, TrialStatus
from sweeps.spec import Direction, ObjectiveSpec, SweepSpec, load_spec
from sweeps.training.lifecycle import TrialLifecycle
from sweeps.trials import TrialBook, TrialRecord

MAXIMISED = load_spec("breast_cancer")  # objective val_auc
MINIMISED = load_spec("diabetes", ["validation.folds=1"])  # objective val_mae


def report(spec: SweepSpec, book: TrialBook, number: int,
           fits: Sequence[Sequence[Mapping[str, float]]],
           status: TrialStatus = TrialStatus.COMPLETED, labels: Sequence[str] = ()) -> None:
    """Trial ``number``'s epochs (one list of epoch logs per fit), reported as engines do."""
    trial = TrialLifecycle(spec, book, str(number - 1), number)
    for index, epochs in enumerate(fits):
        if labels:
            trial.execution_started(labels[index])
        for epoch, logs in enumerate(epochs):
            trial.epoch_ended(None, epoch, logs)
    trial.ended(status, message="boom" if status is TrialStatus.FAILED else None)


def curve(metric: str, *values: float) -> list[dict[str, float]]:
    return [{"loss": 1.0, metric: v} for v in values]


def test_trials_rank_by_their_best_epoch_in_the_objectives_direction() -> None:
    book = TrialBook(MAXIMISED.objective)
    report(MAXIMISED, book, 1, [curve("val_auc", 0.70, 0.80, 0.75)])
    report(MAXIMISED, book, 2, [curve("val_auc", 0.90, 0.60)])
    report(MAXIMISED, book, 3, [curve("val_auc", 0.50)])
    assert [(r.number, r.objective) for r in book.top(3)] == [(2, 0.90), (1, 0.80), (3, 0.50)]
    assert book.best().number == 2

    book = TrialBook(MINIMISED.objective)
    report(MINIMISED, book, 1, [curve("val_mae", 40.0, 35.0)])
    report(MINIMISED, book, 2, [curve("val_mae", 50.0, 45.0)])
    report(MINIMISED, book, 3, [curve("val_mae", 30.0, 60.0)])
    assert [(r.number, r.objective) for r in book.top(3)] == [(3, 30.0), (1, 35.0), (2, 45.0)]


def test_top_n_cuts_the_ranking() -> None:
    book = TrialBook(MINIMISED.objective)
    for number, value in enumerate([5.0, 3.0, 4.0, 1.0, 2.0], start=1):
        report(MINIMISED, book, number, [curve("val_mae", value)])
    assert [r.number for r in book.top(2)] == [4, 5]
    assert len(book.top(10)) == 5 and book.top(0) == []


@pytest.mark.parametrize("spec", [MAXIMISED, MINIMISED], ids=["max", "min"])
def test_the_earlier_trial_wins_a_tie(spec: SweepSpec) -> None:
    metric = spec.objective.metric
    book = TrialBook(spec.objective)
    book.seed([TrialRecord("6", 7, status=TrialStatus.COMPLETED, objective=0.5)])  # resumed
    for number in (3, 1, 2):
        report(spec, book, number, [curve(metric, 0.5)])
    assert [r.number for r in book.top(4)] == [1, 2, 3, 7]


def test_failed_pruned_and_valueless_trials_are_not_ranked() -> None:
    book = TrialBook(MAXIMISED.objective)
    report(MAXIMISED, book, 1, [curve("val_auc", 0.99)], status=TrialStatus.FAILED)
    report(MAXIMISED, book, 2, [curve("val_auc", 0.98)], status=TrialStatus.PRUNED)
    report(MAXIMISED, book, 3, [])  # ended before its first epoch
    report(MAXIMISED, book, 4, [[{"loss": 1.0}]])  # never reported its objective
    report(MAXIMISED, book, 5, [curve("val_auc", math.nan)])
    assert book.best() is None and book.completed() == []
    report(MAXIMISED, book, 6, [curve("val_auc", 0.6)])
    assert [r.number for r in book.top(6)] == [6]
    failed = book.records["0"]
    assert (failed.status, failed.objective, failed.message) == (TrialStatus.FAILED, None, "boom")
    assert book.records["1"].status is TrialStatus.PRUNED
    assert [r.number for r in book.records.values()] == [1, 2, 3, 4, 5, 6]  # as they ran


def test_a_record_keeps_what_the_trial_reported() -> None:
    book = TrialBook(MAXIMISED.objective)
    trial = TrialLifecycle(MAXIMISED, book, "4", 5, tags={"optuna.trial_number": "4"})
    book.model_built(ModelBuilt("4", {"units": 16, "depth": 2}, param_count=321, summary=""))
    for epoch in range(3):
        trial.epoch_ended(None, epoch, {"loss": 0.5, "val_auc": 0.6 + epoch / 10})
    trial.ended(TrialStatus.COMPLETED)
    record = book.records["4"]
    assert (record.number, record.params, record.param_count) == (5, {"units": 16, "depth": 2}, 321)
    assert record.tags == {"optuna.trial_number": "4"}
    assert record.epochs_run == 3 and record.objective == pytest.approx(0.8)
    assert record.wall_time_s >= 0 and record.executions == {}


def test_several_fits_record_each_fits_best_value_by_its_label() -> None:
    spec = load_spec("diabetes")  # 5 folds
    book = TrialBook(spec.objective)
    labels = [f"fold_{k}" for k in range(1, 4)]
    report(spec, book, 1, [curve("val_mae", 40.0, 38.0), curve("val_mae", 50.0, 52.0),
                           curve("val_mae", 44.0)], labels=labels)
    record = book.records["0"]
    assert record.executions == {"fold_1": 38.0, "fold_2": 50.0, "fold_3": 44.0}
    assert record.objective == pytest.approx((38.0 + 50.0 + 44.0) / 3)  # their mean
    assert record.epochs_run == 5


def test_the_book_ranks_in_the_objectives_direction_not_the_metrics_name() -> None:
    objective = ObjectiveSpec("val_loss", Direction.MAX)  # a spec may say so
    book = TrialBook(objective)
    book.seed([TrialRecord(str(n), n, status=TrialStatus.COMPLETED, objective=v)
               for n, v in [(1, 0.2), (2, 0.9), (3, 0.5)]])
    assert [r.number for r in book.top(3)] == [2, 3, 1]
