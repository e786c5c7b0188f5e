"""The spec's ``data:`` section: which dataset, how it is split, and a digest of arrays given
from Python.

    data:
      name: mnist
      subset: 2000
"""

from __future__ import annotations

import re
from typing import Any

from sweeps.spec._limits import MAX_INTEGER
from sweeps.spec._model import DATA_KEYS, DataSpec
from sweeps.spec._reader import MISSING, Node, describe

__all__ = ["DATASETS"]

#: Every ``data.name``: IDX datasets, files, scikit-learn's bundled sets, a loader function,
#: and arrays given from Python.
DATASETS = ("mnist", "fashion_mnist", "npz", "csv", "image_folder", "digits", "iris", "wine",
            "breast_cancer", "diabetes", "loader", "arrays")
_IDX_DATASETS = ("mnist", "fashion_mnist")
#: ``"module:function"``: a data loader's or a hypermodel builder's import path.
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def _data(node: Node, arrays: Any) -> DataSpec:
    name = node.string("name", "arrays" if arrays is not None else
                       "loader" if node.has("loader") else MISSING, choices=DATASETS)
    keys = DATA_KEYS.get(name, ())
    values: dict[str, Any] = {}
    for key in ("dir", "path", "target", "loader"):
        if key in keys:
            required = key != "dir"
            values[key] = node.string(key, MISSING if required else None, nullable=not required)
        elif node.raw(key, None) is not None:
            node.fail(key, f"is not used by data.name {name!r} (it reads: "
                           f"{', '.join(keys) or 'no file'}), got {describe(node.data[key])}")
    if "image_size" in keys:
        size = node.raw("image_size")
        if (not isinstance(size, list) or len(size) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size)):
            node.fail("image_size", f"expected [height, width] in pixels, got {describe(size)}")
        values["image_size"] = (size[0], size[1])
    else:
        node.raw("image_size", None)
    if "loader" in values and not _IMPORT_PATH.fullmatch(values["loader"]):
        node.fail("loader", "expected an import path \"module:function\", got "
                            f"{describe(values['loader'])}")
    if name == "arrays" and arrays is None:
        node.fail("name", "expected a data source that a YAML spec can name (\"arrays\" is "
                          "given from Python by sweeps.tune), got \"arrays\"")
    test_split = node.raw("test_split", None)
    spec = DataSpec(
        name=name,
        validation_split=node.number("validation_split", 0.1, minimum=0.0, maximum=0.5,
                                     exclusive_minimum=True),
        test_split=None if test_split is None else node.number(
            "test_split", minimum=0.0, maximum=0.5, exclusive_minimum=True),
        subset=node.integer("subset", None, minimum=20, maximum=MAX_INTEGER,
                            nullable=True),
        shuffle=node.boolean("shuffle", name not in _IDX_DATASETS),
        arrays=arrays, digest=_digest(arrays) if arrays is not None else None,
        **values,
    )
    node.raw("digest", None)  # written by `show` for in-memory data; recomputed, not read
    node.finish()
    return spec


def _digest(arrays: Any) -> str:
    from sweeps.data import content_digest

    return content_digest(arrays)
