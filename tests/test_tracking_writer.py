"""Work moved off the training path: tracking's background writer and the best-epoch weights
kept in memory, and what repairs a sweep killed while they were pending."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from urllib.parse import urlparse

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch
from mlflow.tracking import MlflowClient

from sweeps.engines.checkpoints import BestEpochWeights, KerasTunerBestEpoch
from sweeps.metrics import Direction
from sweeps.runner import run_sweep
from sweeps.spec import load_spec
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
