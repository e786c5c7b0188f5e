"""MLflow tracking of sweeps: runs from trial events, and queries over them.

Importing the package alone imports neither MLflow nor matplotlib: ``MlflowTracker`` is
imported on first use, so the figure helper (:mod:`tracking.render`) loads only what it
draws with. The CLI imports the tracker only to run a sweep.
"""

from typing import Any

from tracking import tags

__all__ = ["MlflowTracker", "tags"]


def __getattr__(name: str) -> Any:
    if name == "MlflowTracker":
        from tracking.mlflow_tracker import MlflowTracker

        return MlflowTracker
    raise AttributeError(f"module 'tracking' has no attribute {name!r}")
