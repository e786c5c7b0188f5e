"""Shared fixtures: every test gets its own working directory and sqlite MLflow store.

Like MLflow's own test suite, a test fails if it leaves any run RUNNING; and if it leaves a
figure helper (``python -m tracking.render``) of this process running.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"

# Offline MNIST for tests: $SWEEPS_DATA_DIR if set, else ../shared/data/mnist beside the repo.
# Without either, the loaders fall back to Keras's download (works online).
if not os.environ.get("SWEEPS_DATA_DIR") and SHARED_MNIST.is_dir():
    os.environ["SWEEPS_DATA_DIR"] = str(SHARED_MNIST)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a temp dir with the tracking store there, so nothing lands in the repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield tmp_path
    running = _running_runs(tmp_path / "mlflow.db")
    assert not running, f"test left MLflow runs RUNNING: {running}"
    helpers = figure_helpers()
    assert not helpers, f"test left figure helpers running: {helpers}"


def figure_helpers() -> list[int]:
    """This process's figure helpers still running, found in Linux's /proc (elsewhere none
    are found)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid ...": the command may hold spaces, so split after it
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):  # ended meanwhile
            continue
        if ppid == os.getpid() and b"tracking.render" in command:
            found.append(int(stat.parent.name))
    return found


def _running_runs(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            rows = conn.execute("SELECT run_uuid FROM runs WHERE status = 'RUNNING'").fetchall()
        except sqlite3.OperationalError:  # store created but no tables yet
            return []
    return [row[0] for row in rows]


@pytest.fixture
def tracking_uri(workdir: Path) -> str:
    return os.environ["MLFLOW_TRACKING_URI"]


@pytest.fixture
def mnist_dir() -> Path:
    path = Path(os.environ.get("SWEEPS_DATA_DIR", SHARED_MNIST))
    if not path.is_dir():
        pytest.fail(f"MNIST IDX files not found at {path}; set SWEEPS_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    """One store holding a model_sizes grid and a small Optuna sweep of mnist_mlp, shared by
    the comparison, report, UI and browser tests."""
    from sweeps.runner import run_sweep
    from sweeps.spec import load_spec

    root = tmp_path_factory.mktemp("store")
    cwd = os.getcwd()
    os.chdir(root)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    try:
        with open(os.devnull, "w") as quiet:
            run_sweep(load_spec("model_sizes", ["data.subset=600", "training.max_epochs=3"]),
                      work_dir=root / ".sweeps", stream=quiet)
            run_sweep(load_spec("mnist_mlp", ["tuner.kind=optuna", "tuner.max_trials=4",
                                              "training.max_epochs=2", "data.subset=600",
                                              "tuner.optuna.pruner=none",
                                              "search_space.units={min: 16, max: 32, step: 16}"]),
                      work_dir=root / ".sweeps", stream=quiet)
    finally:
        os.chdir(cwd)
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return root
