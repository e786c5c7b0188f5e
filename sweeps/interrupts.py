"""Ctrl-C and SIGTERM, made reliable.

The handler raises :class:`~sweeps.errors.SweepInterrupted` at once, and also records the
request: Python swallows an exception raised while a finalizer runs (keras-tuner calls
``gc.collect()`` before every trial), so engines call :func:`check` at every epoch boundary
and an interrupt lost that way still ends the sweep within one epoch.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from sweeps.errors import SweepInterrupted

__all__ = ["check", "handled", "requested"]

_requested = threading.Event()


def requested() -> bool:
    """Whether Ctrl-C or SIGTERM arrived during the sweep."""
    return _requested.is_set()


def check() -> None:
    """Raise :class:`SweepInterrupted` if Ctrl-C or SIGTERM arrived."""
    if _requested.is_set():
        raise SweepInterrupted("interrupted")


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Within: SIGINT and SIGTERM end the sweep (runs marked KILLED), then the process exits."""

    def handler(signum: int, frame: Any) -> None:
        _requested.set()
        raise SweepInterrupted(f"signal {signum}")

    _requested.clear()
    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals to the caller
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
