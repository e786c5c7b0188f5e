"""Which way a metric is better (sweeps.metrics): Keras's own metric and loss names, the
prefixes sweeps logs them under, and names that say nothing."""

from __future__ import annotations

import keras
import pytest

from sweeps.metrics import Direction, base_name, direction_of
from sweeps.spec import load_spec

# What Keras reports for its built-in metrics and losses (the name it logs, val_ added).
KERAS_MINIMISED = [
    "loss", "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "root_mean_squared_error", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_focal_crossentropy",
    "categorical_focal_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
    "poisson", "kl_divergence", "logcosh", "huber", "mae", "mse", "rmse", "mape",
    "msle",
]
KERAS_MAXIMISED = [
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
    "recall", "f1_score", "fbeta_score", "r2_score", "iou", "mean_iou", "one_hot_iou",
    "binary_iou", "precision_at_recall", "recall_at_precision", "sensitivity_at_specificity",
    "specificity_at_sensitivity", "acc",
]


@pytest.mark.parametrize("name", KERAS_MINIMISED)
def test_keras_losses_and_errors_are_minimised(name: str) -> None:
    for logged in (name, f"val_{name}", f"test_{name}", f"best_val_{name}"):
        assert direction_of(logged) is Direction.MIN, logged


@pytest.mark.parametrize("name", KERAS_MAXIMISED)
def test_keras_scores_are_maximised(name: str) -> None:
    for logged in (name, f"val_{name}", f"test_{name}", f"best_val_{name}"):
        assert direction_of(logged) is Direction.MAX, logged


def test_the_names_keras_metric_objects_log_under_have_a_direction() -> None:
    # Not a copied list: the names Keras itself gives its metric objects.
    minimised = [keras.metrics.MeanSquaredError(), keras.metrics.MeanAbsoluteError(),
                 keras.metrics.RootMeanSquaredError(), keras.metrics.BinaryCrossentropy(),
                 keras.metrics.CategoricalCrossentropy(), keras.metrics.Hinge(),
                 keras.metrics.KLDivergence(), keras.metrics.Poisson(), keras.metrics.LogCoshError(),
                 keras.metrics.MeanSquaredLogarithmicError(),
                 keras.metrics.MeanAbsolutePercentageError()]
    maximised = [keras.metrics.Accuracy(), keras.metrics.BinaryAccuracy(),
                 keras.metrics.CategoricalAccuracy(), keras.metrics.SparseCategoricalAccuracy(),
                 keras.metrics.AUC(), keras.metrics.Precision(), keras.metrics.Recall(),
                 keras.metrics.F1Score(), keras.metrics.R2Score(),
                 keras.metrics.TopKCategoricalAccuracy(), keras.metrics.FBetaScore(),
                 keras.metrics.PrecisionAtRecall(0.5), keras.metrics.SpecificityAtSensitivity(0.5)]
    assert {m.name: direction_of(f"val_{m.name}") for m in minimised} == {
        m.name: Direction.MIN for m in minimised}
    assert {m.name: direction_of(f"val_{m.name}") for m in maximised} == {
        m.name: Direction.MAX for m in maximised}


def test_the_names_keras_iou_metrics_log_under_are_maximised() -> None:
    metrics = [keras.metrics.MeanIoU(num_classes=2), keras.metrics.BinaryIoU(),
               keras.metrics.IoU(num_classes=2, target_class_ids=[0]),
               keras.metrics.OneHotIoU(num_classes=2, target_class_ids=[0]),
               keras.metrics.OneHotMeanIoU(num_classes=2)]
    assert {m.name: direction_of(f"val_{m.name}") for m in metrics} == {
        m.name: Direction.MAX for m in metrics}


@pytest.mark.parametrize("name", [
    "my_metric", "val_custom", "size", "true_positives", "false_negatives", "cosine_similarity",
    "learning_rate", "epoch", "", "val_", "best_",
])
def test_a_name_that_says_nothing_has_no_direction(name: str) -> None:
    assert direction_of(name) is None


@pytest.mark.parametrize(("name", "direction"), [
    # A loss built on a score is still a loss: minimised.
    ("dice_loss", Direction.MIN), ("iou_loss", Direction.MIN), ("f1_loss", Direction.MIN),
    ("val_accuracy_error", Direction.MIN),
    # Matched on whole words, not inside other words.
    ("lossless_score", Direction.MAX), ("maestro_accuracy", Direction.MAX),
    ("glossary", None), ("errorbar", None), ("scoreboard", None), ("accurate", None),
    # Case does not matter.
    ("VAL_LOSS", Direction.MIN), ("val_AUC", Direction.MAX), ("Val_Accuracy", Direction.MAX),
    # A word anywhere in the name.
    ("val_weighted_rmse", Direction.MIN), ("my_model_recall", Direction.MAX),
    ("params", Direction.MIN),
])
def test_direction_by_whole_words_of_the_name(name: str, direction: Direction | None) -> None:
    assert direction_of(name) is direction


@pytest.mark.parametrize(("logged", "metric"), [
    ("val_mae", "mae"), ("test_accuracy", "accuracy"), ("best_val_loss", "loss"),
    ("best_test_val_auc", "auc"), ("mae", "mae"), ("validation_loss", "validation_loss"),
    ("my_val_loss", "my_val_loss"), ("val_val_loss", "loss"), ("fold_2/val_loss", "fold_2/val_loss"),
])
def test_base_name_strips_the_prefixes_sweeps_logs_under(logged: str, metric: str) -> None:
    assert base_name(logged) == metric


def test_direction_is_its_string() -> None:
    assert Direction("max") is Direction.MAX and Direction("min") is Direction.MIN
    assert Direction.MAX == "max" and Direction.MIN.value == "min"
    assert {d.value for d in Direction} == {"max", "min"}
    with pytest.raises(ValueError):
        Direction("maximize")


@pytest.mark.parametrize(("metric", "direction"), [
    ("val_loss", Direction.MIN), ("val_mae", Direction.MIN), ("val_auc", Direction.MAX),
    ("val_accuracy", Direction.MAX), ("val_f1_score", Direction.MAX),
])
def test_a_specs_objective_and_monitor_take_the_names_direction(metric: str,
                                                               direction: Direction) -> None:
    spec = load_spec("breast_cancer", [f"objective.metric={metric}",
                                       f"training.early_stopping.monitor={metric}"])
    assert spec.objective.direction is direction
    assert spec.training.early_stopping.mode is direction


def test_a_specs_direction_overrides_the_name() -> None:
    spec = load_spec("breast_cancer", ["objective.metric=val_loss", "objective.direction=max"])
    assert spec.objective.direction is Direction.MAX
    assert spec.objective.better(0.9, 0.1) and not spec.objective.better(0.1, 0.1)
