"""Work moved off the training path: tracking's background writer and the best-epoch weights
kept in memory, and what repairs a sweep killed while they were pending."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch
from mlflow.tracking import MlflowClient

from sweeps.engines._keras_tuner_compat import KerasTunerBestEpoch
from sweeps.metrics import Direction
from sweeps.runner import run_sweep
from sweeps.spec import ObjectiveSpec, load_spec
from sweeps.training.checkpoints import BestEpochWeights, BestTrialModel
from tracking import tags as T
from tracking.writer import Writer


def test_writer_runs_calls_in_order_off_the_callers_thread() -> None:
    writer = Writer()
    seen: list[tuple[int, str]] = []
    for i in range(50):
        writer.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
    writer.flush()
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"sweeps-tracking"}
    writer.close()
    writer.submit(seen.append, (50, "again"))  # usable after close: a new thread
    writer.flush()
    assert seen[-1] == (50, "again")
    writer.close()


def test_writer_raises_the_first_error_on_flush_and_drops_what_follows() -> None:
    writer = Writer()
    done: list[int] = []
    writer.submit(done.append, 1)
    writer.submit(lambda: 1 / 0)
    writer.submit(done.append, 2)  # after the failure: dropped
    with pytest.raises(ZeroDivisionError):
        writer.flush()
    assert isinstance(writer.error, ZeroDivisionError)
    writer.submit(done.append, 3)
    with pytest.raises(ZeroDivisionError):
        writer.flush()
    writer.close()  # logs, does not raise: the sweep is already ending
    assert done == [1]


def _model() -> keras.Model:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.build((None, 3))
    return model


def _set_all(model: keras.Model, value: float) -> None:
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])


@pytest.mark.parametrize("kind", ["keras", "keras-tuner"])
def test_best_epoch_weights_are_written_once_at_the_end_from_memory(tmp_path: Path,
                                                                    kind: str) -> None:
    path = tmp_path / "best.weights.h5"
    if kind == "keras":
        callback: keras.callbacks.Callback = BestEpochWeights(path, "val_loss", Direction.MIN)
    else:
        objective = kt.Objective("val_loss", direction="min")
        callback = KerasTunerBestEpoch(SaveBestEpoch(objective, str(path)))
    model = _model()
    callback.set_model(model)
    for epoch, (value, loss) in enumerate([(1.0, 0.9), (2.0, 0.5), (3.0, 0.7)]):
        _set_all(model, value)
        callback.on_epoch_end(epoch, {"val_loss": loss})
        assert not path.exists()  # nothing written while training
    callback.on_train_end()
    assert all(np.all(w == 3.0) for w in model.get_weights())  # its own weights left alone
    loaded = _model()
    loaded.load_weights(path)
    assert all(np.all(w == 2.0) for w in loaded.get_weights())  # the best epoch's


def test_resume_logs_learning_curves_a_killed_sweep_left_pending(tracking_uri: str) -> None:
    def spec(trials: int):
        return load_spec("mnist_mlp", [
            "tuner.kind=random", f"tuner.max_trials={trials}", "training.max_epochs=2",
            "data.subset=300", "search_space.units={min: 16, max: 16}"])

    first = run_sweep(spec(2), work_dir=Path(".sweeps"), stream=io.StringIO())
    client = MlflowClient(tracking_uri)
    trials = client.search_runs([first.experiment_id],
                                f"tags.`{T.KIND}` = '{T.KIND_TRIAL}'")
    assert len(trials) == 2
    for run in trials:  # every curve written, and the marker gone
        assert [a.path for a in client.list_artifacts(run.info.run_id)
                if a.path == "learning_curves.png"]
        assert T.CURVES_PENDING not in run.data.tags
    # As a sweep killed between a trial's end and its curves' upload leaves it.
    victim = trials[0]
    png = Path(urlparse(victim.info.artifact_uri).path) / "learning_curves.png"
    png.unlink()
    client.set_tag(victim.info.run_id, T.CURVES_PENDING, "true")

    run_sweep(spec(3), work_dir=Path(".sweeps"), stream=io.StringIO(), resume=True)
    assert png.stat().st_size > 10_000
    assert T.CURVES_PENDING not in client.get_run(victim.info.run_id).data.tags


def test_best_trial_model_keeps_the_strictly_better_trial_at_its_best_epoch() -> None:
    kept = BestTrialModel(ObjectiveSpec("val_accuracy", Direction.MAX))
    first, second, third = _model(), _model(), _model()
    weights = {}
    for value, model in ((1.0, first), (2.0, second), (3.0, third)):
        _set_all(model, value + 10)  # its last epoch's weights
        weights[value] = [np.full_like(w, value) for w in model.get_weights()]
    kept.offer("a", 0.8, first, weights[1.0])
    kept.offer("b", 0.8, second, weights[2.0])  # equal: the earlier trial stays
    kept.offer("c", float("nan"), third, weights[3.0])  # no result: never kept
    kept.offer("d", 0.9, third, None)  # no epoch improved: nothing to keep
    assert kept.trial_id == "a"
    assert kept.take("b") is None  # not kept: its engine loads it from its checkpoint
    assert kept.take("a") is first
    assert all(np.all(w == 1.0) for w in first.get_weights())  # at its best epoch
    kept.offer("e", 0.95, second, weights[2.0])
    assert kept.trial_id == "e"
    smaller = BestTrialModel(ObjectiveSpec("val_loss", Direction.MIN))
    smaller.offer("a", 0.5, first, weights[1.0])
    smaller.offer("b", 0.4, second, weights[2.0])
    assert smaller.trial_id == "b"


@pytest.mark.parametrize("tuner", ["random", "optuna"])
def test_the_best_trial_is_tested_as_it_trained_not_built_and_loaded_again(
        tracking_uri: str, tuner: str) -> None:
    spec = load_spec("mnist_mlp", [
        f"tuner.kind={tuner}", "tuner.max_trials=3", "training.max_epochs=3",
        "data.subset=600", "search_space.units={min: 16, max: 32, step: 16}"])
    result = run_sweep(spec, work_dir=Path(".sweeps"), stream=io.StringIO())
    assert result.best is not None
    # The model trained in this process (a model loaded from its checkpoint has a fresh,
    # unbuilt optimizer), at its best epoch: the weights its checkpoint file holds.
    assert int(result.model.optimizer.iterations.numpy()) > 0
    name = ("checkpoint.weights.h5" if tuner == "random"
            else f"trial_{result.best.trial_id}.weights.h5")
    files = [p for p in Path(".sweeps").rglob(name)
             if tuner != "random" or p.parent.name == f"trial_{result.best.trial_id}"]
    assert len(files) == 1
    loaded = keras.models.clone_model(result.model)
    loaded.load_weights(files[0])
    loaded.compile(loss=result.model.loss, metrics=["accuracy"])
    for got, want in zip(result.model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    logs = loaded.evaluate(*_test_set(spec), batch_size=1024, verbose=0, return_dict=True)
    assert result.test_metrics["test_accuracy"] == pytest.approx(logs["accuracy"], abs=1e-6)


def _test_set(spec: Any) -> tuple[np.ndarray, np.ndarray]:
    from sweeps.data import load_dataset

    data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics, seed=spec.seed)
    return data.x_test, data.y_test
