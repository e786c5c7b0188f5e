"""Runs one sweep end to end: data, engine, tracking, the final test evaluation.

Order matters for "nothing half-written": the dataset is loaded and the tracking store
opened before the sweep's first MLflow run is created, so bad data or a bad store fail with
nothing logged; once runs exist, every exit path ends them (KILLED on Ctrl-C or SIGTERM,
FAILED on errors).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hypermodels import get_hypermodel
from sweeps.console import ConsoleReporter
from sweeps.errors import SweepInterrupted
from sweeps.events import Broadcast, SweepEnded, SweepStarted, TrialStatus
from sweeps.spec import SweepSpec, TunerKind
from sweeps.trials import TrialBook, TrialRecord

__all__ = ["SweepResult", "run_sweep", "resolve_tracking_uri"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    tracking_uri: str
    experiment_id: str
    sweep_run_id: str
    best: TrialRecord | None
    test_metrics: dict[str, float]
    trials: list[TrialRecord]


def resolve_tracking_uri(spec: SweepSpec) -> str:
    """The spec's (or ``--tracking-uri``'s) URI, else $MLFLOW_TRACKING_URI, else MLflow's
    default (``sqlite:///mlflow.db`` in the working directory)."""
    if spec.tracking.uri:
        return spec.tracking.uri
    import mlflow

    return mlflow.get_tracking_uri()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the sweep the way Ctrl-C does (runs marked KILLED), then exits."""

    def handler(signum: int, frame: Any) -> None:
        raise SweepInterrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals to the caller
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def load_backend(*, quiet: bool = True) -> None:
    """Import Keras (and TensorFlow) and initialise its devices.

    TensorFlow prints start-up lines (oneDNN notes, "could not find cuda drivers") from C++
    before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; with
    ``quiet`` the process's stderr is pointed at /dev/null for the duration of the import.
    Python exceptions still propagate, after stderr is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not quiet:
        import keras

        keras.ops.zeros(1)
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras

            keras.ops.zeros(1)  # device initialisation logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def default_storage(tracking_uri: str, work_dir: Path) -> str:
    """Optuna's study file: ``optuna.db`` beside a sqlite MLflow store, else in ``work_dir``."""
    if tracking_uri.startswith("sqlite:///"):
        mlflow_db = Path(tracking_uri.removeprefix("sqlite:///"))
        return f"sqlite:///{mlflow_db.with_name('optuna.db')}"
    work_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{work_dir.resolve() / 'optuna.db'}"


def run_sweep(spec: SweepSpec, *, work_dir: Path, stream: TextIO = sys.stdout,
              quiet: bool = True, resume: bool = False, overwrite: bool = False) -> SweepResult:
    """Run ``spec``'s sweep; trial events go to MLflow and to ``stream``.

    State lives in ``work_dir/<name>``; an existing sweep is refused unless ``resume``
    (continue it, same spec) or ``overwrite`` (start over).
    """
    from sweeps.data import load_dataset
    from sweeps.state import prepare_state
    from tracking import MlflowTracker

    # Data and store first: their errors come in a second, not after TensorFlow's import,
    # and before any state is written or replaced.
    dataset = load_dataset(spec.data)
    tracking_uri = resolve_tracking_uri(spec)
    tracker = MlflowTracker(tracking_uri, spec.tracking.experiment)
    state, replaced = prepare_state(spec, work_dir, resume=resume, overwrite=overwrite)
    storage = spec.tuner.settings[TunerKind.OPTUNA]["storage"] or default_storage(
        tracking_uri, work_dir)
    load_backend(quiet=quiet)
    from sweeps.engines import build_context, create_engine

    # Trained weights are loaded into freshly compiled models (Hyperband's later rounds, the
    # best model at the end), whose optimizers are new by design; Keras warns about the
    # optimizer slots it skips.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")

    if spec.tuner.kind is TunerKind.OPTUNA and (replaced is not None or not state.resumed):
        from sweeps.engines.optuna import OptunaEngine

        # A fresh start: no study of this name may survive from an earlier sweep.
        for old in {state.study_name, *([replaced.study_name] if replaced else [])}:
            OptunaEngine.discard_study(storage, old)
    hypermodel = get_hypermodel(spec.hypermodel.name)(**spec.hypermodel.options)
    context = build_context(spec, dataset.input_shape, dataset.num_classes, len(dataset.x_train))
    book = TrialBook(spec.objective)
    observer = Broadcast([book, tracker, ConsoleReporter(book, stream)])
    engine = create_engine(spec, hypermodel, context, observer, state.directory,
                           resume=state.resumed, storage=storage, study_name=state.study_name)
    # keras-tuner runs gc.collect() (and Keras's clear_session another) before every trial's
    # build; each full collection walks the hundreds of thousands of objects TensorFlow,
    # Keras and MLflow create at import, about 0.3 s a time. They live as long as the
    # process, so move them out of the collector's reach.
    gc.freeze()

    outcome = TrialStatus.FAILED
    test_metrics: dict[str, float] = {}
    with sigterm_interrupts():
        try:
            observer.sweep_started(SweepStarted(
                spec=spec, engine=engine.name, planned_trials=engine.planned_trials,
                data_source=dataset.source,
                data_sizes={"train": len(dataset.x_train), "validation": len(dataset.x_val),
                            "test": len(dataset.x_test)},
                resume_run_id=state.sweep_run_id if state.resumed else None,
                rerun_trial_ids=engine.interrupted_trial_ids() if state.resumed else (),
                recovery_note=engine.recovery_note,
            ))
            book.seed(tracker.previous_records)
            assert tracker.parent_run_id is not None
            state.record_run(tracker.parent_run_id, tracking_uri)
            engine.search(dataset)
            best = book.best()
            model = None
            if best is not None:
                # The test set is touched once, here, by the best trial's model.
                model = engine.load_model(best.trial_id)
                loss, accuracy = model.evaluate(dataset.x_test, dataset.y_test,
                                                batch_size=1024, verbose=0)
                test_metrics = {"test_loss": float(loss), "test_accuracy": float(accuracy)}
            observer.sweep_ended(SweepEnded(
                best_trial_id=best.trial_id if best else None,
                best_objective=best.objective if best else None,
                test_metrics=test_metrics, best_model=model,
                pareto_trial_ids=engine.pareto_trial_ids(),
            ))
            outcome = TrialStatus.COMPLETED
        except KeyboardInterrupt:  # Ctrl-C, and SIGTERM through SweepInterrupted
            outcome = TrialStatus.KILLED
            raise
        finally:
            if outcome is not TrialStatus.COMPLETED:
                tracker.close(outcome)
    return SweepResult(
        tracking_uri=tracker.tracking_uri, experiment_id=tracker.experiment_id,
        sweep_run_id=tracker.parent_run_id, best=book.best(), test_metrics=test_metrics,
        trials=sorted(book.records.values(), key=lambda r: r.number),
    )
