"""A real ``mlflow server`` on 127.0.0.1 that goes away in the middle of a sweep: the sweep
trains on, its writes journaled, and ends normally once the server is back; past its patience
it stops with one line, and ``--resume`` completes it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeps import runtime
from sweeps.ui import free_port

REPO = Path(__file__).resolve().parents[2]
# Four random-search trials of a few seconds each, so that the kill lands in the third.
SWEEP = ["run", "mnist_mlp", "--tuner", "random", "--max-trials", "4", "--max-epochs", "10",
         "--set", "data.subset=3000", "--set", "search_space.units={min: 16, max: 32, step: 16}",
         "--set", "training.early_stopping.patience=20"]


class MlflowServer:
    """``mlflow server`` on a sqlite store and a local artifact folder, started and killed
    (its whole process group: the server runs its workers as child processes)."""

    def __init__(self, root: Path) -> None:
        self.db = root / "mlflow.db"  # where conftest checks that no run is left RUNNING
        self.artifacts = root / "artifacts"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 180) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
             f"sqlite:///{self.db}", "--artifacts-destination", str(self.artifacts),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            # Tracking only: without MLflow's job-execution workers (a job runner and huey
            # consumers for GenAI features, 8 more processes importing MLflow, ~1 GB), whose
            # start-up would compete with the sweep for this machine's two cores.
            env={**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING",
                 "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "mlflow server exited at start-up"
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.kill()
        pytest.fail(f"mlflow server did not answer at {self.url} within {timeout_s:.0f} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def trials(self) -> tuple[int, int]:
        """Trial runs FINISHED, and epochs logged by the trial run now RUNNING, read from the
        server's database directly."""
        try:
            with sqlite3.connect(self.db, timeout=5) as conn:
                finished = conn.execute("SELECT COUNT(*) FROM runs WHERE name LIKE 'trial-%' "
                                        "AND status = 'FINISHED'").fetchone()[0]
                epochs = conn.execute(
                    "SELECT COUNT(*) FROM metrics m JOIN runs r ON m.run_uuid = r.run_uuid "
                    "WHERE r.name LIKE 'trial-%' AND r.status = 'RUNNING' AND m.key = 'loss'"
                ).fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
            return 0, 0
        return finished, epochs


