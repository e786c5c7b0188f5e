"""The MLflow layout of a sweep, written from the engine's trial events.

One parent run per sweep (resolved spec as ``spec.yaml``, sweep-level params and tags, the
data's splits as dataset inputs, test metrics and the final model at the end: an MLflow Model,
registered with the ``champion`` alias rules of :mod:`tracking.models`) and one nested run per
trial (hyperparameters as params, its train and validation datasets, every epoch's metrics at
``step=epoch``, final metrics, model summary and learning curves). Runs are ended by
:meth:`MlflowTracker.end_open_runs` whatever happens, so none is left ``RUNNING`` when the
command exits. Experiments are tagged as custom-model (training) experiments for the UI.

Writes that decide the sweep's state (runs created, a trial's result and status, runs ended)
are made on the caller's thread; the rest (every epoch's metrics, params, summaries, dataset
inputs, learning curves) go through a :class:`~tracking.writer.Writer`, in order, while
training goes on, and are flushed before the next state-deciding write. Figures (learning
curves, the report's plots) are drawn by a helper process (:mod:`tracking.render`), whose
drawing does not hold this process's interpreter lock while Keras trains.

Each part lives in the module named for it: the experiment (:mod:`tracking.experiment`),
the sweep run (:mod:`tracking.sweep_run`), the trial runs (:mod:`tracking.trial_runs`), the
final model (:mod:`tracking.publish`) and the report (:mod:`tracking.sweep_report`), all
writing with one :class:`~tracking.context.TrackerContext`. This class is the
:class:`~sweeps.events.SweepObserver` the runner sees: it hands each event to them, and
stops the sweep with :class:`~sweeps.errors.TrackingLost` once the store stops answering.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mlflow.tracking import MlflowClient

from sweeps import interrupts
from sweeps.errors import TrackingLost
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
from sweeps.trials import TrialRecord
from tracking.context import TrackerContext, log
from tracking.experiment import open_experiment
from tracking.journal import JOURNAL_NAME, Journal, JournaledClient
from tracking.models import Registration
from tracking.publish import ModelPublisher
from tracking.render import Renderer
from tracking.run_urls import run_urls_unprinted
from tracking.store import is_unavailable, open_client, reason
from tracking.sweep_report import SweepReport
from tracking.sweep_run import SweepRun
from tracking.trial_runs import TrialRuns
from tracking.writer import Writer

__all__ = ["MlflowTracker"]

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
            log.info("the MLflow store stopped answering", exc_info=exc)  # the detail, for -v
            self.lost = self._lost(exc)
            raise self.lost from None

    return handler  # type: ignore[return-value]


class MlflowTracker(SweepObserver):
    """Writes a sweep into an MLflow experiment through ``MlflowClient``.

    The client API (explicit run ids) rather than the fluent one: the sweep run and the
    trial runs are open at the same time, and nothing depends on a global active run.
    """

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        client = open_client(tracking_uri)  # a new sqlite store safely, beside others
        experiment_id = open_experiment(client, tracking_uri, experiment)
        self.context = TrackerContext(tracking_uri, client, experiment, experiment_id)
        self.trials = TrialRuns(self.context)
        self.publisher = ModelPublisher(self.context)
        self.report = SweepReport(self.context)
        self.sweep_run = SweepRun(self.context, self.trials, self.publisher, self.report)
        #: Set once the store stopped answering: nothing more is sent to it.
        self.lost: TrackingLost | None = None

    # -- what the session and the runner read ------------------------------------------
    @property
    def tracking_uri(self) -> str:
        return self.context.tracking_uri

    @property
    def client(self) -> MlflowClient:
        return self.context.client

    @property
    def experiment_id(self) -> str:
        return self.context.experiment_id

    @property
    def writer(self) -> Writer:
        """The writes that need not hold up training (see the module's docstring)."""
        return self.context.writer

    @property
    def renderer(self) -> Renderer:
        """Draws learning curves and the report's plots in a helper process, beside training."""
        return self.context.renderer

    @property
    def parent_run_id(self) -> str | None:
        """The sweep's parent run; stays set after the sweep ends, for summaries."""
        return self.sweep_run.run_id

    @property
    def previous_records(self) -> list[TrialRecord]:
        """On resume: the trials finished before, as read back from MLflow."""
        return self.sweep_run.previous_records

    @property
    def model_uri(self) -> str | None:
        """``models:/<model id>`` once the sweep ended with a model."""
        return self.publisher.model_uri

    @property
    def registration(self) -> Registration | None:
        """The registry's outcome for the final model (None if not registered)."""
        return self.publisher.registration

    @property
    def model_note(self) -> str | None:
        """One line for the console about where the final model went."""
        return self.publisher.note

    def journal_to(self, directory: Path, patience_minutes: float, *, name: str = "") -> None:
        """Keep the writes that find the store away in a journal in ``directory`` (the
        sweep's state folder; ``name`` tells several workers' journals apart) for up to
        ``patience_minutes`` (:mod:`tracking.journal`)."""
        path = directory / (f"{Path(JOURNAL_NAME).stem}-{name}.jsonl" if name else JOURNAL_NAME)
        self.context.client = JournaledClient(self.context.client,
                                              Journal(path, self.tracking_uri),
                                              patience_minutes * 60)

    def _settle(self) -> None:
        """Every journaled write in the store (waited for, up to the patience)."""
        if isinstance(self.context.client, JournaledClient):
            self.context.client.settle()

    def _lost(self, exc: Exception) -> TrackingLost:
        uri = self.tracking_uri
        server = uri.startswith(("http://", "https://"))
        store = (f"the MLflow tracking server at {uri}" if server
                 else f"the MLflow store {uri}")
        return TrackingLost(store, reason(exc), server=server,
                            last_trial=self.trials.last_number)

    # -- sweep -------------------------------------------------------------------------
    @_recording
    def sweep_started(self, event: SweepStarted) -> None:
        if isinstance(self.context.client, JournaledClient):
            # What an earlier run journaled goes in first: a resumed sweep reads its runs.
            self.context.client.replay_now()
        self.renderer.start()  # if the session has not (before TensorFlow's import)
        self.context.objective = event.spec.objective.metric
        self.context.metric = event.task.primary_metric if event.task else "accuracy"
        if event.dataset is not None:  # digests computed once, for the sweep and every trial
            self.writer.submit(self.context.digest, event.dataset)
        self.publisher.prepare(event)
        self.sweep_run.start(event)

    @_recording
    def finished_trials(self) -> list[TrialRecord]:
        """Every trial of the sweep with a final result, whichever process ran it (see
        :meth:`tracking.sweep_run.SweepRun.finished_trials`)."""
        self._settle()
        return self.sweep_run.finished_trials()

    def take_over_sweep_run(self) -> None:
        """Become the process that ends the sweep run (the worker that claimed its end)."""
        self.sweep_run.take_over()

    @_recording
    def sweep_ended(self, event: SweepEnded) -> None:
        self._settle()
        self.sweep_run.end(event)

    @_recording
    def search_ended(self) -> None:
        """No trial runs any more (the sweep's end is next): what waits in the journal is
        replayed (the end reads the runs back), then the report's plots are drawn on the
        writer while the best model is loaded, tested and logged."""
        self.writer.flush()
        self._settle()
        if self.parent_run_id is None:
            return
        self.report.draw_ahead(self.parent_run_id)

    # -- trials ------------------------------------------------------------------------
    @_recording
    def trial_started(self, event: TrialStarted) -> None:
        assert self.parent_run_id is not None, "trial_started before sweep_started"
        self.trials.started(event, self.parent_run_id)

    @_recording
    def model_built(self, event: ModelBuilt) -> None:
        self.trials.model_built(event)

    @_recording
    def epoch_ended(self, event: EpochEnded) -> None:
        self.trials.epoch_ended(event)

    @_recording
    def trial_ended(self, event: TrialEnded) -> None:
        self.trials.ended(event)

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
                log.exception("a tracking write failed")
            self.trials.end_open(status)
            self.sweep_run.end_open(status)

    def close(self) -> None:
        self.writer.close()
        client = self.context.client
        if isinstance(client, JournaledClient) and client.waiting:
            log.warning("%d MLflow writes wait in %s: `python -m sweeps sync %s` (or --resume) "
                        "replays them once the store answers", client.waiting,
                        client.journal.path, client.journal.path.parent)
        self.renderer.close()
        self.report.discard()  # drawn for a sweep that did not reach its end

    def run_url_hint(self) -> str:
        return f"mlflow ui --backend-store-uri {self.tracking_uri}"

    #: A context manager: no "🏃 View run ..." lines from MLflow while it is open
    #: (:func:`tracking.run_urls.run_urls_unprinted`).
    run_urls_unprinted = staticmethod(run_urls_unprinted)
