"""The :class:`Dataset` a sweep trains on, and :func:`load_dataset`, which builds it.

Whatever the source, the same steps follow: check the arrays, hold out the slices the source
does not provide (one :func:`split_examples` for all), then settle the task::

    ds = load_dataset(DataSpec("csv", path="houses.csv", target="price"), seed=7)
    ds.task.kind, ds.sizes      # TaskKind.REGRESSION, {"train": 900, "validation": 100, "test": 0}
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sweeps.data._checks import check_arrays, check_labels
from sweeps.data._raw import Pair, RawData
from sweeps.data._sources import check_spec, read_source
from sweeps.data._stream import Stream, chain
from sweeps.errors import DataError
from sweeps.task import Task, TaskKind, class_count, infer_task, is_one_hot

if TYPE_CHECKING:
    from sweeps.spec import DataSpec

__all__ = ["Dataset", "load_dataset", "no_test_set", "split_examples"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    r"""Train, validation and (when there is one) test examples, and the task they pose.

    The ``x_*`` are arrays, or :class:`~sweeps.data._stream.Stream`\ s of the user's batched
    datasets (then ``streamed``); the ``y_*`` are always arrays of labels. Training and
    evaluation take their inputs from :meth:`fit_inputs` and :meth:`test_inputs`, which hand
    Keras each form as it reads it.
    """

    name: str
    #: Where the examples came from, as shown to the user.
    source: str
    x_train: np.ndarray | Stream
    y_train: np.ndarray
    x_val: np.ndarray | Stream
    y_val: np.ndarray
    #: ``None`` when the source has no test set and ``data.test_split`` is not set.
    x_test: np.ndarray | Stream | None
    y_test: np.ndarray | None
    task: Task
    #: Label ``i``'s name (text labels, image subfolders, scikit-learn's target names).
    class_names: tuple[str, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def has_test(self) -> bool:
        return self.x_test is not None

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.x_train), "validation": len(self.x_val),
                "test": len(self.x_test) if self.x_test is not None else 0}

    @property
    def streamed(self) -> bool:
        """Whether the examples are the user's batched datasets rather than arrays."""
        return isinstance(self.x_train, Stream)

    def fit_inputs(self) -> dict[str, Any]:
        """``fit``'s ``x``, ``y`` and ``validation_data``, in the form Keras reads each."""
        if isinstance(self.x_train, Stream):
            assert isinstance(self.x_val, Stream)
            return dict(x=self.x_train.data, validation_data=self.x_val.data)
        return dict(x=self.x_train, y=self.y_train, validation_data=(self.x_val, self.y_val))

    def pooled(self) -> Dataset:
        """This dataset with the validation examples added to the training ones (the final
        fit's data): arrays joined, or one stream read after the other."""
        x_train, x_val = self.x_train, self.x_val
        if isinstance(x_train, Stream) and isinstance(x_val, Stream):
            x: np.ndarray | Stream = dataclasses.replace(
                x_train, data=chain(x_train, x_val), batches=x_train.batches + x_val.batches,
                labels=np.concatenate([x_train.labels, x_val.labels]))
        else:
            x = np.concatenate([x_train, x_val])
        return dataclasses.replace(self, x_train=x,
                                   y_train=np.concatenate([self.y_train, self.y_val]))

    def test_inputs(self) -> dict[str, Any]:
        """``evaluate``'s ``x`` and ``y`` for the test split (there must be one)."""
        if isinstance(self.x_test, Stream):
            return dict(x=self.x_test.data)
        assert self.x_test is not None
        return dict(x=self.x_test, y=self.y_test)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Training batches in one epoch: a stream's own, else at ``batch_size``."""
        if isinstance(self.x_train, Stream):
            return self.x_train.batches
        return math.ceil(len(self.x_train) / batch_size)

    def sample(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``count`` training examples as arrays (at most a batch of a stream)."""
        x = self.x_train.head if isinstance(self.x_train, Stream) else self.x_train
        return x[:count], self.y_train[:len(x[:count])]


def no_test_set(data: Dataset) -> str:
    """Why there is no test evaluation, and how to get one for data of this form."""
    if data.streamed:
        return ("no test set: give a test dataset too (data={'train': ..., 'validation': ..., "
                "'test': ...})")
    return "no test set: set data.test_split to hold one out"


def load_dataset(spec: DataSpec, *, task: TaskKind | str | None = None,
                 metrics: tuple[str, ...] = (), seed: int = 0) -> Dataset:
    """Read, check and split the spec's data, and settle its task.

    ``task`` is the spec's ``task`` (``None``: inferred from the training labels); ``metrics``
    the spec's extra metric names; ``seed`` orders the examples when ``data.shuffle`` is set.
    Every problem with the data is a :class:`~sweeps.errors.DataError` raised here, before any
    trial starts.
    """
    check_spec(spec)
    raw = check_arrays(read_source(spec))
    train, validation, test = split_examples(raw, spec, seed)
    kind = TaskKind(task) if task is not None else infer_task(train[1])
    check_labels(raw, kind, {"train": train, "validation": validation, "test": test})
    num_classes = None
    if kind is TaskKind.BINARY:
        num_classes = 2
    elif kind is TaskKind.MULTICLASS:
        labels = [pair[1] for pair in (train, validation, test) if pair is not None]
        num_classes = max(class_count(labels), len(raw.class_names or ()))
    resolved = Task(kind, num_classes=num_classes, extra_metrics=tuple(metrics),
                    inferred=task is None,
                    one_hot=kind is TaskKind.MULTICLASS and is_one_hot(train[1]))
    dataset = Dataset(
        name=spec.name, source=raw.source, x_train=train[0], y_train=train[1],
        x_val=validation[0], y_val=validation[1], x_test=test[0] if test is not None else None,
        y_test=test[1] if test is not None else None, task=resolved, class_names=raw.class_names,
    )
    sizes = dataset.sizes
    _log.info("%s from %s: %d train, %d validation, %d test; %s", spec.name, raw.source,
              sizes["train"], sizes["validation"], sizes["test"], resolved.describe())
    if kind is not TaskKind.REGRESSION and raw.validation is None and not spec.shuffle:
        _warn_single_class(dataset)
    return dataset


def split_examples(raw: RawData, spec: DataSpec, seed: int) -> tuple[Pair, Pair, Pair | None]:
    """``(train, validation, test)``: the source's own splits, the rest held out of train.

    With ``data.shuffle`` the training examples are permuted once with ``seed``; otherwise
    slices come off the end, in file order. A test slice (``data.test_split``) is held out
    first, only when the source has no test set; then ``data.subset`` keeps the first
    examples; then the validation slice is held out of those unless the source has one.
    Without shuffling every part is a view of the source's array.
    """
    x, y = raw.train
    if isinstance(x, Stream):
        return _stream_splits(raw, spec)
    order = np.random.default_rng(seed).permutation(len(x)) if spec.shuffle else None

    def take(start: int, stop: int) -> Pair:
        index = slice(start, stop) if order is None else order[start:stop]
        return x[index], y[index]

    end = len(x)
    test = raw.test
    if test is None and spec.test_split is not None:
        end -= _held_out(raw, end, spec.test_split, "test_split")
        test = take(end, len(x))
    if spec.subset is not None:
        if spec.subset > end:
            after = f" (after holding out {len(x) - end} for the test set)" if end < len(x) else ""
            raise DataError(f"{raw.where}: data.subset is {spec.subset} but {spec.name} has "
                            f"only {end} training examples{after}")
        end = spec.subset
    validation = raw.validation
    if validation is None:
        held = _held_out(raw, end, spec.validation_split, "validation_split")
        validation = take(end - held, end)
        end -= held
    return take(0, end), validation, test


def _stream_splits(raw: RawData, spec: DataSpec) -> tuple[Pair, Pair, Pair | None]:
    """A stream's splits are the user's: sweeps cannot hold examples out of a dataset it
    does not hold, nor reorder one (a ``tf.data`` pipeline shuffles itself)."""
    kind = raw.train[0].kind  # type: ignore[union-attr]
    if raw.validation is None:
        raise raw.error(f"a {kind} is split by its pipeline, not by sweeps: give the "
                        "validation data too (sweeps.tune(..., validation_data=val_ds), or "
                        "{'train': ..., 'validation': ...})")
    # data.shuffle (on by default for arrays) does not apply: the pipeline orders its batches.
    refused = [("subset", spec.subset)] if spec.subset is not None else []
    if raw.test is None and spec.test_split is not None:
        refused.append(("test_split", spec.test_split))
    if refused:
        key, value = refused[0]
        raise raw.error(f"a {kind} is read as it is, batch by batch; expected no "
                        f"data.{key}, got {value!r}: take, shuffle or split it in the "
                        "pipeline", key=f"data.{key}")
    return raw.train, raw.validation, raw.test


def _held_out(raw: RawData, available: int, fraction: float, key: str) -> int:
    count = max(1, round(available * fraction))
    if available - count < 1:
        raise raw.error(f"holding out {fraction} of {available} training examples leaves none "
                        "to train on; give more examples or lower the fraction",
                        key=f"data.{key}")
    return count


def _warn_single_class(dataset: Dataset) -> None:
    if dataset.streamed:
        return
    if len(np.unique(dataset.y_val)) == 1 and len(np.unique(dataset.y_train)) > 1:
        _log.warning("%s: the validation slice holds a single class: the examples are probably "
                     "sorted by label; set data.shuffle: true", dataset.source)
