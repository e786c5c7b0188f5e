"""MLflow tracking of sweeps: runs from trial events, and queries over them.

Importing this package imports MLflow; the CLI imports it only to run a sweep.
"""

from tracking.mlflow_tracker import KIND_TAG, PARENT_TAG, MlflowTracker

__all__ = ["MlflowTracker", "KIND_TAG", "PARENT_TAG"]
