"""Loading Keras (TensorFlow) quietly, once, when a sweep needs it."""

from __future__ import annotations

import contextlib

from sweeps import runtime

__all__ = ["load_backend"]


def load_backend(*, quiet: bool = True) -> None:
    """Import Keras (and TensorFlow) and initialise its devices.

    TensorFlow prints start-up lines (oneDNN notes, "could not find cuda drivers") from C++
    before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` (which the sweep's runtime
    scope sets) cannot hide them; with ``quiet`` the process's stderr is pointed at /dev/null
    for the duration of the import. Python exceptions still propagate, after stderr is
    restored.
    """
    with runtime.stderr_silenced() if quiet else contextlib.nullcontext():
        import keras

        keras.ops.zeros(1)  # device initialisation logs too
