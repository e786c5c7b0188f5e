"""The user's own data: every source read from real files, the split rules, and bad input.

Each bad-input test checks that the one-line message names the file (or loader) and the
spec key path, as a user reading only that line needs.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sweeps.data import SKLEARN_DATASETS, SOURCES, Dataset, load_dataset
from sweeps.errors import DataError
from sweeps.spec import DataSpec
from sweeps.task import TaskKind


def one_line_error(spec: DataSpec, match: str, **kwargs) -> str:
    with pytest.raises(DataError, match=match) as info:
        load_dataset(spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def numbered(n: int, features: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``x[i]`` is all ``i`` so every example can be traced; labels cycle through 0, 1, 2."""
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], features, axis=1)
    return x, np.arange(n) % 3


def write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


# --- sources -------------------------------------------------------------------------------


def test_sources_list_every_data_name() -> None:
    assert set(SKLEARN_DATASETS) <= set(SOURCES)
    own = {"mnist", "fashion_mnist", "npz", "csv", "image_folder", "loader", "arrays"}
    assert own <= set(SOURCES)


def test_npz_is_memory_mapped_and_sliced_into_views(tmp_path: Path) -> None:
    x, y = numbered(20)
    x_test, y_test = numbered(5)
    path = tmp_path / "train.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    ds = load_dataset(DataSpec("npz", path=str(path), validation_split=0.2))
    assert ds.sizes == {"train": 16, "validation": 4, "test": 5}
    assert np.array_equal(ds.x_val, x[16:]) and np.array_equal(ds.y_train, y[:16])
    assert np.array_equal(ds.x_test, x_test) and ds.has_test
    assert isinstance(ds.x_train, np.memmap) and np.shares_memory(ds.x_train, ds.x_val.base)
    assert ds.task.kind is TaskKind.MULTICLASS and ds.task.num_classes == 3 and ds.task.inferred


def test_compressed_npz_and_its_own_validation_set(tmp_path: Path) -> None:
    x, y = numbered(12)
    path = tmp_path / "train.npz"
    np.savez_compressed(path, x_train=x, y_train=y, x_val=x[:3], y_val=y[:3])
    ds = load_dataset(DataSpec("npz", path=str(path)))
    assert ds.sizes == {"train": 12, "validation": 3, "test": 0}  # nothing held out
    assert ds.x_test is None and not ds.has_test
    assert np.array_equal(ds.x_train, x)


def test_csv_one_hot_features_and_text_labels(tmp_path: Path) -> None:
    path = tmp_path / "pets.csv"
    rows = ["weight,color,indoor,species"]
    rows += [f"{w},{c},{i},{s}" for w, c, i, s in [
        (4.5, "black", True, "cat"), (30, "brown", False, "dog"), (0.1, "green", True, "bird"),
        (3.9, "white", True, "cat"), (25, "black", False, "dog"), (0.2, "blue", False, "bird"),
        (4.1, "brown", True, "cat"), (28, "white", False, "dog"), (0.3, "yellow", True, "bird"),
        (5.0, "grey", True, "cat"),
    ]]
    path.write_text("\n".join(rows) + "\n")
    ds = load_dataset(DataSpec("csv", path=str(path), target="species", validation_split=0.2))
    # weight + indoor + one column per colour of the whole file (grey is only in the last row)
    assert ds.input_shape == (1 + 1 + 7,) and ds.x_train.dtype == np.float32
    assert ds.class_names == ("bird", "cat", "dog")
    assert ds.y_train.tolist() == [1, 2, 0, 1, 2, 0, 1, 2] and ds.y_val.tolist() == [0, 1]
    assert ds.task.kind is TaskKind.MULTICLASS and ds.task.num_classes == 3
    assert ds.x_train[0, 1] == 1.0  # indoor: True -> 1
    assert ds.source == str(path.resolve())


