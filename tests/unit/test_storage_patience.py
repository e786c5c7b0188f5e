"""Which storage errors a worker waits out (a database away) and which it raises at once."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa

from sweeps.engines.optuna_study import _connection_lost, patiently
from sweeps.errors import SweepsError


def _operational(message: str) -> sa.OperationalError:
    return sa.OperationalError("SELECT 1", {}, Exception(message))


@pytest.mark.parametrize("message", [
    "server closed the connection unexpectedly",
    'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    "terminating connection due to administrator command",
    "FATAL:  the database system is starting up",
    "database is locked",
])
def test_a_database_away_is_waited_for_even_wrapped_by_optuna(message: str) -> None:
    assert _connection_lost(_operational(message))
    try:  # Optuna turns SQLAlchemy's errors into StorageInternalError, raised from them
        try:
            raise _operational(message)
        except sa.OperationalError as cause:
            raise RuntimeError("An exception is raised during the commit.") from cause
    except RuntimeError as wrapped:
        assert _connection_lost(wrapped)


@pytest.mark.parametrize("error", [
    _operational("no such table: studies"), sa.ProgrammingError("SELECT", {}, Exception("x")),
    ValueError("a bad value"),
])
def test_a_bad_query_or_value_is_not_waited_for(error: Exception) -> None:
    assert not _connection_lost(error)


def test_patiently_retries_until_the_database_answers(monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    answers = iter([_operational("connection refused"), _operational("database is locked"), 7])

    def call() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert patiently(call) == 7


def test_past_the_patience_it_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("SWEEPS_STORAGE_PATIENCE_S", "0")

    def call() -> None:
        raise _operational("server closed the connection unexpectedly\nThis probably means...")

    with pytest.raises(SweepsError) as raised:
        patiently(call)
    assert str(raised.value) == ("the Optuna storage did not answer for 0 s "
                                 "($SWEEPS_STORAGE_PATIENCE_S): server closed the connection "
                                 "unexpectedly")


def test_any_other_error_is_raised_at_once() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise KeyError("study")

    with pytest.raises(KeyError):
        patiently(call)
    assert calls == [1]
