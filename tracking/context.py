"""What every part of the MLflow tracker writes with: the store's client and experiment, the
background :class:`~tracking.writer.Writer`, the figure helper, and what the sweep's start
said about its metrics and data.

The tracker (:mod:`tracking.mlflow_tracker`) is split by what it writes: the sweep run
(:mod:`tracking.sweep_run`), the trial runs (:mod:`tracking.trial_runs`), the final model
(:mod:`tracking.publish`) and the report (:mod:`tracking.sweep_report`). Each holds its own
state and shares this one context, made once per tracker::

    context = TrackerContext(uri, client, "mnist", experiment_id)
    context.writer.submit(context.log_inputs, run_id, sweep=True)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlflow.tracking import MlflowClient

from tracking.datasets import SweepDatasets
from tracking.render import Renderer
from tracking.writer import Writer

__all__ = ["TrackerContext", "log", "safely"]

#: The tracker's one logger, whichever of its modules writes: its warnings keep the name
#: they have always had on the console (``WARNING tracking.mlflow_tracker: ...``), and a
#: logging configuration that names it still reaches all of them.
log = logging.getLogger("tracking.mlflow_tracker")


@dataclass
class TrackerContext:
    """The store a sweep is tracked in and the helpers that write to it."""

    tracking_uri: str
    client: MlflowClient
    #: The experiment's name, and its id in the store (see :mod:`tracking.experiment`).
    experiment: str
    experiment_id: str
    #: The writes that need not hold up training (see :mod:`tracking.mlflow_tracker`).
    writer: Writer = field(default_factory=Writer)
    #: Draws learning curves and the report's plots in a helper process, beside training.
    renderer: Renderer = field(default_factory=Renderer)
    #: The sweep's objective, as its trial runs' ``best_<objective>`` metric names it.
    objective: str = "val_loss"
    #: The task's metric that learning curves plot beside loss (and the registry compares).
    metric: str = "accuracy"
    #: The data's splits as dataset inputs: set on the writer once their digests are done.
    datasets: SweepDatasets | None = None

    def digest(self, dataset: Any) -> None:
        """Compute the data's digests, once for the sweep and every trial (on the writer)."""
        self.datasets = SweepDatasets.of(dataset)

    def log_inputs(self, run_id: str, *, sweep: bool) -> None:
        """Log the data's splits as ``run_id``'s dataset inputs: every split for the sweep
        run, train and validation for a trial run."""
        if self.datasets is not None:
            self.client.log_inputs(run_id, self.datasets.sweep_inputs() if sweep
                                   else self.datasets.trial_inputs())


def safely(run_id: str, action: Callable[[], Any]) -> None:
    """Run ``action`` on ``run_id``; an error is logged, not raised, so closing goes on for
    the other runs."""
    try:
        action()
    except Exception:  # closing must go on for the other runs
        log.exception("could not close MLflow run %s", run_id)
