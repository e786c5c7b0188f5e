"""Tracking writes that outlast a tracking-server outage: kept in a durable journal under the
sweep's work dir and replayed in order once the store answers again.

A sweep keeps training while its MLflow server is down (restarted for an upgrade, its
database failing over). :class:`JournaledClient` stands in for the tracker's
``MlflowClient``: reads go to the store as before, but a write that finds the store away is
appended to the :class:`Journal` (and fsynced: a trial counts as done only once its result is
on disk), and so is every write after it, in order, until the journal has been replayed.
Replay is tried at most every :data:`PROBE_S` seconds, on the next write, and waited for before
the sweep's end reads the store back (:meth:`JournaledClient.settle`). Past the patience
(``tracking.patience_minutes``, 30 by default) the sweep stops as it would without a journal,
and ``--resume`` or ``python -m sweeps sync WORK_DIR`` replays what it holds.

Nothing is written twice. A run created during the outage gets a placeholder id
(``journal-<hex>``) that later writes use; on replay the run is created with the tag
``sweeps.journal_id`` and found by it if a replay was cut short after creating it. Metrics
keep the timestamps they were logged with, and MLflow skips a metric whose key, step,
timestamp and value it already holds, so a replayed batch adds nothing the first try wrote.

A journal is this sweep's own state, like keras-tuner's and Optuna's files beside it: its
entries are pickled MLflow entities, so replay only journals your own sweeps wrote.

    client = JournaledClient(open_client(uri), Journal(state_dir / JOURNAL_NAME, uri), 1800)
    client.log_batch(run_id, metrics=[...])     # direct, or journaled during an outage
    client.settle()                              # replayed, or the outage outlasted patience
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mlflow.entities import RunTag
from mlflow.tracking import MlflowClient

from tracking import tags as T
from tracking.store import is_unavailable, reason

__all__ = ["JOURNAL_NAME", "PROBE_S", "Journal", "JournaledClient", "journals_in", "replay",
           "replay_journal"]

JOURNAL_NAME = "tracking-journal.jsonl"
#: How often, at most, a journaled write first tries to replay the journal.
PROBE_S = 5.0
#: The client's writes that wait in the journal during an outage (what the tracker writes
#: while trials train and end); everything else is a read, or made at the sweep's end.
WRITES = ("create_run", "set_tag", "delete_tag", "log_batch", "log_text", "log_artifact",
          "log_inputs", "set_terminated", "update_run")
_PLACEHOLDER = "journal-"

_log = logging.getLogger("tracking.mlflow_tracker")


@dataclass(frozen=True)
class _Entry:
    seq: int
    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class Journal:
    """An append-only file of MLflow writes: one JSON line each, fsynced; a ``done`` line
    once a write is in the store (with the run id a placeholder became)."""

    def __init__(self, path: Path, tracking_uri: str) -> None:
        self.path = path
        self.tracking_uri = tracking_uri
        self.artifacts = path.with_name(path.name + ".artifacts")
        self.pending: list[_Entry] = []
        #: Placeholder run ids and the real ones their runs got on replay.
        self.ids: dict[str, str] = {}
        self._seq = 0
        if path.exists():
            self._load()

    def _load(self) -> None:
        entries: dict[int, _Entry] = {}
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the last line, cut short by a crash: never synced
                continue
            if "uri" in record:
                self.tracking_uri = record["uri"]
            elif "done" in record:
                entries.pop(record["done"], None)
                self.ids.update(record.get("ids", {}))
            else:
                args, kwargs = pickle.loads(base64.b64decode(record["payload"]))
                entries[record["seq"]] = _Entry(record["seq"], record["op"], args, kwargs)
                self._seq = max(self._seq, record["seq"])
        self.pending = [entries[seq] for seq in sorted(entries)]

    def append(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._seq += 1
        if op == "log_artifact":  # the file may be a temporary one: keep a copy
            keep = self.artifacts / str(self._seq)
            keep.mkdir(parents=True, exist_ok=True)
            args = (args[0], shutil.copy(args[1], keep), *args[2:])
        payload = base64.b64encode(pickle.dumps((args, kwargs))).decode()
        self._write({"seq": self._seq, "op": op, "payload": payload},
                    header=not self.path.exists())
        self.pending.append(_Entry(self._seq, op, args, kwargs))

    def done(self, entry: _Entry, ids: dict[str, str] | None = None) -> None:
        self._write({"done": entry.seq, **({"ids": ids} if ids else {})})
        self.pending.remove(entry)
        if ids:
            self.ids.update(ids)
        if not self.pending:  # all replayed: nothing to keep
            self.path.unlink(missing_ok=True)
            shutil.rmtree(self.artifacts, ignore_errors=True)

    def _write(self, record: dict[str, Any], *, header: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as out:
            if header:
                out.write(json.dumps({"uri": self.tracking_uri}) + "\n")
            out.write(json.dumps(record) + "\n")
            out.flush()
            os.fsync(out.fileno())


class JournaledClient:
    """``MlflowClient`` for a sweep's tracker: its writes wait in ``journal`` while the store
    is away, for up to ``patience_s``; everything else is the client's own."""

    def __init__(self, client: MlflowClient, journal: Journal, patience_s: float) -> None:
        self._client = client
        self.journal = journal
        self.patience_s = patience_s
        self._lock = threading.RLock()
        self._since: float | None = None  # when the outage began (None: the store answers)
        self._error: Exception | None = None  # what the store last said about it
        self._probed = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def waiting(self) -> int:
        """How many writes wait in the journal."""
        return len(self.journal.pending)

    def _write(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            if self.journal.pending and not self._replay(wait=False):
                return self._keep(op, args, kwargs)
            try:
                return getattr(self._client, op)(*self._mapped(args), **self._mapped(kwargs))
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                self._went_away(exc)
                return self._keep(op, args, kwargs)

    def _keep(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Journal a write; past the patience, raise what the store said instead."""
        assert self._since is not None and self._error is not None
        if time.monotonic() - self._since > self.patience_s:
            raise self._error
        result = None
        if op == "create_run":
            run_id = f"{_PLACEHOLDER}{uuid.uuid4().hex}"
            kwargs = {**kwargs, "tags": {**(kwargs.get("tags") or {}), T.JOURNAL_ID: run_id}}
            result = SimpleNamespace(info=SimpleNamespace(run_id=run_id))
        self.journal.append(op, args, kwargs)
        return result

    def _went_away(self, exc: Exception) -> None:
        if self._since is None:
            self._since, self._probed = time.monotonic(), time.monotonic()
            _log.warning("the MLflow store stopped answering (%s): the sweep goes on and its "
                         "writes wait in %s for up to %.0f min", reason(exc), self.journal.path,
                         self.patience_s / 60)
        self._error = exc

    def _replay(self, *, wait: bool) -> bool:
        """Replay the journal, unless a try was made less than PROBE_S ago (``wait``: make
        it now); whether it is empty afterwards."""
        if not wait and time.monotonic() - self._probed < PROBE_S:
            return False
        self._probed = time.monotonic()
        if self._since is not None and not _answers(self.journal.tracking_uri):
            return False  # still away: asked in 2 s rather than through MLflow's retries
        try:
            count = replay(self._client, self.journal)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if self._since is None:  # a journal left by an earlier run: the outage is now
                self._went_away(exc)
            self._error = exc
            return False
        if self._since is not None:
            _log.warning("the MLflow store answers again: %d writes made during the outage "
                         "were replayed", count)
        self._since = self._error = None
        return True

    def replay_now(self) -> None:
        """Replay what the journal holds (left by an earlier run) now; raise the store's
        error if it does not answer."""
        with self._lock:
            if self.journal.pending and not self._replay(wait=True):
                assert self._error is not None
                raise self._error

    def settle(self) -> None:
        """Wait until every journaled write is in the store; past the patience, raise the
        store's error (the tracker stops the sweep with it)."""
        with self._lock:
            while self.journal.pending and not self._replay(wait=True):
                assert self._since is not None and self._error is not None
                if time.monotonic() - self._since > self.patience_s:
                    raise self._error
                time.sleep(PROBE_S)

    def _mapped(self, value: Any) -> Any:
        return _mapped(value, self.journal.ids)


def _writer(op: str) -> Callable[..., Any]:
    def write(self: JournaledClient, *args: Any, **kwargs: Any) -> Any:
        return self._write(op, args, kwargs)

    write.__name__ = op
    write.__doc__ = f"``MlflowClient.{op}``, journaled while the store is away."
    return write


for _op in WRITES:  # each the same way: the client's own call, or a journal entry
    setattr(JournaledClient, _op, _writer(_op))


def replay(client: MlflowClient, journal: Journal) -> int:
    """Make ``journal``'s writes in order, each marked done once the store has it; how many.

    Raises the store's error if it stops answering (what was replayed stays done)."""
    count = 0
    for entry in list(journal.pending):
        args, kwargs = _mapped(entry.args, journal.ids), _mapped(entry.kwargs, journal.ids)
        if entry.op == "create_run":
            placeholder = kwargs["tags"][T.JOURNAL_ID]
            found = client.search_runs(
                [args[0] if args else kwargs["experiment_id"]],
                f"tags.`{T.JOURNAL_ID}` = '{placeholder}'", max_results=1)
            run = found[0] if found else client.create_run(*args, **kwargs)
            journal.done(entry, {placeholder: run.info.run_id})
        else:
            try:
                getattr(client, entry.op)(*args, **kwargs)
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                # The store refused this write (it answered): keeping it would block every
                # later one. Said, then dropped.
                _log.warning("a journaled MLflow write (%s) was refused on replay: %s",
                             entry.op, reason(exc))
            journal.done(entry)
        count += 1
    return count


def journals_in(folder: Path) -> list[Path]:
    """The journals under ``folder`` (a work dir: every sweep's and worker's), or ``folder``
    itself if it is one."""
    if folder.is_file():
        return [folder]
    return sorted(folder.rglob(f"{Path(JOURNAL_NAME).stem}*.jsonl"))


def replay_journal(path: Path) -> tuple[str, int]:
    """Replay a journal file by hand (``python -m sweeps sync``): its store's URI and how
    many writes were made. A store that does not answer is a one-line ``TrackingError``."""
    from tracking.store import open_client, store_errors

    journal = Journal(path, "")
    with store_errors(journal.tracking_uri, "cannot replay the journal into"):
        return journal.tracking_uri, replay(open_client(journal.tracking_uri), journal)


def _answers(tracking_uri: str) -> bool:
    """Whether a tracking server answers its health check within 2 s (a store that is not a
    server is asked by the replay itself)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return True
    import requests

    try:
        return requests.get(f"{tracking_uri.rstrip('/')}/health", timeout=2).ok
    except requests.RequestException:
        return False


def _mapped(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every placeholder run id the journal has resolved replaced."""
    if not ids:
        return value
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, RunTag):
        return RunTag(value.key, ids.get(value.value, value.value))
    if isinstance(value, dict):
        return {key: _mapped(item, ids) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mapped(item, ids) for item in value)
    return value
