"""What is being learned: multi-class or binary classification, or regression.

The task decides the loss, the default metrics, the bundled hypermodels' output head and so
what the test set reports; nothing else in sweeps assumes "accuracy". It is given in the
spec (``task: regression``) or inferred from the training labels by :func:`infer_task`.

    task = Task(TaskKind.BINARY)
    task.loss, task.metric_names        # "binary_crossentropy", ("accuracy", "auc")

Keras is imported only by the methods that build layers and metrics.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TaskKind", "Task", "infer_task", "is_one_hot", "class_count", "MAX_CLASSES"]

#: Integer labels with more distinct values than this are taken for a regression target.
MAX_CLASSES = 1000


class TaskKind(str, enum.Enum):
    MULTICLASS = "multiclass"
    BINARY = "binary"
    REGRESSION = "regression"


_LOSS = {
    TaskKind.MULTICLASS: "sparse_categorical_crossentropy",
    TaskKind.BINARY: "binary_crossentropy",
    TaskKind.REGRESSION: "mean_squared_error",
}
_DEFAULT_METRICS = {
    TaskKind.MULTICLASS: ("accuracy",),
    TaskKind.BINARY: ("accuracy", "auc"),
    TaskKind.REGRESSION: ("mae", "rmse"),
}


@dataclass(frozen=True)
class Task:
    kind: TaskKind
    #: Classes of a multi-class task (labels 0..num_classes-1); 2 for binary, None otherwise.
    num_classes: int | None = None
    #: Keras metric names the spec adds to the task's defaults.
    extra_metrics: tuple[str, ...] = ()
    #: Whether the kind came from the labels rather than the spec (shown to the user).
    inferred: bool = False
    #: Multi-class labels given one-hot (``keras.utils.to_categorical``), one column per
    #: class: trained with ``categorical_crossentropy`` as they come, not converted.
    one_hot: bool = False

    @property
    def loss(self) -> str:
        if self.one_hot:
            return "categorical_crossentropy"
        return _LOSS[self.kind]

    @property
    def metric_names(self) -> tuple[str, ...]:
        """What a model compiled by sweeps reports each epoch besides ``loss``."""
        names = _DEFAULT_METRICS[self.kind]
        return names + tuple(m for m in self.extra_metrics if m not in names)

    @property
    def primary_metric(self) -> str:
        """The metric reports and plots show beside the loss."""
        return self.metric_names[0]

    def describe(self) -> str:
        classes = f", {self.num_classes} classes" if self.kind is TaskKind.MULTICLASS else ""
        if self.one_hot:
            classes += ", one-hot labels"
        how = "inferred from the labels" if self.inferred else "from the spec"
        return f"{self.kind.value}{classes} ({how})"

    def compile_metrics(self) -> list[Any]:
        """Keras metric objects for ``model.compile``, named as ``metric_names`` says."""
        import keras

        built: dict[str, Any] = {
            "auc": keras.metrics.AUC(name="auc"),
            "rmse": keras.metrics.RootMeanSquaredError(name="rmse"),
        }
        return [built.get(name, name) for name in self.metric_names]

    def head(self, x: Any, kernel_regularizer: Any = None) -> Any:
        """The output layer of a bundled hypermodel: softmax, one sigmoid unit, or linear
        (its weights penalised by ``kernel_regularizer``, if given)."""
        import keras

        units, activation = {TaskKind.MULTICLASS: (self.num_classes, "softmax"),
                             TaskKind.BINARY: (1, "sigmoid")}.get(self.kind, (1, None))
        return keras.layers.Dense(units, activation=activation, name="output",
                                  kernel_regularizer=kernel_regularizer)(x)


def infer_task(labels: np.ndarray) -> TaskKind:
    """The task the labels suggest.

    Floats with fractional values are regression targets; labels that are only 0 and 1 are
    binary; other integer labels (or integral floats) from 0 up, with at most
    :data:`MAX_CLASSES` distinct values, are classes; anything else is regression. A float
    column of whole numbers (scikit-learn's diabetes progression) is regression too.
    """
    import numpy as np

    y = np.asarray(labels)
    if y.ndim > 1 and y.shape[-1] != 1:
        # One-hot classes (keras.utils.to_categorical) or several targets per example.
        return TaskKind.MULTICLASS if is_one_hot(y) else TaskKind.REGRESSION
    y = y.reshape(-1)
    if y.dtype == bool:
        return TaskKind.BINARY
    if not np.issubdtype(y.dtype, np.number):
        return TaskKind.MULTICLASS  # category names; the loader maps them to codes
    finite = y[np.isfinite(y)] if np.issubdtype(y.dtype, np.floating) else y
    values = np.unique(finite)
    if set(values.tolist()) <= {0, 1} and len(values) == 2:
        return TaskKind.BINARY
    if np.issubdtype(y.dtype, np.integer) and values.min() >= 0 and len(values) <= MAX_CLASSES:
        return TaskKind.MULTICLASS
    return TaskKind.REGRESSION


def is_one_hot(labels: np.ndarray) -> bool:
    """Whether ``labels`` are one-hot rows: 2-D, at least two columns, each row all zeros
    but a single one."""
    import numpy as np

    y = np.asarray(labels)
    if y.ndim != 2 or y.shape[1] < 2 or not len(y) or y.dtype.kind not in "biuf":
        return False
    return bool(((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all())


def class_count(label_arrays: Sequence[np.ndarray]) -> int:
    """Classes of a multi-class task: one more than the largest label anywhere (the columns
    of one-hot labels)."""
    import numpy as np

    if any(is_one_hot(y) for y in label_arrays):
        return int(max(y.shape[1] for y in label_arrays))
    return int(max(int(np.max(y)) for y in label_arrays if len(y))) + 1
