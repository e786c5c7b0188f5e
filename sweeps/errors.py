"""The one exception family of sweeps.

Every error a user can cause (a bad spec, missing data, an unusable tracking store)
derives from :class:`SweepsError`. The CLI prints such errors as one paragraph and exits
non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["SweepsError", "SpecError", "DataError", "TrackingError", "SweepInterrupted"]


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
