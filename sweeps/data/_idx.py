"""MNIST and Fashion-MNIST, offline first, as the same arrays ``keras.datasets`` returns.

Where a dataset is read from, in order:

1. a folder of the four standard IDX files (gzipped or not): ``data.dir`` in the spec (or
   ``--data-dir``), else ``$SWEEPS_DATA_DIR``. ``$SWEEPS_DATA_DIR`` may hold one folder per
   dataset (``mnist/``, ``fashion_mnist/`` or ``fashion-mnist/``) or be the dataset's own
   folder, recognised by its name, so one variable cannot feed MNIST to a Fashion-MNIST sweep;
2. for Fashion-MNIST, Debian's ``dataset-fashion-mnist`` package folder;
3. Keras's own loader, which downloads once and caches under ``~/.keras/datasets``.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from sweeps.errors import DataError

__all__ = ["DATA_DIR_ENV", "DEBIAN_DIRS", "IDX_DATASETS", "IDX_FILES", "find_idx_dir",
           "load_arrays", "read_idx"]

DATA_DIR_ENV = "SWEEPS_DATA_DIR"
DEBIAN_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IDX_DATASETS = ("mnist", "fashion_mnist")
_FOLDER_NAMES = {"mnist": ("mnist",), "fashion_mnist": ("fashion_mnist", "fashion-mnist")}
_IDX_DTYPES = {0x08: np.uint8}
Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into an array of its declared shape."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the IDX file: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number "
                        f"{raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) + header
    if len(raw) != expected:
        raise DataError(f"{path}: header declares shape {shape} ({expected} bytes) but the "
                        f"file holds {len(raw)} bytes")
    return np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=header).reshape(shape)


def _idx_path(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def find_idx_dir(name: str, folder: Path, *, by_name: bool) -> Path | None:
    """The folder under (or at) ``folder`` that holds ``name``'s four IDX files.

    With ``by_name``, ``folder`` itself counts only if it is named after the dataset.
    """
    candidates = [folder / sub for sub in _FOLDER_NAMES[name]]
    if not by_name or folder.name in _FOLDER_NAMES[name]:
        candidates.append(folder)
    for candidate in candidates:
        if all(_idx_path(candidate, stem) for stem in IDX_FILES):
            return candidate
    return None


def _read_folder(folder: Path) -> Arrays:
    arrays = [read_idx(_idx_path(folder, stem)) for stem in IDX_FILES]  # type: ignore[arg-type]
    x_train, y_train, x_test, y_test = arrays
    for x, y, part in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(x) != len(y):
            raise DataError(f"{folder}: {part} images ({len(x)}) and labels ({len(y)}) differ "
                            "in count")
    return (x_train, y_train), (x_test, y_test)


def load_arrays(name: str, data_dir: str | None = None) -> tuple[Arrays, str]:
    """``((x_train, y_train), (x_test, y_test))`` and a description of where they came from."""
    tried: list[str] = []
    if data_dir is not None:
        folder = find_idx_dir(name, Path(data_dir).expanduser(), by_name=False)
        if folder is None:
            raise DataError(
                f"data.dir {data_dir!r} does not hold the four IDX files of {name} "
                f"({', '.join(IDX_FILES)}, each gzipped or not), directly or in a "
                f"{'/'.join(_FOLDER_NAMES[name])} subfolder"
            )
        return _read_folder(folder), str(folder)
    env_dir = os.environ.get(DATA_DIR_ENV)
    if env_dir:
        folder = find_idx_dir(name, Path(env_dir).expanduser(), by_name=True)
        if folder is not None:
            return _read_folder(folder), str(folder)
        tried.append(f"${DATA_DIR_ENV}={env_dir} (no {name} IDX files there)")
    debian = DEBIAN_DIRS.get(name)
    if debian is not None:
        if find_idx_dir(name, debian, by_name=False):
            return _read_folder(debian), str(debian)
        tried.append(f"{debian} (not installed)")
    try:
        import keras

        arrays = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # noqa: BLE001 - any download or cache failure ends up here
        tried.append(f"Keras's download ({type(exc).__name__}: {exc})")
        debian_hint = (
            f"; or `apt-get install dataset-fashion-mnist` (installs {debian})" if debian else ""
        )
        raise DataError(
            f"cannot load dataset {name!r}. Tried: {'; '.join(tried)}. Give it a folder of the "
            f"four IDX files ({', '.join(IDX_FILES)}, gzipped or not) with --data-dir, "
            f"data.dir in the spec, or ${DATA_DIR_ENV}{debian_hint}; or go online once so "
            "Keras can download and cache it under ~/.keras/datasets."
        ) from None
    return arrays, "keras.datasets (download cache)"
