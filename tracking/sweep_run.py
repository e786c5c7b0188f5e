"""The sweep's parent run: created at the sweep's start, reopened on ``--resume``, shared by
workers that join it, and ended by the one process that ends the sweep.

It holds the resolved spec as ``spec.yaml``, the sweep-level params and tags, the data's
splits as dataset inputs and, at the end, the sweep's metrics (best objective, trial counts,
test metrics), the best and Pareto-optimal trials, the final model (:mod:`tracking.publish`)
and the report (:mod:`tracking.sweep_report`)::

    sweep = SweepRun(context, trials, publisher, report)
    sweep.start(started)        # created, resumed or joined, as the event says
    sweep.end(ended)            # its metrics, model and report; FINISHED
"""

from __future__ import annotations

import time
from typing import Any

import yaml
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from sweeps.errors import TrackingError
from sweeps.events import SweepEnded, SweepStarted, TrialStatus
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.context import TrackerContext, log, safely
from tracking.final_fit import (
    baseline_metrics,
    baseline_tags,
    best_trial_test_metrics,
    final_fit_metrics,
    final_model_tags,
)
from tracking.publish import ModelPublisher
from tracking.resume import reconcile
from tracking.runs import RUN_STATUS, now_ms, record_of, trial_runs_of
from tracking.store import is_unavailable
from tracking.sweep_report import SweepReport
from tracking.trial_runs import TrialRuns

__all__ = ["SweepRun"]


