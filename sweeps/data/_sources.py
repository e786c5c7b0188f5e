"""Every ``data.name`` and the function that reads it.

- ``mnist``, ``fashion_mnist``: IDX files (:mod:`sweeps.data._idx`), train and test sets;
- ``npz``, ``csv``, ``image_folder``: the user's files (:mod:`sweeps.data._files`);
- ``digits``, ``iris``, ``wine``, ``breast_cancer``, ``diabetes``: scikit-learn's bundled
  tables, read from the installed package (no download);
- ``loader``: ``"module:function"``, called with no arguments;
- ``arrays``: data given from Python (``DataSpec.arrays``).

A loader returns, and ``arrays`` holds, what ``keras.datasets.*.load_data()`` returns, an
``(x, y)`` pair, or ``{"train": (x, y), "validation": (x, y), "test": (x, y)}`` with
validation and test optional, for example::

    # my_data.py, next to the spec; the spec says  data: {name: loader, loader: my_data:load}
    def load():
        frame = pandas.read_parquet("houses.parquet")
        return {"train": (frame[FEATURES].to_numpy("float32"), frame["price"].to_numpy())}
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sweeps.data._files import read_csv, read_image_folder, read_npz
from sweeps.data._idx import IDX_DATASETS, load_arrays
from sweeps.data._raw import RawData, data_error, from_python
from sweeps.errors import DataError, one_line
from sweeps.importer import ImportFailure, cwd_importable, import_object

if TYPE_CHECKING:
    from sweeps.spec import DataSpec

__all__ = ["SKLEARN_DATASETS", "SOURCES", "check_spec", "read_source"]

SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")
#: Every valid ``data.name``.
SOURCES = (*IDX_DATASETS, "npz", "csv", "image_folder", *SKLEARN_DATASETS, "loader", "arrays")
#: The spec fields each source needs besides ``name``.
_REQUIRED = {"npz": ("path",), "csv": ("path", "target"), "image_folder": ("path", "image_size"),
             "loader": ("loader",), "arrays": ("arrays",)}
_WHAT = {"path": "a file or folder path", "target": "the name of the label column",
         "image_size": "[height, width]", "loader": "'module:function'",
         "arrays": "the data given from Python"}
_ARRAYS_WHERE = "data given from Python"


def check_spec(spec: DataSpec) -> None:
    """What the YAML loader checks, again for a :class:`DataSpec` built in Python."""
    if spec.name not in SOURCES:
        close = difflib.get_close_matches(spec.name, SOURCES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataError(f"data.name: expected one of {', '.join(SOURCES)}, got "
                        f"{spec.name!r}{hint}")
    for field in _REQUIRED.get(spec.name, ()):
        if getattr(spec, field) is None:
            raise DataError(f"data.{field}: expected {_WHAT[field]} for data.name "
                            f"{spec.name!r}, got nothing")
    if not 0 < spec.validation_split < 1:
        raise DataError(f"data.validation_split: expected a fraction between 0 and 1, got "
                        f"{spec.validation_split!r}")
    if spec.test_split is not None and not 0 < spec.test_split < 1:
        raise DataError(f"data.test_split: expected a fraction between 0 and 1, got "
                        f"{spec.test_split!r}")
    if spec.subset is not None and spec.subset < 1:
        raise DataError(f"data.subset: expected a positive number of examples, got "
                        f"{spec.subset!r}")
    size = spec.image_size
    if size is not None and (len(size) != 2 or not all(isinstance(n, int) and n > 0 for n in size)):
        raise DataError(f"data.image_size: expected [height, width] in pixels, got {size!r}")


def read_source(spec: DataSpec) -> RawData:
    """The spec's data as the source gives it (``spec`` already passed :func:`check_spec`)."""
    name = spec.name
    if name in IDX_DATASETS:
        ((x_train, y_train), (x_test, y_test)), source = load_arrays(name, spec.dir)
        return RawData(source=source, where=source, key="data.dir", train=(x_train, y_train),
                       test=(x_test, y_test))
    if name == "npz":
        return read_npz(spec.path)
    if name == "csv":
        return read_csv(spec.path, spec.target)
    if name == "image_folder":
        return read_image_folder(spec.path, spec.image_size)
    if name in SKLEARN_DATASETS:
        return read_sklearn(name)
    if name == "loader":
        return read_loader(spec.loader)
    return from_python(spec.arrays, source=None, where=_ARRAYS_WHERE, key="data.arrays")


def read_sklearn(name: str) -> RawData:
    """One of scikit-learn's bundled tables, features float32, with its class names."""
    where = f"sklearn.datasets.load_{name}"
    try:
        from sklearn import datasets
    except ImportError:
        raise data_error(where, "data.name", f"{name!r} is one of scikit-learn's datasets; "
                                             "install it: pip install scikit-learn") from None
    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target)
    names = bunch.get("target_names") if np.issubdtype(y.dtype, np.integer) else None
    class_names = tuple(str(n) for n in names) if names is not None else None
    return RawData(source=where, where=where, key="data.name", train=(x, y),
                   class_names=class_names)


def read_loader(path: str) -> RawData:
    """Import ``"module:function"``, call it and take what it returns apart.

    The working directory is on ``sys.path`` while the module is imported and the function
    runs, so a ``my_data.py`` beside the spec is found; ``sys.path`` is restored afterwards.
    """
    where = f"loader {path}"
    with cwd_importable():
        function = _import_function(path, where)
        try:
            returned = function()
        except Exception as exc:  # noqa: BLE001 - the user's code; reported, not traced
            raise data_error(where, "data.loader", f"calling it raised {type(exc).__name__}: "
                                                   f"{one_line(exc)}") from None
    module = sys.modules.get(path.partition(":")[0])
    origin = getattr(module, "__file__", None)
    source = f"{path} ({origin})" if origin else path
    return from_python(returned, source=source, where=where, key="data.loader")


def _import_function(path: str, where: str) -> Callable[[], Any]:
    try:
        found = import_object(path, "module:function")
    except ImportFailure as exc:
        raise data_error(where, "data.loader", str(exc)) from None
    if not callable(found):
        raise data_error(where, "data.loader", f"expected a function, "
                                               f"{path.partition(':')[2]!r} is a "
                                               f"{type(found).__name__}")
    return found
