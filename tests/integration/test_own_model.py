"""A user's own builder and data, from a spec and from Python, under every engine.

The docs' "Tune your own model" files are extracted from docs/own-model.md and run as written.
"""

from __future__ import annotations

import random
import re
import runpy
import signal
import sys
import textwrap
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import sweeps
from sweeps.cli import main
from tracking import tags as T
from tracking.models import keras_requirements

PAGE = Path(__file__).resolve().parents[2] / "docs" / "own-model.md"


def readme_files() -> dict[str, str]:
    """``<!-- file: NAME -->`` followed by a fenced block: the page's example files."""
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", PAGE.read_text(), re.S)
    return dict(blocks)


@pytest.fixture
def user_project(workdir: Path) -> Path:
    files = readme_files()
    assert {"my_models.py", "my_data.py", "my_sweep.yaml", "tune_it.py"} <= set(files)
    for name, text in files.items():
        (workdir / name).write_text(text, encoding="utf-8")
    yield workdir
    for module in ("my_models", "my_data"):
        sys.modules.pop(module, None)  # the next test's working directory has its own copy


def runs_of(tracking_uri: str, experiment: str) -> tuple[object, list[object]]:
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id]) if found else []
    sweeps_ = [r for r in runs if r.data.tags.get(T.KIND) == T.KIND_SWEEP]
    trials = [r for r in runs if r.data.tags.get(T.KIND) == T.KIND_TRIAL]
    return (sweeps_[0] if len(sweeps_) == 1 else sweeps_), trials


@pytest.mark.parametrize("tuner", ["hyperband", "random", "optuna"])
def test_readme_example_runs_under_every_engine(user_project, tracking_uri, tuner, capsys) -> None:
    code = main(["run", "my_sweep.yaml", "--tuner", tuner, "--max-trials", "3",
                 "--max-epochs", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "binary (inferred from the labels)" in out.splitlines()[0]
    parent, trials = runs_of(tracking_uri, "my_sweep")
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[T.TASK] == "binary"
    assert parent.data.tags[T.OPTIMIZER] == "sweeps"  # the builder leaves compiling to sweeps
    assert parent.data.tags[T.HYPERMODEL] == "my_models:build_model"
    assert {"test_auc", "test_accuracy", "test_loss"} <= set(parent.data.metrics)
    assert len(trials) == 3
    client = MlflowClient(tracking_uri)
    # Keras layers alone: the model's requirements pinned as a bundled hypermodel's are, not
    # inferred by MLflow (a subprocess that loads the model, 6-9 s).
    (output,) = client.get_run(parent.info.run_id).outputs.model_outputs
    requirements = Path(mlflow.pyfunc.get_model_dependencies(
        f"models:/{output.model_id}")).read_text().split()
    assert {r for r in requirements if not r.startswith("mlflow")} == set(keras_requirements())
    for run in trials:
        params = run.data.params
        assert params["activation"] == "relu"  # fixed by the spec
        assert 16 <= int(params["units_0"]) <= 64  # narrowed by the spec
        assert 1e-4 <= float(params["learning_rate"]) <= 1e-2
        if params["dropout"] == "True":
            assert 0.1 <= float(params["rate"]) <= 0.5
        elif tuner == "optuna":  # define-by-run: an inactive branch is never suggested
            assert "rate" not in params
        epochs = int(run.data.metrics["epochs_run"])
        assert len(client.get_metric_history(run.info.run_id, "val_auc")) == epochs
        assert run.data.metrics["best_val_auc"] == pytest.approx(
            max(m.value for m in client.get_metric_history(run.info.run_id, "val_auc")))
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
            "learning_curves.png", "model_summary.txt"}


def test_readme_tune_snippet_runs_as_written_and_leaves_the_process_as_it_was(
        user_project, tracking_uri, capsys, monkeypatch) -> None:
    import matplotlib

    monkeypatch.syspath_prepend(str(user_project))  # as `python tune_it.py` would
    import my_data  # noqa: F401 - the snippet's own imports may set what they like; a sweep may not
    import my_models  # noqa: F401

    random.seed(5)
    np.random.seed(5)
    before = (list(warnings.filters), signal.getsignal(signal.SIGINT),
              signal.getsignal(signal.SIGTERM), matplotlib.get_backend(), random.getstate(),
              np.random.get_state()[1].tolist())
    runpy.run_path(str(user_project / "tune_it.py"), run_name="__main__")
    after = (list(warnings.filters), signal.getsignal(signal.SIGINT),
             signal.getsignal(signal.SIGTERM), matplotlib.get_backend(), random.getstate(),
             np.random.get_state()[1].tolist())
    assert before == after
    out = capsys.readouterr().out
    assert "'activation': 'relu'" in out and "test_auc" in out
    parent, trials = runs_of(tracking_uri, "build_model")
    assert parent.data.tags[T.ENGINE] == "optuna" and len(trials) == 4


def test_tune_returns_model_frame_and_ids(workdir, tracking_uri) -> None:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)

    def build(hp):
        import keras

        inputs = keras.Input(shape=(10,))
        hidden = keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(1)(hidden))

    result = sweeps.tune(build, data=(x.astype("float32"), y), tuner="random", max_trials=2,
                         max_epochs=2, test_split=0.2, objective="val_mae", stream=sys.stderr)
    frame = result.trials_frame()
    assert list(frame.index) == [1, 2] and set(frame["status"]) == {"COMPLETED"}
    assert result.best_hyperparameters["units"] in (8, 16, 24, 32)
    assert result.model is not None and result.model.output_shape == (None, 1)
    assert {"test_mae", "test_rmse", "test_loss"} == set(result.test_metrics)
    assert MlflowClient(tracking_uri).get_run(result.sweep_run_id).info.experiment_id == (
        result.experiment_id)


def test_regression_sweep_minimises_val_mae(workdir, tracking_uri) -> None:
    # One validation slice: the best trial is the lowest val_mae (with the spec's folds the
    # defaults may be kept over it; tests/integration/test_baselines.py covers that rule).
    result = sweeps.run("diabetes", tuner="random", max_trials=3, max_epochs=4,
                        stream=sys.stderr, settings=["validation.folds=1"])
    completed = [t for t in result.trials if t.status.value == "COMPLETED"]
    assert len(completed) == 3
    assert result.best.objective == min(t.objective for t in completed)
    parent, trials = runs_of(tracking_uri, "diabetes")
    assert parent.data.tags[T.TASK] == "regression"
    assert parent.data.tags[T.OBJECTIVE] == "val_mae (min)"
    best = min(trials, key=lambda r: r.data.metrics["best_val_mae"])
    assert parent.data.tags[T.BEST_RUN_ID] == best.info.run_id
    assert {"test_mae", "test_rmse", "test_loss"} <= set(parent.data.metrics)


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


SELF_COMPILED = """
import keras
import keras_tuner


class Builder(keras_tuner.HyperModel):
    def build(self, hp):
        inputs = keras.Input(shape=(64,))
        x = keras.layers.Rescaling(1 / 16)(inputs)
        x = keras.layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu")(x)
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
        model.compile(optimizer=keras.optimizers.SGD(hp.Choice("lr", [0.05, 0.1])),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **{
            k: v for k, v in kwargs.items() if k != "batch_size"})
"""


