"""Data that stays where it is: a batched ``tf.data.Dataset`` or a ``keras.utils.PyDataset``.

Keras's ``fit`` reads both batch by batch, and so does sweeps: every trial hands the user's
object to ``fit`` as it is, so a dataset too large for memory is never held whole. What sweeps
needs to know before the first trial it learns from one pass over the *labels* (the task, the
class count, a regression target's scale: a few bytes per example) and from the first batch
(the input shape and dtype, a sample for the input's normalisation, the logged input example)::

    stream = read_stream(train_ds, "train", where="sweeps.tune(data=...)", key="data")
    stream.shape, stream.dtype, len(stream)     # (60000, 28, 28), uint8, 60000

A :class:`Stream` answers ``len``, ``shape``, ``dtype`` and ``ndim`` as an array does, so the
checks and the task inference treat it as one; what only arrays allow (folds, held-out
slices, the linear baseline) asks :func:`is_stream` first.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sweeps.errors import DataError, one_line

__all__ = ["Stream", "chain", "feature_sample", "fingerprint", "head_batches", "is_stream",
           "read_stream"]

#: How many leading batches may stand for the whole stream where a sample is enough (the
#: features' mean and variance, the plan's timing).
SAMPLE_BATCHES = 8


def is_stream(obj: Any) -> bool:
    """Whether ``obj`` is a ``tf.data.Dataset`` or a ``keras.utils.PyDataset`` (or a
    :class:`Stream`), told by its class names so that asking imports nothing."""
    if isinstance(obj, Stream):
        return True
    return _is_tf_dataset(obj) or any(cls.__name__ == "PyDataset" for cls in type(obj).__mro__)


def _is_tf_dataset(obj: Any) -> bool:
    return any((cls.__module__.split(".")[0], cls.__name__) == ("tensorflow", "DatasetV2")
               for cls in type(obj).__mro__)


@dataclass(frozen=True, eq=False)
class Stream:
    """A user's batched dataset, with its labels read once and its first batch kept."""

    #: The user's object, handed to ``fit`` and ``evaluate`` as it is.
    data: Any
    #: ``"tf.data.Dataset"`` or ``"keras.utils.PyDataset"``, as messages name it.
    kind: str
    #: Every label, in the order of one pass (numeric, as Keras reads them).
    labels: np.ndarray = field(repr=False)
    #: The first batch's features.
    head: np.ndarray = field(repr=False)
    #: Batches in one pass.
    batches: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.labels), *self.head.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.head.dtype

    @property
    def ndim(self) -> int:
        return self.head.ndim


#: Streams already read, by the user's object: the sweep's identity (the spec's digest) and
#: the dataset both need the labels, and one pass over them is enough.
_READ: weakref.WeakKeyDictionary[Any, Stream] = weakref.WeakKeyDictionary()


def read_stream(obj: Any, split: str, *, where: str, key: str) -> Stream:
    """``obj`` read once for its labels: a :class:`~sweeps.errors.DataError` naming ``where``
    and ``key`` when it is endless, empty, or does not yield ``(x, y)`` batches of arrays."""
    if isinstance(obj, Stream):
        return obj
    with contextlib.suppress(TypeError):  # an object that takes no weak reference
        if obj in _READ:
            return _READ[obj]
    stream = _read(obj, split, where=where, key=key)
    with contextlib.suppress(TypeError):
        _READ[obj] = stream
    return stream


def _read(obj: Any, split: str, *, where: str, key: str) -> Stream:
    is_tf = _is_tf_dataset(obj)
    kind = "tf.data.Dataset" if is_tf else "keras.utils.PyDataset"

    def fail(message: str) -> DataError:
        return DataError(f"{where}: {key}: the {split} split, a {kind}: {message}")

    try:
        batches = _tf_batches(obj, fail) if is_tf else _py_batches(obj, fail)
        head: np.ndarray | None = None
        labels: list[np.ndarray] = []
        count = 0
        for batch in batches:
            x, y = _pair(batch, count, fail)
            if head is None:
                head = x
            labels.append(y)
            count += 1
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's pipeline; reported, not traced
        raise fail(f"reading it raised {type(exc).__name__}: {one_line(exc)}") from None
    if head is None:
        raise fail("it yields no batches")
    return Stream(data=obj, kind=kind, labels=np.concatenate(labels), head=head, batches=count)


