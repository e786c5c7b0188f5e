"""The runtime scope puts back every process-wide setting a sweep makes."""

from __future__ import annotations

import gc
import logging
import os
import random
import sys
import warnings

import numpy as np
import optuna
import pytest

from sweeps import runtime


def test_the_scope_restores_what_a_sweep_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the caller's own stays
    urllib3 = logging.getLogger("urllib3")
    monkeypatch.setattr(urllib3, "level", logging.NOTSET)
    filters = list(warnings.filters)
    verbosity = optuna.logging.get_verbosity()
    random.seed(1)
    np.random.seed(1)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    undone = []
    with runtime.scope():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
        assert urllib3.level == logging.ERROR
        runtime.quiet_optuna()
        assert optuna.logging.get_verbosity() == optuna.logging.ERROR
        runtime.ignore_warnings(message="Skipping variable loading")
        runtime.freeze_what_lives_on()
        assert gc.get_freeze_count() > 0
        runtime.on_exit(undone.append, "kt debug")
        random.random()
        np.random.random()
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
    assert urllib3.level == logging.NOTSET
    assert warnings.filters == filters
    assert optuna.logging.get_verbosity() == verbosity
    assert gc.get_freeze_count() == 0
    assert undone == ["kt debug"]
    assert random.getstate() == python_state
    assert all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
               for a, b in zip(np.random.get_state(), numpy_state))


def test_an_undo_outside_any_scope_runs_at_once() -> None:
    undone = []
    runtime.on_exit(undone.append, 1)
    assert undone == [1]


def test_the_scope_restores_even_when_the_sweep_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    with pytest.raises(RuntimeError), runtime.scope():
        raise RuntimeError("a trial blew up")
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


def test_the_working_directory_is_importable_only_inside(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    before = list(sys.path)
    (tmp_path / "my_builders_here.py").write_text("VALUE = 3\n")
    with runtime.cwd_importable():
        import my_builders_here

        assert my_builders_here.VALUE == 3
    assert sys.path == before


def test_environment_puts_back_unset_and_set_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWEEPS_TEST_UNSET", raising=False)
    monkeypatch.setenv("SWEEPS_TEST_SET", "old")
    with runtime.environment({"SWEEPS_TEST_UNSET": "a", "SWEEPS_TEST_SET": "b"}):
        assert os.environ["SWEEPS_TEST_UNSET"] == "a" and os.environ["SWEEPS_TEST_SET"] == "b"
    assert "SWEEPS_TEST_UNSET" not in os.environ and os.environ["SWEEPS_TEST_SET"] == "old"


def test_the_global_tracking_uri_is_restored_exactly(tmp_path, monkeypatch) -> None:
    import mlflow
    from mlflow.tracking import is_tracking_uri_set

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(None)
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    with runtime.tracking_uri(uri):
        assert mlflow.get_tracking_uri() == uri
    assert not is_tracking_uri_set() and "MLFLOW_TRACKING_URI" not in os.environ
