"""Where each MLflow metric lands in a TensorBoard log, and the HParams domains: pure rules of
:mod:`tracking.tensorboard` (the event files themselves: tests/integration/test_tensorboard.py)."""

from __future__ import annotations

import pytest
from tensorboard.plugins.hparams import api as hp

from tracking.tensorboard import _domain, _hparam_value, epoch_scalar, is_epoch_metric, trial_folder


@pytest.mark.parametrize(("key", "where"), [
    ("loss", ("train", "epoch_loss")),
    ("val_loss", ("validation", "epoch_loss")),
    ("accuracy", ("train", "epoch_accuracy")),
    ("val_accuracy", ("validation", "epoch_accuracy")),
    ("learning_rate", ("train", "epoch_learning_rate")),
    ("fold1/val_loss", ("", "fold1/val_loss")),
])
def test_metrics_go_where_keras_s_tensorboard_callback_puts_them(key, where) -> None:
    assert epoch_scalar(key) == where


def test_values_a_trial_has_once_are_not_per_epoch() -> None:
    assert [k for k in ("loss", "val_mae", "best_val_loss", "fold0/best_val_loss",
                        "best_val_loss_std", "epochs_run", "wall_time_s", "param_count")
            if is_epoch_metric(k)] == ["loss", "val_mae"]


def test_trial_folders_sort_by_number() -> None:
    assert sorted(trial_folder(n) for n in (10, 2, 1)) == ["trial_001", "trial_002", "trial_010"]


def test_domains_from_the_values_seen() -> None:
    def same(values: list, domain: object) -> bool:  # domains have no __eq__, but a repr
        return repr(_domain(values)) == repr(domain)

    assert same([True, False, True], hp.Discrete([False, True]))
    assert same(["relu", "tanh", "relu"], hp.Discrete(["relu", "tanh"]))
    assert same([1.0, 2.0, 2.0], hp.Discrete([1.0, 2.0]))
    assert same([float(v) for v in range(20)], hp.RealInterval(0.0, 19.0))
    assert same(list(range(20)), hp.IntInterval(0, 19))
    assert not same(list(range(20)), hp.IntInterval(0, 18))
    assert _domain(["a", 1.0]) is None  # mixed kinds: left to the dashboard


def test_hparam_values_keep_one_kind_per_hyperparameter() -> None:
    assert _hparam_value(3) == 3.0 and isinstance(_hparam_value(3), float)
    assert _hparam_value(True) is True and _hparam_value("relu") == "relu"
    assert _hparam_value(None) == "None"
