"""TensorBoard logs of a sweep (``sweeps tensorboard``, ``tracking.tensorboard: true``), read
back with TensorBoard's own readers and compared with what MLflow holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.util import tensor_util

from sweeps.cli import main
from sweeps.runner import run_sweep
from sweeps.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
TINY = ["data.subset=300", "training.max_epochs=2", "tracking.tensorboard=true",
        "final.baselines=false", "search_space.units={min: 16, max: 32, step: 16}"]
ENGINES = {
    "random": ["tuner.kind=random", "tuner.max_trials=2"],
    "bayesian": ["tuner.kind=bayesian", "tuner.max_trials=3",
                 "tuner.bayesian.num_initial_points=2"],
    "grid": ["tuner.kind=grid", "search_space={depth: 1, dropout: 0.0, learning_rate: 0.001, "
             "units: {type: choice, values: [16, 32]}}"],
    "hyperband": ["tuner.kind=hyperband", "training.max_epochs=3", "tuner.hyperband.factor=3"],
    "optuna": ["tuner.kind=optuna", "tuner.max_trials=2", "tuner.optuna.pruner=none"],
}


# -- TensorBoard's readers ------------------------------------------------------------------
def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of one run folder (its own event files only), by tag."""
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    found = {}
    for tag in acc.Tags()["tensors"]:
        if tag.startswith("_hparams_/"):
            continue
        found[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
                      for e in acc.Tensors(tag)]
    return found


def hparams_data(folder: Path) -> dict[str, object]:
    """The HParams plugin's data in one run folder: experiment, session start and end."""
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    data: dict[str, object] = {}
    for tag in acc.Tags()["tensors"]:
        content = acc.SummaryMetadata(tag).plugin_data.content
        if tag == metadata.EXPERIMENT_TAG:
            data["experiment"] = metadata.parse_experiment_plugin_data(content)
        elif tag == metadata.SESSION_START_INFO_TAG:
            data["start"] = metadata.parse_session_start_info_plugin_data(content)
        elif tag == metadata.SESSION_END_INFO_TAG:
            data["end"] = metadata.parse_session_end_info_plugin_data(content)
    return data


def value_of(proto_value) -> object:
    kind = proto_value.WhichOneof("kind")
    return getattr(proto_value, kind)


def trial_runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], "tags.`sweeps.kind` = 'trial'")


def check_against_mlflow(logdir: Path, uri: str, experiment: str) -> None:
    """Each trial run of the store has its folder: scalars equal to MLflow's metric history,
    its hyperparameters and status in the HParams data; the experiment lists them all."""
    client = MlflowClient(uri)
    runs = trial_runs(uri, experiment)
    assert runs
    assert {p.name for p in logdir.iterdir() if p.is_dir()} == {
        f"trial_{int(r.data.tags['sweeps.trial_number']):03d}" for r in runs}
    names = set()
    for run in runs:
        folder = logdir / f"trial_{int(run.data.tags['sweeps.trial_number']):03d}"
        epochs = {k for k in run.data.metrics if "best_" not in k
                  and k not in ("epochs_run", "wall_time_s", "param_count")}
        assert {"loss", "val_loss"} <= epochs
        for key in epochs:
            group, tag = ("validation", f"epoch_{key[4:]}") if key.startswith("val_") else (
                "train", f"epoch_{key}")
            history = [(m.step, m.value) for m in sorted(
                client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)]
            written = scalars(folder / group)[tag]
            assert [s for s, _ in written] == [s for s, _ in history]
            np.testing.assert_allclose([v for _, v in written], [v for _, v in history],
                                       rtol=1e-6)
        root = scalars(folder)
        objective = next(k for k in run.data.metrics if k.startswith("best_"))
        assert root[objective] == [(0, pytest.approx(run.data.metrics[objective], rel=1e-6))]
        data = hparams_data(folder)
        values = {k: value_of(v) for k, v in data["start"].hparams.items()}
        assert values == {k: pytest.approx(float(v)) if v.replace(".", "", 1).replace(
            "e-", "", 1).isdigit() else v for k, v in run.data.params.items()}
        status = {"COMPLETED": "STATUS_SUCCESS", "PRUNED": "STATUS_UNKNOWN",
                  "FAILED": "STATUS_FAILURE"}[run.data.tags["sweeps.trial_status"]]
        assert api_pb2.Status.Name(data["end"].status) == status
        names |= set(values)
    experiment_config = hparams_data(logdir)["experiment"]
    assert {h.name for h in experiment_config.hparam_infos} == names
    assert experiment_config.metric_infos[0].name.tag.startswith("best_")