@pytest.mark.parametrize("tuner", ["random", "optuna"])
def test_keras_tuner_hypermodel_with_its_own_compile_and_fit(workdir, tracking_uri, tuner) -> None:
    write_module(workdir, "kt_builder", SELF_COMPILED)
    spec = {"name": "digits_kt", "data": {"name": "digits"},
            "hypermodel": {"name": "kt_builder:Builder"}, "objective": {"metric": "val_accuracy"},
            "tuner": {"kind": tuner, "max_trials": 2}, "training": {"max_epochs": 2}}
    result = sweeps.run(spec, stream=sys.stderr)
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    parent, trials = runs_of(tracking_uri, "digits_kt")
    assert parent.data.tags[T.OPTIMIZER] == "builder"
    for run in trials:
        assert run.data.tags[T.OPTIMIZER] == "builder"
        assert run.data.params["batch_size"] in ("16", "32")  # declared in its fit()
        assert run.data.params["lr"] in ("0.05", "0.1")
        # the builder's SGD, not sweeps' schedule: a constant learning rate every epoch
        rates = MlflowClient(tracking_uri).get_metric_history(run.info.run_id, "learning_rate")
        assert {round(m.value, 6) for m in rates} == {float(run.data.params["lr"])}


def test_spec_entry_the_builder_never_declares_is_refused_before_anything_is_logged(
        user_project, tracking_uri, capsys) -> None:
    text = (user_project / "my_sweep.yaml").read_text().replace("units_0: {max: 64}",
                                                                "unit_0: {max: 64}")
    (user_project / "bad.yaml").write_text(text)
    assert main(["run", "bad.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: bad.yaml: search_space.unit_0: not a hyperparameter the '
                          'builder declares when built with default values (did you mean '
                          '"units_0"?)'), err
    assert "\n" not in err
    parent, trials = runs_of(tracking_uri, "bad")
    assert parent == [] and trials == []
    assert not (user_project / ".sweeps" / "my_sweep").exists()  # the spec's name


def test_objective_the_model_does_not_report_is_refused(workdir, tracking_uri, capsys) -> None:
    assert main(["run", "diabetes", "--set", "objective.metric=val_accuracy"]) == 2
    err = capsys.readouterr().err
    assert "diabetes.yaml (bundled): objective.metric: expected a metric the model reports" in err
    assert 'val_mae' in err and 'got "val_accuracy"' in err
    assert runs_of(tracking_uri, "diabetes") == ([], [])


def test_entry_point_names_a_hypermodel(workdir, tracking_uri, monkeypatch) -> None:
    (workdir / "site").mkdir()
    write_module(workdir / "site", "ep_models", """
        import keras

        def tiny(hp):
            inputs = keras.Input(shape=(4,))
            return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(
                keras.layers.Dense(hp.Int("units", 4, 8, step=4))(inputs)))
    """)
    dist = workdir / "site" / "ep_models_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-models-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[sweeps.hypermodels]\ntiny_iris = ep_models:tiny\n")
    monkeypatch.syspath_prepend(str(workdir / "site"))
    result = sweeps.run({"data": {"name": "iris"}, "hypermodel": "tiny_iris",
                         "tuner": {"kind": "random", "max_trials": 1},
                         "training": {"max_epochs": 1}}, stream=sys.stderr)
    assert result.trials[0].status.value == "COMPLETED"
    assert result.trials[0].params["units"] in (4, 8)
    sys.modules.pop("ep_models", None)


def test_csv_source_in_a_sweep_and_a_bad_npz_named_in_one_line(workdir, tracking_uri,
                                                               capsys) -> None:
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.assign(target=iris.target_names[iris.target])  # text labels
    frame.to_csv(workdir / "iris.csv", index=False)
    (workdir / "iris.yaml").write_text(
        "data: {name: csv, path: iris.csv, target: target, test_split: 0.2}\n"
        "hypermodel: mlp\nobjective: {metric: val_accuracy}\n"
        "search_space: {units: {min: 8, max: 16, step: 8}}\n"
        "tuner: {kind: random, max_trials: 1}\ntraining: {max_epochs: 2}\n")
    assert main(["run", "iris.yaml"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "multiclass, 3 classes (inferred from the labels)" in first
    np.savez(workdir / "bad.npz", x_train=np.zeros((10, 3)), y_train=np.zeros(9))
    (workdir / "bad.yaml").write_text("data: {name: npz, path: bad.npz}\nhypermodel: mlp\n")
    assert main(["run", "bad.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert "bad.npz" in err and "data." in err and "\n" not in err, err
