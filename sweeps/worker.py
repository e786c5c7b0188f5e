"""Several processes (or machines) working on one Optuna study, logged under one MLflow run.

    python -m sweeps worker mnist_mlp --storage postgresql://user@db/sweeps   # on each machine

The shared Optuna storage coordinates everything. The worker that creates the study
(creation is atomic) founds the sweep: it creates the MLflow sweep run and records its id on
the study; the others wait for that id and log their trials under it. Trial numbers come
from the storage, so together the workers run exactly ``max_trials`` trials. The founder
ends the sweep: once no trial is left or running, it ranks every worker's trials from MLflow,
evaluates the best on the test set and closes the sweep run.
"""

from __future__ import annotations

import gc
import sys
import time
import warnings
from pathlib import Path
from typing import TextIO

from hypermodels import get_hypermodel
from sweeps.console import ConsoleReporter
from sweeps.errors import SweepsError
from sweeps.events import Broadcast, SweepEnded, SweepStarted, TrialStatus
from sweeps.runner import SweepResult, sigterm_interrupts, load_backend, resolve_tracking_uri
from sweeps.spec import SweepSpec, TunerKind
from sweeps.state import sweep_id
from sweeps.trials import TrialBook

__all__ = ["run_worker"]

RUN_ID_ATTR = "sweeps_run_id"
_JOIN_TIMEOUT_S = 300


def run_worker(spec: SweepSpec, *, work_dir: Path, stream: TextIO = sys.stdout,
               quiet: bool = True) -> SweepResult:
    """Work on ``spec``'s shared study until its budget is used up."""
    storage = spec.tuner.settings[TunerKind.OPTUNA]["storage"]
    if spec.tuner.kind is not TunerKind.OPTUNA or not storage:
        raise SweepsError("a worker runs an Optuna sweep from a shared storage: give "
                          "--storage URL (postgresql://… for several machines; sqlite or a "
                          "journal file for processes on one machine)")
    from sweeps.data import load_dataset
    from tracking import MlflowTracker

    dataset = load_dataset(spec.data)
    tracker = MlflowTracker(resolve_tracking_uri(spec), spec.tracking.experiment)
    load_backend(quiet=quiet)
    from sweeps.engines import build_context
    from sweeps.engines.optuna import OptunaEngine

    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    hypermodel = get_hypermodel(spec.hypermodel.name)(**spec.hypermodel.options)
    context = build_context(spec, dataset.input_shape, dataset.num_classes, len(dataset.x_train))
    book = TrialBook(spec.objective)
    observer = Broadcast([book, tracker, ConsoleReporter(book, stream)])
    # Every worker keeps trial weights under the same --work-dir: on one machine, or on a
    # shared filesystem, the founder can then evaluate the best trial on the test set.
    directory = work_dir / spec.name / "workers"
    engine = OptunaEngine(spec, hypermodel, context, observer, directory, storage=storage,
                          study_name=sweep_id(spec), worker=True)
    gc.freeze()  # see run_sweep

    outcome = TrialStatus.FAILED
    test_metrics: dict[str, float] = {}
    with sigterm_interrupts():
        try:
            join = None if engine.created else _wait_for_sweep_run(engine)
            observer.sweep_started(SweepStarted(
                spec=spec, engine=engine.name, planned_trials=engine.planned_trials,
                data_source=dataset.source,
                data_sizes={"train": len(dataset.x_train), "validation": len(dataset.x_val),
                            "test": len(dataset.x_test)},
                join_run_id=join,
            ))
            if engine.created:
                engine.study.set_user_attr(RUN_ID_ATTR, tracker.parent_run_id)
            engine.search_as_worker(dataset)
            if engine.created:
                test_metrics = _finish_sweep(engine, tracker, book, observer, dataset)
            outcome = TrialStatus.COMPLETED
        except KeyboardInterrupt:
            outcome = TrialStatus.KILLED
            raise
        finally:
            if outcome is not TrialStatus.COMPLETED:
                tracker.close(outcome)
    assert tracker.parent_run_id is not None
    return SweepResult(
        tracking_uri=tracker.tracking_uri, experiment_id=tracker.experiment_id,
        sweep_run_id=tracker.parent_run_id, best=book.best(), test_metrics=test_metrics,
        trials=sorted(book.records.values(), key=lambda r: r.number),
    )


def _wait_for_sweep_run(engine) -> str:
    """The founder's MLflow sweep run id, once it has recorded it on the study."""
    deadline = time.monotonic() + _JOIN_TIMEOUT_S
    while time.monotonic() < deadline:
        run_id = engine.study.user_attrs.get(RUN_ID_ATTR)
        if run_id:
            return run_id
        time.sleep(0.5)
    raise SweepsError(f"study {engine.study.study_name} exists but no worker recorded its MLflow "
                      f"run within {_JOIN_TIMEOUT_S} s; if its founder died, start over with a "
                      "new study (change the spec or delete the study)")


def _finish_sweep(engine, tracker, book, observer, dataset) -> dict[str, float]:
    """The founder waits for the other workers, then ranks all trials and ends the sweep."""
    from optuna.storages import fail_stale_trials

    while True:
        fail_stale_trials(engine.study)  # a dead worker's trial is failed and requeued
        if engine.remaining_trials():
            engine.search_as_worker(dataset)  # run what dead workers left
        elif not engine.running_trials():
            break
        time.sleep(2.0)
    tracker.take_over_sweep_run()
    book.seed(tracker.finished_trials())
    best = book.best()
    model, test_metrics = None, {}
    if best is not None:
        try:
            model = engine.load_model(best.trial_id)
        except OSError as exc:  # another machine's worker trained it, off a shared disk
            print(f"note: no test evaluation: the best trial's weights are not here ({exc}); "
                  "give all workers one --work-dir on a shared filesystem", file=sys.stderr)
        if model is not None:
            loss, accuracy = model.evaluate(dataset.x_test, dataset.y_test, batch_size=1024,
                                            verbose=0)
            test_metrics = {"test_loss": float(loss), "test_accuracy": float(accuracy)}
    observer.sweep_ended(SweepEnded(
        best_trial_id=best.trial_id if best else None,
        best_objective=best.objective if best else None,
        test_metrics=test_metrics, best_model=model,
        pareto_trial_ids=engine.pareto_trial_ids(),
    ))
    return test_metrics
