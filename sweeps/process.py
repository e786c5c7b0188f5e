"""Leaving the caller's process as sweeps found it.

A sweep run from Python (a notebook, a script) changes process-wide settings on its way:
warning filters, log levels (Optuna's, TensorFlow's, urllib3's), keras-tuner's debug switch,
MLflow's HTTP retry settings, the global random generators that trials are seeded through,
objects frozen out of the garbage collector.
:func:`preserved` puts each back when the sweep ends, however it ends. Signal handlers are
restored by :mod:`sweeps.interrupts`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import sys
import warnings
from collections.abc import Iterator

#: Environment settings a sweep runs under (MLflow reads them at each call), unless the caller
#: set them: no progress bars for the few artifacts a sweep reads back; and bounded retries
#: for a tracking server that stops answering. MLflow's defaults (7 retries with a backoff
#: factor of 2, 120 s per attempt) kept a sweep waiting for 14 minutes and more; with these a
#: server that refuses connections is given up after about 15 s (retries after 0, 4 and 8 s,
#: enough to ride out a restart) and one that accepts but never answers after at most 4 x 20
#: + 15 s, and the sweep stops with one line (sweeps.errors.TrackingLost). Restored afterwards.
_SWEEP_ENV = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
#: Loggers that only their errors get through while a sweep runs. TensorFlow warns "triggered
#: tf.function retracing" when trial after trial builds a new model: expected in a sweep.
#: urllib3 warns at every retry of MLflow's HTTP client ("Retrying (Retry(total=2, ...)) after
#: connection broken by ..."): a server that stopped answering is reported once, by sweeps.
_QUIET_LOGGERS = ("tensorflow", "urllib3")

__all__ = ["freeze_what_lives_on", "preserved"]


def freeze_what_lives_on() -> None:
    """Move every object alive now out of the garbage collector's reach, until
    :func:`preserved` ends.

    keras-tuner runs gc.collect() (and Keras's clear_session another) before every build, and
    a sweep or a plan builds many models; each full collection walks the hundreds of
    thousands of objects TensorFlow, Keras and MLflow create at import (and, in a long-lived
    caller such as a notebook or a test run, everything else it holds), about 0.3 s a time
    in a fresh process and seconds in a full one. They outlive the sweep, so they need not
    be walked during it."""
    gc.freeze()


@contextlib.contextmanager
def preserved() -> Iterator[None]:
    python_random = random.getstate()
    numpy_random = _numpy_state()
    optuna_level = _optuna_verbosity()
    kt_debug = _kt_debug()
    loggers = {logger: logger.level for logger in map(logging.getLogger, _QUIET_LOGGERS)}
    for logger, level in loggers.items():
        logger.setLevel(max(level, logging.ERROR))
    saved_env = {key: os.environ.get(key) for key in _SWEEP_ENV}
    for key, value in _SWEEP_ENV.items():
        os.environ.setdefault(key, value)
    with warnings.catch_warnings():
        try:
            yield
        finally:
            for logger, level in loggers.items():
                logger.setLevel(level)
            for key, old in saved_env.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old
            # gc.freeze() moved start-up objects out of the collector's reach for the sweep
            # (sweeps.session); the caller's later objects should be collected as usual.
            gc.unfreeze()
            random.setstate(python_random)
            if numpy_random is not None:
                import numpy as np

                np.random.set_state(numpy_random)
            if "optuna" in sys.modules:
                import optuna

                optuna.logging.set_verbosity(
                    optuna.logging.INFO if optuna_level is None else optuna_level)
            if "keras_tuner" in sys.modules:
                from keras_tuner.src import config as kt_config

                kt_config.DEBUG = True if kt_debug is None else kt_debug


def _numpy_state() -> tuple | None:
    if "numpy" not in sys.modules:
        return None
    import numpy as np

    return np.random.get_state()


# Unimported libraries are left unimported (a bad spec or missing data must fail before
# TensorFlow loads); None stands for "the library's default", restored if it loads meanwhile.
def _optuna_verbosity() -> int | None:
    if "optuna" not in sys.modules:
        return None
    import optuna

    return optuna.logging.get_verbosity()


def _kt_debug() -> bool | None:
    if "keras_tuner" not in sys.modules:
        return None
    from keras_tuner.src import config as kt_config

    return kt_config.DEBUG
