"""Opening MLflow stores: a new sqlite store created by several processes at once, readers
meanwhile, and stores that cannot be opened. Real processes, a real sqlite file."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeps.errors import TrackingError
from tracking import store

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_three_sweeps_and_a_reader_on_one_new_sqlite_store(workdir: Path, tracking_uri: str) -> None:
    assert not (workdir / "mlflow.db").exists()
    sweeps = [subprocess.Popen(
        [sys.executable, "-m", "sweeps", "run", "mnist_mlp", "--tuner", "random",
         "--max-trials", "1", "--max-epochs", "1", "--set", "data.subset=300",
         "--work-dir", f"w{n}", "--experiment", f"e{n}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        for n in range(3)]  # started back to back: they reach the new store together
    try:
        deadline = time.monotonic() + 300
        while not (workdir / "mlflow.db").exists():  # the first of them is creating it
            assert time.monotonic() < deadline and all(p.poll() is None for p in sweeps)
            time.sleep(0.05)
        reader = subprocess.run([sys.executable, "-m", "sweeps", "compare"], capture_output=True,
                                text=True, env=_env(), timeout=300)
        outcomes = [(*p.communicate(timeout=600), p.returncode) for p in sweeps]
    finally:
        for p in sweeps:
            if p.poll() is None:
                p.kill()
                p.wait()
    for out, err, code in outcomes:
        assert code == 0, err
        assert "Traceback" not in err and "error" not in err.lower(), err
        assert "top 1 of 1 completed trials" in out
    # A result (some sweep already finished) or a clean error (none had yet), never a traceback.
    assert "Traceback" not in reader.stderr, reader.stderr
    assert reader.returncode == 0 or reader.stderr.startswith("error: "), reader.stderr
    client = MlflowClient(tracking_uri)
    parents = client.search_runs(
        [client.get_experiment_by_name(f"e{n}").experiment_id for n in range(3)],
        "tags.`sweeps.kind` = 'sweep'")
    assert len(parents) == 3 and {r.info.status for r in parents} == {"FINISHED"}


def test_a_store_held_too_long_by_another_process_is_a_clear_error(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "CREATION_WAIT_S", 0.5)
    lock = workdir / "held.db.lock"
    with open(lock, "w") as other:  # another open file: flock conflicts as across processes
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(TrackingError, match=r"another process has held .*held\.db\.lock for "
                                                r"over 0 s while opening it"):
            store.open_client(f"sqlite:///{workdir / 'held.db'}")
        assert time.monotonic() - started < 5
    assert not (workdir / "held.db").exists()  # nothing created behind the holder's back


def test_a_file_that_is_not_a_database_is_one_line_for_readers_and_sweeps(workdir: Path) -> None:
    bad = workdir / "bad.db"
    bad.write_bytes(b"not a database, just text " * 100)
    compare = subprocess.run([sys.executable, "-m", "sweeps", "compare", "--tracking-uri",
                              f"sqlite:///{bad}"], capture_output=True, text=True, env=_env(),
                             timeout=120)
    assert compare.returncode == 1
    assert compare.stderr == (f"error: cannot open the MLflow store sqlite:///{bad}: "
                              "(sqlite3.DatabaseError) file is not a database\n")
    from tracking import MlflowTracker

    with pytest.raises(TrackingError, match="file is not a database"):
        MlflowTracker(f"sqlite:///{bad}", "exp")


#: A process that opens a new store and is interrupted (as by Ctrl-C) after argv[2] seconds.
_INTERRUPTED_CREATION = """
import signal, sys
from tracking.store import open_client

def interrupt(signum, frame):
    raise KeyboardInterrupt

signal.signal(signal.SIGALRM, interrupt)
signal.setitimer(signal.ITIMER_REAL, float(sys.argv[2]))
try:
    open_client(sys.argv[1])
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_a_new_store_interrupted_while_created_is_all_or_nothing(workdir: Path) -> None:
    # MLflow's migrations run as many transactions: a stop between two of them used to leave
    # a database no MLflow could open again ("table _alembic_tmp_experiments already exists").
    # Interrupted at moments across its creation (about a second here), the store is either
    # absent or complete, and the next sweep's client opens it.
    interrupted = 0
    for n, after in enumerate((0.2, 0.4, 0.6, 0.8, 1.0, 1.3)):
        database = workdir / f"s{n}.db"
        uri = f"sqlite:///{database}"
        proc = subprocess.run([sys.executable, "-c", _INTERRUPTED_CREATION, uri, str(after)],
                              capture_output=True, text=True, env=_env(), timeout=120)
        assert proc.returncode in (0, 130), proc.stderr
        interrupted += proc.returncode == 130
        assert not list(workdir.glob(f"s{n}.db.creating-*")) or proc.returncode == 130
        if database.exists():
            assert [e.name for e in store.open_client(uri).search_experiments()] == ["Default"]
        store.open_client(uri)  # what the next sweep does: creates or opens it
        assert not list(workdir.glob(f"s{n}.db.creating-*"))  # a stopped creation's is gone
    assert interrupted  # at least one moment fell inside the creation
