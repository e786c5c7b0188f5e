"""Several processes (or machines) working on one Optuna study, logged under one MLflow run.

    python -m sweeps worker mnist_mlp --storage postgresql://user@db/sweeps   # on each machine

The shared Optuna storage coordinates everything. The worker that creates the study
(creation is atomic) founds the sweep: it creates the MLflow sweep run and records its id on
the study; the others wait for that id and log their trials under it. Trial numbers come
from the storage, so together the workers run exactly ``max_trials`` trials. Once no trial
is left or running, the first worker to claim it (atomically, by creating a second study)
ends the sweep: it ranks every worker's trials from MLflow, evaluates the best on the test
set and closes the sweep run. So the sweep ends even if its founder died; a dead worker's
trial is failed by Optuna's heartbeat, run again, and its MLflow run ended as KILLED.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path
from typing import TextIO

from sweeps import interrupts, runtime
from sweeps.engines.optuna_study import SWEEP_RUN_ID, patiently
from sweeps.errors import SweepsError, TrackingLost
from sweeps.session import Session, SweepResult
from sweeps.spec import SweepSpec, TunerKind
from sweeps.state import spec_hash, sweep_id

__all__ = ["run_worker"]

_JOIN_TIMEOUT_S = 300


def run_worker(spec: SweepSpec, *, work_dir: Path, stream: TextIO | None = None,
               quiet: bool = True, name: str | None = None) -> SweepResult:
    """Work on ``spec``'s shared study until its budget is used up.

    ``name`` labels this worker's trial runs (tag ``sweeps.worker``); by default
    ``<host>/pid<process id>``.
    """
    storage = spec.tuner.settings[TunerKind.OPTUNA]["storage"]
    if spec.tuner.kind is not TunerKind.OPTUNA or not storage:
        raise SweepsError("a worker runs an Optuna sweep from a shared storage: give "
                          "--storage URL (postgresql://… for several machines; sqlite or a "
                          "journal file for processes on one machine)")
    # Signals are handled from the start: see sweeps.interrupts.
    with runtime.scope(), interrupts.handled(), interrupts.surfaced():
        try:
            name = name or f"{socket.gethostname()}/pid{os.getpid()}"
            result = _work(spec, storage, work_dir, stream, quiet, name)
            interrupts.check()  # one that a finalizer swallowed after the last epoch
            return result
        except TrackingLost as lost:
            raise lost.error("start the worker again: it joins the sweep") from None


def _work(spec: SweepSpec, storage: str, work_dir: Path, stream: TextIO | None,
          quiet: bool, name: str) -> SweepResult:
    session = Session(spec, stream, work_dir, shared=True)
    try:
        return _work_in(session, storage, work_dir, quiet, name)
    finally:
        session.close()


def _work_in(session: Session, storage: str, work_dir: Path, quiet: bool,
             name: str) -> SweepResult:
    spec = session.spec
    folder = work_dir / spec.name / spec_hash(spec) / "workers"
    # Writes made while the tracking store is away wait in this worker's own journal.
    session.tracker.journal_to(folder, spec.tracking.patience_minutes,
                               name=re.sub(r"[^\w.-]+", "_", name))
    session.start(quiet=quiet)
    from sweeps.engines.optuna import OptunaEngine

    # Every worker keeps trial weights under the same --work-dir: on one machine, or on a
    # shared filesystem, the founder can then evaluate the best trial on the test set.
    engine = OptunaEngine(spec, session.builder, session.declared, session.observer,
                          folder, storage=storage,
                          study_name=sweep_id(spec), worker=name)
    with session.guarded():
        session.started(engine, join_run_id=None if engine.created else _wait_for_sweep_run(engine))
        if engine.created:
            engine.study.set_user_attr(SWEEP_RUN_ID, session.tracker.parent_run_id)
        # Every worker knows the defaults (whichever ends the sweep tests them); the study
        # takes them as its first trial once (enqueue_trial skips a duplicate).
        session.start_with_defaults(engine)
        engine.search_as_worker(session.plan)
        _wait_for_workers(engine, session)
        # Whoever claims the end first ends the sweep run, founder or not: the sweep still
        # ends if the founder died.
        if _claim_the_end(engine, storage):
            session.tracker.take_over_sweep_run()
            session.book.seed(session.tracker.finished_trials())
            session.finish(engine, model_missing_ok=True)
    return session.result()


def _claim_the_end(engine, storage: str) -> bool:
    """Atomically claim the right to end the sweep: creating a study succeeds only once."""
    import optuna

    from sweeps.engines.optuna_study import open_storage

    try:
        optuna.create_study(study_name=f"{engine.study.study_name}:ended",
                            storage=open_storage(storage))
        return True
    except optuna.exceptions.DuplicatedStudyError:
        return False


def _wait_for_sweep_run(engine) -> str:
    """The founder's MLflow sweep run id, once it has recorded it on the study."""
    deadline = time.monotonic() + _JOIN_TIMEOUT_S
    while time.monotonic() < deadline:
        run_id = engine.study.user_attrs.get(SWEEP_RUN_ID)
        if run_id:
            return run_id
        time.sleep(0.5)
    raise SweepsError(f"study {engine.study.study_name} exists but no worker recorded its MLflow "
                      f"run within {_JOIN_TIMEOUT_S} s; if its founder died, start over with a "
                      "new study (change the spec or delete the study)")


def _wait_for_workers(engine, session: Session) -> None:
    """Wait until no trial is left or running, running what dead workers left behind."""
    import optuna
    from optuna.storages import fail_stale_trials

    while True:
        # Experimental since Optuna 2.9, as the heartbeat is: not the user's concern.
        with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning):
            # A dead worker's trial is failed and requeued (through a database that may be
            # restarting: waited for, as every storage call is).
            patiently(lambda: fail_stale_trials(engine.study))
        if engine.remaining_trials():
            engine.search_as_worker(session.plan)
        elif not engine.running_trials():
            return
        time.sleep(2.0)
