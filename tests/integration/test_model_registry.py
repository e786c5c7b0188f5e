"""The winner, end to end: real sweeps on MNIST slices, registered, loaded, served, compared."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow.pyfunc
import numpy as np
from mlflow.tracking import MlflowClient

from sweeps.data import load_dataset
from sweeps.runner import SweepResult, run_sweep
from sweeps.spec import load_spec
from sweeps.ui import free_port
from tracking import tags as T

# final.baselines off: these tests are about the registry's own rules; the rule that a model
# losing to the builder's defaults never becomes champion is test_baselines' to check (here it
# would make "champion moves" depend on how one tiny trial compares with the defaults).
SMALL = ["tuner.kind=random", "tuner.max_trials=1", "training.max_epochs=1", "data.subset=600",
         "search_space.units={min: 16, max: 32, step: 16}", "training.batch_size=64",
         "final.baselines=false"]
#: A learning rate too small to learn anything in one epoch: a deterministically worse model.
UNTRAINED = "search_space.learning_rate=1.0e-7"
CHAMPION = "models:/mnist_mlp@champion"


def sweep(work_dir: str, *extra: str) -> tuple[SweepResult, str]:
    out = io.StringIO()
    result = run_sweep(load_spec("mnist_mlp", [*SMALL, *extra]), work_dir=Path(work_dir),
                       stream=out)
    return result, out.getvalue()


def test_the_final_model_is_registered_loads_and_records_its_data(tracking_uri: str) -> None:
    result, output = sweep("first")
    assert "registered mnist_mlp version 1; champion: version 1 (the first; test_accuracy" in (
        output)
    assert result.registered_model.champion_uri == CHAMPION
    client = MlflowClient(tracking_uri)
    version = client.get_model_version_by_alias("mnist_mlp", T.CHAMPION)
    assert version.run_id == result.sweep_run_id
    assert float(version.tags[T.TEST_VALUE]) == result.test_metrics["test_accuracy"]

    model = mlflow.pyfunc.load_model(CHAMPION)
    x_test = load_dataset(load_spec("mnist_mlp").data).x_test[:7]
    assert model.predict(x_test).shape == (7, 10)
    signature = model.metadata.get_input_schema().inputs[0]
    assert signature.shape == (-1, 28, 28) and signature.type == np.dtype("uint8")
    output = model.metadata.get_output_schema().inputs[0]  # what predict returns, as a spec
    assert output.shape == (-1, 10) and output.type == np.dtype("float32")
    # A bundled hypermodel's requirements are known, not inferred: pinned to this process.
    requirements = Path(mlflow.pyfunc.get_model_dependencies(CHAMPION)).read_text().split()
    import keras
    import tensorflow as tf

    assert {f"keras=={keras.__version__}", f"tensorflow=={tf.__version__}",
            f"numpy=={np.__version__}"} <= set(requirements), requirements

    # Dataset inputs: every split on the sweep run, train and validation on the trial run.
    def inputs(run_id: str) -> dict[str, tuple[str, str]]:
        return {i.tags[0].value: (i.dataset.name, i.dataset.digest)
                for i in client.get_run(run_id).inputs.dataset_inputs}

    sweep_inputs = inputs(result.sweep_run_id)
    assert set(sweep_inputs) == {"train", "validation", "test"}
    assert version.tags[T.TEST_DIGEST] == sweep_inputs["test"][1]
    trial = client.search_runs([result.experiment_id], "tags.`sweeps.kind` = 'trial'")[0]
    assert inputs(trial.info.run_id) == {k: sweep_inputs[k] for k in ("train", "validation")}
    assert client.get_experiment(result.experiment_id).tags[T.EXPERIMENT_KIND] == (
        "custom_model_development")

    # Other data (a larger slice) is another dataset: a different digest, not a look-alike.
    other, _ = sweep("other", "data.subset=700", "tracking.register_model=false")
    assert inputs(other.sweep_run_id)["train"] != sweep_inputs["train"]
    assert inputs(other.sweep_run_id)["test"] == sweep_inputs["test"]  # MNIST's own test set


def test_the_champion_moves_only_for_a_better_test_accuracy(tracking_uri: str) -> None:
    _, output = sweep("untrained", UNTRAINED)
    assert "champion: version 1 (the first;" in output
    better, output = sweep("trained")
    assert "registered mnist_mlp version 2; champion: version 2 (test_accuracy " in output
    _, output = sweep("untrained-again", UNTRAINED)  # the same as version 1: not better
    assert "registered mnist_mlp version 3; kept version 2 as champion (test_accuracy " in output
    client = MlflowClient(tracking_uri)
    assert client.get_model_version_by_alias("mnist_mlp", T.CHAMPION).run_id == (
        better.sweep_run_id)


def test_the_champion_serves_predictions(tracking_uri: str) -> None:
    sweep("served")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION, "--env-manager",
         "local", "--host", "127.0.0.1", "--port", str(port)],
        # MLflow execs `uvicorn` by name: the environment's bin/ on PATH, as when it is active.
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the model server did not answer in 180 s"
                time.sleep(1)
        images = load_dataset(load_spec("mnist_mlp").data).x_test[:3]
        request = urllib.request.Request(
            f"{url}/invocations", data=json.dumps({"inputs": images.tolist()}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = np.array(json.loads(response.read())["predictions"])
        assert predictions.shape == (3, 10)
        assert np.allclose(predictions.sum(axis=1), 1.0, atol=1e-4)  # softmax rows
    finally:
        with contextlib.suppress(ProcessLookupError):  # the server and the workers it started
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
