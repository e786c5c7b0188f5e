"""The IDX reader against the real MNIST files, and the order of places data comes from."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from sweeps import data
from sweeps.data import IDX_FILES, find_idx_dir, load_arrays, load_dataset, read_idx
from sweeps.errors import DataError
from sweeps.spec import DataSpec

# From ../shared/data/mnist/README.md: the canonical files' training label counts.
MNIST_TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_reads_the_real_mnist_files_like_keras(mnist_dir: Path) -> None:
    (x_train, y_train), (x_test, y_test) = load_arrays("mnist", str(mnist_dir))[0]
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_LABEL_COUNTS
    pixels = x_train / 255.0
    assert pixels.mean() == pytest.approx(0.1307, abs=1e-4)
    assert pixels.std() == pytest.approx(0.3081, abs=1e-4)


def test_plain_idx_files_read_the_same_as_gzipped(mnist_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "mnist"
    plain.mkdir()
    for stem in IDX_FILES:
        with gzip.open(mnist_dir / f"{stem}.gz") as src, open(plain / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    (x_plain, y_plain), _ = load_arrays("mnist", str(plain))[0]
    (x_gz, y_gz), _ = load_arrays("mnist", str(mnist_dir))[0]
    assert np.array_equal(x_plain, x_gz) and np.array_equal(y_plain, y_gz)


def test_bad_idx_files_are_named_in_the_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
    with pytest.raises(DataError, match=r"bad-idx1-ubyte: not an IDX file of unsigned bytes"):
        read_idx(bad)
    short = tmp_path / "short-idx1-ubyte"
    short.write_bytes(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(DataError, match=r"short-idx1-ubyte: header declares shape \(5,\)"):
        read_idx(short)


def test_explicit_dir_without_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not hold the four IDX files of mnist"):
        load_arrays("mnist", str(tmp_path))


def test_env_dir_is_used_by_dataset_name_only(mnist_dir: Path, tmp_path: Path) -> None:
    # An env folder named "mnist" feeds MNIST sweeps, never Fashion-MNIST ones...
    assert find_idx_dir("mnist", mnist_dir, by_name=True) == mnist_dir
    assert find_idx_dir("fashion_mnist", mnist_dir, by_name=True) is None
    # ...and a root folder with one subfolder per dataset serves each by its name.
    root = tmp_path / "datasets"
    shutil.copytree(mnist_dir, root / "fashion-mnist")
    assert find_idx_dir("fashion_mnist", root, by_name=True) == root / "fashion-mnist"
    assert find_idx_dir("mnist", root, by_name=True) is None


def test_no_source_lists_every_way_to_provide_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    def offline() -> None:
        raise OSError("network is unreachable")

    monkeypatch.setenv("SWEEPS_DATA_DIR", str(tmp_path))
    # The dict itself is patched: sweeps.data re-exports the one sweeps.data._idx reads.
    monkeypatch.setitem(data.DEBIAN_DIRS, "fashion_mnist", tmp_path / "not-installed")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(DataError) as info:
        load_arrays("fashion_mnist")
    message = str(info.value)
    for way in ("--data-dir", "data.dir", "$SWEEPS_DATA_DIR", "apt-get install dataset-fashion-mnist",
                "~/.keras/datasets", "network is unreachable"):
        assert way in message


def test_subset_and_validation_split_hold_out_the_end(mnist_dir: Path) -> None:
    ds = load_dataset(DataSpec("mnist", dir=str(mnist_dir), validation_split=0.2, subset=1000))
    (x_all, y_all), (x_test, _) = load_arrays("mnist", str(mnist_dir))[0]
    assert len(ds.x_train) == 800 and len(ds.x_val) == 200
    assert np.array_equal(ds.x_val, x_all[800:1000]) and np.array_equal(ds.y_train, y_all[:800])
    assert len(ds.x_test) == len(x_test)  # the test set is never cut
    assert ds.task.num_classes == 10 and ds.input_shape == (28, 28)


def test_subset_larger_than_the_training_set(mnist_dir: Path) -> None:
    with pytest.raises(DataError, match=r"data\.subset is 70000 but mnist has only 60000"):
        load_dataset(DataSpec("mnist", dir=str(mnist_dir), subset=70000))


@pytest.mark.skipif(not data.DEBIAN_DIRS["fashion_mnist"].is_dir(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWEEPS_DATA_DIR", raising=False)
    (x_train, y_train), (x_test, _), = load_arrays("fashion_mnist")[0]
    assert load_arrays("fashion_mnist")[1] == str(data.DEBIAN_DIRS["fashion_mnist"])
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10
