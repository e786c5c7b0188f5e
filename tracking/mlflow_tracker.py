"""The MLflow layout of a sweep, written from the engine's trial events.

One parent run per sweep (resolved spec as ``spec.yaml``, sweep-level params and tags, the
data's splits as dataset inputs, test metrics and the final model at the end: an MLflow Model,
registered with the ``champion`` alias rules of :mod:`tracking.models`) and one nested run per
trial (hyperparameters as params, its train and validation datasets, every epoch's metrics at
``step=epoch``, final metrics, model summary and learning curves). Runs are ended by
:meth:`MlflowTracker.end_open_runs` whatever happens, so none is left ``RUNNING`` when the
command exits. Experiments are tagged as custom-model (training) experiments for the UI
(:mod:`tracking.experiment`).

Writes that decide the sweep's state (runs created, a trial's result and status, runs ended)
are made on the caller's thread; the rest (every epoch's metrics, params, summaries, dataset
inputs, learning curves) go through a :class:`~tracking.writer.Writer`, in order, while
training goes on, and are flushed before the next state-deciding write. Figures (learning
curves, the report's plots) are drawn by a helper process (:mod:`tracking.render`), whose
drawing does not hold this process's interpreter lock while Keras trains.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import yaml
from mlflow.entities import Metric, Param, RunTag
from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT
from mlflow.exceptions import MlflowException

from sweeps import interrupts
from sweeps.baselines import DEFAULTS
from sweeps.errors import TrackingError, TrackingLost
from sweeps.events import (
    EpochEnded,
    ModelBuilt,
    SweepEnded,
    SweepObserver,
    SweepStarted,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from sweeps.metrics import Direction, direction_of
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.datasets import SweepDatasets
from tracking.experiment import open_experiment
from tracking.final_fit import (
    baseline_metrics,
    baseline_tags,
    best_trial_test_metrics,
    final_fit_metrics,
    final_fit_params,
    final_model_tags,
)
from tracking.models import (
    Registration,
    TestResult,
    input_example,
    keras_requirements,
    log_keras_model,
    register,
)
from tracking.queries import load_sweep
from tracking.render import Renderer
from tracking.report import ReportDraft
from tracking.resume import reconcile
from tracking.runs import RUN_STATUS, now_ms, record_of, trial_runs_of
from tracking.store import is_unavailable, open_client, reason
from tracking.writer import Writer

__all__ = ["MlflowTracker"]

_log = logging.getLogger(__name__)

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _recording(method: _Method) -> _Method:
    """For the tracker's event handlers: a store that stops answering (after MLflow's bounded
    retries, see sweeps.process) raises :class:`TrackingLost`, which stops the sweep with the
    trial unfinished, so ``--resume`` runs it again; later events raise it at once."""

    @functools.wraps(method)
    def handler(self: MlflowTracker, *args: Any, **kwargs: Any) -> Any:
        if self.lost is not None:
            raise self.lost
        try:
            with interrupts.deferred():  # never cut a store write in half
                if self.writer.error is not None:  # a queued write failed: stop here
                    self.writer.flush()
                return method(self, *args, **kwargs)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            _log.info("the MLflow store stopped answering", exc_info=exc)  # the detail, for -v
            self.lost = self._lost(exc)
            raise self.lost from None

    return handler  # type: ignore[return-value]


class MlflowTracker(SweepObserver):
    """Writes a sweep into an MLflow experiment through ``MlflowClient``.

    The client API (explicit run ids) rather than the fluent one: the sweep run and the
    trial runs are open at the same time, and nothing depends on a global active run.
    """

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.tracking_uri = tracking_uri
        self.client = open_client(tracking_uri)  # a new sqlite store safely, beside others
        self.experiment_id = open_experiment(self.client, tracking_uri, experiment)
        self.experiment = experiment
        #: The sweep's parent run; stays set after the sweep ends, for summaries.
        self.parent_run_id: str | None = None
        self._parent_open = False
        self._trial_runs: dict[str, str] = {}
        self._trial_numbers: dict[str, int] = {}
        self._open_trials: set[str] = set()
        self._history: dict[str, dict[str, list[tuple[int, float]]]] = {}
        self._objective = "val_loss"
        self._metric = "accuracy"  # the task's metric that learning curves plot beside loss
        self._counts: dict[TrialStatus, int] = defaultdict(int)
        #: On resume: the trials finished before, as read back from MLflow.
        self.previous_records: list[TrialRecord] = []
        #: Trial runs tagged best / Pareto-optimal by an earlier end of this sweep: an
        #: extended sweep may have a new best.
        self._marked: dict[str, set[str]] = defaultdict(set)
        #: Set once the store stopped answering: nothing more is sent to it.
        self.lost: TrackingLost | None = None
        #: The writes that need not hold up training (see the module's docstring).
        self.writer = Writer()
        #: Draws learning curves and the report's plots in a helper process, beside training.
        self.renderer = Renderer()
        self._report: ReportDraft | None = None  # drawn ahead by search_ended
        self._last_trial: int | None = None  # the number of the last trial whose run ended
        self._sweep_name = experiment
        self._register_as: str | None = None
        self._datasets: SweepDatasets | None = None
        self._example: Any = None
        #: The final model's pip requirements: known for bundled hypermodels, else None
        #: (MLflow infers them from what the user's model imports).
        self._requirements: list[str] | None = None
        #: Set when the sweep ends with a model: ``models:/<model id>``, the registry's
        #: outcome (None if not registered), and one line for the console about both.
        self.model_uri: str | None = None
        self.registration: Registration | None = None
        self.model_note: str | None = None

    def _lost(self, exc: Exception) -> TrackingLost:
        server = self.tracking_uri.startswith(("http://", "https://"))
        store = (f"the MLflow tracking server at {self.tracking_uri}" if server
                 else f"the MLflow store {self.tracking_uri}")
        return TrackingLost(store, reason(exc), server=server, last_trial=self._last_trial)

    # -- sweep -------------------------------------------------------------------------
    @_recording
    def sweep_started(self, event: SweepStarted) -> None:
        spec = event.spec
        self.renderer.start()  # if the session has not (before TensorFlow's import)
        self._objective = spec.objective.metric
        self._metric = event.task.primary_metric if event.task else "accuracy"
        self._sweep_name = spec.name
        self._register_as = spec.tracking.register_model
        if spec.hypermodel.bundled:
            self._requirements = keras_requirements()
        if event.dataset is not None:  # digests computed once, for the sweep and every trial
            self.writer.submit(self._digest, event.dataset)
            self._example = input_example(event.dataset.sample(5)[0])
        if event.resume_run_id is not None:
            self._resume(event.resume_run_id, set(event.rerun_trial_ids))
            self._record_budget(event)
            return
        if event.join_run_id is not None:
            self._check_sweep_run(event.join_run_id)
            self.parent_run_id = event.join_run_id  # the founder ends it, not us
            return
        tags = {
            T.KIND: T.KIND_SWEEP,
            T.SWEEP: spec.name,
            T.ENGINE: event.engine,
            T.TUNER: spec.tuner.kind.value,
            T.DATASET: spec.data.name,
            T.HYPERMODEL: spec.hypermodel.name,
            T.OBJECTIVE: f"{spec.objective.metric} ({spec.objective.direction.value})",
            T.DATA_SOURCE: event.data_source,
            T.TASK: event.task.kind.value if event.task else "",
            T.OPTIMIZER: event.compiled_by,
            T.NOTE: spec.description,
        }
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"{spec.name}-{spec.tuner.kind.value}-{time.strftime('%Y%m%d-%H%M%S')}",
            tags=tags,
        )
        self.parent_run_id = run.info.run_id
        self._parent_open = True
        params = {
            "engine": event.engine, "tuner": spec.tuner.kind.value, "dataset": spec.data.name,
            "task": event.task.kind.value if event.task else None,
            "metrics": ",".join(event.task.metric_names) if event.task else None,
            "hypermodel": spec.hypermodel.name, "objective": spec.objective.metric,
            "direction": spec.objective.direction.value,
            "planned_trials": event.planned_trials, "max_epochs": spec.training.max_epochs,
            "batch_size": spec.training.batch_size, "seed": spec.seed,
            "subset": spec.data.subset, "validation_split": spec.data.validation_split,
            **{f"data.{name}_size": size for name, size in event.data_sizes.items()},
            **{f"tuner.{key}": value for key, value in spec.tuner.options.items()},
        }
        run_id = self.parent_run_id
        # What --resume and recheck read back is written before any trial starts.
        self.client.log_batch(run_id, params=[
            Param(key, str(value)) for key, value in params.items()])
        self.client.log_text(run_id, yaml.safe_dump(spec.to_dict(), sort_keys=False),
                             "spec.yaml")
        self.writer.submit(self._log_inputs, run_id, sweep=True)

    def _digest(self, dataset: Any) -> None:
        self._datasets = SweepDatasets.of(dataset)

    def _log_inputs(self, run_id: str, *, sweep: bool) -> None:
        if self._datasets is not None:
            self.client.log_inputs(run_id, self._datasets.sweep_inputs() if sweep
                                   else self._datasets.trial_inputs())

    def _resume(self, run_id: str, rerun: set[str]) -> None:
        """Reopen the sweep's run and reconcile its trial runs with the engine's state
        (:mod:`tracking.resume`)."""
        run = self._check_sweep_run(run_id)
        self.parent_run_id = run_id
        self._parent_open = True
        self.client.update_run(run_id, status="RUNNING")
        if not run.inputs.dataset_inputs:  # killed before they were logged
            self.writer.submit(self._log_inputs, run_id, sweep=True)
        kept = reconcile(self.client, self.experiment_id, run_id, rerun=rerun,
                         objective=self._objective)
        self._trial_runs.update(kept.trial_runs)
        self._trial_numbers.update(kept.numbers)
        self._counts.update(kept.counts)
        self._marked.update(kept.marked)
        self.previous_records.extend(kept.records)
        for child in kept.curves_pending:  # killed before they were logged
            self.writer.submit(self._log_stored_curves, child)
        if self.previous_records:
            self._last_trial = max(r.number for r in self.previous_records)
        resumes = int(run.data.tags.get(T.RESUMES, "0")) + 1
        self.client.set_tag(run_id, T.RESUMES, str(resumes))

    def _record_budget(self, event: SweepStarted) -> None:
        """A resumed sweep's current plan, and what its resume changed of the budget."""
        assert self.parent_run_id is not None
        run_id = self.parent_run_id
        self.client.set_tag(run_id, T.PLANNED_TRIALS, str(event.planned_trials or ""))
        if event.budget_changes:
            before = self.client.get_run(run_id).data.tags.get(T.BUDGET_CHANGES)
            changes = "; ".join([*([before] if before else []), *event.budget_changes])
            self.client.set_tag(run_id, T.BUDGET_CHANGES, changes[:5000])

    def _check_sweep_run(self, run_id: str) -> Any:
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if is_unavailable(exc):
                raise
            run = None
        if run is None or run.info.experiment_id != self.experiment_id:
            raise TrackingError(
                f"the sweep's MLflow run {run_id} is not in experiment {self.experiment!r} at "
                f"{self.tracking_uri}; use the tracking store and experiment it started in "
                "(--tracking-uri, --experiment), or start over with --overwrite"
            )
        return run

    @_recording
    def finished_trials(self) -> list[TrialRecord]:
        """Every trial of the sweep with a final result, whichever process ran it.

        Called once no trial runs anywhere: a trial run still RUNNING belongs to a dead
        worker (its trial was failed and run again), so it is ended as KILLED.
        """
        assert self.parent_run_id is not None
        records = []
        for child in trial_runs_of(self.client, self.experiment_id, self.parent_run_id):
            if child.info.status == "RUNNING":
                self.client.set_tag(child.info.run_id, T.TRIAL_STATUS,
                                    TrialStatus.KILLED.value)
                self.client.set_terminated(child.info.run_id, "KILLED")
                continue
            if child.data.tags.get(T.TRIAL_STATUS) in ("COMPLETED", "FAILED", "PRUNED"):
                records.append(record_of(child, self._objective))
                self._trial_runs[records[-1].trial_id] = child.info.run_id
                self._trial_numbers[records[-1].trial_id] = records[-1].number
        self._counts = defaultdict(int)
        for record in records:
            self._counts[record.status] += 1
        return records

    def take_over_sweep_run(self) -> None:
        """Become the process that ends the sweep run (the worker that claimed its end)."""
        self._parent_open = True

    @_recording
    def sweep_ended(self, event: SweepEnded) -> None:
        assert self.parent_run_id is not None
        run_id = self.parent_run_id
        started = time.monotonic()
        logged = self._log_model(event) if event.best_model is not None else None
        self.writer.flush()  # the test metrics below name the digests it computed
        metrics = {f"best_{self._objective}": event.best_objective,
                   **{f"trials_{s.value.lower()}": float(n) for s, n in self._counts.items()},
                   **final_fit_metrics(event), **baseline_metrics(event)}
        self.client.log_batch(run_id, metrics=[
            Metric(key, float(value), now_ms(), 0)
            for key, value in metrics.items() if value is not None] + self._test_metrics(
                event.test_metrics, logged.model_id if logged is not None else None)
            + self._test_metrics(best_trial_test_metrics(event), None),
            tags=[RunTag(key, value) for key, value in
                  {**final_model_tags(event), **baseline_tags(event)}.items()])
        best_runs = set()
        if event.best_trial_id is not None:
            best_run = self._trial_runs[event.best_trial_id]
            best_runs.add(best_run)
            self.client.set_tag(run_id, T.BEST_TRIAL,
                                str(self._trial_numbers[event.best_trial_id]))
            self.client.set_tag(run_id, T.BEST_RUN_ID, best_run)
            self.client.set_tag(best_run, T.BEST, "true")
        pareto_runs = {self._trial_runs[t] for t in event.pareto_trial_ids}
        if event.pareto_trial_ids:
            numbers = [self._trial_numbers[t] for t in event.pareto_trial_ids]
            self.client.set_tag(run_id, T.PARETO_TRIALS,
                                ",".join(str(n) for n in sorted(numbers)))
            for pareto_run in pareto_runs:
                self.client.set_tag(pareto_run, T.PARETO, "true")
        for tag, now in ((T.BEST, best_runs), (T.PARETO, pareto_runs)):
            for stale in self._marked.pop(tag, set()) - now:
                self.client.delete_tag(stale, tag)
        if event.test_note:
            self.client.set_tag(run_id, T.TEST_NOTE, event.test_note)
        if logged is not None:
            self.model_note = self._register(logged, event.test_metrics, event.baselines)
            _log.info("model logged and registered in %.1f s", time.monotonic() - started)
        self._log_report(run_id)
        self.client.set_terminated(run_id, "FINISHED")
        self._parent_open = False

    def search_ended(self) -> None:
        """No trial runs any more (the sweep's end is next): the report's plots are drawn on
        the writer while the best model is loaded, tested and logged."""
        if self.lost is not None or self.parent_run_id is None:
            return
        if ReportDraft.off_main_thread_ok():
            self._report = ReportDraft()
            self.writer.submit(self._draw_report, self._report, self.parent_run_id)

    def _draw_report(self, report: ReportDraft, run_id: str) -> None:
        try:
            # Read back from the store, like `sweeps compare`: every worker's trials count.
            report.draw_plots(load_sweep(self.client, self.client.get_run(run_id)),
                              self.renderer)
        except Exception as exc:  # a report is not worth failing a finished sweep
            if is_unavailable(exc):
                raise
            _log.warning("could not draw the sweep report's plots", exc_info=True)

    def _log_report(self, run_id: str) -> None:
        report, self._report = self._report, None
        try:
            if report is None or report.sweep is None:  # not drawn ahead (or that failed)
                report = report or ReportDraft()
                report.draw_plots(load_sweep(self.client, self.client.get_run(run_id)),
                                  self.renderer)
            report.log(self.client, self.client.get_run(run_id))
        except Exception as exc:  # a report is not worth failing a finished sweep
            if is_unavailable(exc):
                raise
            _log.warning("could not write the sweep report", exc_info=True)
        finally:
            if report is not None:
                report.discard()

    def _log_model(self, event: SweepEnded) -> Any:
        assert self.parent_run_id is not None
        params = {}
        if event.best_trial_id is not None:  # the model page shows its hyperparameters
            params = self.client.get_run(self._trial_runs[event.best_trial_id]).data.params
        params = {**params, **final_fit_params(event)}  # a retrained model: how it was trained
        logged = log_keras_model(self.client, self.experiment_id, self.parent_run_id,
                                 event.best_model, self._example, name=self._sweep_name,
                                 params=params, pip_requirements=self._requirements)
        self.model_uri = f"models:/{logged.model_id}"
        return logged

    def _test_metrics(self, values: dict[str, float], model_id: str | None) -> list[Metric]:
        """The test metrics, linked to the model they measure and the test set they used
        (the logged model's page lists them)."""
        name = self._datasets.name(T.DATA_TEST) if self._datasets else None
        digest = self._datasets.digest(T.DATA_TEST) if self._datasets else None
        return [Metric(key, float(value), now_ms(), 0, model_id=model_id,
                       dataset_name=name if digest else None, dataset_digest=digest)
                for key, value in values.items()]

    def _register(self, logged: Any, test_metrics: dict[str, float], baselines: Any) -> str:
        """Register the logged model if the spec says so; the line the console shows."""
        if self._register_as is None:
            return f"model: {self.model_uri} (not registered: tracking.register_model is false)"
        metric = f"test_{self._metric}"  # the task's primary metric, as the test set reports it
        digest = self._datasets.digest(T.DATA_TEST) if self._datasets else None
        test = TestResult(metric, direction_of(metric) or Direction.MAX,
                          test_metrics.get(metric), digest,
                          defaults=baselines.value(DEFAULTS, metric) if baselines else None)
        assert self.parent_run_id is not None
        try:
            self.registration = register(self.client, self._register_as, logged,
                                         self.parent_run_id, test)
        except MlflowException as exc:  # the model is logged; the sweep's result stands
            _log.warning("could not register the model as %r", self._register_as,
                         exc_info=True)
            return (f"model: {self.model_uri}; could not register it as "
                    f"{self._register_as}: {exc.message}")
        return self.registration.describe()

    # -- trials ------------------------------------------------------------------------
    @_recording
    def trial_started(self, event: TrialStarted) -> None:
        assert self.parent_run_id is not None, "trial_started before sweep_started"
        tags = {
            T.PARENT: self.parent_run_id,
            T.KIND: T.KIND_TRIAL,
            T.TRIAL_ID: event.trial_id,
            T.TRIAL_NUMBER: str(event.number),
            T.INITIAL_EPOCH: str(event.initial_epoch),
            **event.tags,
        }
        if event.continues is not None and event.continues in self._trial_runs:
            tags[T.CONTINUES_RUN_ID] = self._trial_runs[event.continues]
        run = self.client.create_run(
            self.experiment_id, run_name=f"trial-{event.number:03d}", tags=tags)
        self.writer.submit(self._log_inputs, run.info.run_id, sweep=False)
        self._trial_runs[event.trial_id] = run.info.run_id
        self._trial_numbers[event.trial_id] = event.number
        self._open_trials.add(event.trial_id)
        self._history[event.trial_id] = defaultdict(list)

    @_recording
    def model_built(self, event: ModelBuilt) -> None:
        run_id = self._trial_runs[event.trial_id]
        self.writer.submit(
            self.client.log_batch, run_id,
            metrics=[Metric("param_count", float(event.param_count), now_ms(), 0)]
            if event.param_count is not None else [],
            params=[Param(name, str(value)) for name, value in event.params.items()],
            tags=[RunTag(T.OPTIMIZER, event.compiled_by)],
        )
        self.writer.submit(self.client.log_text, run_id, event.summary, "model_summary.txt")

    @_recording
    def epoch_ended(self, event: EpochEnded) -> None:
        timestamp = now_ms()
        history = self._history[event.trial_id]
        for key, value in event.metrics.items():
            history[key].append((event.epoch, value))
        self.writer.submit(self.client.log_batch, self._trial_runs[event.trial_id], metrics=[
            Metric(key, value, timestamp, event.epoch) for key, value in event.metrics.items()])

    @_recording
    def trial_ended(self, event: TrialEnded) -> None:
        run_id = self._trial_runs.get(event.trial_id)
        if run_id is None:  # ended before it started: nothing to close
            return
        # Its epochs are in the store before its result: a store lost meanwhile stops the
        # sweep here, with the trial unfinished, so --resume runs it again.
        self.writer.flush()
        history = self._history.pop(event.trial_id, {})
        metrics = {"epochs_run": event.epochs_run, "wall_time_s": event.wall_time_s}
        metrics.update({f"best_{metric}": value for metric, value in event.values.items()})
        metrics.update(event.extra)
        if event.objective is not None:
            metrics[f"best_{self._objective}"] = event.objective
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now_ms(), 0) for k, v in metrics.items()],
            tags=[RunTag(T.TRIAL_STATUS, event.status.value)]
            + ([RunTag(T.ERROR, event.error[:5000])] if event.error else [])
            + ([RunTag(T.CURVES_PENDING, "true")] if history else []),
        )
        if event.message:
            self.client.log_text(run_id, event.message, "error.txt")
        if history:  # rendered while the next trial trains
            self.writer.submit(self._log_curves, run_id, history,
                               self._trial_numbers[event.trial_id])
        if event.status is TrialStatus.PRUNED:
            # MLflow has no PRUNED status; the name makes pruned trials stand out in lists.
            number = self._trial_numbers[event.trial_id]
            self.client.update_run(run_id, name=f"trial-{number:03d} (pruned)")
        self._counts[event.status] += 1
        self.client.set_terminated(run_id, RUN_STATUS[event.status])
        self._open_trials.discard(event.trial_id)
        self._last_trial = self._trial_numbers[event.trial_id]

    def _log_curves(self, run_id: str, history: dict[str, list[tuple[int, float]]],
                    number: int) -> None:
        with tempfile.TemporaryDirectory(prefix="sweeps-curves-") as tmp:
            path = self.renderer.draw("learning_curves", path=f"{tmp}/learning_curves.png",
                                      history=history, title=f"trial {number}",
                                      metric=self._metric)
            self.client.log_artifact(run_id, path)
        self.client.delete_tag(run_id, T.CURVES_PENDING)

    def _log_stored_curves(self, run: Any) -> None:
        """The learning curves of a trial whose run ended but whose curves were not logged
        (the sweep was killed in between), from the metrics its run holds."""
        keys = [key for name in ("loss", self._metric) for key in (name, f"val_{name}")
                if key in run.data.metrics]
        history = {key: [(m.step, m.value) for m in sorted(
            self.client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)]
            for key in keys}
        self._log_curves(run.info.run_id, history, int(run.data.tags[T.TRIAL_NUMBER]))

    # -- ending, whatever happened -----------------------------------------------------
    def end_open_runs(self, status: TrialStatus) -> None:
        """End every run still open as ``status`` (KILLED on Ctrl-C, FAILED on errors).

        Not once the store stopped answering: each call would wait out MLflow's retries
        again. Those runs stay RUNNING until ``--resume`` ends them as KILLED.
        """
        if self.lost is not None:
            return
        with interrupts.deferred():  # a second Ctrl-C waits until every run is ended
            try:
                self.writer.flush()  # what is queued (epochs, curves) is kept
            except Exception as exc:  # noqa: BLE001 - the runs are ended all the same
                if is_unavailable(exc):
                    self.lost = self._lost(exc)
                    return
                _log.exception("a tracking write failed")
            self._end_open_runs(status)

    def close(self) -> None:
        self.writer.close()
        self.renderer.close()
        if self._report is not None:  # drawn for a sweep that did not reach its end
            self._report.discard()
            self._report = None

    def _end_open_runs(self, status: TrialStatus) -> None:
        run_status = RUN_STATUS[status]
        for trial_id in sorted(self._open_trials):
            run_id = self._trial_runs[trial_id]
            self._safely(run_id, lambda r=run_id: self.client.set_tag(
                r, T.TRIAL_STATUS, status.value))
            self._safely(run_id, lambda r=run_id: self.client.set_terminated(r, run_status))
        self._open_trials.clear()
        if self._parent_open and self.parent_run_id is not None:
            run_id = self.parent_run_id
            self._safely(run_id, lambda: self.client.set_terminated(run_id, run_status))
            self._parent_open = False

    @staticmethod
    def _safely(run_id: str, action: Any) -> None:
        try:
            action()
        except Exception:  # noqa: BLE001 - closing must go on for the other runs
            _log.exception("could not close MLflow run %s", run_id)

    def run_url_hint(self) -> str:
        return f"mlflow ui --backend-store-uri {self.tracking_uri}"

    @staticmethod
    @contextlib.contextmanager
    def run_urls_unprinted() -> Iterator[None]:
        """Keep MLflow from printing "🏃 View run ..." and "🧪 View experiment ..." to stdout.

        On an http(s) store, ``MlflowClient.set_terminated`` prints both lines for every run
        it ends (``TrackingServiceClient._log_url``): dozens of lines through the sweep's own
        output. MLflow's documented switch, $MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT, is read
        at each run's end; it is set for the duration and then put back as it was, so the
        caller's process (a notebook, say) is left unchanged.
        """
        name = MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name
        previous = os.environ.get(name)
        os.environ[name] = "true"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous


