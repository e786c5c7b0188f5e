"""Loading Keras (TensorFlow) quietly, once, when a sweep needs it."""

from __future__ import annotations

import os
import sys

__all__ = ["load_backend"]


def load_backend(*, quiet: bool = True) -> None:
    """Import Keras (and TensorFlow) and initialise its devices.

    TensorFlow prints start-up lines (oneDNN notes, "could not find cuda drivers") from C++
    before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; with
    ``quiet`` the process's stderr is pointed at /dev/null for the duration of the import.
    Python exceptions still propagate, after stderr is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not quiet:
        import keras

        keras.ops.zeros(1)
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras

            keras.ops.zeros(1)  # device initialisation logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