def test_csv_numeric_target_is_regression(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_text("rooms,price\n" + "".join(f"{i},{100.5 + i * 3.25}\n" for i in range(10)))
    ds = load_dataset(DataSpec("csv", path=str(path), target="price"))
    assert ds.task.kind is TaskKind.REGRESSION and ds.task.num_classes is None
    assert ds.class_names is None and ds.sizes["train"] == 9


def test_image_folder_is_loaded_as_uint8(tmp_path: Path) -> None:
    from PIL import Image

    for name, colour in (("apples", (200, 10, 10)), ("limes", (10, 200, 10))):
        (tmp_path / "fruit" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (6, 8), colour).save(tmp_path / "fruit" / name / f"{i}.png")
    ds = load_dataset(DataSpec("image_folder", path=str(tmp_path / "fruit"), image_size=(4, 5),
                               validation_split=0.34, shuffle=True), seed=3)
    assert ds.class_names == ("apples", "limes")
    assert ds.x_train.dtype == np.uint8 and ds.input_shape == (4, 5, 3)
    assert ds.sizes == {"train": 4, "validation": 2, "test": 0}
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert all(x[i, 0, 0, 0] == (200 if label == 0 else 10) for i, label in enumerate(y))
    assert ds.task.kind is TaskKind.BINARY


def test_loader_module_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(tmp_path, "pets_loader", """
        import numpy as np

        def load():
            x = np.arange(40, dtype="float32").reshape(20, 2)
            return (x, np.arange(20) % 4), (x[:6], np.arange(6) % 4)
        """)
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    ds = load_dataset(DataSpec("loader", loader="pets_loader:load"))
    assert sys.path == path_before
    assert ds.sizes == {"train": 18, "validation": 2, "test": 6}
    assert ds.task.num_classes == 4 and "pets_loader.py" in ds.source


def test_loader_mapping_with_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "split_loader", """
        def load():
            return {"train": ([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1]),
                    "validation": ([[4.0], [5.0]], [1, 0])}
        """)
    monkeypatch.chdir(tmp_path)
    ds = load_dataset(DataSpec("loader", loader="split_loader:load", test_split=0.25))
    assert ds.sizes == {"train": 3, "validation": 2, "test": 1}
    assert ds.x_test.tolist() == [[3.0]] and ds.task.kind is TaskKind.BINARY


def test_arrays_are_taken_without_copies() -> None:
    x, y = numbered(10)
    ds = load_dataset(DataSpec("arrays", arrays=(x, y)), task=TaskKind.MULTICLASS,
                      metrics=("top_k",))
    assert np.shares_memory(ds.x_train, x) and np.shares_memory(ds.x_val, x)
    assert ds.task.extra_metrics == ("top_k",) and not ds.task.inferred


@pytest.mark.parametrize(("name", "shape", "kind", "classes"), [
    ("digits", (1797, 64), TaskKind.MULTICLASS, 10),
    ("iris", (150, 4), TaskKind.MULTICLASS, 3),
    ("wine", (178, 13), TaskKind.MULTICLASS, 3),
    ("breast_cancer", (569, 30), TaskKind.BINARY, 2),
    ("diabetes", (442, 10), TaskKind.REGRESSION, None),
])
def test_sklearn_datasets(name: str, shape: tuple[int, int], kind: TaskKind,
                          classes: int | None) -> None:
    ds = load_dataset(DataSpec(name, shuffle=True), seed=0)
    assert ds.sizes["train"] + ds.sizes["validation"] == shape[0]
    assert ds.input_shape == shape[1:] and ds.x_train.dtype == np.float32
    assert ds.task.kind is kind and ds.task.num_classes == classes and ds.task.inferred
    assert (ds.class_names is None) == (kind is TaskKind.REGRESSION)


# --- split rules ---------------------------------------------------------------------------


def arrays_spec(n: int = 20, **fields) -> DataSpec:
    return DataSpec("arrays", arrays=numbered(n), **fields)


def test_validation_comes_from_the_end_without_shuffle() -> None:
    ds = load_dataset(arrays_spec(20, validation_split=0.25))
    assert ds.x_train[:, 0].tolist() == list(range(15))
    assert ds.x_val[:, 0].tolist() == list(range(15, 20))


def test_shuffle_with_a_seed_is_deterministic() -> None:
    first = load_dataset(arrays_spec(shuffle=True), seed=5)
    again = load_dataset(arrays_spec(shuffle=True), seed=5)
    other = load_dataset(arrays_spec(shuffle=True), seed=6)
    assert np.array_equal(first.x_train, again.x_train)
    assert not np.array_equal(first.x_train, other.x_train)
    seen = np.concatenate([first.x_train[:, 0], first.x_val[:, 0]])
    assert sorted(seen.tolist()) == list(range(20))
    assert np.array_equal(first.y_train, first.x_train[:, 0].astype(int) % 3)  # pairs kept