def same_scalars(live: Path, exported: Path) -> None:
    """What the sweep wrote as it ran equals what the export wrote from MLflow."""
    folders = sorted(p.name for p in exported.iterdir() if p.is_dir())
    assert sorted(p.name for p in live.iterdir() if p.is_dir()) == folders
    for name in folders:
        for group in ("train", "validation"):
            mine, theirs = scalars(live / name / group), scalars(exported / name / group)
            assert mine.keys() == theirs.keys()
            for tag in mine:
                assert [s for s, _ in mine[tag]] == [s for s, _ in theirs[tag]]
                np.testing.assert_allclose([v for _, v in mine[tag]],
                                           [v for _, v in theirs[tag]], rtol=1e-6)


# -- the tests ------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", list(ENGINES))
def test_each_engine_s_sweep_exports_and_writes_live_the_same(
        engine: str, workdir: Path, tracking_uri: str, capsys) -> None:
    spec = load_spec("mnist_mlp", [*TINY, *ENGINES[engine]])
    with open(os.devnull, "w") as quiet:
        run_sweep(spec, work_dir=workdir / ".sweeps", stream=quiet)
    assert main(["tensorboard", "mnist_mlp", "--logdir", "tb"]) == 0
    out = capsys.readouterr().out
    assert "written to tb" in out and "tensorboard --logdir tb" in out
    check_against_mlflow(workdir / "tb", tracking_uri, "mnist_mlp")
    live = next((workdir / ".sweeps" / "mnist_mlp").glob("*/tensorboard"))
    same_scalars(live, workdir / "tb")
    config = hparams_data(live)["experiment"]  # one process saw every trial: written at the end
    assert {h.name for h in config.hparam_infos} == {
        h.name for h in hparams_data(workdir / "tb")["experiment"].hparam_infos}

    # Again, into the same folder: replaced, not appended to.
    assert main(["tensorboard", "mnist_mlp", "--logdir", "tb"]) == 0
    check_against_mlflow(workdir / "tb", tracking_uri, "mnist_mlp")


def test_serve_shows_every_trial_in_the_hparams_dashboard(store: Path, tmp_path: Path) -> None:
    # The shared store's Optuna sweep of mnist_mlp (4 trials), logged without TensorBoard.
    assert not list((store / ".sweeps").glob("*/*/tensorboard"))  # off by default
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeps", "tensorboard", "mnist_mlp", "--serve",
         "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}", "--logdir", str(tmp_path / "tb")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(" at http" in x for x in lines):
            lines.append(proc.stdout.readline())
        url = next(x for x in lines if " at http" in x).split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            f"{url}/data/plugin/hparams/session_groups", method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"startIndex": 0, "sliceSize": 100, "allowedStatuses": [
                "STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]}).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            groups = json.load(response)["sessionGroups"]
        assert sorted(g["name"] for g in groups) == [f"trial_00{n}" for n in range(1, 5)]
        for group in groups:
            assert {"depth", "learning_rate"} <= set(group["hparams"])
            assert any(m["name"]["tag"] == "best_val_accuracy" for m in group["metricValues"])
            assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()


def test_an_unknown_sweep_is_one_line(store: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sweeps", "tensorboard", "no_such_sweep",
                           "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}"],
                          capture_output=True, text=True, cwd=store,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: no sweep named 'no_such_sweep' in this MLflow store"]
    assert not (store / "tensorboard").exists()
