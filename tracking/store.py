"""Opening an MLflow store, and telling a store that stopped answering from other errors.

MLflow creates a new database's schema the first time a client opens it (``SqlAlchemyStore``
runs its migrations then). Two processes doing that at once on one new sqlite file fail
inside Alembic ("table experiments already exists", "No such constraint:
'uq_experiments_name'"), and a reader opening the file half-way through sees an out-of-date
schema. :func:`open_client` serialises opening a sqlite store with an OS file lock beside the
database (``<db>.lock``): the first process creates the schema, the others wait for it and
then find it complete. It is held only while the client opens the store (about a second for
an existing store), so sweeps and readers sharing a store go on in parallel afterwards.

A new sqlite store's schema is made in a file beside it and renamed into place when complete:
MLflow's migrations run as many transactions, and a process stopped between two of them (a
Ctrl-C while the first sweep starts) would otherwise leave a database that no later MLflow
can open ("table _alembic_tmp_experiments already exists").

    client = open_client("sqlite:///mlflow.db")      # every sweeps reader and writer does this
    with store_errors("sqlite:///mlflow.db"):         # MLflow's errors as one-line TrackingErrors
        client.search_experiments()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient

from sweeps.errors import TrackingError
from sweeps.paths import sqlite_path

__all__ = ["open_client", "store_errors", "is_unavailable", "reason", "CREATION_WAIT_S"]

#: How long a process waits for another one to finish opening (creating) a sqlite store.
CREATION_WAIT_S = 120.0


def open_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient`` on ``tracking_uri``, its store opened (and created if new) safely
    beside other processes; a store MLflow cannot open raises :class:`TrackingError`."""
    database = sqlite_path(tracking_uri)
    lock = _creation_lock(database, tracking_uri) if database else contextlib.nullcontext()
    with store_errors(tracking_uri, "cannot open the MLflow store"), lock:
        if database is not None and not database.exists():
            _create(database)
        return MlflowClient(tracking_uri=tracking_uri)


def _create(database: Path) -> None:
    """Make a new sqlite store at ``database``, all or nothing (under the creation lock)."""
    for stale in database.parent.glob(f"{database.name}.creating-*"):  # a stopped creation's
        stale.unlink(missing_ok=True)
    partial = database.with_name(f"{database.name}.creating-{os.getpid()}")
    try:
        MlflowClient(tracking_uri=f"sqlite:///{partial}")  # runs MLflow's migrations
        os.replace(partial, database)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def _creation_lock(database: Path, tracking_uri: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<database>.lock`` (waiting at most CREATION_WAIT_S)."""
    lock = database.with_name(f"{database.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        # A folder we may not write to: nobody can create a store there either, so there is
        # nothing to serialise (MLflow reports a missing or unwritable store itself).
        yield
        return
    try:
        deadline = time.monotonic() + CREATION_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TrackingError(
                        f"cannot open the MLflow store {tracking_uri}: another process has held "
                        f"{lock} for over {CREATION_WAIT_S:.0f} s while opening it; if no other "
                        "sweep is starting, that process is stuck: stop it and try again"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def store_errors(tracking_uri: str, doing: str = "cannot use the MLflow store") -> Iterator[None]:
    """Turn what MLflow, SQLAlchemy, Alembic or the HTTP client raise about the store into
    ``TrackingError("<doing> <uri>: <reason>")``."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        if not _is_store_error(exc):
            raise
        raise TrackingError(f"{doing} {tracking_uri}: {reason(exc)}") from None


def _is_store_error(exc: BaseException) -> bool:
    import requests
    from alembic.util.exc import CommandError  # MLflow's schema migrations
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, (MlflowException, SQLAlchemyError, CommandError,
                            requests.RequestException))


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store stopped answering (a server down, unreachable or failing
    after the HTTP client's retries; a database locked or gone) rather than refusing a call."""
    import requests

    if isinstance(exc, requests.RequestException):  # artifact uploads and downloads
        return True
    if not isinstance(exc, MlflowException):
        return False
    if exc.error_code == "TEMPORARILY_UNAVAILABLE":  # SQLAlchemy's OperationalError
        return True
    # The HTTP client's own failures (refused, reset, timed out, 5xx after its retries) are
    # plain MlflowExceptions; a server that answered this call raises a RestException.
    return not isinstance(exc, RestException) and str(exc.message).startswith("API request to")


#: What urllib3 and http.client say when a connection dies mid-request or mid-answer.
_CUT_OFF = re.compile(r"Connection (broken|aborted|reset)|RemoteDisconnected|IncompleteRead")


def reason(exc: BaseException) -> str:
    """A short, one-line account of a store error, without MLflow's URL and retry details."""
    text = str(getattr(exc, "message", exc))
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip().lower()
    if _CUT_OFF.search(text):  # the server went away in the middle of an answer
        return "connection lost"
    if "timeout" in text.lower() or "timed out" in text.lower():
        from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT

        return f"no answer within {MLFLOW_HTTP_REQUEST_TIMEOUT.get()} s"
    status = re.search(r"too many (\d{3}) error responses", text)
    if status:
        return f"it kept answering HTTP {status.group(1)}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:300]
