"""Ctrl-C and SIGTERM inside :func:`sweeps.interrupts.handled`: real signals to this process."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import pytest

from sweeps import interrupts
from sweeps.errors import SweepInterrupted


def _deliver(sig: signal.Signals) -> None:
    """Send ``sig`` to this process's main thread and wait until its handler has run (it
    runs between two bytecodes, not inside ``kill``: under pytest-xdist a few later)."""
    signal.pthread_kill(threading.main_thread().ident, sig)
    deadline = time.monotonic() + 10
    while not interrupts.requested():
        assert time.monotonic() < deadline, f"{sig.name} was not handled within 10 s"
        time.sleep(0.001)


def test_a_signal_raises_and_is_remembered_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SweepInterrupted), interrupts.handled():
        _deliver(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    assert not interrupts.requested()  # the caller's process as it was
    interrupts.check()


def test_a_swallowed_signal_survives_nested_blocks_and_check_raises_it() -> None:
    # The sweep's start-up and its trials are nested blocks: a Ctrl-C that a finalizer
    # swallowed during start-up must still end the sweep when the trials' block checks.
    with interrupts.handled():
        with contextlib.suppress(SweepInterrupted):  # what a finalizer does with it
            _deliver(signal.SIGINT)
        with interrupts.handled():
            assert interrupts.requested()
            with pytest.raises(SweepInterrupted):
                interrupts.check()


def test_a_signal_in_a_deferred_block_is_raised_when_it_ends() -> None:
    reached = False
    with interrupts.handled(), pytest.raises(SweepInterrupted), interrupts.deferred():
        _deliver(signal.SIGTERM)
        reached = True  # the write went on to its end
    assert reached


class _Finalized:
    """An object whose finalizer meets the interrupt, as SQLAlchemy's weakref callbacks do."""

    def __del__(self) -> None:
        raise SweepInterrupted("signal 2")


def test_an_interrupt_a_finalizer_swallows_is_not_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    reported: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info.exc_value))
    with interrupts.handled():
        _Finalized()  # collected at once: its __del__'s exception goes to the hook
    assert reported == []  # Python's "Exception ignored in ..." traceback is not printed
    _Finalized()  # outside, the caller's hook is back and hears it
    assert [type(e) for e in reported] == [SweepInterrupted]


def test_an_error_after_a_signal_is_the_interruption_and_before_it_is_itself() -> None:
    with pytest.raises(SweepInterrupted) as raised, interrupts.handled(), interrupts.surfaced():
        with contextlib.suppress(SweepInterrupted):  # swallowed where it arrived
            _deliver(signal.SIGINT)
        raise RuntimeError("pybind11::error_already_set: MISMATCH of original and normalized "
                           "active exception types")  # what Keras's evaluate raised then
    assert isinstance(raised.value.__cause__, RuntimeError)
    with pytest.raises(ValueError), interrupts.handled(), interrupts.surfaced():
        raise ValueError("the user's own mistake")
