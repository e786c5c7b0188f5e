"""What the labels say the task is (sweeps.task), and what a task decides: loss, metrics,
output head. Inference is checked on label arrays as users hand them over and through the
loader, which turns names into class codes first."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from sweeps.data import load_dataset
from sweeps.spec import DataSpec
from sweeps.task import MAX_CLASSES, Task, TaskKind, class_count, infer_task, is_one_hot

ONE_HOT = np.eye(4, dtype=np.float32)[[0, 3, 1, 2, 3]]


@pytest.mark.parametrize(("labels", "kind"), [
    # classes
    (np.array([3, 0, 1, 2, 9]), TaskKind.MULTICLASS),
    (np.array([[0], [2], [1]]), TaskKind.MULTICLASS),  # a column of class indices
    (np.array([0.0, 1.0, 2.0, 2.0]), TaskKind.REGRESSION),  # whole floats: a measured quantity
    (ONE_HOT, TaskKind.MULTICLASS),
    (ONE_HOT.astype(np.int64), TaskKind.MULTICLASS),
    (np.eye(2)[[0, 1, 1]], TaskKind.MULTICLASS),  # two one-hot columns: still one-hot
    # binary
    (np.array([0, 1, 1, 0]), TaskKind.BINARY),
    (np.array([[0], [1], [1]]), TaskKind.BINARY),  # (n, 1) of 0 and 1
    (np.array([[0.0], [1.0]], dtype=np.float32), TaskKind.BINARY),
    (np.array([True, False, True]), TaskKind.BINARY),
    (np.array([0.0, np.nan, 1.0]), TaskKind.BINARY),  # NaN aside (the loader refuses it)
    (np.array([1, 2, 1, 2]), TaskKind.MULTICLASS),  # two classes, but not 0 and 1
    # regression
    (np.array([0.5, 1.25, 3.0]), TaskKind.REGRESSION),
    (np.array([[0.5], [2.5]]), TaskKind.REGRESSION),
    (np.array([-1, 0, 1, 2]), TaskKind.REGRESSION),  # negative integers are no class indices
    (np.array([[0.2, 1.5], [0.3, 0.1]]), TaskKind.REGRESSION),  # several targets
    (np.array([[1, 1], [0, 1]]), TaskKind.REGRESSION),  # 0/1 columns, but not one-hot rows
    # names
    (np.array(["cat", "dog", "bird"]), TaskKind.MULTICLASS),
    (np.array(["yes", "no"], dtype=object), TaskKind.MULTICLASS),
])
def test_infer_task(labels: np.ndarray, kind: TaskKind) -> None:
    assert infer_task(labels) is kind


def test_more_distinct_integers_than_max_classes_are_a_regression_target() -> None:
    assert infer_task(np.arange(MAX_CLASSES)) is TaskKind.MULTICLASS
    assert infer_task(np.arange(MAX_CLASSES + 1)) is TaskKind.REGRESSION


@pytest.mark.parametrize(("labels", "one_hot"), [
    (ONE_HOT, True),
    (np.eye(3, dtype=np.uint8), True),
    (np.array([[1, 0], [1, 0]]), True),  # one class only, still one-hot rows
    (np.array([[1, 1], [0, 1]]), False),  # two ones in a row
    (np.array([[0, 0], [0, 1]]), False),  # a row without its one
    (np.array([[0.5, 0.5], [1.0, 0.0]]), False),
    (np.array([[1], [0]]), False),  # one column: binary labels, not one-hot
    (np.array([1, 0, 0]), False),
    (np.zeros((0, 3)), False),
    (np.array([["1", "0"], ["0", "1"]]), False),
    (np.ones((2, 2, 2)), False),
])
def test_is_one_hot(labels: np.ndarray, one_hot: bool) -> None:
    assert is_one_hot(labels) is one_hot


def test_class_count_is_one_more_than_the_largest_label_anywhere() -> None:
    assert class_count([np.array([0, 2, 1]), np.array([4]), np.array([], dtype=np.int64)]) == 5
    assert class_count([np.array([[3], [0]])]) == 4
    assert class_count([ONE_HOT, ONE_HOT[:2]]) == 4


# -- through the loader ---------------------------------------------------------------------------
def loaded(y: object, **kwargs: object):
    x = np.arange(2 * len(y), dtype=np.float32).reshape(len(y), 2)  # type: ignore[arg-type]
    return load_dataset(DataSpec("arrays", arrays=(x, y), validation_split=0.25), **kwargs)


def test_text_labels_become_codes_in_the_sorted_order_of_their_names() -> None:
    names = ["dog", "cat", "bird", "dog", "cat", "bird", "cat", "dog"]
    ds = loaded(np.array(names))
    assert ds.class_names == ("bird", "cat", "dog")
    assert ds.task.kind is TaskKind.MULTICLASS and ds.task.num_classes == 3 and ds.task.inferred
    codes = np.concatenate([ds.y_train, ds.y_val]).tolist()
    assert [ds.class_names[c] for c in codes] == names


def test_two_names_make_a_binary_task() -> None:
    ds = loaded(["spam", "ham", "ham", "spam", "ham", "spam", "ham", "ham"])
    assert ds.task.kind is TaskKind.BINARY and ds.task.num_classes == 2
    assert ds.class_names == ("ham", "spam")


def test_one_hot_labels_are_multiclass_and_kept_one_hot() -> None:
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0, 2, 1, 0]]
    ds = loaded(y)
    assert ds.task.kind is TaskKind.MULTICLASS and ds.task.one_hot and ds.task.num_classes == 3
    assert ds.y_train.shape[1:] == (3,)
    assert ds.task.loss == "categorical_crossentropy"


def test_the_spec_task_overrides_the_labels() -> None:
    ds = loaded(np.array([0, 1, 2, 3, 4, 5, 6, 7]), task="regression")
    assert ds.task.kind is TaskKind.REGRESSION and not ds.task.inferred
    assert ds.task.describe() == "regression (from the spec)"


def test_classes_count_every_split_even_a_label_only_validation_holds() -> None:
    y = np.array([0, 1, 0, 1, 0, 1, 0, 2])  # class 2 only in the validation slice (the end)
    ds = loaded(y, task="multiclass")
    assert 2 not in ds.y_train and 2 in ds.y_val
    assert ds.task.num_classes == 3


# -- what the task decides ------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "loss", "metrics"), [
    (Task(TaskKind.MULTICLASS, num_classes=10), "sparse_categorical_crossentropy", ("accuracy",)),
    (Task(TaskKind.MULTICLASS, num_classes=10, one_hot=True), "categorical_crossentropy",
     ("accuracy",)),
    (Task(TaskKind.BINARY, num_classes=2), "binary_crossentropy", ("accuracy", "auc")),
    (Task(TaskKind.REGRESSION), "mean_squared_error", ("mae", "rmse")),
])
def test_the_task_decides_loss_and_metrics(task: Task, loss: str, metrics: tuple[str, ...]) -> None:
    assert task.loss == loss
    assert task.metric_names == metrics and task.primary_metric == metrics[0]
    # Keras takes the loss name, and the compiled metrics report under the names given.
    assert keras.losses.get(task.loss) is not None
    names = [m if isinstance(m, str) else m.name for m in task.compile_metrics()]
    assert names == list(metrics)


def test_extra_metrics_follow_the_defaults_without_repeating_them() -> None:
    task = Task(TaskKind.REGRESSION, extra_metrics=("mse", "mae", "mape"))
    assert task.metric_names == ("mae", "rmse", "mse", "mape")
    assert task.primary_metric == "mae"


@pytest.mark.parametrize(("task", "units", "activation"), [
    (Task(TaskKind.MULTICLASS, num_classes=7), 7, "softmax"),
    (Task(TaskKind.BINARY, num_classes=2), 1, "sigmoid"),
    (Task(TaskKind.REGRESSION), 1, "linear"),
])
def test_the_head_fits_the_task(task: Task, units: int, activation: str) -> None:
    out = task.head(keras.Input((4,)))
    layer = out._keras_history.operation  # noqa: SLF001 - the layer that made the tensor
    assert out.shape == (None, units)
    assert layer.get_config()["activation"] == activation


@pytest.mark.parametrize(("task", "text"), [
    (Task(TaskKind.MULTICLASS, num_classes=10, inferred=True),
     "multiclass, 10 classes (inferred from the labels)"),
    (Task(TaskKind.MULTICLASS, num_classes=3, one_hot=True),
     "multiclass, 3 classes, one-hot labels (from the spec)"),
    (Task(TaskKind.BINARY, num_classes=2, inferred=True), "binary (inferred from the labels)"),
])
def test_describe(task: Task, text: str) -> None:
    assert task.describe() == text
