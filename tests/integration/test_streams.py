"""Data as ``fit`` takes it from a pipeline: a batched ``tf.data.Dataset`` or a
``keras.utils.PyDataset`` with ``validation_data``, under every engine, never held whole.

The guides' form: ``Dataset.from_tensor_slices((x, y)).shuffle(...).batch(64)`` and a
``PyDataset`` subclass whose ``__getitem__`` reads one batch; our own copies of both.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import sweeps
from sweeps.data import Stream, load_dataset
from sweeps.errors import DataError, SpecError
from sweeps.spec import DataSpec
from tests.integration.test_user_patterns import ENGINES, trial_runs
from tracking import tags as T


@pytest.fixture(scope="module")
def mnist_slices():
    from sweeps.data import load_arrays

    (x, y), (x_test, y_test) = load_arrays("mnist", None)[0]
    return (x[:900].astype("float32") / 255.0, y[:900].astype("int64"),
            x_test[:200].astype("float32") / 255.0, y_test[:200].astype("int64"))


def tf_splits(mnist_slices, batch: int = 64) -> dict[str, object]:
    import tensorflow as tf

    x, y, x_test, y_test = mnist_slices

    def batched(a, b):
        return tf.data.Dataset.from_tensor_slices((a, b)).batch(batch)

    return {"train": batched(x[:700], y[:700]).shuffle(16, seed=1).prefetch(2),
            "validation": batched(x[700:], y[700:]), "test": batched(x_test, y_test)}


def batches_class():
    import keras

    class Batches(keras.utils.PyDataset):
        """One batch per __getitem__, as a loader of files on disk serves them; it keeps
        the largest number of rows anyone asked of it at once."""

        def __init__(self, x, y, batch_size=64, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size
            self.reads = 0

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            self.reads += 1
            rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.x[rows], self.y[rows]

    return Batches


def build_model(hp):
    """KerasTuner's getting-started form on sparse labels."""
    import keras

    model = keras.Sequential()
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(hp.Int("units", 32, 64, step=32), activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("tuner", ENGINES)
def test_a_tf_data_pipeline_under_every_engine(workdir, tracking_uri, mnist_slices,
                                               tuner) -> None:
    result = sweeps.tune(build_model, data=tf_splits(mnist_slices), tuner=tuner, max_trials=2,
                         max_epochs=2, objective="val_accuracy", stream=sys.stderr)
    assert result.model is not None
    assert result.test_metrics["test_accuracy"] > 0.5  # the test dataset, evaluated as one
    sweep, trials = trial_runs(tracking_uri, "build_model")
    assert sweep.data.tags[T.TASK] == "multiclass"
    assert sum(r.data.tags[T.TRIAL_STATUS] == "COMPLETED" for r in trials) >= 1
    assert "baseline_default_test_accuracy" in sweep.data.metrics
    # What MLflow's Dataset column shows: the split's form and size, not a copy of it.
    inputs = MlflowClient(tracking_uri).get_run(sweep.info.run_id).inputs.dataset_inputs
    profiles = [i.dataset.profile for i in inputs]
    assert any('"kind": "tf.data.Dataset"' in p and '"examples": 700' in p for p in profiles)


@pytest.mark.parametrize("tuner", ["hyperband", "optuna"])
def test_a_py_dataset_with_validation_data_is_read_batch_by_batch(
        workdir, tracking_uri, mnist_slices, tuner) -> None:
    batches = batches_class()
    x, y, _, _ = mnist_slices
    train, validation = batches(x[:700], y[:700]), batches(x[700:], y[700:])
    result = sweeps.tune(build_model, data=train, validation_data=validation, tuner=tuner,
                         max_trials=2, max_epochs=2, objective="val_accuracy",
                         final_retrain=True, stream=sys.stderr)
    assert result.model is not None and result.final_fit is not None
    assert result.final_fit.examples == 900  # training then validation batches, one pass
    assert train.reads > 2 * len(train)  # the label pass and every epoch read it as it is


def test_a_stream_is_kept_as_it_is_and_only_its_labels_are_read(mnist_slices) -> None:
    batches = batches_class()
    x, y, _, _ = mnist_slices
    train, validation = batches(x[:700], y[:700], 50), batches(x[700:], y[700:], 50)
    data = load_dataset(DataSpec("arrays", arrays={"train": train, "validation": validation}))
    assert isinstance(data.x_train, Stream) and data.x_train.data is train
    assert data.x_train.head.shape == (50, 28, 28)  # one batch of features held, no more
    np.testing.assert_array_equal(data.y_train, y[:700])
    assert data.sizes == {"train": 700, "validation": 200, "test": 0}
    assert data.task.num_classes == 10 and train.reads == len(train)
    assert data.fit_inputs() == {"x": train, "validation_data": validation}
    assert data.source == "keras.utils.PyDataset given from Python"


def test_what_a_stream_cannot_do_is_refused_in_one_line(mnist_slices) -> None:
    import tensorflow as tf

    splits = tf_splits(mnist_slices)
    where = "data given from Python: data.arrays: "
    with pytest.raises(DataError, match="give the validation data too") as raised:
        load_dataset(DataSpec("arrays", arrays={"train": splits["train"]}))
    assert str(raised.value).startswith(where)
    with pytest.raises(DataError, match=r"data.subset: .*expected no data.subset, got 100"):
        load_dataset(DataSpec("arrays", arrays=splits, subset=100))
    endless = {**splits, "train": splits["train"].repeat()}
    with pytest.raises(DataError, match=r"the train split, a tf\.data\.Dataset: it repeats"):
        load_dataset(DataSpec("arrays", arrays=endless))
    features_only = {**splits, "train": splits["train"].map(lambda x, y: x)}
    with pytest.raises(DataError, match=r"expected \(x, y\) batches"):
        load_dataset(DataSpec("arrays", arrays=features_only))
    x, y, _, _ = mnist_slices
    mixed = {"train": splits["train"], "validation": (x[700:], y[700:])}
    with pytest.raises(DataError, match=r"expected every split of one form, got train "
                                        r"tf\.data\.Dataset, validation arrays"):
        load_dataset(DataSpec("arrays", arrays=mixed))
    broken = {**splits, "train": tf.data.Dataset.from_tensor_slices(
        (x[:64], y[:64])).batch(32).map(lambda a, b: (a, tf.strings.to_number("x")))}
    with pytest.raises(DataError, match="reading it raised InvalidArgumentError"):
        load_dataset(DataSpec("arrays", arrays=broken))


def test_folds_on_a_stream_are_refused_before_anything_is_logged(
        workdir, tracking_uri, mnist_slices) -> None:
    with pytest.raises(SpecError, match=r"validation\.folds: k-fold cross-validation re-splits "
                                        r"the examples, which a tf\.data\.Dataset"):
        sweeps.tune(build_model, data=tf_splits(mnist_slices), tuner="random", max_trials=1,
                    max_epochs=1, folds=3, stream=sys.stderr)
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name("build_model")
    assert found is None or not client.search_runs([found.experiment_id])


def test_a_reshuffling_pipeline_is_the_same_sweep_and_is_read_once(mnist_slices) -> None:
    import tensorflow as tf

    from sweeps.spec import parse_spec_dict

    x, y, _, _ = mnist_slices

    def pipeline(labels):
        return tf.data.Dataset.from_tensor_slices((x[:300], labels)).shuffle(300).batch(50)

    def digest(data) -> str:
        spec = parse_spec_dict({"name": "s", "hypermodel": "mlp", "data": {}}, "<dict>",
                               objects={"data": data})
        return spec.data.digest

    train, validation = pipeline(y[:300]), pipeline(y[300:600])
    first = digest({"train": train, "validation": validation})
    # Each pass reshuffles, so no two first batches agree; the labels, sorted, do.
    assert digest({"train": pipeline(y[:300]), "validation": pipeline(y[300:600])}) == first
    assert digest({"train": pipeline(y[300:600]), "validation": validation}) != first
    batches = batches_class()
    served, held = batches(x[:300], y[:300], 50), batches(x[300:600], y[300:600], 50)
    digest({"train": served, "validation": held})
    load_dataset(DataSpec("arrays", arrays={"train": served, "validation": held}))
    assert served.reads == len(served)  # the digest's pass is the dataset's


def test_the_pair_image_dataset_from_directory_returns_is_train_and_validation(
        workdir) -> None:
    import keras

    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        folder = workdir / "photos" / label
        folder.mkdir(parents=True)
        for i in range(10):
            keras.utils.save_img(folder / f"{i}.png", rng.integers(0, 255, (12, 12, 3)))
    pair = keras.utils.image_dataset_from_directory(
        workdir / "photos", validation_split=0.2, subset="both", seed=1, image_size=(12, 12),
        batch_size=4)
    data = load_dataset(DataSpec("arrays", arrays=pair))
    assert data.sizes == {"train": 16, "validation": 4, "test": 0}
    assert data.input_shape == (12, 12, 3) and data.task.kind.value == "binary"
    assert data.fit_inputs() == {"x": pair[0], "validation_data": pair[1]}
