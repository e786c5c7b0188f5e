"""The user's files: a NumPy ``.npz`` archive, a CSV table, a folder of images per class.

Each reader returns :class:`~sweeps.data._raw.RawData` and raises a one-line
:class:`~sweeps.errors.DataError` naming the file and the spec key for anything it cannot
use. pandas and Keras are imported only by the reader that needs them.
"""

from __future__ import annotations

import difflib
import logging
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sweeps.data._raw import RawData, data_error
from sweeps.errors import one_line

__all__ = ["NPZ_ARRAYS", "read_csv", "read_image_folder", "read_npz"]

_log = logging.getLogger(__name__)

#: The arrays of an ``.npz`` source, by split: training arrays are required, the others
#: come in pairs or not at all.
NPZ_ARRAYS = {"train": ("x_train", "y_train"), "validation": ("x_val", "y_val"),
              "test": ("x_test", "y_test")}
#: A text column with more distinct values than this is one-hot encoded with a warning.
_MANY_CATEGORIES = 100
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length


def _existing(path: str, key: str, kind: str) -> Path:
    file = Path(path).expanduser()
    if not file.exists():
        raise data_error(str(file), key, f"expected {kind}, found nothing at this path")
    return file


def read_npz(path: str) -> RawData:
    """``x_train``/``y_train`` (and optional ``x_val``/``y_val``, ``x_test``/``y_test``).

    Arrays stored uncompressed (``np.savez``) are memory-mapped, so slicing them gives views
    and only what training touches is read; compressed ones (``np.savez_compressed``) are
    decompressed into memory.
    """
    file = _existing(path, "data.path", "an .npz archive of arrays")
    try:
        arrays = _open_npz(file)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise data_error(str(file), "data.path", f"expected an .npz archive of arrays (np.savez), "
                                                 f"could not read it: {one_line(exc)}") from None
    pairs = {}
    for split, names in NPZ_ARRAYS.items():
        present = [name for name in names if name in arrays]
        if split == "train" or present:
            missing = [name for name in names if name not in arrays]
            if missing:
                raise data_error(str(file), "data.path",
                                 f"expected arrays {' and '.join(names)}, found no "
                                 f"{' or '.join(missing)}; the archive holds: "
                                 f"{', '.join(sorted(arrays)) or 'nothing'}")
            pairs[split] = (arrays[names[0]], arrays[names[1]])
    return RawData(source=str(file.resolve()), where=str(file), key="data.path",
                   train=pairs["train"], validation=pairs.get("validation"),
                   test=pairs.get("test"))


