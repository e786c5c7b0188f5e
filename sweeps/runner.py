"""Runs one sweep in this process: ``python -m sweeps run``.

The sweep's state (:mod:`sweeps.state`) decides whether it starts, resumes or refuses; the
:class:`~sweeps.session.Session` does the rest in the same order for ``run`` and ``worker``.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import TextIO

from sweeps import interrupts, runtime
from sweeps.backend import load_backend
from sweeps.errors import SweepsError, TrackingLost
from sweeps.session import Session, SweepResult, resolve_tracking_uri
from sweeps.spec import SweepSpec, TunerKind
from sweeps.state import SweepState, prepare_state

__all__ = ["SweepResult", "default_storage", "load_backend", "resolve_tracking_uri", "run_sweep"]


def default_storage(tracking_uri: str, work_dir: Path) -> str:
    """Optuna's study file: ``optuna.db`` beside a sqlite MLflow store, else in ``work_dir``."""
    if tracking_uri.startswith("sqlite:///"):
        mlflow_db = Path(tracking_uri.removeprefix("sqlite:///"))
        return f"sqlite:///{mlflow_db.with_name('optuna.db')}"
    work_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{work_dir.resolve() / 'optuna.db'}"


def run_sweep(spec: SweepSpec, *, work_dir: Path, stream: TextIO | None = None,
              quiet: bool = True, resume: bool = False, overwrite: bool = False) -> SweepResult:
    """Run ``spec``'s sweep; trial events go to MLflow and to ``stream``.

    State lives in ``work_dir/<name>/<spec hash>``: a spec unlike every stored sweep of its
    name starts a new sweep; the same spec with state is refused unless ``resume`` (continue
    it) or ``overwrite`` (start it over).
    """
    # Signals are handled from the start: see sweeps.interrupts.
    with runtime.scope(), interrupts.handled(), interrupts.surfaced():
        session = Session(spec, stream, work_dir)
        state, replaced = prepare_state(spec, work_dir, resume=resume, overwrite=overwrite)
        try:
            result = _run(session, state, replaced, work_dir, quiet)
            interrupts.check()  # one that a finalizer swallowed after the last epoch
            return result
        except BaseException as exc:
            started = state.resumed or state.sweep_run_id is not None
            if not started:
                # Failed before the sweep's run existed: leave no state that would make the
                # next attempt ask for --resume or --overwrite.
                shutil.rmtree(state.directory, ignore_errors=True)
                with contextlib.suppress(OSError):  # the sweep's folder, unless it holds more
                    state.directory.parent.rmdir()
            if isinstance(exc, TrackingLost):
                raise exc.error("run the same command with --resume" if started
                                else "run the same command again") from None
            raise
        finally:
            session.close()


def _run(session: Session, state: SweepState, replaced: SweepState | None, work_dir: Path,
         quiet: bool) -> SweepResult:
    spec = session.spec
    storage = spec.tuner.settings[TunerKind.OPTUNA]["storage"] or default_storage(
        session.tracking_uri, work_dir)
    # Writes made while the tracking store is away wait in the sweep's folder.
    session.tracker.journal_to(state.directory, spec.tracking.patience_minutes)
    session.start(quiet=quiet)
    from sweeps.engines import create_engine

    if spec.tuner.kind is TunerKind.OPTUNA and (replaced is not None or not state.resumed):
        from sweeps.engines.optuna import OptunaEngine

        # A fresh start: no study of this name may survive from an earlier sweep.
        for old in {state.study_name, *([replaced.study_name] if replaced else [])}:
            OptunaEngine.discard_study(storage, old)
    engine = create_engine(spec, session.builder, session.declared, session.observer,
                           state.directory, resume=state.resumed, storage=storage,
                           study_name=state.study_name)
    if state.resumed:
        engine.check_budget()  # before the sweep run is reopened
    # A fresh search starts from the defaults; a resumed one knows which trial ran them.
    session.start_with_defaults(engine)
    with session.guarded():
        session.started(
            engine,
            resume_run_id=state.sweep_run_id if state.resumed else None,
            rerun_trial_ids=engine.interrupted_trial_ids() if state.resumed else (),
            recovery_note=engine.recovery_note,
            budget_changes=tuple(state.budget_changes),
        )
        session.book.seed(session.tracker.previous_records)
        assert session.tracker.parent_run_id is not None
        state.record_run(session.tracker.parent_run_id, session.tracking_uri)
        try:
            engine.search(session.plan)
        except SweepsError:
            session.require_completed()  # every trial failed: that is what to say, first
            raise
        session.require_completed()
        session.finish(engine)
    return session.result()
