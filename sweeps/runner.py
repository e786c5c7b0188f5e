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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hypermodels import get_hypermodel
from sweeps.console import ConsoleReporter
from sweeps.errors import SweepInterrupted
from sweeps.events import Broadcast, SweepEnded, SweepStarted, TrialStatus
from sweeps.spec import SweepSpec
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
def _sigterm_interrupts() -> Iterator[None]:
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


def run_sweep(spec: SweepSpec, *, work_dir: Path, stream: TextIO = sys.stdout,
              quiet: bool = True) -> SweepResult:
    """Run ``spec``'s sweep; trial events go to MLflow and to ``stream``."""
    from sweeps.data import load_dataset
    from tracking import MlflowTracker

    # Data and store first: their errors come in a second, not after TensorFlow's import.
    dataset = load_dataset(spec.data)
    tracker = MlflowTracker(resolve_tracking_uri(spec), spec.tracking.experiment)
    load_backend(quiet=quiet)
    from sweeps.engines import build_context, create_engine

    hypermodel = get_hypermodel(spec.hypermodel.name)(**spec.hypermodel.options)
    context = build_context(spec, dataset.input_shape, dataset.num_classes, len(dataset.x_train))
    book = TrialBook(spec.objective)
    observer = Broadcast([book, tracker, ConsoleReporter(book, stream)])
    engine = create_engine(spec, hypermodel, context, observer, work_dir)
    # keras-tuner runs gc.collect() (and Keras's clear_session another) before every trial's
    # build; each full collection walks the hundreds of thousands of objects TensorFlow,
    # Keras and MLflow create at import, about 0.3 s a time. They live as long as the
    # process, so move them out of the collector's reach.
    gc.freeze()

    outcome = TrialStatus.FAILED
    test_metrics: dict[str, float] = {}
    with _sigterm_interrupts():
        try:
            observer.sweep_started(SweepStarted(
                spec=spec, engine=engine.name, planned_trials=engine.planned_trials,
                data_source=dataset.source,
                data_sizes={"train": len(dataset.x_train), "validation": len(dataset.x_val),
                            "test": len(dataset.x_test)},
            ))
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
            ))
            outcome = TrialStatus.COMPLETED
        except (KeyboardInterrupt, SweepInterrupted):
            outcome = TrialStatus.KILLED
            raise
        finally:
            if outcome is not TrialStatus.COMPLETED:
                tracker.close(outcome)
    assert tracker.parent_run_id is not None
    return SweepResult(
        tracking_uri=tracker.tracking_uri, experiment_id=tracker.experiment_id,
        sweep_run_id=tracker.parent_run_id, best=book.best(), test_metrics=test_metrics,
        trials=list(book.records.values()),
    )