def test_test_split_only_without_a_source_test_set() -> None:
    ds = load_dataset(arrays_spec(20, test_split=0.2))
    assert ds.x_test[:, 0].tolist() == [16, 17, 18, 19] and ds.sizes["train"] == 14
    x, y = numbered(20)
    with_test = DataSpec("arrays", arrays=((x, y), (x[:3], y[:3])), test_split=0.2)
    assert load_dataset(with_test).sizes == {"train": 18, "validation": 2, "test": 3}
    assert load_dataset(arrays_spec(20)).x_test is None


def test_subset_takes_the_first_training_examples_after_the_test_slice() -> None:
    ds = load_dataset(arrays_spec(40, subset=10, test_split=0.25, validation_split=0.2))
    assert ds.x_train[:, 0].tolist() == list(range(8))
    assert ds.x_val[:, 0].tolist() == [8, 9]
    assert ds.x_test[:, 0].tolist() == list(range(30, 40))


def test_hold_outs_must_leave_training_examples() -> None:
    one_line_error(arrays_spec(2, test_split=0.5), r"data given from Python: "
                   r"data.validation_split: holding out 0.1 of 1 training examples leaves none")


# --- bad input -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    one_line_error(DataSpec("npz", path=str(tmp_path / "gone.npz")),
                   r"gone.npz: data.path: expected an .npz archive of arrays, found nothing")


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    path.write_text("x,y\n1,2\n")
    one_line_error(DataSpec("npz", path=str(path)),
                   r"notes.npz: data.path: expected an .npz archive .* could not read it")


def test_npz_without_x_train(tmp_path: Path) -> None:
    path = tmp_path / "wrong.npz"
    np.savez(path, features=np.zeros((3, 2)), y_train=np.zeros(3))
    one_line_error(DataSpec("npz", path=str(path)), r"wrong.npz: data.path: expected arrays "
                   r"x_train and y_train, found no x_train; the archive holds: features, y_train")


def test_npz_with_half_a_validation_pair(tmp_path: Path) -> None:
    path = tmp_path / "half.npz"
    x, y = numbered(6)
    np.savez(path, x_train=x, y_train=y, x_val=x)
    one_line_error(DataSpec("npz", path=str(path)), r"half.npz: data.path: .*found no y_val")


def test_csv_target_missing_suggests_a_column(tmp_path: Path) -> None:
    path = tmp_path / "pets.csv"
    path.write_text("weight,species\n1,cat\n2,dog\n")
    one_line_error(DataSpec("csv", path=str(path), target="specis"),
                   r"pets.csv: data.target: no column 'specis' \(did you mean 'species'\?\); "
                   r"the columns are: weight, species")


