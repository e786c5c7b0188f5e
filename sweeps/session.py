"""What one process needs to run trials of a sweep and report them: shared by ``run``
(:mod:`sweeps.runner`) and ``worker`` (:mod:`sweeps.worker`).

Order matters for "nothing half-written": a :class:`Session` loads the dataset and opens the
tracking store when created, before TensorFlow loads and before the caller writes any state
or MLflow run; :meth:`Session.start` builds the first model and checks the spec against it,
still before any run exists; once runs exist, :meth:`Session.guarded` ends them on every exit
path (KILLED on Ctrl-C or SIGTERM, FAILED on errors).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sweeps import interrupts, runtime
from sweeps.backend import load_backend
from sweeps.console import ConsoleReporter
from sweeps.events import Broadcast, SweepEnded, SweepStarted, TrialStatus
from sweeps.spec import SweepSpec
from sweeps.state import spec_hash
from sweeps.trials import TrialBook, TrialRecord

if TYPE_CHECKING:
    from sweeps.engines.base import Engine

__all__ = ["Session", "SweepResult", "resolve_tracking_uri"]


@dataclass(frozen=True)
class SweepResult:
    """What a sweep leaves the caller: its trials, the best one, and where MLflow has it."""

    tracking_uri: str
    experiment_id: str
    sweep_run_id: str
    best: TrialRecord | None
    test_metrics: dict[str, float]
    trials: list[TrialRecord]
    #: The final model, the one logged and registered: the best trial's trained model, or
    #: with ``final.retrain`` the final fit's (None if no trial completed, or another worker
    #: ended the sweep). ``test_metrics`` are its.
    model: Any = field(default=None, repr=False)
    #: The model as MLflow logged it (``models:/<model id>``), for ``mlflow.pyfunc.load_model``.
    model_uri: str | None = None
    #: Its Model Registry version and whether it became the champion (``registered_model``
    #: ``.champion_uri`` is ``models:/<name>@champion``); None if not registered.
    registered_model: Any = None
    #: With ``final.retrain``: how the final model was made (:class:`~sweeps.final.fit.
    #: FinalFit`), and the best trial's own model and test metrics, for comparison.
    final_fit: Any = field(default=None, repr=False)
    best_trial_model: Any = field(default=None, repr=False)
    best_trial_test_metrics: dict[str, float] = field(default_factory=dict)
    #: The builder's defaults and a linear model, tested beside the final model
    #: (:class:`~sweeps.final.uplift.Baselines`; ``final.baselines``), or None.
    baselines: Any = None

    @property
    def best_hyperparameters(self) -> dict[str, Any]:
        return dict(self.best.params) if self.best else {}

    def trials_frame(self) -> Any:
        """The trials as a pandas DataFrame: one row per trial, hyperparameters as columns."""
        import pandas as pd

        rows = [{"trial": r.number, "status": r.status.value if r.status else None,
                 "objective": r.objective, "epochs_run": r.epochs_run,
                 "param_count": r.param_count, "wall_time_s": r.wall_time_s, **r.params}
                for r in self.trials]
        return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()


def resolve_tracking_uri(spec: SweepSpec) -> str:
    """The spec's (or ``--tracking-uri``'s) URI, else $MLFLOW_TRACKING_URI, else MLflow's
    default (``sqlite:///mlflow.db`` in the working directory)."""
    if spec.tracking.uri:
        return spec.tracking.uri
    import mlflow

    return mlflow.get_tracking_uri()


class Session:
    def __init__(self, spec: SweepSpec, stream: TextIO | None = None,
                 work_dir: Path | None = None, *, shared: bool = False) -> None:
        """``shared``: other processes run trials of this sweep too (a worker's session)."""
        from sweeps.data import load_dataset
        from sweeps.paths import check_usable
        from tracking import MlflowTracker

        self.spec = spec
        self.stream = stream or sys.stdout  # looked up now: the caller may have replaced it
        # Data, paths and store first: their errors come in a second, not after
        # TensorFlow's import, and before any state is written or replaced.
        self.dataset = load_dataset(spec.data, task=spec.task, metrics=spec.metrics,
                                    seed=spec.seed)
        self.tracking_uri = resolve_tracking_uri(spec)
        check_usable(self.tracking_uri, work_dir)
        self.tracker = MlflowTracker(self.tracking_uri, spec.tracking.experiment)
        #: ``tracking.tensorboard``: where the live TensorBoard logs go (the sweep's folder,
        #: which --overwrite replaces; every worker with this work dir writes there).
        self.shared = shared
        self.tensorboard_dir = (Path(work_dir or ".sweeps") / spec.name / spec_hash(spec)
                                / "tensorboard")
        self.test_metrics: dict[str, float] = {}
        #: The final model (the final fit's, or the best trial's) and the best trial's own.
        self.best_model: Any = None
        self.best_trial_model: Any = None
        self.best_trial_test_metrics: dict[str, float] = {}
        self.final_fit: Any = None
        self.baselines: Any = None
        #: The builder's default values, when the search was given them as its first trial.
        self.defaults: dict[str, Any] = {}
        #: The trial whose configuration the final model has: the best, or the defaults
        #: kept over it (sweeps.final.baselines.defaults_kept); set when the sweep finishes.
        self.chosen: TrialRecord | None = None

    def start(self, *, quiet: bool) -> None:
        """Load TensorFlow, build the first model and check the spec against it, and set up
        what engines need: builder, declared space, observers."""
        # The figure helper imports matplotlib and Optuna's plotting (about 1.2 s) while this
        # process imports TensorFlow (2-3 s, on one core), not later beside the first trial.
        self.tracker.renderer.start()
        load_backend(quiet=quiet)

        from sweeps.builders import make_builder
        from sweeps.declared import declare_space
        from sweeps.executions import ExecutionPlan
        from sweeps.training import build_context

        runtime.quiet_optuna()
        runtime.freeze_what_lives_on()
        # Trained weights are loaded into freshly compiled models (Hyperband's later rounds,
        # the best model at the end), whose optimizers are new by design; Keras warns about
        # the optimizer slots it skips. (The runtime scope restores the caller's filters.)
        runtime.ignore_warnings(message="Skipping variable loading for optimizer")
        # keras-tuner's Bayesian oracle fits scikit-learn's Gaussian process, which warns when
        # a length scale reaches its bound: routine in a small search, not the user's concern.
        runtime.ignore_warnings(module="sklearn.gaussian_process")
        spec, data = self.spec, self.dataset
        # Every trial's fits (folds, repeats), made once, before anything is logged: folds
        # that the data cannot give are one error here. The engines search on this plan.
        self.plan = ExecutionPlan.of(spec, data)
        self.context = build_context(spec, data)
        self.builder, space = make_builder(spec, self.context)
        self.declared = declare_space(self.builder, spec, data, space)
        self.book = TrialBook(spec.objective)
        self.console = ConsoleReporter(self.book, self.stream)
        observers = [self.book, self.tracker, self.console]
        if spec.tracking.tensorboard:
            from tracking.tensorboard import TensorBoardObserver

            # Workers each see their own trials: the experiment config, which needs every
            # trial's values, is left to the dashboard's inference (or `sweeps tensorboard`).
            observers.append(TensorBoardObserver(self.tensorboard_dir,
                                                 experiment_config=not self.shared))
        self.observer = Broadcast(observers)

    def started(self, engine: Engine, **extra: Any) -> None:
        """Announce the sweep (``extra``: resume or join details of :class:`SweepStarted`)."""
        data = self.dataset
        self.observer.sweep_started(SweepStarted(
            spec=self.spec, engine=engine.name, planned_trials=engine.planned_trials,
            data_source=data.source, data_sizes=data.sizes, task=data.task,
            compiled_by=self.declared.compiled_by, dataset=data, **extra,
        ))
        if self.spec.tracking.tensorboard:
            self.console.note(f"TensorBoard: tensorboard --logdir {self.tensorboard_dir}")

    @contextlib.contextmanager
    def guarded(self) -> Iterator[None]:
        """Run the trials: every MLflow run still open when this exits abnormally is ended."""
        runtime.freeze_what_lives_on()  # the first build's and the data's objects too
        outcome = TrialStatus.FAILED
        with interrupts.handled(), self.tracker.run_urls_unprinted():
            try:
                interrupts.check()  # one that a finalizer swallowed during start-up
                yield
                outcome = TrialStatus.COMPLETED
            except KeyboardInterrupt:  # Ctrl-C and SIGTERM (SweepInterrupted)
                outcome = TrialStatus.KILLED
                raise
            except Exception:
                if interrupts.requested():  # surfaced as another error: sweeps.interrupts
                    outcome = TrialStatus.KILLED
                raise
            finally:
                if outcome is not TrialStatus.COMPLETED:
                    self.tracker.end_open_runs(outcome)
                self.observer.close()

    def close(self) -> None:
        """Stop what the session started (tracking's writer, the figure helper), however far
        it got; :meth:`guarded` does it when the trials end, this for an earlier failure."""
        self.tracker.close()

    def finish(self, engine: Engine, *, model_missing_ok: bool = False) -> None:
        """Make the final model, evaluate it on the test set (its only use) and end the sweep.

        The final model is the best trial's, or with ``final.retrain`` its hyperparameters
        trained again on training plus validation data; then both are tested.
        """
        self.tracker.search_ended()  # its report's plots are drawn meanwhile
        best = self.book.best()
        defaults = self._defaults_record()
        kept = None
        if best is not None and defaults is not None and len(self.spec.objectives) == 1:
            from sweeps.final.baselines import defaults_kept

            kept = defaults_kept(best, defaults, self.spec.objective)
            if kept is not None:
                self.console.note(kept)
                best = defaults
        self.chosen = best
        model = None
        note = None
        if best is not None:
            try:
                model = engine.load_model(best.trial_id)
            except OSError as exc:
                if not model_missing_ok:
                    raise
                note = (f"no test evaluation of the best trial's model: its weights are not "
                        f"here ({exc}); give all workers one --work-dir on a shared filesystem")
                print(f"note: {note}", file=sys.stderr)
        if model is not None:  # before the final fit, which clears Keras's session
            self.test_metrics = self._evaluate(model)
        final = None
        executions = self.spec.validation.folds * self.spec.training.executions_per_trial
        if best is not None and self.spec.final.retrains(len(self.dataset.x_train), executions):
            from sweeps.final.fit import retrain

            final = retrain(self.spec, self.dataset, engine, best.trial_id)
        best_trial_metrics: dict[str, float] = {}
        if final is not None and final.model is not None:
            best_trial_metrics, self.test_metrics = self.test_metrics, self._evaluate(final.model)
        final_model = final.model if final is not None and final.model is not None else model
        if final_model is not None and not self.dataset.has_test:
            from sweeps.data import no_test_set

            note = no_test_set(self.dataset)
        baselines = None
        if final_model is not None and self.spec.final.baselines and self.dataset.has_test:
            from sweeps.final.baselines import train_baselines

            baselines = train_baselines(self.spec, self.builder, self.declared, self.dataset,
                                        self._evaluate,
                                        retrained=final is not None and final.model is not None,
                                        run=self._defaults_run(engine, defaults, best),
                                        tuned=self.test_metrics)
            baselines = replace(baselines, kept=kept)
        self.best_model = final_model
        self.best_trial_model = model
        self.best_trial_test_metrics = best_trial_metrics
        self.final_fit = final
        self.baselines = baselines
        self.observer.sweep_ended(SweepEnded(
            best_trial_id=best.trial_id if best else None,
            best_objective=best.objective if best else None,
            test_metrics=self.test_metrics, best_model=final_model,
            pareto_trial_ids=engine.pareto_trial_ids(), test_note=note,
            final_fit=final, best_trial_test_metrics=best_trial_metrics, baselines=baselines,
        ))
        if self.tracker.model_note:  # where the model went: known once tracking has logged it
            self.console.note(self.tracker.model_note)

    def start_with_defaults(self, engine: Engine) -> None:
        """A fresh search's first trial: the builder's defaults (see ``Engine.start_with``,
        which leaves a search that has trials as it is), when the sweep tests them as a
        baseline."""
        if self.spec.final.baselines and self.dataset.has_test:
            from sweeps.final.baselines import default_values

            self.defaults = default_values(self.builder, self.declared)
            engine.start_with(self.defaults)

    def _defaults_record(self) -> TrialRecord | None:
        """The completed trial that ran the defaults, if the search ran them."""
        if not self.defaults:
            return None
        for record in sorted(self.book.completed(), key=lambda r: r.number):
            params = {k: v for k, v in record.params.items() if not k.startswith("tuner/")}
            if params == self.defaults:
                return record
        return None

    @staticmethod
    def _defaults_run(engine: Engine, defaults: TrialRecord | None,
                      best: TrialRecord | None) -> Any:
        from sweeps.final.baselines import DefaultsRun

        if defaults is None:
            return None
        return DefaultsRun(defaults.trial_id, defaults.params, engine=engine,
                           best=best is not None and defaults.trial_id == best.trial_id)

    def require_completed(self) -> None:
        """Raise :class:`~sweeps.errors.NoTrialCompleted` when trials ran and every one
        failed, showing the first failure: the same ending for every engine (keras-tuner
        gives up after three failures in a row, Optuna goes on to the end)."""
        if self.book.best() is not None:
            return
        failed = sorted((r for r in self.book.records.values()
                         if r.status is TrialStatus.FAILED), key=lambda r: r.number)
        if not failed:
            return
        from sweeps.errors import NoTrialCompleted, in_your_code

        first = failed[0]
        text = (first.message or "no error recorded").strip()
        raise NoTrialCompleted(
            f"every trial failed ({len(failed)} of {len(self.book.records)}), so there is no "
            f"model; the first, trial {first.number}: {text.splitlines()[-1]}"
            + in_your_code(text))

    def _evaluate(self, model: Any) -> dict[str, float]:
        """``test_<metric>`` for every compiled metric; empty without a test set."""
        if not self.dataset.has_test:
            return {}
        batch = {} if self.dataset.streamed else {"batch_size": 1024}
        logs = model.evaluate(**self.dataset.test_inputs(), verbose=0, return_dict=True, **batch)
        return {f"test_{name}": float(value) for name, value in logs.items()}

    def result(self) -> SweepResult:
        assert self.tracker.parent_run_id is not None
        return SweepResult(
            tracking_uri=self.tracking_uri, experiment_id=self.tracker.experiment_id,
            sweep_run_id=self.tracker.parent_run_id,
            best=self.chosen if self.chosen is not None else self.book.best(),
            test_metrics=self.test_metrics,
            trials=sorted(self.book.records.values(), key=lambda r: r.number),
            model=self.best_model, model_uri=self.tracker.model_uri,
            registered_model=self.tracker.registration, final_fit=self.final_fit,
            best_trial_model=self.best_trial_model,
            best_trial_test_metrics=self.best_trial_test_metrics, baselines=self.baselines,
        )

