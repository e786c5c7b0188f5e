"""Several worker processes on one Optuna study in a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeps.spec import load_spec
from sweeps.state import sweep_id
from tests.integration.postgres import (
    create_database,
    postgres_server,
    restart_server,
    server_binaries,
)

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--max-trials", "6", "--max-epochs", "2", "--set", "data.subset=600",
         "--set", "search_space.units={min: 16, max: 32, step: 16}",
         "--set", "tuner.optuna.pruner=none"]

pytestmark = pytest.mark.skipif(
    server_binaries() is None,
    reason="PostgreSQL server not installed (apt-get install postgresql; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


def test_three_workers_run_exactly_max_trials_under_one_sweep_run(postgres, workdir) -> None:
    url, bindir = postgres
    storage = create_database(url, bindir, "optuna_three")
    tracking = create_database(url, bindir, "mlflow_three")
    # Create both schemas once, as a team does when it sets up the servers (the MLflow
    # server, `optuna create-study`), rather than from three processes at once.
    MlflowClient(tracking).search_experiments()
    optuna.storages.RDBStorage(storage)

    cmd = [sys.executable, "-m", "sweeps", "worker", "mnist_mlp", "--storage", storage,
           "--tracking-uri", tracking, *SMALL]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for _ in range(3)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err

    spec = load_spec("mnist_mlp", ["tuner.kind=optuna", "tuner.max_trials=6",
                                   "training.max_epochs=2", "data.subset=600",
                                   "search_space.units={min: 16, max: 32, step: 16}",
                                   "tuner.optuna.pruner=none"])
    study = optuna.load_study(study_name=sweep_id(spec), storage=storage)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    numbers = [t.number for t in study.trials]
    assert len(complete) == 6
    assert len(numbers) == len(set(numbers))
    surplus = [t for t in study.trials if t.user_attrs.get("sweeps_surplus")]
    # Only workers asking at the very same moment for the last slots get a surplus trial.
    assert len(study.trials) == 6 + len(surplus) and len(surplus) <= 2

    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("mnist_mlp").experiment_id])
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    trials = [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.metrics["trials_completed"] == 6
    assert 0 < parents[0].data.metrics["test_accuracy"] <= 1
    assert sorted(int(r.data.tags["sweeps.trial_number"]) for r in trials) == sorted(
        t.number + 1 for t in complete)
    assert all(r.info.status == "FINISHED" for r in trials)
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parents[0].info.run_id}
    ran = sum(out.count("\ntrial ") + out.startswith("trial ") for out, _ in outputs)
    assert ran == 6  # every trial ran once, somewhere


def test_the_sweep_ends_even_when_its_founder_dies(postgres, workdir) -> None:
    url, bindir = postgres
    storage = create_database(url, bindir, "optuna_founder")
    tracking = create_database(url, bindir, "mlflow_founder")
    client = MlflowClient(tracking)
    client.search_experiments()
    optuna.storages.RDBStorage(storage)
    cmd = [sys.executable, "-m", "sweeps", "worker", "mnist_mlp", "--storage", storage,
           "--tracking-uri", tracking, "--max-trials", "4", "--max-epochs", "8",
           "--set", "data.subset=3000", "--set", "search_space.units={min: 16, max: 32, step: 16}",
           "--set", "tuner.optuna.pruner=none", "--set", "training.early_stopping.patience=20"]
    # A dead worker's trial is noticed after the heartbeat grace; keep the test short.
    env = {**os.environ, "PYTHONPATH": str(REPO), "SWEEPS_HEARTBEAT_GRACE_S": "6"}

    founder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while not _training_trial(client):
        assert founder.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    founder.send_signal(signal.SIGKILL)
    founder.wait(timeout=30)

    others = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env) for _ in range(2)]
    for worker in others:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err

    name = next(n for n in optuna.get_all_study_names(storage) if not n.endswith(":ended"))
    study = optuna.load_study(study_name=name, storage=storage)
    states = [t.state.name for t in study.trials if not t.user_attrs.get("sweeps_surplus")]
    assert states.count("COMPLETE") == 4 and states.count("FAIL") == 1
    dead = next(t for t in study.trials if t.state.name == "FAIL"
                and not t.user_attrs.get("sweeps_surplus"))
    assert any(t.user_attrs.get("sweeps_retry_of") == dead.number for t in study.trials)

    runs = client.search_runs([client.get_experiment_by_name("mnist_mlp").experiment_id])
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    trials = [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.info.status for r in trials) == ["FINISHED"] * 4 + ["KILLED"]
    assert parents[0].data.metrics["trials_completed"] == 4


def _training_trial(client: MlflowClient) -> bool:
    experiment = client.get_experiment_by_name("mnist_mlp")
    if experiment is None:
        return False
    running = client.search_runs([experiment.experiment_id],
                                 "attributes.status = 'RUNNING' and tags.`sweeps.kind` = 'trial'")
    return any("loss" in run.data.metrics for run in running)


def test_postgresql_restarted_under_two_workers_loses_no_trial(postgres, workdir) -> None:
    url, bindir = postgres
    storage = create_database(url, bindir, "optuna_restart")
    optuna.storages.RDBStorage(storage)
    # MLflow in sqlite: this test is about the Optuna storage going away.
    tracking = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(tracking)
    cmd = [sys.executable, "-m", "sweeps", "worker", "mnist_mlp", "--storage", storage,
           "--tracking-uri", tracking, "--max-trials", "6", "--max-epochs", "6",
           "--set", "data.subset=3000", "--set", "search_space.units={min: 16, max: 32, step: 16}",
           "--set", "tuner.optuna.pruner=hyperband", "--set", "training.early_stopping.patience=20"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for _ in range(2)]
    deadline = time.monotonic() + 300
    while not _training_trial(client):
        assert all(w.poll() is None for w in workers) and time.monotonic() < deadline
        time.sleep(0.2)
    restart_server(url, down_s=5.0)  # stopped as for an upgrade: every connection closed
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, out + err
        assert "Traceback" not in err, err

    name = next(n for n in optuna.get_all_study_names(storage) if not n.endswith(":ended"))
    trials = [t for t in optuna.load_study(study_name=name, storage=storage).trials
              if not t.user_attrs.get("sweeps_surplus")]
    assert sorted({t.state.name for t in trials}) <= ["COMPLETE", "PRUNED"], trials
    assert len(trials) == 6
    runs = client.search_runs([client.get_experiment_by_name("mnist_mlp").experiment_id])
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    trial_runs = [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(trial_runs) == 6 and all(r.info.status == "FINISHED" for r in trial_runs)
