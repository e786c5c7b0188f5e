"""The checks every source's arrays pass before a trial can start.

:func:`check_arrays` runs on what a source gives (one row per example, x and y of one length
per split, numeric features of one shape in every split, finite values, labels that are numbers
or category names); :func:`check_labels` runs once the task is known. Each failure is a
one-line :class:`~sweeps.errors.DataError` that names the file (or loader), the spec key, the
split and the first bad index.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sweeps.data._raw import Pair, RawData
from sweeps.data._stream import Stream
from sweeps.task import TaskKind, is_one_hot

__all__ = ["check_arrays", "check_labels", "first_nonfinite"]

#: Values per chunk of the NaN scan: bounds its temporary memory on large arrays.
_CHUNK_VALUES = 1 << 22


def first_nonfinite(values: np.ndarray) -> int | None:
    """Index of the first example holding a NaN or infinity; ``None`` for integer arrays."""
    if values.dtype.kind != "f" or not len(values):
        return None
    per_example = max(1, int(np.prod(values.shape[1:])))
    rows = max(1, _CHUNK_VALUES // per_example)
    for start in range(0, len(values), rows):
        chunk = values[start:start + rows]
        finite = np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1)
        if not finite.all():
            return start + int(np.argmin(finite))
    return None


def check_arrays(raw: RawData) -> RawData:
    """``raw`` checked, with boolean labels as 0/1 and text labels as sorted class codes."""
    splits = raw.splits()
    for split, (x, y) in splits.items():
        if x.ndim == 0 or y.ndim == 0:
            raise raw.error(f"expected one row per example in the {split} split, got x of "
                            f"shape {x.shape} and y of shape {y.shape}")
        if len(x) != len(y):
            raise raw.error(f"the {split} split has {len(x)} examples in x but {len(y)} labels "
                            "in y")
        if not len(x):
            raise raw.error(f"the {split} split has no examples")
        if x.dtype.kind not in "biuf":
            raise raw.error(f"expected numeric features, the {split} split's x has dtype "
                            f"{x.dtype}")
    for part, index in (("feature", 0), ("label", 1)):
        shapes = {split: pair[index].shape[1:] for split, pair in splits.items()}
        if len(set(shapes.values())) > 1:
            found = ", ".join(f"{split} {shape}" for split, shape in shapes.items())
            raise raw.error(f"expected one {part} shape per example in every split, found "
                            f"{found}")
    streams = {type(x) for x, _ in splits.values()}
    if len(streams) > 1 and Stream in streams:
        raise raw.error(f"expected every split of one form, got {_forms(splits)}: give each "
                        "split as arrays, or each as a batched dataset")
    if Stream in streams and len({x.kind for x, _ in splits.values()}) > 1:
        raise raw.error(f"expected every split of one form, got {_forms(splits)}")
    for split, (x, y) in splits.items():
        if isinstance(x, Stream):
            bad = first_nonfinite(x.head)
            if bad is not None:
                raise raw.error(f"NaN or infinite feature in the {split} split's first batch, "
                                f"first at index {bad}")
            if y.dtype.kind not in "biuf":
                raise raw.error(f"expected numeric labels in the {split} split (Keras reads a "
                                f"dataset's labels as they are), got {y.dtype}")
            continue
        bad = first_nonfinite(x)
        if bad is not None:
            raise raw.error(f"NaN or infinite feature in the {split} split, first at index {bad}")
    return _labels_as_numbers(raw, splits)


def _forms(splits: dict[str, Pair]) -> str:
    return ", ".join(f"{split} {x.kind if isinstance(x, Stream) else 'arrays'}"
                     for split, (x, _) in splits.items())


def _labels_as_numbers(raw: RawData, splits: dict[str, Pair]) -> RawData:
    if any(y.dtype.kind in "USO" for _, y in splits.values()):
        return _labels_as_codes(raw, splits)
    labels = {split: y.astype(np.uint8) if y.dtype == bool else y
              for split, (_, y) in splits.items()}
    for split, y in labels.items():
        if y.dtype.kind not in "biuf":
            raise raw.error(f"expected numbers or category names as labels, the {split} split's "
                            f"y has dtype {y.dtype}")
        bad = first_nonfinite(y)
        if bad is not None:
            raise raw.error(f"NaN or infinite label in the {split} split, first at index {bad}")
    return _with_labels(raw, splits, labels, raw.class_names)


def _labels_as_codes(raw: RawData, splits: dict[str, Pair]) -> RawData:
    """Text labels become ``0..k-1`` in the sorted order of the names, across all splits."""
    texts = {}
    for split, (_, y) in splits.items():
        if y.dtype.kind == "O":
            kinds = {type(v).__name__ for v in y.ravel()} - {"str"}
            if kinds:
                raise raw.error(f"expected labels that are all numbers or all names, the "
                                f"{split} split mixes str with {', '.join(sorted(kinds))}")
        elif y.dtype.kind not in "US":
            raise raw.error(f"expected labels that are all numbers or all names, the {split} "
                            f"split has {y.dtype} labels beside text ones")
        texts[split] = y.astype(str)
    names = np.unique(np.concatenate([t.ravel() for t in texts.values()]))
    labels = {split: np.searchsorted(names, t).astype(np.int64) for split, t in texts.items()}
    return _with_labels(raw, splits, labels, tuple(str(n) for n in names))


def _with_labels(raw: RawData, splits: dict[str, Pair], labels: dict[str, np.ndarray],
                 class_names: tuple[str, ...] | None) -> RawData:
    pairs = {split: (x, labels[split]) for split, (x, _) in splits.items()}
    return dataclasses.replace(raw, train=pairs["train"], validation=pairs.get("validation"),
                               test=pairs.get("test"), class_names=class_names)


def check_labels(raw: RawData, kind: TaskKind, splits: dict[str, Pair | None]) -> None:
    """Labels fit for ``kind``: sparse class indices from 0, or 0/1, or numeric targets."""
    if kind is TaskKind.REGRESSION:
        if raw.class_names is not None:
            shown = ", ".join(raw.class_names[:5]) + (", ..." if len(raw.class_names) > 5 else "")
            raise raw.error(f"a regression task needs numeric targets, found class names "
                            f"({shown}); name a numeric column, or drop task: regression to "
                            "classify them", key=raw.label_key)
        return
    present = {split: pair for split, pair in splits.items() if pair is not None}
    if kind is TaskKind.MULTICLASS and is_one_hot(present["train"][1]):
        for split, (_, y) in present.items():
            if not is_one_hot(y):
                raise raw.error(f"the training labels are one-hot ({present['train'][1].shape[1]}"
                                f" columns), expected the {split} split's to be too, got "
                                f"labels of shape {y.shape}", key=raw.label_key)
        return
    for split, (_, y) in present.items():
        if y.ndim > 1 and y.shape[1:] != (1,):
            raise raw.error(f"a {kind.value} task needs one class index per example (or "
                            f"one-hot rows for a multiclass task), the {split} split has "
                            f"labels of shape {y.shape}", key=raw.label_key)
        y = y.reshape(-1)
        if kind is TaskKind.BINARY:
            bad = (y != 0) & (y != 1)
            expected = "labels 0 or 1"
        else:
            bad = y < 0
            if y.dtype.kind == "f":
                bad |= y != np.floor(y)
            expected = "integer labels from 0 (class indices)"
        if bad.any():
            index = int(np.argmax(bad))
            raise raw.error(f"a {kind.value} task needs {expected}, the {split} split has "
                            f"{y[index].item()!r} at index {index}", key=raw.label_key)
