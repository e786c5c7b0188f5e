"""MLflow tracking of sweeps: runs from trial events, and queries over them.

Importing this package imports MLflow; the CLI imports it only to run a sweep.
"""

from tracking import tags
from tracking.mlflow_tracker import MlflowTracker

__all__ = ["MlflowTracker", "tags"]
