"""How every fit's epochs are read: best value, epochs to best, divergence; and the
direction type that all comparisons go through."""

from __future__ import annotations

import math

import pytest

from sweeps.events import TrialStatus
from sweeps.metrics import Direction
from sweeps.spec import ObjectiveSpec
from sweeps.training.outcome import Outcome, best_value, checkpoint_monitor, epochs_to_best

HISTORY = {"loss": [0.9, 0.5, 0.4, 0.45], "val_loss": [0.8, 0.6, 0.6, 0.7],
           "val_accuracy": [0.7, 0.9, 0.8, 0.9]}


def test_best_value_follows_the_direction() -> None:
    assert best_value(HISTORY, "val_loss", Direction.MIN) == 0.6
    assert best_value(HISTORY, "val_accuracy", Direction.MAX) == 0.9
    assert math.isnan(best_value(HISTORY, "val_auc", Direction.MAX))


def test_epochs_to_best_counts_up_to_the_first_of_equal_bests() -> None:
    # Keras's save_best_only keeps the first of equal values: epoch 2 for both.
    assert epochs_to_best(HISTORY, "val_loss", Direction.MIN) == 2
    assert epochs_to_best(HISTORY, "val_accuracy", Direction.MAX) == 2
    # A metric the fit never reported: every epoch it ran.
    assert epochs_to_best(HISTORY, "val_auc", Direction.MAX) == 4
    assert Outcome(HISTORY).epochs_to_best("val_auc", Direction.MAX) == 4
    assert Outcome({}).epochs_to_best("val_loss", Direction.MIN) == 1


def test_a_diverged_fit_is_a_failure_with_its_epoch() -> None:
    outcome = Outcome({"loss": [0.5, math.nan]})
    assert outcome.failure == "the training loss became nan at epoch 1"
    assert outcome.status is TrialStatus.FAILED
    assert Outcome(HISTORY).failure is None and Outcome(HISTORY).status is TrialStatus.COMPLETED
    assert Outcome({"loss": [math.inf]}).failure == "the training loss became inf at epoch 0"
    assert Outcome(HISTORY).epochs == 4


@pytest.mark.parametrize(("metric", "direction", "monitor"), [
    ("val_accuracy", Direction.MAX, ("val_accuracy", Direction.MAX)),
    ("val_mae", Direction.MIN, ("val_mae", Direction.MIN)),
    ("params", Direction.MIN, ("val_loss", Direction.MIN)),  # no epoch changes the size
    ("val_loss", Direction.MIN, ("val_loss", Direction.MIN)),
])
def test_the_checkpoint_monitor(metric, direction, monitor) -> None:
    assert checkpoint_monitor(ObjectiveSpec(metric, direction)) == monitor


@pytest.mark.parametrize(("direction", "a", "b", "better", "gain"), [
    (Direction.MAX, 0.9, 0.8, True, 0.1),
    (Direction.MAX, 0.8, 0.9, False, -0.1),
    (Direction.MIN, 0.8, 0.9, True, 0.1),
    (Direction.MIN, 0.9, 0.9, False, 0.0),
])
def test_direction_compares(direction, a, b, better, gain) -> None:
    assert direction.better(a, b) is better
    assert direction.gain(a, b) == pytest.approx(gain)
    assert direction.better(a, direction.worst)


def test_direction_best_and_sort_key_agree() -> None:
    values = [0.3, 0.1, 0.7]
    for direction in Direction:
        assert sorted(values, key=direction.sort_key)[0] == direction.best(values)
    assert Direction.MAX.optuna == "maximize" and Direction.MIN.optuna == "minimize"
