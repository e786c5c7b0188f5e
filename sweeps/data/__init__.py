"""The examples a sweep trains on: the user's own data or a bundled dataset.

``data.name`` picks the source (:data:`SOURCES`): MNIST and Fashion-MNIST from IDX files,
an ``npz`` archive, a ``csv`` table, an ``image_folder``, one of scikit-learn's bundled tables
(:data:`SKLEARN_DATASETS`), a ``loader`` function named ``"module:function"``, or ``arrays``
given from Python. :func:`load_dataset` reads it, checks it, holds out validation (and test)
slices and settles the task::

    from sweeps.data import load_dataset
    from sweeps.spec import DataSpec

    ds = load_dataset(DataSpec("npz", path="train.npz", shuffle=True), seed=1)
    ds.task.describe(), ds.sizes, ds.input_shape

pandas, scikit-learn and Keras are imported only by the sources that need them.
"""

from __future__ import annotations

from sweeps.data._dataset import Dataset, load_dataset, no_test_set
from sweeps.data._digest import content_digest
from sweeps.data._idx import (
    DATA_DIR_ENV,
    DEBIAN_DIRS,
    IDX_FILES,
    find_idx_dir,
    load_arrays,
    read_idx,
)
from sweeps.data._sources import SKLEARN_DATASETS, SOURCES
from sweeps.data._stream import Stream, feature_sample, fingerprint, head_batches, is_stream

__all__ = [
    "content_digest",
    "DATA_DIR_ENV",
    "DEBIAN_DIRS",
    "IDX_FILES",
    "SKLEARN_DATASETS",
    "SOURCES",
    "Dataset",
    "Stream",
    "feature_sample",
    "fingerprint",
    "head_batches",
    "is_stream",
    "find_idx_dir",
    "load_arrays",
    "load_dataset",
    "no_test_set",
    "read_idx",
]
