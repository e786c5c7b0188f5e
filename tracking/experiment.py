"""The MLflow experiment a sweep is tracked in: found or created, and tagged for the UI.

Several processes may open one experiment at once (workers joining a sweep), so creating it
tolerates another process creating it first; a deleted experiment is an error that says how
to restore it::

    experiment_id = open_experiment(client, "sqlite:///mlflow.db", "mnist")
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sweeps.errors import TrackingError
from tracking import tags as T
from tracking.store import store_errors

__all__ = ["open_experiment"]


def open_experiment(client: MlflowClient, tracking_uri: str, name: str) -> str:
    """The id of the active experiment ``name`` at ``tracking_uri``, created if there is
    none; tagged as a custom-model (training) experiment unless it already has a kind."""
    with store_errors(tracking_uri):
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                experiment_id = client.create_experiment(name)
            except MlflowException:  # a worker started beside us created it first
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
                experiment_id = found.experiment_id
        elif found.lifecycle_stage != "active":
            raise TrackingError(
                f"MLflow experiment {name!r} at {tracking_uri} is deleted; restore "
                f"it (mlflow experiments restore --experiment-id {found.experiment_id}) "
                "or pick another name with --experiment"
            )
        else:
            experiment_id = found.experiment_id
        _mark_training_experiment(client, experiment_id)
    return experiment_id


def _mark_training_experiment(client: MlflowClient, experiment_id: str) -> None:
    """Tag the experiment as custom-model development, unless it already has a kind.

    The UI opens such an experiment on its training runs (not on GenAI traces, nor on a
    "what kind of experiment is this?" prompt). An experiment the user gave another kind
    keeps it; one without a kind, new or not, holds sweeps' training runs, so it gets it.
    """
    tags = client.get_experiment(experiment_id).tags
    if T.EXPERIMENT_KIND not in tags:
        client.set_experiment_tag(experiment_id, T.EXPERIMENT_KIND, T.EXPERIMENT_KIND_TRAINING)