@pytest.fixture
def mlflow_server(workdir: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(workdir)
    try:
        yield server
    finally:
        server.kill()


def _sweeps(*args: str) -> list[str]:
    return [sys.executable, "-m", "sweeps", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_server_away_mid_sweep_the_sweep_trains_on_and_ends_without_resume(
        mlflow_server: MlflowServer, workdir: Path) -> None:
    mlflow_server.start()
    sweep = subprocess.Popen(_sweeps(*SWEEP, "--tracking-uri", mlflow_server.url),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for(mlflow_server, sweep, (1, 1))  # one trial done, the second training
        mlflow_server.kill()
        time.sleep(30)  # trials end meanwhile (the figure in docs/resume-and-workers.md: 60 s)
        mlflow_server.start()  # the same store and port
        _, err = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped answering" in err and "were replayed" in err
    client = MlflowClient(mlflow_server.url)
    runs = client.search_runs([client.get_experiment_by_name("mnist_mlp").experiment_id])
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert "sweeps.resumes" not in parents[0].data.tags
    trials = [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]
    # Every trial run once, FINISHED, with each of its epochs' metrics exactly once.
    assert sorted(int(r.data.tags["sweeps.trial_number"]) for r in trials) == [1, 2, 3, 4]
    assert {r.info.status for r in trials} == {"FINISHED"}
    journaled = 0
    for run in trials:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert sorted(steps) == list(range(int(run.data.metrics["epochs_run"]))), steps
        assert any(a.path == "learning_curves.png"
                   for a in client.list_artifacts(run.info.run_id))
        journaled += "sweeps.journal_id" in run.data.tags
    assert journaled >= 1  # at least one trial ran and ended while the server was away
    assert not list((workdir / ".sweeps").rglob("tracking-journal*"))  # all replayed


def test_server_away_past_the_patience_stops_the_sweep_in_one_line_and_resume_completes_it(
        mlflow_server: MlflowServer, workdir: Path) -> None:
    mlflow_server.start()
    command = _sweeps(*SWEEP, "--tracking-uri", mlflow_server.url,
                      "--set", "tracking.patience_minutes=0.2")
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env())
    try:
        _wait_for(mlflow_server, sweep, (2, 1))  # two trials done, the third one training
        mlflow_server.kill()
        killed_at = time.monotonic()
        _, err = sweep.communicate(timeout=150)
        stopped_after = time.monotonic() - killed_at
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    print(f"sweep exited {stopped_after:.1f} s after the server was killed")
    assert sweep.returncode == 1
    assert stopped_after < 120
    lines = err.strip().splitlines()
    assert re.fullmatch(
        rf"error: the MLflow tracking server at {mlflow_server.url} stopped answering "
        r"\((connection refused|connection lost)\); the sweep stopped after trial [2-4]; start "
        "the server again and run the same command with --resume", lines[-1]), err
    assert "Traceback" not in err
    assert list((workdir / ".sweeps").rglob("tracking-journal*.jsonl"))  # kept for --resume

    mlflow_server.start()  # the same store and port
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=_env(),
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    client = MlflowClient(mlflow_server.url)
    runs = client.search_runs([client.get_experiment_by_name("mnist_mlp").experiment_id])
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["sweeps.resumes"] == "1"
    trials = [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]
    finished = sorted(int(r.data.tags["sweeps.trial_number"]) for r in trials
                      if r.info.status == "FINISHED")
    assert finished == [1, 2, 3, 4]  # each trial once: nothing lost, nothing duplicated
    # A trial cut off with the server (if any): its first run ended KILLED by the resume.
    assert {r.info.status for r in trials if r.info.status != "FINISHED"} <= {"KILLED"}
    assert not list((workdir / ".sweeps").rglob("tracking-journal*.jsonl"))


def _wait_for(server: MlflowServer, sweep: subprocess.Popen, trials: tuple[int, int]) -> None:
    deadline = time.monotonic() + 400
    while server.trials() < trials:
        assert sweep.poll() is None, sweep.communicate()[1]
        assert time.monotonic() < deadline, f"{trials} not reached in time"
        time.sleep(0.05)


def test_a_sweep_bounds_mlflow_http_retries_and_quiets_urllib3_then_restores_both(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the caller's own choice stays
    urllib3_logger = logging.getLogger("urllib3")
    monkeypatch.setattr(urllib3_logger, "level", logging.NOTSET)
    with runtime.scope():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
        assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "2"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.WARNING)
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
    assert urllib3_logger.level == logging.NOTSET


def test_a_server_down_at_the_start_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from sweeps.errors import TrackingError
    from tracking import MlflowTracker

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # refused at once, no waiting
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(TrackingError) as raised:
        MlflowTracker(url, "exp")
    assert str(raised.value) == f"cannot use the MLflow store {url}: connection refused"


@pytest.mark.parametrize(("message", "expected"), [
    ("API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch failed with exception "
     "HTTPConnectionPool(...): Max retries exceeded (Caused by NewConnectionError('...: "
     "[Errno 111] Connection refused'))", "connection refused"),
    ("API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch failed with exception "
     "('Connection broken: IncompleteRead(0 bytes read, 2 more expected)', "
     "IncompleteRead(0 bytes read, 2 more expected))", "connection lost"),
    ("API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/get failed with exception "
     "('Connection aborted.', RemoteDisconnected('Remote end closed connection without "
     "response'))", "connection lost"),
])
def test_the_reason_a_server_stopped_answering_is_short(message: str, expected: str) -> None:
    from mlflow.exceptions import MlflowException

    from tracking.store import reason

    assert reason(MlflowException(message)) == expected
