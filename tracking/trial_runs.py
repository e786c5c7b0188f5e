"""A sweep's trial runs: one nested MLflow run per trial, written from the trial's events.

Each trial run holds the trial's hyperparameters as params, its train and validation
datasets, every epoch's metrics at ``step=epoch``, its final metrics and status, its model
summary and its learning curves. Its creation, result and end are written on the caller's
thread; the rest goes through the writer (see :mod:`tracking.mlflow_tracker`)::

    trials = TrialRuns(context)
    trials.started(TrialStarted("0", 1), sweep_run_id)
    trials.epoch_ended(EpochEnded("0", 0, {"loss": 0.9}))
    trials.ended(TrialEnded("0", TrialStatus.COMPLETED, 0.4, ...))
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from mlflow.entities import Metric, Param, RunTag

from sweeps.events import EpochEnded, ModelBuilt, TrialEnded, TrialStarted, TrialStatus
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.context import TrackerContext, safely
from tracking.resume import Kept
from tracking.runs import RUN_STATUS, now_ms

__all__ = ["TrialRuns"]


class TrialRuns:
    """The trial runs of one sweep, by trial id: those this process opened and those it
    carries on from (a resumed sweep's, a joined sweep's finished trials)."""

    def __init__(self, context: TrackerContext) -> None:
        self.context = context
        #: Each trial's run id and trial number, by trial id.
        self.run_ids: dict[str, str] = {}
        self.numbers: dict[str, int] = {}
        #: How many trials ended with each status (the sweep run's ``trials_<status>``).
        self.counts: dict[TrialStatus, int] = defaultdict(int)
        #: Trial runs tagged best / Pareto-optimal by an earlier end of this sweep: an
        #: extended sweep may have a new best.
        self.marked: dict[str, set[str]] = defaultdict(set)
        #: The number of the last trial whose run ended.
        self.last_number: int | None = None
        self._open: set[str] = set()
        self._history: dict[str, dict[str, list[tuple[int, float]]]] = {}

    # -- a trial's events --------------------------------------------------------------
    def started(self, event: TrialStarted, sweep_run_id: str) -> None:
        client = self.context.client
        tags = {
            T.PARENT: sweep_run_id,
            T.KIND: T.KIND_TRIAL,
            T.TRIAL_ID: event.trial_id,
            T.TRIAL_NUMBER: str(event.number),
            T.INITIAL_EPOCH: str(event.initial_epoch),
            **event.tags,
        }
        if event.continues is not None and event.continues in self.run_ids:
            tags[T.CONTINUES_RUN_ID] = self.run_ids[event.continues]
        run = client.create_run(
            self.context.experiment_id, run_name=f"trial-{event.number:03d}", tags=tags)
        self.context.writer.submit(self.context.log_inputs, run.info.run_id, sweep=False)
        self.run_ids[event.trial_id] = run.info.run_id
        self.numbers[event.trial_id] = event.number
        self._open.add(event.trial_id)
        self._history[event.trial_id] = defaultdict(list)

    def model_built(self, event: ModelBuilt) -> None:
        client, writer = self.context.client, self.context.writer
        run_id = self.run_ids[event.trial_id]
        writer.submit(
            client.log_batch, run_id,
            metrics=[Metric("param_count", float(event.param_count), now_ms(), 0)]
            if event.param_count is not None else [],
            params=[Param(name, str(value)) for name, value in event.params.items()],
            tags=[RunTag(T.OPTIMIZER, event.compiled_by)],
        )
        writer.submit(client.log_text, run_id, event.summary, "model_summary.txt")

    def epoch_ended(self, event: EpochEnded) -> None:
        timestamp = now_ms()
        history = self._history[event.trial_id]
        for key, value in event.metrics.items():
            history[key].append((event.epoch, value))
        self.context.writer.submit(
            self.context.client.log_batch, self.run_ids[event.trial_id], metrics=[
                Metric(key, value, timestamp, event.epoch)
                for key, value in event.metrics.items()])

    def ended(self, event: TrialEnded) -> None:
        client, writer = self.context.client, self.context.writer
        run_id = self.run_ids.get(event.trial_id)
        if run_id is None:  # ended before it started: nothing to close
            return
        # Its epochs are in the store before its result: a store lost meanwhile stops the
        # sweep here, with the trial unfinished, so --resume runs it again.
        writer.flush()
        history = self._history.pop(event.trial_id, {})
        metrics = {"epochs_run": event.epochs_run, "wall_time_s": event.wall_time_s}
        metrics.update({f"best_{metric}": value for metric, value in event.values.items()})
        metrics.update(event.extra)
        if event.objective is not None:
            metrics[f"best_{self.context.objective}"] = event.objective
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now_ms(), 0) for k, v in metrics.items()],
            tags=[RunTag(T.TRIAL_STATUS, event.status.value)]
            + ([RunTag(T.ERROR, event.error[:5000])] if event.error else [])
            + ([RunTag(T.CURVES_PENDING, "true")] if history else []),
        )
        if event.message:
            client.log_text(run_id, event.message, "error.txt")
        if history:  # rendered while the next trial trains
            writer.submit(self._log_curves, run_id, history, self.numbers[event.trial_id])
        if event.status is TrialStatus.PRUNED:
            # MLflow has no PRUNED status; the name makes pruned trials stand out in lists.
            number = self.numbers[event.trial_id]
            client.update_run(run_id, name=f"trial-{number:03d} (pruned)")
        self.counts[event.status] += 1
        client.set_terminated(run_id, RUN_STATUS[event.status])
        self._open.discard(event.trial_id)
        self.last_number = self.numbers[event.trial_id]

    # -- learning curves ---------------------------------------------------------------
    def _log_curves(self, run_id: str, history: dict[str, list[tuple[int, float]]],
                    number: int) -> None:
        with tempfile.TemporaryDirectory(prefix="sweeps-curves-") as tmp:
            path = self.context.renderer.draw(
                "learning_curves", path=f"{tmp}/learning_curves.png", history=history,
                title=f"trial {number}", metric=self.context.metric)
            self.context.client.log_artifact(run_id, path)
        self.context.client.delete_tag(run_id, T.CURVES_PENDING)

    def _log_stored_curves(self, run: Any) -> None:
        """The learning curves of a trial whose run ended but whose curves were not logged
        (the sweep was killed in between), from the metrics its run holds."""
        client = self.context.client
        keys = [key for name in ("loss", self.context.metric) for key in (name, f"val_{name}")
                if key in run.data.metrics]
        history = {key: [(m.step, m.value) for m in sorted(
            client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)]
            for key in keys}
        self._log_curves(run.info.run_id, history, int(run.data.tags[T.TRIAL_NUMBER]))

    # -- runs from before, and the sweep's end -----------------------------------------
    def carry_on(self, kept: Kept) -> None:
        """Carry on from the trial runs a resumed sweep kept (:mod:`tracking.resume`)."""
        self.run_ids.update(kept.trial_runs)
        self.numbers.update(kept.numbers)
        self.counts.update(kept.counts)
        self.marked.update(kept.marked)
        for child in kept.curves_pending:  # killed before they were logged
            self.context.writer.submit(self._log_stored_curves, child)

    def adopt(self, records: Iterable[tuple[TrialRecord, str]]) -> None:
        """Take the finished trials of every process that ran the sweep, with their run
        ids, as the sweep's trials: they are counted afresh (a joined sweep's end)."""
        self.counts = defaultdict(int)
        for record, run_id in records:
            self.run_ids[record.trial_id] = run_id
            self.numbers[record.trial_id] = record.number
            self.counts[record.status] += 1

    def mark_best(self, sweep_run_id: str, best_trial_id: str | None,
                  pareto_trial_ids: Sequence[str]) -> None:
        """Tag the best and the Pareto-optimal trial runs, name them on the sweep run, and
        untag the runs an earlier end of the sweep marked that are no longer either."""
        client = self.context.client
        best_runs = set()
        if best_trial_id is not None:
            best_run = self.run_ids[best_trial_id]
            best_runs.add(best_run)
            client.set_tag(sweep_run_id, T.BEST_TRIAL, str(self.numbers[best_trial_id]))
            client.set_tag(sweep_run_id, T.BEST_RUN_ID, best_run)
            client.set_tag(best_run, T.BEST, "true")
        pareto_runs = {self.run_ids[t] for t in pareto_trial_ids}
        if pareto_trial_ids:
            numbers = [self.numbers[t] for t in pareto_trial_ids]
            client.set_tag(sweep_run_id, T.PARETO_TRIALS,
                           ",".join(str(n) for n in sorted(numbers)))
            for pareto_run in pareto_runs:
                client.set_tag(pareto_run, T.PARETO, "true")
        for tag, now in ((T.BEST, best_runs), (T.PARETO, pareto_runs)):
            for stale in self.marked.pop(tag, set()) - now:
                client.delete_tag(stale, tag)

    def end_open(self, status: TrialStatus) -> None:
        """End every trial run still open as ``status``, each whatever the others do."""
        client = self.context.client
        run_status = RUN_STATUS[status]
        for trial_id in sorted(self._open):
            run_id = self.run_ids[trial_id]
            safely(run_id, lambda r=run_id: client.set_tag(r, T.TRIAL_STATUS, status.value))
            safely(run_id, lambda r=run_id: client.set_terminated(r, run_status))
        self._open.clear()
