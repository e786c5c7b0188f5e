"""The one exception family of sweeps.

Every error a user can cause (a bad spec, missing data, an unusable tracking store)
derives from :class:`SweepsError`. The CLI prints such errors as one paragraph and exits
non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

__all__ = ["SweepsError", "SpecError", "DataError", "TrackingError", "TrackingLost",
           "SweepInterrupted", "NoTrialCompleted", "in_your_code", "one_line", "user_frames"]


class SweepsError(Exception):
    """Base class of every error sweeps reports to a user without a traceback."""


class SpecError(SweepsError):
    """A sweep spec (YAML file or ``--set`` override) is not valid.

    The message names the file, the key path, what was expected and what was found.
    """

    def __init__(self, source: str, key_path: str, message: str) -> None:
        self.source = source
        self.key_path = key_path
        where = f"{source}: {key_path}" if key_path else source
        super().__init__(f"{where}: {message}")


class DataError(SweepsError):
    """A dataset could not be found or read."""


class NoTrialCompleted(SweepsError):
    """Every trial of a sweep failed: there is no model to hand back.

    The message shows the first failure, with the frames of the user's own code (their
    builder, their ``fit``) from its traceback.
    """


class TrackingError(SweepsError):
    """The MLflow tracking store cannot be used."""


class SweepInterrupted(KeyboardInterrupt):
    """Raised from the SIGINT/SIGTERM handler (sweeps.interrupts): the sweep ends, runs KILLED.

    A ``KeyboardInterrupt``: the tuners' per-trial ``except Exception`` lets it through, and
    Optuna marks the running trial FAIL as it does on Ctrl-C.
    """


class TrackingLost(BaseException):
    """The tracking store stopped answering in the middle of a sweep (after MLflow's bounded
    retries): the sweep stops, to be resumed once the store is back.

    A ``BaseException``, like ``KeyboardInterrupt``: the trial did not fail, its record did,
    so the engines' per-trial ``except Exception`` must not turn it into a failed trial. The
    trial stays unfinished in the engine's state and runs again on ``--resume``. The runner
    turns it into a :class:`TrackingError` for the user.
    """

    def __init__(self, store: str, reason: str, *, server: bool,
                 last_trial: int | None) -> None:
        super().__init__(f"{store} stopped answering ({reason})")
        self.store = store
        self.reason = reason
        self.server = server
        self.last_trial = last_trial

    def error(self, then: str) -> TrackingError:
        """The one-paragraph error; ``then``: how to go on ("run the same command with
        --resume")."""
        after = (f"after trial {self.last_trial}" if self.last_trial is not None
                 else "before any trial finished")
        fix = "start the server again" if self.server else "make the store usable again"
        return TrackingError(f"{self.store} stopped answering ({self.reason}); the sweep "
                             f"stopped {after}; {fix} and {then}")


def one_line(text: object) -> str:
    """``text`` with its whitespace runs (newlines included) folded to single spaces."""
    return " ".join(str(text).split())


def user_frames(traceback_text: str) -> list[str]:
    """The frames of a formatted traceback that lie in the user's own files (not in an
    installed library, the standard library or sweeps), each with its source line."""
    ours = [str(Path(__file__).resolve().parents[1] / package) + "/"
            for package in ("sweeps", "hypermodels", "tracking")]
    libraries = {sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")}
    lines = traceback_text.splitlines()
    frames = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith('File "'):
            continue
        path = stripped[len('File "'):].split('"', 1)[0]
        if path.startswith("<") or any(path.startswith(p) for p in (*ours, *libraries)):
            continue
        code = lines[index + 1].strip() if index + 1 < len(lines) else ""
        frames.append(f"{stripped}: {code}" if code and not code.startswith("File ") else stripped)
    return frames


def in_your_code(traceback_text: str) -> str:
    """``traceback_text``'s frames in the user's own files, as lines to append to an error
    message ("" when there are none)."""
    frames = user_frames(traceback_text)
    return "\nin your code:" + "".join(f"\n  {frame}" for frame in frames) if frames else ""
