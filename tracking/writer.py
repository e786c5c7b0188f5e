"""The tracker's store writes that need not hold up training, done in order on one thread.

Logging every epoch's metrics, a trial's parameters and summary, its learning curves (a
matplotlib render, about 0.1 s) and the sweep's dataset inputs (a digest of every example) all
cost time that bare Keras does not spend. The tracker hands these to a :class:`Writer`, which
performs them one after another on a background thread while the next epoch or trial trains.

What decides the sweep's state stays on the caller's thread: a trial's final metrics, its
status and the end of its run. Before such a write the tracker calls :meth:`Writer.flush`,
which waits for everything queued and raises the first error a queued write met, so a store
that stopped answering still stops the sweep before the engine records the trial as done::

    writer = Writer()
    writer.submit(client.log_batch, run_id, metrics=[...])
    writer.flush()            # everything above is in the store, or its error is raised here
    writer.close()            # flushed, and the thread is gone
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Writer"]

_log = logging.getLogger(__name__)

_STOP = object()


class Writer:
    """One daemon thread performing submitted calls in submission order.

    After a call fails, later calls are dropped (the store is gone, or the tracker has a bug:
    either way the sweep stops at the next :meth:`flush`) and the error is kept for it.
    """

    def __init__(self, name: str = "sweeps-tracking") -> None:
        self._name = name
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def error(self) -> BaseException | None:
        """The first error a queued call raised, if any (it is raised again by flush)."""
        return self._error

    def submit(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._error is not None:
            return  # dropped: the next flush raises the error that stopped the writes
        if self._thread is None:  # started on first use: a tracker that only reads has none
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put((call, args, kwargs))

    def flush(self) -> None:
        """Wait until every submitted call has run; raise the first error one of them met."""
        if self._thread is not None:
            self._queue.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Run what is queued and stop the thread; errors are logged, not raised (the sweep
        is over and every run is being ended: nothing is left to stop)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None
        if self._error is not None:
            _log.debug("tracking writes stopped early", exc_info=self._error)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                call, args, kwargs = item
                if self._error is None:
                    call(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()
