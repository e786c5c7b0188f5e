"""Every process-wide setting sweeps makes, made and undone here.

A sweep run from Python (a notebook, a script) changes process-wide settings on its way:
warning filters, log levels (Optuna's, TensorFlow's, urllib3's), environment variables
(MLflow's HTTP retries, TensorFlow's C++ log level), keras-tuner's debug switch, the global
random generators trials are seeded through, objects frozen out of the garbage collector,
MLflow's global tracking URI. The CLI and the Python API alike run a sweep inside
:func:`scope`, which puts each back when the sweep ends, however it ends; no other module
touches warning filters, environment variables, the garbage collector, log levels,
``sys.path`` or file descriptors (signal handlers and
``sys.unraisablehook`` are :mod:`sweeps.interrupts`', set and restored there). A setting
made while a scope is open and undone by another library's API (keras-tuner's debug switch)
registers its undo with :func:`on_exit`::

    with runtime.scope():                 # sweeps.run, sweeps.tune, the CLI, a worker
        runtime.freeze_what_lives_on()
        runtime.quiet_optuna()
        runtime.on_exit(set_debug, get_debug()); set_debug(False)

Only the standard library is imported here at module level: the CLI's ``--help`` imports it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

#: Environment settings a sweep runs under (MLflow reads them at each call), unless the caller
#: set them: no progress bars for the few artifacts a sweep reads back; and bounded retries
#: for a tracking server that stops answering. MLflow's defaults (7 retries with a backoff
#: factor of 2, 120 s per attempt) kept a sweep waiting for 14 minutes and more; with these a
#: server that refuses connections is given up after about 15 s (retries after 0, 4 and 8 s,
#: enough to ride out a restart) and one that accepts but never answers after at most 4 x 20
#: + 15 s, and the sweep stops with one line (sweeps.errors.TrackingLost). TensorFlow's C++
#: log level: its INFO and WARNING lines are not the sweep's console. Restored afterwards.
_SWEEP_ENV = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
#: Loggers that only their errors get through while a sweep runs. TensorFlow warns "triggered
#: tf.function retracing" when trial after trial builds a new model: expected in a sweep.
#: urllib3 warns at every retry of MLflow's HTTP client ("Retrying (Retry(total=2, ...)) after
#: connection broken by ..."): a server that stopped answering is reported once, by sweeps.
_QUIET_LOGGERS = ("tensorflow", "urllib3")

__all__ = ["scope", "on_exit", "freeze_what_lives_on", "quiet_optuna", "optuna_verbosity",
           "ignore_warnings", "warnings_ignored", "environment", "cli_environment",
           "stderr_silenced", "stdout_to_devnull", "answers_from_stdout", "cwd_importable",
           "tracking_uri"]

#: The open scopes' undo stacks, innermost last.
_scopes: list[contextlib.ExitStack] = []


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """Run a sweep (a plan, a re-check) in; everything it changed is put back at the end."""
    with contextlib.ExitStack() as stack:
        python_random = random.getstate()
        stack.callback(random.setstate, python_random)
        if "numpy" in sys.modules:
            import numpy as np

            stack.callback(np.random.set_state, np.random.get_state())
        # gc.freeze() moves start-up objects out of the collector's reach for the sweep; the
        # caller's later objects should be collected as usual.
        stack.callback(gc.unfreeze)
        for logger in map(logging.getLogger, _QUIET_LOGGERS):
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(max(logger.level, logging.ERROR))
        stack.enter_context(environment(
            {key: value for key, value in _SWEEP_ENV.items() if key not in os.environ}))
        stack.enter_context(warnings.catch_warnings())
        _scopes.append(stack)
        stack.callback(_scopes.remove, stack)
        yield


def on_exit(undo: Callable[..., Any], *args: Any) -> None:
    """Call ``undo(*args)`` when the innermost open scope ends (now if none is open)."""
    if _scopes:
        _scopes[-1].callback(undo, *args)
    else:
        undo(*args)


def freeze_what_lives_on() -> None:
    """Move every object alive now out of the garbage collector's reach, until the scope
    ends.

    keras-tuner runs gc.collect() (and Keras's clear_session another) before every build, and
    a sweep or a plan builds many models; each full collection walks the hundreds of
    thousands of objects TensorFlow, Keras and MLflow create at import (and, in a long-lived
    caller such as a notebook or a test run, everything else it holds), about 0.3 s a time
    in a fresh process and seconds in a full one. They outlive the sweep, so they need not
    be walked during it."""
    gc.freeze()


def quiet_optuna() -> None:
    """Optuna's per-trial INFO lines, and the traceback it logs at WARNING for each failed
    trial, are not for the sweep's console: the console shows the failure, the trial's MLflow
    run keeps the traceback (error.txt), as under keras-tuner's engines."""
    import optuna

    on_exit(optuna.logging.set_verbosity, optuna.logging.get_verbosity())
    optuna.logging.set_verbosity(optuna.logging.ERROR)


@contextlib.contextmanager
def optuna_verbosity(level: int) -> Iterator[None]:
    """Optuna's verbosity at ``level`` for a block (a report's in-memory study)."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def ignore_warnings(*, message: str = "", module: str = "",
                    category: type[Warning] = Warning) -> None:
    """Ignore these warnings until the scope ends (its ``catch_warnings`` restores the
    caller's filters)."""
    warnings.filterwarnings("ignore", message=message, module=module, category=category)


@contextlib.contextmanager
def warnings_ignored(*categories: type[Warning]) -> Iterator[None]:
    """These warning categories ignored for a block, the caller's filters restored after."""
    with warnings.catch_warnings():
        for category in categories:
            warnings.simplefilter("ignore", category)
        yield


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Environment variables set for a block, then put back as they were (unset stays
    unset)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def cli_environment(*, verbose: bool) -> None:
    """The CLI process's own settings, before MLflow is imported: MLflow announces routine
    store set-up ("Creating initial MLflow database tables") at INFO through a handler it
    configures on import, from MLFLOW_LOGGING_LEVEL; no artifact progress bars."""
    if not verbose:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for a block, then restored: what C++ code
    prints before its own logging is configured (TensorFlow's start-up lines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def stdout_to_devnull() -> None:
    """Point stdout at /dev/null for good (a reader that went away: the interpreter's final
    flush cannot raise again)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def answers_from_stdout() -> Any:
    """A helper process's own channel: a binary copy of stdout for its answers, with fd 1
    then pointed at stderr, so that whatever a library prints never lands among them."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return answers


@contextlib.contextmanager
def cwd_importable() -> Iterator[None]:
    """Modules in the working directory import while this lasts, as ``python -m`` would
    make them; ``sys.path`` is restored afterwards."""
    cwd = os.getcwd()
    present = any(os.path.abspath(entry or os.curdir) == cwd for entry in sys.path)
    saved = list(sys.path)
    if not present:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if not present:
            sys.path[:] = saved


@contextlib.contextmanager
def tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at ``uri`` for the block, then restore the caller's.

    MLflow's sqlalchemy registry store resolves a ``models:/<id>`` source with a default
    ``MlflowClient()``, i.e. the global URI, not the client's (a TODO in its
    ``create_model_version``). Restored exactly: unset stays unset, and
    $MLFLOW_TRACKING_URI (which ``set_tracking_uri`` also writes) is put back as it was.
    """
    import mlflow
    from mlflow.environment_variables import MLFLOW_TRACKING_URI
    from mlflow.tracking import is_tracking_uri_set

    if mlflow.get_tracking_uri() == uri:
        yield
        return
    env = os.environ.get(MLFLOW_TRACKING_URI.name)
    previous = mlflow.get_tracking_uri() if is_tracking_uri_set() else None
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        # The variable alone set it, or nothing did: the global goes back to unset.
        mlflow.set_tracking_uri(None if previous in (None, env) else previous)
        if env is None:
            os.environ.pop(MLFLOW_TRACKING_URI.name, None)
        else:
            os.environ[MLFLOW_TRACKING_URI.name] = env