def _tf_batches(obj: Any, fail: Any) -> Any:
    import tensorflow as tf

    cardinality = int(obj.cardinality())
    if cardinality == int(tf.data.INFINITE_CARDINALITY):
        raise fail("it repeats without end; give one pass (drop .repeat()): Keras then reads "
                   "it once per epoch")
    spec = obj.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise fail(f"expected (x, y) batches as Keras's fit takes them, got elements of "
                   f"{spec}")
    # One pass (a pipeline that reshuffles would give two passes different batches): the
    # first batch's features and every batch's labels cross into Python, no other features.
    def first_features(index: Any, element: Any) -> Any:
        x = element[0]
        return tf.cond(index == 0, lambda: x, lambda: x[:0]), element[1]

    return obj.enumerate().map(first_features).as_numpy_iterator()


def _py_batches(obj: Any, fail: Any) -> Any:
    count = obj.num_batches
    if count is None:
        raise fail("it has no length (num_batches is None): give one that ends, so each "
                   "epoch is one pass")
    return (obj[index] for index in range(count))


def _pair(batch: Any, index: int, fail: Any) -> tuple[np.ndarray | None, np.ndarray]:
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise fail(f"expected (x, y) batches as Keras's fit takes them, batch {index} is "
                   f"a {type(batch).__name__}")
    x, y = np.asarray(batch[0]) if index == 0 else None, np.asarray(batch[1])
    if x is not None and (x.dtype.kind not in "biuf" or x.ndim < 1):
        raise fail(f"expected numeric feature batches, batch 0's x is {x.dtype} of shape "
                   f"{x.shape}")
    if y.ndim == 0:
        raise fail(f"expected a batch of labels, batch {index}'s y is a single value")
    return x, y


def head_batches(stream: Stream, count: int = SAMPLE_BATCHES) -> Any:
    """The stream's first ``count`` batches, as ``fit`` takes them (the plan times these)."""
    if stream.kind == "tf.data.Dataset":
        return stream.data.take(count)
    return _classes()["slice"](stream.data, min(count, stream.batches))


def feature_sample(stream: Stream, count: int = SAMPLE_BATCHES) -> np.ndarray:
    """The features of the stream's first ``count`` batches, where a sample stands for all."""
    if count <= 1 or stream.batches == 1:
        return stream.head
    if stream.kind == "tf.data.Dataset":
        parts = [np.asarray(element[0]) for element in stream.data.take(count)]
    else:
        parts = [np.asarray(stream.data[index][0]) for index in range(min(count, stream.batches))]
    return np.concatenate(parts)


def chain(first: Stream, second: Stream) -> Any:
    """One pass over ``first`` then ``second`` (training plus validation for the final fit);
    both of one kind, as :func:`~sweeps.data.load_dataset` requires."""
    if first.kind == "tf.data.Dataset":
        return first.data.concatenate(second.data)
    return _classes()["chain"](first.data, second.data)


def fingerprint(obj: Any) -> bytes:
    """What tells one stream from another (a sweep's identity): its type, its shape, and its
    labels in sorted order, so that a pipeline that reshuffles each pass is the same data
    every time it is given. Its one read is the one :func:`read_stream` keeps."""
    try:
        stream = read_stream(obj, "given", where="", key="")
    except DataError:
        return type(obj).__qualname__.encode() + b"unreadable"  # loading says why, later
    labels = np.sort(np.ascontiguousarray(stream.labels), axis=0)
    return b"".join([type(stream.data).__qualname__.encode(), stream.kind.encode(),
                     f"{stream.batches}{stream.shape}{stream.dtype}{labels.dtype}".encode(),
                     labels.tobytes()])


@functools.cache
def _classes() -> dict[str, type]:
    """The PyDatasets sweeps composes, defined on first use so importing this imports no
    Keras."""
    import keras

    class Slice(keras.utils.PyDataset):
        """The first batches of a PyDataset."""

        def __init__(self, data: Any, count: int) -> None:
            super().__init__()
            self.data, self.count = data, count

        def __len__(self) -> int:
            return self.count

        def __getitem__(self, index: int) -> Any:
            return self.data[index]

    class Chain(keras.utils.PyDataset):
        """One PyDataset's batches, then another's."""

        def __init__(self, *parts: Any) -> None:
            super().__init__()
            self.parts = parts

        def __len__(self) -> int:
            return sum(part.num_batches for part in self.parts)

        def __getitem__(self, index: int) -> Any:
            for part in self.parts:
                if index < part.num_batches:
                    return part[index]
                index -= part.num_batches
            raise IndexError(index)

        def on_epoch_end(self) -> None:
            for part in self.parts:
                part.on_epoch_end()

    return {"slice": Slice, "chain": Chain}
