"""Ctrl-C and SIGTERM, made reliable.

The handler raises :class:`~sweeps.errors.SweepInterrupted` at once, and also records the
request: Python swallows an exception raised while a finalizer runs (keras-tuner calls
``gc.collect()`` before every trial), so engines call :func:`check` at every epoch boundary
and an interrupt lost that way still ends the sweep within one epoch.

The sweep's whole run is inside :func:`handled`, its start-up too: Python's default Ctrl-C
raises ``KeyboardInterrupt`` wherever the main thread is, and during start-up that is often a
finalizer (SQLAlchemy's, TensorFlow's), where it is swallowed and the sweep went on to exit 0.
Blocks inside it (the trials' own) nest without resetting the request.

Writes to the tracking store run inside :func:`deferred`: a signal arriving then is raised
when the write is done, not in the middle of it. An exception raised inside SQLAlchemy's
commit can leave the sqlite connection holding its write lock, and every later write of the
process (the ones that mark the runs KILLED) then fails with "database is locked".
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from sweeps.errors import SweepInterrupted

__all__ = ["check", "deferred", "handled", "requested", "surfaced"]

_requested = threading.Event()
#: How deep in :func:`deferred` sections the main thread is, and whether a signal arrived
#: in one (to be raised when the outermost ends).
_deferring = 0
_pending = False
#: How deep in :func:`handled` blocks the main thread is: the outermost installs the handler.
_handling = 0


def requested() -> bool:
    """Whether Ctrl-C or SIGTERM arrived during the sweep."""
    return _requested.is_set()


def check() -> None:
    """Raise :class:`SweepInterrupted` if Ctrl-C or SIGTERM arrived."""
    if _requested.is_set():
        raise SweepInterrupted("interrupted")


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Within: SIGINT and SIGTERM end the sweep (runs marked KILLED), then the process exits.
    Nested blocks keep the outermost's handler and what it has heard."""
    global _handling

    def handler(signum: int, frame: Any) -> None:
        global _pending
        _requested.set()
        if _deferring:
            _pending = True
            return
        raise SweepInterrupted(f"signal {signum}")

    hook = sys.unraisablehook

    def unraisable(info: Any) -> None:
        # Raised inside a finalizer, which Python reports as "Exception ignored in ..." with
        # a traceback: not news for the user, and not lost (check() raises it again).
        if not isinstance(info.exc_value, SweepInterrupted):
            hook(info)

    if _handling:
        yield
        return
    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals to the caller
        yield
        return
    _requested.clear()
    _handling += 1
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        _handling -= 1
        _requested.clear()  # the caller's process as it was: a later check() does not raise
        sys.unraisablehook = hook
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def surfaced() -> Iterator[None]:
    """Within: an error raised after Ctrl-C or SIGTERM is the interruption, raised as
    :class:`SweepInterrupted`. The signal may surface inside TensorFlow or Keras as another
    exception (``pybind11::error_already_set``, an ``ImportError`` mid-import), which a
    loader may wrap in its own error; none of them is the user's mistake."""
    try:
        yield
    except Exception as exc:
        if not _requested.is_set():
            raise
        raise SweepInterrupted("interrupted") from exc


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within: a SIGINT or SIGTERM is held back until the block ends, then raised."""
    global _deferring, _pending
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are delivered to the main thread only
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if _deferring == 0 and _pending:
        _pending = False
        raise SweepInterrupted("interrupted")
