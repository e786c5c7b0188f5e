"""Where a sweep will write, checked before anything is opened, written or trained.

A tracking database or ``--work-dir`` under a regular file, on a read-only disk or in a
folder we may not write to fails at once with one line that names it, instead of a
traceback from inside MLflow or from the first state file. The checks probe and create
nothing, so a refused sweep leaves no trace.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sweeps.errors import SweepsError, TrackingError

__all__ = ["check_usable", "sqlite_path"]


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, read as MLflow reads it (``sqlite:///x.db``
    relative, ``sqlite:////abs/x.db`` absolute); ``None`` for other URIs and in-memory ones."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def _problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (which may not exist yet), or ``None``."""
    existing = folder
    while not existing.exists():  # False too under a regular file (ENOTDIR)
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot write in {existing}: {exc.strerror or exc}"
    return None


def check_usable(tracking_uri: str, work_dir: Path | None = None) -> None:
    """Raise a one-line error if the sqlite tracking store or ``work_dir`` cannot be written."""
    database = sqlite_path(tracking_uri)
    if database is not None:
        problem = (f"{database} is a folder, not a database file" if database.is_dir()
                   else _problem(database.parent))
        if problem:
            raise TrackingError(f"cannot use the MLflow store {tracking_uri}: {problem}")
    if work_dir is not None:
        problem = _problem(work_dir)
        if problem:
            raise SweepsError(f"cannot use --work-dir {work_dir}: {problem}")