class SweepRun:
    """The parent run of one sweep, and whether this process is the one to end it."""

    def __init__(self, context: TrackerContext, trials: TrialRuns, publisher: ModelPublisher,
                 report: SweepReport) -> None:
        self.context = context
        self.trials = trials
        self.publisher = publisher
        self.report = report
        #: The sweep's parent run; stays set after the sweep ends, for summaries.
        self.run_id: str | None = None
        #: On resume: the trials finished before, as read back from MLflow.
        self.previous_records: list[TrialRecord] = []
        self._open = False  # this process ends the run (it created, resumed or took it over)

    # -- the sweep's start -------------------------------------------------------------
    def start(self, event: SweepStarted) -> None:
        """Create the sweep run, or reopen it (``event.resume_run_id``), or join it
        (``event.join_run_id``: another process founded it and ends it)."""
        if event.resume_run_id is not None:
            self._resume(event.resume_run_id, set(event.rerun_trial_ids))
            self._record_budget(event)
            return
        if event.join_run_id is not None:
            self._check(event.join_run_id)
            self.run_id = event.join_run_id  # the founder ends it, not us
            return
        self._create(event)

    def _create(self, event: SweepStarted) -> None:
        spec = event.spec
        client = self.context.client
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
        run = client.create_run(
            self.context.experiment_id,
            run_name=f"{spec.name}-{spec.tuner.kind.value}-{time.strftime('%Y%m%d-%H%M%S')}",
            tags=tags,
        )
        self.run_id = run.info.run_id
        self._open = True
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
        run_id = self.run_id
        # What --resume and recheck read back is written before any trial starts.
        client.log_batch(run_id, params=[
            Param(key, str(value)) for key, value in params.items()])
        client.log_text(run_id, yaml.safe_dump(spec.to_dict(), sort_keys=False), "spec.yaml")
        self.context.writer.submit(self.context.log_inputs, run_id, sweep=True)

    def _resume(self, run_id: str, rerun: set[str]) -> None:
        """Reopen the sweep's run and reconcile its trial runs with the engine's state
        (:mod:`tracking.resume`)."""
        client = self.context.client
        run = self._check(run_id)
        self.run_id = run_id
        self._open = True
        client.update_run(run_id, status="RUNNING")
        if not run.inputs.dataset_inputs:  # killed before they were logged
            self.context.writer.submit(self.context.log_inputs, run_id, sweep=True)
        kept = reconcile(client, self.context.experiment_id, run_id, rerun=rerun,
                         objective=self.context.objective)
        self.previous_records.extend(kept.records)
        self.trials.carry_on(kept)
        if self.previous_records:
            self.trials.last_number = max(r.number for r in self.previous_records)
        resumes = int(run.data.tags.get(T.RESUMES, "0")) + 1
        client.set_tag(run_id, T.RESUMES, str(resumes))

    def _record_budget(self, event: SweepStarted) -> None:
        """A resumed sweep's current plan, and what its resume changed of the budget."""
        assert self.run_id is not None
        client, run_id = self.context.client, self.run_id
        client.set_tag(run_id, T.PLANNED_TRIALS, str(event.planned_trials or ""))
        if event.budget_changes:
            before = client.get_run(run_id).data.tags.get(T.BUDGET_CHANGES)
            changes = "; ".join([*([before] if before else []), *event.budget_changes])
            client.set_tag(run_id, T.BUDGET_CHANGES, changes[:5000])

    def _check(self, run_id: str) -> Any:
        """The sweep run ``run_id``, which must be in this experiment."""
        context = self.context
        try:
            run = context.client.get_run(run_id)
        except MlflowException as exc:
            if is_unavailable(exc):
                raise
            run = None
        if run is None or run.info.experiment_id != context.experiment_id:
            raise TrackingError(
                f"the sweep's MLflow run {run_id} is not in experiment {context.experiment!r} "
                f"at {context.tracking_uri}; use the tracking store and experiment it started "
                "in (--tracking-uri, --experiment), or start over with --overwrite"
            )
        return run

    # -- workers -----------------------------------------------------------------------
    def finished_trials(self) -> list[TrialRecord]:
        """Every trial of the sweep with a final result, whichever process ran it.

        Called once no trial runs anywhere: a trial run still RUNNING belongs to a dead
        worker (its trial was failed and run again), so it is ended as KILLED.
        """
        assert self.run_id is not None
        client = self.context.client
        finished = []
        for child in trial_runs_of(client, self.context.experiment_id, self.run_id):
            if child.info.status == "RUNNING":
                client.set_tag(child.info.run_id, T.TRIAL_STATUS, TrialStatus.KILLED.value)
                client.set_terminated(child.info.run_id, "KILLED")
                continue
            if child.data.tags.get(T.TRIAL_STATUS) in ("COMPLETED", "FAILED", "PRUNED"):
                finished.append((record_of(child, self.context.objective), child.info.run_id))
        self.trials.adopt(finished)
        return [record for record, _ in finished]

    def take_over(self) -> None:
        """Become the process that ends the sweep run (the worker that claimed its end)."""
        self._open = True

    # -- the sweep's end ---------------------------------------------------------------
    def end(self, event: SweepEnded) -> None:
        """Log the sweep's metrics, best trials, final model and report; end it FINISHED."""
        assert self.run_id is not None
        client, run_id, publisher = self.context.client, self.run_id, self.publisher
        started = time.monotonic()
        logged = None
        if event.best_model is not None:
            best_run = (self.trials.run_ids[event.best_trial_id]
                        if event.best_trial_id is not None else None)
            logged = publisher.log_model(event, run_id, best_run)
        self.context.writer.flush()  # the test metrics below name the digests it computed
        counts = self.trials.counts
        metrics = {f"best_{self.context.objective}": event.best_objective,
                   **{f"trials_{s.value.lower()}": float(n) for s, n in counts.items()},
                   **final_fit_metrics(event), **baseline_metrics(event)}
        client.log_batch(run_id, metrics=[
            Metric(key, float(value), now_ms(), 0)
            for key, value in metrics.items() if value is not None] + publisher.test_metrics(
                event.test_metrics, logged.model_id if logged is not None else None)
            + publisher.test_metrics(best_trial_test_metrics(event), None),
            tags=[RunTag(key, value) for key, value in
                  {**final_model_tags(event), **baseline_tags(event)}.items()])
        self.trials.mark_best(run_id, event.best_trial_id, event.pareto_trial_ids)
        if event.test_note:
            client.set_tag(run_id, T.TEST_NOTE, event.test_note)
        if logged is not None:
            publisher.register(logged, event, run_id)
            log.info("model logged and registered in %.1f s", time.monotonic() - started)
        self.report.log(run_id)
        client.set_terminated(run_id, "FINISHED")
        self._open = False

    def end_open(self, status: TrialStatus) -> None:
        """End the sweep run as ``status`` if this process is the one to end it and has not."""
        if self._open and self.run_id is not None:
            run_id, client = self.run_id, self.context.client
            safely(run_id, lambda: client.set_terminated(run_id, RUN_STATUS[status]))
            self._open = False
