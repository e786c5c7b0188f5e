"""The tracking journal against a real MLflow store: what an outage kept is replayed in order,
placeholders become real run ids, and a replay cut short and done again writes nothing twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from tracking import tags as T
from tracking.journal import Journal, JournaledClient, replay

REPO = Path(__file__).resolve().parents[2]


def _outage_writes(journal: Journal, experiment_id: str, tmp: Path) -> str:
    """What a trial writes while the store is away, journaled as JournaledClient does."""
    placeholder = "journal-0123"
    journal.append("create_run", (experiment_id,),
                   {"run_name": "trial-002", "tags": {T.KIND: T.KIND_TRIAL,
                                                      T.JOURNAL_ID: placeholder}})
    for epoch in range(3):
        journal.append("log_batch", (placeholder,), {"metrics": [
            Metric("loss", 1.0 / (epoch + 1), 1_700_000_000_000 + epoch, epoch)]})
    curve = tmp / "learning_curves.png"
    curve.write_bytes(b"\x89PNG not really")
    journal.append("log_artifact", (placeholder, str(curve)), {})
    curve.unlink()  # a temporary file, gone: the journal kept a copy
    journal.append("log_batch", (placeholder,), {"tags": [RunTag(T.CONTINUES_RUN_ID, placeholder)]})
    journal.append("set_terminated", (placeholder, "FINISHED"), {})
    return placeholder


def test_a_journal_replays_in_order_into_real_runs_once(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("journaled")
    path = workdir / "state" / "tracking-journal.jsonl"
    journal = Journal(path, uri)
    placeholder = _outage_writes(journal, experiment_id, workdir)

    reread = Journal(path, "")
    assert reread.tracking_uri == uri and len(reread.pending) == 7
    saved, artifacts = path.read_text(), workdir / "saved-artifacts"
    shutil.copytree(reread.artifacts, artifacts)
    assert replay(client, reread) == 7
    assert not path.exists() and not reread.artifacts.exists()  # nothing left to keep

    # A crash in the middle of that replay, before any "done" line reached the disk (the
    # last one cut mid-line): every write is made again, and none lands twice.
    path.write_text(saved + '{"done": 1, "ids": {"jour')
    shutil.copytree(artifacts, reread.artifacts)
    again = Journal(path, "")
    assert [e.seq for e in again.pending] == [1, 2, 3, 4, 5, 6, 7]
    assert replay(client, again) == 7

    runs = client.search_runs([experiment_id])
    assert len(runs) == 1  # created once, though its journal id was looked up twice
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags[T.JOURNAL_ID] == placeholder
    # The placeholder inside a tag's value became the real id too.
    assert run.data.tags[T.CONTINUES_RUN_ID] == run.info.run_id
    history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == [0, 1, 2]  # the replayed epoch once
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["learning_curves.png"]


@pytest.fixture
def few_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's HTTP retries as a sweep bounds them (sweeps.runtime): seconds, not minutes."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def test_past_the_patience_a_write_raises_what_the_store_said(
        workdir: Path, few_retries: None) -> None:
    from tests.integration.test_tracking_server import MlflowServer

    server = MlflowServer(workdir)
    server.start()
    client = MlflowClient(server.url)
    experiment_id = client.create_experiment("patience")
    journaled = JournaledClient(client, Journal(workdir / "tracking-journal.jsonl", server.url),
                                patience_s=1.0)
    server.kill()
    journaled.create_run(experiment_id)  # the outage begins: journaled
    time.sleep(1.1)
    with pytest.raises(Exception) as raised:
        journaled.log_batch("journal-x", metrics=[])
    from tracking.store import is_unavailable

    assert is_unavailable(raised.value)
    assert journaled.waiting == 1  # what was journaled stays, for --resume or sync


def test_sync_replays_a_work_dir_by_hand(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("synced")
    journal = Journal(workdir / ".sweeps" / "s" / "abc" / "tracking-journal.jsonl", uri)
    _outage_writes(journal, experiment_id, workdir)
    done = subprocess.run([sys.executable, "-m", "sweeps", "sync", ".sweeps"], cwd=workdir,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"{journal.path.relative_to(workdir)}: 7 writes replayed into "
                           f"{uri}\n")
    assert client.search_runs([experiment_id])[0].info.status == "FINISHED"
    nothing = subprocess.run([sys.executable, "-m", "sweeps", "sync", ".sweeps"], cwd=workdir,
                             capture_output=True, text=True, timeout=120,
                             env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert nothing.stdout == "nothing to replay: no journal under .sweeps\n"
