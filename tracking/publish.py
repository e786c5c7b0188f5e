"""The sweep's final model, published from its sweep run: logged as an MLflow Model, its test
metrics linked to it and to the test set, and registered with the ``champion`` alias rules
of :mod:`tracking.models` when the spec names a registered model.

A registry that refuses the model does not fail the sweep: the model is logged, and the
console line (:attr:`ModelPublisher.note`) says what happened::

    publisher = ModelPublisher(context)
    publisher.prepare(event)                               # at the sweep's start
    logged = publisher.log_model(ended, sweep_run_id, best_run_id)
    publisher.register(logged, ended, sweep_run_id)        # once its test metrics are logged
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from sweeps.events import SweepEnded, SweepStarted
from sweeps.final.uplift import DEFAULTS
from sweeps.metrics import Direction, direction_of
from tracking import tags as T
from tracking.context import TrackerContext, log
from tracking.final_fit import final_fit_params
from tracking.models import (
    Registration,
    TestResult,
    input_example,
    keras_only,
    keras_requirements,
    log_keras_model,
    register,
)
from tracking.runs import now_ms

__all__ = ["ModelPublisher"]


class ModelPublisher:
    """Logs and registers the sweep's final model; remembers where it went."""

    def __init__(self, context: TrackerContext) -> None:
        self.context = context
        self._name = context.experiment  # the sweep's name, once it starts
        self._register_as: str | None = None
        self._example: Any = None
        #: Set when the sweep ends with a model: ``models:/<model id>``, the registry's
        #: outcome (None if not registered), and one line for the console about both.
        self.model_uri: str | None = None
        self.registration: Registration | None = None
        self.note: str | None = None

    def prepare(self, event: SweepStarted) -> None:
        """What the model will be logged and registered with, from the sweep's start."""
        spec = event.spec
        self._name = spec.name
        self._register_as = spec.tracking.register_model
        if event.dataset is not None:
            self._example = input_example(event.dataset.sample(5)[0])

    def log_model(self, event: SweepEnded, sweep_run_id: str, best_run_id: str | None) -> Any:
        """Log ``event.best_model`` as an MLflow Model of the sweep run; its ``LoggedModel``.

        ``best_run_id``: the best trial's run, whose hyperparameters the model page shows.
        """
        params = {}
        if best_run_id is not None:  # the model page shows its hyperparameters
            params = self.context.client.get_run(best_run_id).data.params
        params = {**params, **final_fit_params(event)}  # a retrained model: how it was trained
        # Known for a model of Keras's own objects (every bundled one, and most users'); else
        # None: MLflow infers them from what the user's code imports.
        requirements = keras_requirements() if keras_only(event.best_model) else None
        logged = log_keras_model(self.context.client, self.context.experiment_id, sweep_run_id,
                                 event.best_model, self._example, name=self._name,
                                 params=params, pip_requirements=requirements)
        self.model_uri = f"models:/{logged.model_id}"
        return logged

    def test_metrics(self, values: dict[str, float], model_id: str | None) -> list[Metric]:
        """The test metrics, linked to the model they measure and the test set they used
        (the logged model's page lists them)."""
        datasets = self.context.datasets
        name = datasets.name(T.DATA_TEST) if datasets else None
        digest = datasets.digest(T.DATA_TEST) if datasets else None
        return [Metric(key, float(value), now_ms(), 0, model_id=model_id,
                       dataset_name=name if digest else None, dataset_digest=digest)
                for key, value in values.items()]

    def register(self, logged: Any, event: SweepEnded, sweep_run_id: str) -> str:
        """Register the logged model if the spec says so; the line the console shows (also
        kept as :attr:`note`)."""
        self.note = self._register(logged, event.test_metrics, event.baselines, sweep_run_id)
        return self.note

    def _register(self, logged: Any, test_metrics: dict[str, float], baselines: Any,
                  sweep_run_id: str) -> str:
        if self._register_as is None:
            return f"model: {self.model_uri} (not registered: tracking.register_model is false)"
        # The task's primary metric, as the test set reports it.
        metric = f"test_{self.context.metric}"
        datasets = self.context.datasets
        digest = datasets.digest(T.DATA_TEST) if datasets else None
        test = TestResult(metric, direction_of(metric) or Direction.MAX,
                          test_metrics.get(metric), digest,
                          defaults=baselines.value(DEFAULTS, metric) if baselines else None)
        try:
            self.registration = register(self.context.client, self._register_as, logged,
                                         sweep_run_id, test)
        except MlflowException as exc:  # the model is logged; the sweep's result stands
            log.warning("could not register the model as %r", self._register_as,
                        exc_info=True)
            return (f"model: {self.model_uri}; could not register it as "
                    f"{self._register_as}: {exc.message}")
        return self.registration.describe()