def _open_npz(file: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``: stored members memory-mapped, compressed ones loaded.

    ``np.load(..., mmap_mode="r")`` ignores ``mmap_mode`` for archives, so stored members are
    mapped here at their offset inside the zip file.
    """
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(file) as archive, open(file, "rb") as handle:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            mapped = _map_member(file, handle, info) if info.compress_type == zipfile.ZIP_STORED \
                else None
            if mapped is None:
                with archive.open(info) as member:
                    mapped = np.lib.format.read_array(member, allow_pickle=False)
            arrays[name] = mapped
    return arrays


def _map_member(file: Path, handle: BinaryIO, info: zipfile.ZipInfo) -> np.ndarray | None:
    handle.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        return None
    handle.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        return None
    if dtype.hasobject or int(np.prod(shape)) == 0:
        return None  # read_array refuses pickled objects with a clear message; empty: no map
    return np.memmap(file, dtype=dtype, mode="r", shape=shape, offset=handle.tell(),
                     order="F" if fortran else "C")


def read_csv(path: str, target: str) -> RawData:
    """A table with a header row: ``target`` is the label column, every other column a feature.

    Text feature columns are one-hot encoded (categories from the whole file), booleans become
    0/1, and the features float32. Text labels stay text here; the loader turns them into class
    codes in sorted order. Empty cells are an error: sweeps does not guess missing values.
    """
    import pandas as pd

    file = _existing(path, "data.path", "a CSV file")
    try:
        table = pd.read_csv(file)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise data_error(str(file), "data.path", f"expected a CSV file with a header row, could "
                                                 f"not parse it: {one_line(exc)}") from None
    columns = [str(c) for c in table.columns]
    if target not in columns:
        close = difflib.get_close_matches(target, columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise data_error(str(file), "data.target", f"no column {target!r}{hint}; the columns "
                                                   f"are: {', '.join(columns)}")
    labels = table[target]
    features = table.drop(columns=[target])
    if features.shape[1] == 0:
        raise data_error(str(file), "data.path", f"expected feature columns besides the target "
                                                 f"{target!r}, found none")
    _check_cells(file, labels.to_frame(), "data.target", "label")
    _check_cells(file, features, "data.path", "feature")
    text = list(features.select_dtypes(exclude=["number", "bool"]).columns)
    for column in text:
        if features[column].nunique() > _MANY_CATEGORIES:
            _log.warning("%s: column %r has %d distinct values; one-hot encoding adds a feature "
                         "for each", file, column, features[column].nunique())
    encoded = pd.get_dummies(features, columns=text, dtype=np.float32) if text else features
    x = encoded.to_numpy(dtype=np.float32)
    y = labels.to_numpy() if _numeric(labels) else labels.astype(str).to_numpy(dtype=object)
    return RawData(source=str(file.resolve()), where=str(file), key="data.path", train=(x, y),
                   label_key="data.target")


def _numeric(column) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _check_cells(file: Path, frame, key: str, what: str) -> None:
    empty = frame.isna()
    if not empty.to_numpy().any():
        return
    bad_rows = empty.any(axis=1).to_numpy()
    first = int(np.argmax(bad_rows))
    names = [str(c) for c in frame.columns[empty.any(axis=0).to_numpy()]]
    raise data_error(str(file), key, f"empty or NaN {what} cells in column(s) "
                                     f"{', '.join(map(repr, names))}; first at row {first + 1} "
                                     f"(line {first + 2} of the file), {int(bad_rows.sum())} rows "
                                     "in all")


def read_image_folder(path: str, image_size: Sequence[int]) -> RawData:
    """Images in one subfolder per class, resized to ``image_size`` (height, width), as RGB.

    Every image is decoded and held in memory as one uint8 array ``(N, height, width, 3)``:
    right for thousands of small images; for more, write a ``loader`` that streams. Labels
    are the subfolders' indices in sorted order, their names kept as the class names.
    """
    folder = _existing(path, "data.path", "a folder with one subfolder of images per class")
    if not folder.is_dir():
        raise data_error(str(folder), "data.path", "expected a folder with one subfolder of "
                                                   "images per class, found a file")
    import keras

    try:
        elements = keras.utils.image_dataset_from_directory(
            folder, labels="inferred", label_mode="int", color_mode="rgb", batch_size=None,
            image_size=tuple(image_size), shuffle=False,
        )
    except (ValueError, OSError) as exc:
        raise data_error(str(folder), "data.path", f"cannot read the images: "
                                                   f"{one_line(exc)}") from None
    class_names = tuple(str(name) for name in elements.class_names)
    images, labels = [], []
    try:
        for batch_images, batch_labels in elements.batch(256).as_numpy_iterator():
            images.append(np.clip(np.rint(batch_images), 0, 255).astype(np.uint8))
            labels.append(batch_labels.astype(np.int64))
    except Exception as exc:  # noqa: BLE001 - TensorFlow's decode errors have no common base
        raise data_error(str(folder), "data.path", f"cannot decode an image: {type(exc).__name__}: "
                                                   f"{one_line(exc)}") from None
    x = np.concatenate(images)
    y = np.concatenate(labels)
    return RawData(source=str(folder.resolve()), where=str(folder), key="data.path",
                   train=(x, y), class_names=class_names)