def test_csv_empty_feature_cells(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,c,label\n1,2,x,0\n3,,y,1\n4,5,,0\n")
    one_line_error(DataSpec("csv", path=str(path), target="label"),
                   r"gaps.csv: data.path: empty or NaN feature cells in column\(s\) 'b', 'c'; "
                   r"first at row 2 \(line 3 of the file\)")


def test_csv_empty_label_cells(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,label\n1,cat\n2,\n")
    one_line_error(DataSpec("csv", path=str(path), target="label"),
                   r"gaps.csv: data.target: empty or NaN label cells in column\(s\) 'label'")


def test_x_and_y_lengths_disagree() -> None:
    x, y = numbered(10)
    spec = DataSpec("arrays", arrays={"train": (x, y), "validation": (x[:5], y[:4])})
    one_line_error(spec, r"data given from Python: data.arrays: the validation split has 5 "
                         r"examples in x but 4 labels in y")


def test_feature_shapes_disagree_between_splits(tmp_path: Path) -> None:
    path = tmp_path / "shapes.npz"
    x, y = numbered(10)
    np.savez(path, x_train=x, y_train=y, x_test=x[:, :2], y_test=y)
    one_line_error(DataSpec("npz", path=str(path)), r"shapes.npz: data.path: expected one "
                   r"feature shape per example in every split, found train \(3,\), test \(2,\)")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_features_name_split_and_row(bad: float) -> None:
    x, y = numbered(10)
    x[7, 1] = bad
    one_line_error(DataSpec("arrays", arrays=(x, y)), r"data.arrays: NaN or infinite feature "
                   r"in the train split, first at index 7")


def test_multiclass_labels_must_be_class_indices() -> None:
    x, _ = numbered(6)
    negative = DataSpec("arrays", arrays=(x, np.array([0, 1, 2, -1, 0, 1])))
    one_line_error(negative, r"data.arrays: a multiclass task needs integer labels from 0 .* "
                   r"the train split has -1 at index 3", task=TaskKind.MULTICLASS)
    fractional = DataSpec("arrays", arrays=(x, np.array([0, 1, 2.5, 1, 0, 1])))
    one_line_error(fractional, r"the train split has 2.5 at index 2", task="multiclass")


def test_binary_labels_must_be_zero_or_one() -> None:
    x, y = numbered(9)  # labels 0, 1, 2
    one_line_error(DataSpec("arrays", arrays=(x, y)), r"data.arrays: a binary task needs labels "
                   r"0 or 1, the train split has 2 at index 2", task=TaskKind.BINARY)


def test_regression_needs_numeric_targets(tmp_path: Path) -> None:
    # The key that picked the column, data.target, not the file's data.path.
    path = tmp_path / "pets.csv"
    path.write_text("w,species\n1,cat\n2,dog\n3,cat\n")
    one_line_error(DataSpec("csv", path=str(path), target="species"), r"pets.csv: data.target: "
                   r"a regression task needs numeric targets, found class names \(cat, dog\); "
                   r"name a numeric column, or drop task: regression",
                   task=TaskKind.REGRESSION)


def test_loader_module_not_found() -> None:
    one_line_error(DataSpec("loader", loader="no_such_module_here:load"),
                   r"loader no_such_module_here:load: data.loader: no module "
                   r"'no_such_module_here' in the working directory")


def test_loader_attribute_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "typo_loader", "def load_data():\n    return None\n")
    monkeypatch.chdir(tmp_path)
    one_line_error(DataSpec("loader", loader="typo_loader:load_dat"),
                   r"loader typo_loader:load_dat: data.loader: module 'typo_loader' "
                   r"\(.*typo_loader.py\) has no attribute 'load_dat' \(did you mean 'load_data'")


def test_loader_import_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "broken_loader", "import not_installed_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    one_line_error(DataSpec("loader", loader="broken_loader:load"),
                   r"loader broken_loader:load: data.loader: importing module 'broken_loader' "
                   r"raised ModuleNotFoundError: No module named 'not_installed_dependency_xyz'")


def test_loader_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "raising_loader", """
        def load():
            raise FileNotFoundError("houses.parquet:\\nnot here")
        """)
    monkeypatch.chdir(tmp_path)
    message = one_line_error(DataSpec("loader", loader="raising_loader:load"),
                             r"loader raising_loader:load: data.loader: calling it raised "
                             r"FileNotFoundError: houses.parquet: not here")
    assert "Traceback" not in message


@pytest.mark.parametrize(("returned", "described"), [
    ("None", r"got None"),
    ("(1, 2, 3)", r"got a tuple of 3 items \(int, int, int\)"),
    ("{'training': ([0], [0])}", r"got a dict with keys \['training'\]"),
])
def test_loader_returns_the_wrong_structure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, returned: str, described: str
) -> None:
    name = f"shape_loader_{abs(hash(returned))}"
    write_module(tmp_path, name, f"def load():\n    return {returned}\n")
    monkeypatch.chdir(tmp_path)
    one_line_error(DataSpec("loader", loader=f"{name}:load"),
                   rf"loader {name}:load: data.loader: expected .*; {described}")


def test_loader_path_without_a_function() -> None:
    one_line_error(DataSpec("loader", loader="just_a_module"),
                   r"data.loader: expected 'module:function', got 'just_a_module'")


def test_image_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    one_line_error(DataSpec("image_folder", path=str(tmp_path / "empty"), image_size=(8, 8)),
                   r"empty: data.path: cannot read the images: No images found")


@pytest.mark.parametrize(("spec", "match"), [
    (DataSpec("npz"), r"data.path: expected a file or folder path for data.name 'npz'"),
    (DataSpec("csv", path="x.csv"), r"data.target: expected the name of the label column"),
    (DataSpec("image_folder", path="."), r"data.image_size: expected \[height, width\]"),
    (DataSpec("irsi"), r"data.name: expected one of .*, got 'irsi' \(did you mean 'iris'\?\)"),
    (DataSpec("iris", validation_split=1.0), r"data.validation_split: expected a fraction"),
])
def test_incomplete_specs_built_in_python(spec: DataSpec, match: str) -> None:
    one_line_error(spec, match)


def test_dataset_is_frozen() -> None:
    ds = load_dataset(arrays_spec())
    assert isinstance(ds, Dataset)
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
