"""What public Keras and KerasTuner guides teach users to write, run under every engine.

Our own copies of the patterns those guides use (not their text): an unbuilt
``keras.Sequential()`` compiled by the builder with ``categorical_crossentropy`` on one-hot
labels, a subclassed model, a sigmoid head on ``(n, 1)`` labels, a ``HyperModel.fit`` that
tunes the batch size and preprocesses ``x``, the user's own callbacks; and the mistakes a
user makes, each one line.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import sweeps
from sweeps.cli import main
from sweeps.errors import NoTrialCompleted
from tracking import tags as T

ENGINES = ["hyperband", "random", "bayesian", "grid", "optuna"]


def guide_builder(hp):
    """KerasTuner's getting-started form: no Input, built by the first fit, compiled here."""
    import keras

    model = keras.Sequential()
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(units=hp.Int("units", min_value=32, max_value=64, step=32),
                                 activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    learning_rate = hp.Choice("lr", values=[1e-2, 1e-3])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def mnist_one_hot():
    """What the guide prepares: pixels scaled to 0..1, labels through to_categorical."""
    import keras

    from sweeps.data import load_arrays

    (x, y), (x_test, y_test) = load_arrays("mnist", None)[0]
    x, x_test = x[:1200].astype("float32") / 255.0, x_test[:300].astype("float32") / 255.0
    return ((x, keras.utils.to_categorical(y[:1200], 10)),
            (x_test, keras.utils.to_categorical(y_test[:300], 10)))


def trial_runs(tracking_uri: str, experiment: str) -> tuple[object, list[object]]:
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    sweep = [r for r in runs if r.data.tags.get(T.KIND) == T.KIND_SWEEP]
    assert len(sweep) == 1
    return sweep[0], [r for r in runs if r.data.tags.get(T.KIND) == T.KIND_TRIAL]


def no_runs(tracking_uri: str, experiment: str) -> bool:
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    return found is None or not client.search_runs([found.experiment_id])


@pytest.mark.parametrize("tuner", ENGINES)
def test_unbuilt_sequential_on_one_hot_labels_under_every_engine(
        workdir, tracking_uri, mnist_one_hot, tuner) -> None:
    result = sweeps.tune(guide_builder, data=mnist_one_hot, tuner=tuner, max_trials=2,
                         max_epochs=2, objective="val_accuracy", stream=sys.stderr)
    assert result.model is not None and result.model.built
    assert result.best_hyperparameters["units"] in (32, 64)
    assert result.test_metrics["test_accuracy"] > 0.5  # one-hot test labels, evaluated as such
    sweep, trials = trial_runs(tracking_uri, "guide_builder")
    assert sweep.data.tags[T.TASK] == "multiclass"
    assert sweep.data.tags[T.OPTIMIZER] == "builder"
    completed = [r for r in trials if r.data.tags[T.TRIAL_STATUS] == "COMPLETED"]
    assert completed, [r.data.tags.get(T.ERROR) for r in trials]
    client = MlflowClient(tracking_uri)
    for run in completed:
        units = int(run.data.params["units"])
        # counted once Keras built it: 784*units + units + units*10 + 10
        assert run.data.metrics["param_count"] == 784 * units + units + units * 10 + 10
        summary = client.download_artifacts(run.info.run_id, "model_summary.txt", str(workdir))
        assert "dense" in Path(summary).read_text()


def test_one_hot_labels_are_a_multiclass_task_from_a_spec(workdir, tracking_uri, capsys) -> None:
    (workdir / "guide_data.py").write_text(textwrap.dedent("""
        import keras
        from sklearn.datasets import load_digits

        def load():
            x, y = load_digits(return_X_y=True)
            return (x / 16.0).astype("float32"), keras.utils.to_categorical(y, 10)
    """))
    (workdir / "guide_models.py").write_text(textwrap.dedent("""
        import keras

        def build_model(hp):
            model = keras.Sequential()
            model.add(keras.layers.Dense(hp.Int("units", 16, 48, step=16), activation="relu"))
            model.add(keras.layers.Dense(10, activation="softmax"))
            return model  # uncompiled: sweeps compiles it for one-hot labels
    """))
    (workdir / "guide.yaml").write_text(textwrap.dedent("""
        name: guide
        data: {loader: "guide_data:load", validation_split: 0.2, test_split: 0.2, shuffle: true}
        hypermodel: "guide_models:build_model"
        search_space: {learning_rate: 0.01}   # declared by sweeps' compile step
        objective: {metric: val_accuracy}
        training: {max_epochs: 5, batch_size: 32}
        tuner: {kind: random, max_trials: 2}
    """))
    try:
        assert main(["run", "guide.yaml"]) == 0
    finally:
        for module in ("guide_data", "guide_models"):
            sys.modules.pop(module, None)
    out = capsys.readouterr().out
    assert "multiclass, 10 classes, one-hot labels (inferred from the labels)" in out
    sweep, trials = trial_runs(tracking_uri, "guide")
    assert sweep.data.tags[T.OPTIMIZER] == "sweeps"
    assert sweep.data.metrics["test_accuracy"] > 0.6
    assert all(r.data.metrics["param_count"] > 0 for r in trials)


class Subclassed:
    """A subclassed keras.Model, compiled by the builder with string loss and metrics."""

    @staticmethod
    def build(hp):
        import keras

        class Net(keras.Model):
            def __init__(self, units):
                super().__init__()
                self.hidden = keras.layers.Dense(units, activation="relu")
                self.out = keras.layers.Dense(1, activation="sigmoid")

            def call(self, inputs):
                return self.out(self.hidden(inputs))

        model = Net(hp.Int("units", 8, 32, step=8))
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model


def breast_cancer_column():
    """scikit-learn's table standardised, labels as a (n, 1) column as many guides keep them."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    return x, y.reshape(-1, 1).astype("float32")


@pytest.mark.parametrize("tuner", ["hyperband", "optuna"])
def test_subclassed_model_with_a_sigmoid_head_on_column_labels(workdir, tracking_uri,
                                                               tuner) -> None:
    result = sweeps.tune(Subclassed.build, data=breast_cancer_column(), tuner=tuner,
                         max_trials=2, max_epochs=3, test_split=0.2, name="subclassed",
                         objective="val_accuracy", stream=sys.stderr)
    assert result.model is not None
    assert 0.0 <= result.test_metrics["test_accuracy"] <= 1.0
    # no get_config(): no .keras file, so MLflow's exported (SavedModel) form was logged
    import mlflow

    loaded = mlflow.pyfunc.load_model(result.model_uri)
    assert loaded.predict(breast_cancer_column()[0][:3]).shape[0] == 3
    sweep, trials = trial_runs(tracking_uri, "subclassed")
    assert sweep.data.tags[T.TASK] == "binary"
    completed = [r for r in trials if r.data.tags[T.TRIAL_STATUS] == "COMPLETED"]
    for run in completed:
        units = int(run.data.params["units"])
        assert run.data.metrics["param_count"] == 30 * units + units + units + 1


HYPERMODEL_WITH_FIT = '''
import keras
import keras_tuner
import numpy as np


class TunedFit(keras_tuner.HyperModel):
    """The guide's HyperModel.fit: tunes the batch size and shuffling, preprocesses x."""

    def build(self, hp):
        model = keras.Sequential()
        model.add(keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"))
        model.add(keras.layers.Dense(3, activation="softmax"))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        if hp.Boolean("normalize"):
            x = (x - x.mean(0)) / x.std(0)
            if validation_data is not None:
                x_val, y_val = validation_data
                validation_data = ((x_val - x_val.mean(0)) / x_val.std(0), y_val)
        return model.fit(x, y, validation_data=validation_data,
                         batch_size=hp.Choice("batch_size", [8, 16]),
                         shuffle=hp.Boolean("shuffle"), **kwargs)
'''


@pytest.mark.parametrize("tuner", ENGINES)
def test_hypermodel_fit_that_tunes_batch_size_under_every_engine(workdir, tracking_uri,
                                                                 tuner) -> None:
    (workdir / "tuned_fit.py").write_text(HYPERMODEL_WITH_FIT)
    spec = {"name": "iris_fit", "data": {"name": "iris", "shuffle": True},
            "hypermodel": "tuned_fit:TunedFit", "objective": {"metric": "val_accuracy"},
            "tuner": {"kind": tuner, "max_trials": 2}, "training": {"max_epochs": 2}}
    try:
        result = sweeps.run(spec, stream=sys.stderr)
    finally:
        sys.modules.pop("tuned_fit", None)
    assert result.model is not None
    _, trials = trial_runs(tracking_uri, "iris_fit")
    assert trials
    for run in trials:
        assert run.data.tags[T.TRIAL_STATUS] in ("COMPLETED", "PRUNED"), \
            run.data.tags.get(T.ERROR)
        assert run.data.params["batch_size"] in ("8", "16")  # declared in its fit()
        assert run.data.params["shuffle"] in ("True", "False")


@pytest.mark.parametrize("tuner", ["random", "optuna"])
def test_users_callbacks_reach_every_trial_as_copies(workdir, tracking_uri, tuner) -> None:
    import keras

    class CountEpochs(keras.callbacks.Callback):
        instances: list[CountEpochs] = []  # noqa: RUF012 - records every copy made

        def __init__(self):
            super().__init__()
            self.epochs = 0

        def __deepcopy__(self, memo):
            copy = CountEpochs()
            CountEpochs.instances.append(copy)
            return copy

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

    mine = CountEpochs()
    x, y = breast_cancer_column()
    result = sweeps.tune(Subclassed.build, data=(x, y), tuner=tuner, max_trials=3,
                         max_epochs=2, name="callbacks", callbacks=[mine], stream=sys.stderr,
                         early_stopping={"patience": 5})
    assert mine.epochs == 0  # the caller's own object is never trained with
    trained = [c for c in CountEpochs.instances if c.epochs]
    assert len(trained) >= 3  # one copy per trial at least (keras-tuner: one per execution)
    assert sum(c.epochs for c in trained) >= sum(t.epochs_run for t in result.trials)


@pytest.mark.parametrize("tuner", ["random", "optuna"])
def test_a_users_tensorboard_writes_one_folder_per_trial(workdir, tracking_uri, tuner) -> None:
    # KerasTuner's guides pass keras.callbacks.TensorBoard(log_dir) to tuner.search: each
    # trial's execution writes under <log_dir>/<trial id>/execution<n>, under every engine,
    # and the final fit under <log_dir>/final.
    import keras

    x, y = breast_cancer_column()
    logs = workdir / "tb_logs"
    result = sweeps.tune(Subclassed.build, data=(x, y), tuner=tuner, max_trials=2,
                         max_epochs=1, name="tensorboard", stream=sys.stderr,
                         callbacks=[keras.callbacks.TensorBoard(str(logs))])
    ids = {t.trial_id for t in result.trials}
    assert len(ids) == 2
    assert {p.parent.name for p in logs.glob("*/execution0")} == ids
    assert list((logs / "final" / "train").glob("events.out.tfevents.*"))
    for trial_id in ids:
        assert list((logs / trial_id / "execution0" / "train").glob("events.out.tfevents.*"))
    assert not list(logs.glob("train"))  # nothing at the top, where every trial would mix


def test_a_callback_that_is_not_one_is_refused_naming_it(workdir, tracking_uri) -> None:
    with pytest.raises(sweeps.errors.SpecError,
                       match=r"training.callbacks\[1\]: expected a keras.callbacks.Callback "
                             r"instance, got"):
        import keras

        sweeps.tune(Subclassed.build, data=breast_cancer_column(), tuner="random",
                    max_trials=1, callbacks=[keras.callbacks.TerminateOnNaN(), "early"])


class FailsInFit:
    """A KerasTuner HyperModel whose own fit() is broken: every trial fails in user code."""

    @staticmethod
    def make():
        import keras
        import keras_tuner

        class Broken(keras_tuner.HyperModel):
            def build(self, hp):
                model = keras.Sequential([keras.layers.Dense(hp.Int("units", 4, 8)),
                                          keras.layers.Dense(1, activation="sigmoid")])
                model.compile(optimizer="adam", loss="binary_crossentropy")
                return model

            def fit(self, hp, model, *args, **kwargs):
                return model.fit_it_all(*args, **kwargs)  # a typo: no such method

        return Broken()


@pytest.mark.parametrize("tuner", ENGINES)
def test_every_trial_failing_ends_every_engine_with_the_first_failure(
        workdir, tracking_uri, tuner) -> None:
    with pytest.raises(NoTrialCompleted) as info:
        sweeps.tune(FailsInFit.make(), data=breast_cancer_column(), tuner=tuner, max_trials=4,
                    max_epochs=1, name="broken", stream=sys.stderr)
    text = str(info.value)
    assert text.startswith("every trial failed ("), text
    assert ("so there is no model; the first, trial 1: AttributeError: 'Sequential' object has "
            "no attribute 'fit_it_all'") in text, text
    assert "test_user_patterns.py" in text and "in fit: return model.fit_it_all(" in text
    sweep, trials = trial_runs(tracking_uri, "broken")
    assert sweep.info.status == "FAILED"
    assert trials and {r.info.status for r in trials} == {"FAILED"}


def test_a_builder_that_fails_at_once_is_one_error_before_anything_is_logged(
        workdir, tracking_uri, capsys) -> None:
    (workdir / "typo_model.py").write_text(textwrap.dedent("""
        import keras

        def build_model(hp):
            model = keras.Sequential()
            model.add(keras.layers.Dense(hp.Int("units", 8, 16)))
            model.add(keras.layers.Dense(3, activation="softmax"))
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model.summarise()
    """))
    (workdir / "typo.yaml").write_text('name: typo\ndata: {name: iris}\n'
                                       'hypermodel: "typo_model:build_model"\n')
    try:
        code = main(["run", "typo.yaml"])
    finally:
        sys.modules.pop("typo_model", None)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: typo.yaml: hypermodel: typo_model:build_model failed when "
                          "built with default values, before any trial: AttributeError: "
                          "'Sequential' object has no attribute 'summarise'"), err
    assert 'typo_model.py", line 9, in build_model: return model.summarise()' in err
    assert "Traceback" not in err
    assert no_runs(tracking_uri, "typo")
    assert not (workdir / ".sweeps" / "typo").exists()


def test_every_trial_failing_exits_non_zero_from_the_cli(workdir, tracking_uri, capsys) -> None:
    (workdir / "fails_in_fit.py").write_text(textwrap.dedent("""
        import keras
        import keras_tuner

        class FailsInFit(keras_tuner.HyperModel):
            def build(self, hp):
                model = keras.Sequential([keras.layers.Dense(hp.Int("units", 4, 8)),
                                          keras.layers.Dense(3, activation="softmax")])
                return model

            def fit(self, hp, model, x, y, **kwargs):
                raise ValueError("my fit is broken")
    """))
    (workdir / "fails.yaml").write_text(textwrap.dedent("""
        name: fails
        data: {name: iris}
        hypermodel: "fails_in_fit:FailsInFit"
        tuner: {kind: optuna, max_trials: 3}
    """))
    try:
        code = main(["run", "fails.yaml"])
    finally:
        sys.modules.pop("fails_in_fit", None)
    err = capsys.readouterr().err
    assert code == 1
    assert ("error: every trial failed (3 of 3), so there is no model; the first, trial 1: "
            "ValueError: my fit is broken") in err
    assert 'fails_in_fit.py", line 12, in fit: raise ValueError("my fit is broken")' in err
    sweep, trials = trial_runs(tracking_uri, "fails")
    assert sweep.info.status == "FAILED"
    assert [r.info.status for r in trials] == ["FAILED"] * 3


def test_narrowing_an_integer_to_text_is_refused_in_one_line(workdir, tracking_uri,
                                                            capsys) -> None:
    (workdir / "units_model.py").write_text(textwrap.dedent("""
        import keras

        def build_model(hp):
            model = keras.Sequential()
            model.add(keras.layers.Dense(hp.Int("units", 32, 512, step=32), activation="relu"))
            model.add(keras.layers.Dense(3, activation="softmax"))
            return model
    """))
    (workdir / "text_units.yaml").write_text(textwrap.dedent("""
        name: text_units
        data: {name: iris}
        hypermodel: "units_model:build_model"
        search_space:
          units: {type: choice, values: [small, big]}
    """))
    try:
        code = main(["run", "text_units.yaml"])
    finally:
        sys.modules.pop("units_model", None)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == ("error: text_units.yaml: search_space.units: the builder declares units as "
                   "an integer (hp.Int 32..512); expected values of that kind, got 'small' "
                   "(a string)"), err
    assert "Traceback" not in err
    assert no_runs(tracking_uri, "text_units")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_the_keras_tuner_tutorial_example_runs_with_its_last_step(
        workdir, tracking_uri, monkeypatch, capsys) -> None:
    """examples/keras_tuner_tutorial, on a slice: the tutorial's own builder and data, and
    final.max_epochs for its last step."""
    import shutil

    example = Path(__file__).resolve().parents[2] / "examples" / "keras_tuner_tutorial"
    for name in ("tutorial.yaml", "tutorial_model.py"):
        shutil.copy(example / name, workdir / name)
    monkeypatch.delenv("SWEEPS_DATA_DIR")  # MNIST's folder in the tests: Debian's here
    try:
        code = main(["run", "tutorial.yaml", "--max-epochs", "2", "--set", "data.subset=3000",
                     "--set", "tuner.hyperband.max_trials=3", "--set", "final.max_epochs=3"])
    finally:
        sys.modules.pop("tutorial_model", None)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "the best of up to 3 on validation" in out
    assert "tuned vs defaults: test_accuracy" in out
    sweep, trials = trial_runs(tracking_uri, "keras_tuner_tutorial")
    assert trials and sweep.data.tags[T.FINAL_MODEL] == T.FINAL_RETRAINED
