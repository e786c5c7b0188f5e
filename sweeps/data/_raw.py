"""What every source hands on before checks and hold-outs, and the normaliser of Python data.

A source (a file reader, scikit-learn, a loader function, arrays given from Python) returns a
:class:`RawData`: its train split and whichever validation and test splits it has, plus the
two words that start each error about them, the file (or loader) and the spec key that named
it, so every message reads ``train.npz: data.path: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sweeps.data._stream import Stream, is_stream, read_stream
from sweeps.errors import DataError, one_line

__all__ = ["SPLITS", "Pair", "RawData", "data_error", "describe", "from_python"]

#: ``(x, y)``: arrays, or a batched stream (read by Keras as it is) and its labels.
Pair = tuple["np.ndarray | Stream", np.ndarray]
SPLITS = ("train", "validation", "test")
_EXPECTED = ("((x_train, y_train), (x_test, y_test)) as keras.datasets returns, an (x, y) pair, "
             "or a mapping with 'train' and optional 'validation' and 'test', each an (x, y) "
             "pair of arrays or a batched tf.data.Dataset or keras.utils.PyDataset")


def data_error(where: str, key: str, message: str) -> DataError:
    """A :class:`DataError` that starts with the file (or loader) and the spec key path."""
    return DataError(f"{where}: {key}: {message}")


@dataclass(frozen=True)
class RawData:
    """The splits a source gives, unchecked and whole."""

    #: Where the data came from, as shown to the user (a path, ``sklearn.datasets.load_iris``).
    source: str
    #: What errors about these arrays start with: the file or the loader.
    where: str
    #: The spec key that named ``where`` (``data.path``, ``data.loader``...).
    key: str
    train: Pair
    validation: Pair | None = None
    test: Pair | None = None
    #: Category names, label ``i`` being ``class_names[i]`` (image folders, text labels).
    class_names: tuple[str, ...] | None = None
    #: The spec key that picked the labels, where one did (a CSV's ``data.target``):
    #: what an error about the labels names; else ``key``.
    label_key: str | None = None

    def splits(self) -> dict[str, Pair]:
        """The splits present, in the order train, validation, test."""
        found = {"train": self.train, "validation": self.validation, "test": self.test}
        return {name: pair for name, pair in found.items() if pair is not None}

    def error(self, message: str, key: str | None = None) -> DataError:
        return data_error(self.where, key or self.key, message)


def describe(obj: Any) -> str:
    """A short phrase for what a loader returned: ``a tuple of 3 items (array (10, 4), ...)``."""
    if obj is None:
        return "None"
    if isinstance(obj, np.ndarray):
        return f"an array of shape {obj.shape}"
    if isinstance(obj, Mapping):
        return f"a {type(obj).__name__} with keys {[str(k) for k in obj]}"
    if isinstance(obj, (tuple, list)):
        items = ", ".join(_brief(item) for item in obj[:4]) + (", ..." if len(obj) > 4 else "")
        return f"a {type(obj).__name__} of {len(obj)} items ({items})"
    return f"a {type(obj).__name__}"


def _brief(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return f"array {obj.shape}"
    if isinstance(obj, (tuple, list)):
        return f"{type(obj).__name__} of {len(obj)}"
    return type(obj).__name__


def _is_pair(obj: Any) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2


def from_python(obj: Any, *, source: str | None, where: str, key: str) -> RawData:
    """Splits from what a loader function returned or what was given from Python.

    Accepted: ``((x_train, y_train), (x_test, y_test))`` as ``keras.datasets.*.load_data()``
    returns (told apart from an ``(x, y)`` pair by both items being 2-tuples); an ``(x, y)``
    pair (training examples only); a mapping with ``train`` and optional ``validation`` and
    ``test``, each an ``(x, y)`` pair or a batched ``tf.data.Dataset`` /
    ``keras.utils.PyDataset`` (a lone one is the train split; two, the train and validation
    splits, as ``image_dataset_from_directory(subset="both")`` returns them). Arrays are
    taken as they are; array-likes (lists, DataFrames) go through ``np.asarray``; a stream
    is read once for its labels and kept as it is (:mod:`sweeps.data._stream`). ``source``
    ``None``: data given from Python, described by its form.
    """
    given: dict[str, Any]
    if isinstance(obj, Mapping):
        unknown = [str(k) for k in obj if k not in SPLITS]
        if obj.get("train") is None or unknown:
            raise data_error(where, key, f"expected {_EXPECTED}; got {describe(obj)}")
        given = {name: obj[name] for name in SPLITS if obj.get(name) is not None}
    elif is_stream(obj):
        given = {"train": obj}
    elif _is_pair(obj) and all(is_stream(part) for part in obj):
        # (train_ds, val_ds), as image_dataset_from_directory(subset="both") returns them
        given = {"train": obj[0], "validation": obj[1]}
    elif _is_pair(obj) and all(isinstance(part, tuple) and len(part) == 2 for part in obj):
        given = {"train": obj[0], "test": obj[1]}
    elif _is_pair(obj):
        given = {"train": obj}
    else:
        raise data_error(where, key, f"expected {_EXPECTED}; got {describe(obj)}")
    pairs = {name: _as_pair(value, name, where, key) for name, value in given.items()}
    if source is None:  # given from Python: say in what form
        first = pairs["train"][0]
        source = f"{first.kind if isinstance(first, Stream) else 'arrays'} given from Python"
    return RawData(source=source, where=where, key=key, train=pairs["train"],
                   validation=pairs.get("validation"), test=pairs.get("test"))


def _as_pair(value: Any, split: str, where: str, key: str) -> Pair:
    if is_stream(value):
        stream = read_stream(value, split, where=where, key=key)
        return stream, stream.labels
    if not _is_pair(value):
        raise data_error(where, key, f"expected the {split} split as an (x, y) pair of arrays, "
                                     f"got {describe(value)}")
    arrays = []
    for part, item in zip("xy", value):
        try:
            arrays.append(np.asarray(item))
        except (ValueError, TypeError) as exc:
            raise data_error(where, key, f"{split} {part} cannot be made into an array "
                                         f"({type(exc).__name__}: {one_line(exc)})") from None
    return arrays[0], arrays[1]
