"""The error family (sweeps.errors): one-line messages, the spec's key path in every
SpecError, the user's own frames picked out of a traceback, and the tracking-lost message."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import pytest
import yaml

from sweeps.errors import (
    DataError,
    NoTrialCompleted,
    SpecError,
    SweepInterrupted,
    SweepsError,
    TrackingError,
    TrackingLost,
    in_your_code,
    one_line,
    user_frames,
)
from sweeps.spec import load_spec


@pytest.mark.parametrize(("text", "line"), [
    ("plain", "plain"),
    ("  two\nlines  ", "two lines"),
    ("tabs\tand\r\nwindows\n\n\nbreaks", "tabs and windows breaks"),
    ("many     spaces", "many spaces"),
    ("non\xa0breaking\u2028separator", "non breaking separator"),
    ("", ""),
    ("\n \t", ""),
])
def test_one_line_folds_every_whitespace_run(text: str, line: str) -> None:
    assert one_line(text) == line


def test_one_line_takes_an_exception_or_any_object() -> None:
    try:
        raise ValueError("n_splits=5 cannot be greater\n  than the number of members")
    except ValueError as exc:
        assert one_line(exc) == "n_splits=5 cannot be greater than the number of members"
    assert one_line(3.5) == "3.5" and one_line(None) == "None"


def test_a_spec_error_names_the_file_and_the_key_path() -> None:
    error = SpecError("my.yaml", "search_space.units.max", "expected an integer >= min (32), got \"big\"")
    assert str(error) == "my.yaml: search_space.units.max: expected an integer >= min (32), got \"big\""
    assert (error.source, error.key_path) == ("my.yaml", "search_space.units.max")
    assert str(SpecError("my.yaml", "", "not valid YAML")) == "my.yaml: not valid YAML"


def test_every_user_error_is_a_sweeps_error_and_interruptions_are_not() -> None:
    for cls in (SpecError, DataError, NoTrialCompleted, TrackingError):
        assert issubclass(cls, SweepsError)
    # They must pass through the engines' per-trial `except Exception`.
    assert issubclass(SweepInterrupted, KeyboardInterrupt)
    assert not issubclass(TrackingLost, Exception)


def raise_from_user_file(folder: Path) -> str:
    """A traceback through a file of the user's own, called from here."""
    user_file = folder / "my_model.py"
    user_file.write_text("def build_model(hp):\n    return 1 / 0\n")
    sys.path.insert(0, str(folder))
    try:
        import my_model

        try:
            my_model.build_model(None)
        except ZeroDivisionError:
            return traceback.format_exc()
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("my_model", None)
    raise AssertionError("did not raise")


def test_user_frames_are_the_frames_in_the_users_own_files(tmp_path: Path) -> None:
    text = raise_from_user_file(tmp_path)
    frames = user_frames(text)
    # This test file is neither sweeps nor an installed library: it is "the user's" too.
    assert frames[-1] == f'File "{tmp_path / "my_model.py"}", line 2, in build_model: return 1 / 0'
    assert all("/sweeps/" not in f and "site-packages" not in f for f in frames)
    assert in_your_code(text).startswith("\nin your code:\n  File ")
    assert in_your_code(text).endswith("line 2, in build_model: return 1 / 0")


@pytest.mark.parametrize("fail", [
    lambda: load_spec("no_such_spec"),  # raised inside sweeps
    lambda: json.loads("{"),  # raised inside the standard library
    lambda: yaml.safe_load("a: [1"),  # raised inside an installed library
])
def test_frames_of_sweeps_and_of_libraries_are_not_the_users(fail) -> None:
    try:
        fail()
    except Exception:  # noqa: BLE001 - each raises its own kind
        text = traceback.format_exc()
    assert text.count('File "') > 2
    frames = user_frames(text)
    assert frames and all(f.startswith(f'File "{__file__}"') for f in frames)  # this test only
    assert in_your_code("no traceback at all") == ""


@pytest.mark.parametrize(("server", "last", "message"), [
    (True, 4, "http://mlflow:5000 stopped answering (connection refused); the sweep stopped "
              "after trial 4; start the server again and run the same command with --resume"),
    (False, None, "sqlite:///mlflow.db stopped answering (database is locked); the sweep "
                  "stopped before any trial finished; make the store usable again and run "
                  "the same command with --resume"),
])
def test_tracking_lost_becomes_a_one_paragraph_error(server: bool, last: int | None,
                                                     message: str) -> None:
    store = "http://mlflow:5000" if server else "sqlite:///mlflow.db"
    reason = "connection refused" if server else "database is locked"
    lost = TrackingLost(store, reason, server=server, last_trial=last)
    assert str(lost) == f"{store} stopped answering ({reason})"
    error = lost.error("run the same command with --resume")
    assert isinstance(error, TrackingError) and str(error) == message
