"""The one exception family of sweeps.

Every error a user can cause (a bad spec, missing data, an unusable tracking store)
derives from :class:`SweepsError`. The CLI prints such errors as one paragraph and exits
non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["SweepsError", "SpecError", "DataError", "TrackingError", "TrackingLost",
           "SweepInterrupted"]


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
