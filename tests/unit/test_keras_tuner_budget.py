"""The keras-tuner engine's budget across a resume: the trials a resumed Hyperband search still
runs, an interrupted trial run again, and the budgets ``check_budget`` refuses.

Trials go through the engine's own hooks (``on_trial_begin``, ``on_trial_end``: what its
tuner calls around a fit, and what saves keras-tuner's state) with made-up metric values;
no model is trained.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras_tuner as kt
import pytest

from sweeps.engines.keras_tuner import KerasTunerEngine
from sweeps.errors import SweepsError
from sweeps.events import Broadcast
from sweeps.planning.plan import hyperband_schedule
from tests.unit.tiny import prepared, tiny_spec

RUNNING = kt.engine.trial.TrialStatus.RUNNING


def hyperband(work: Path, *, iterations: int = 2, max_trials: int | None = None,
              resume: bool = False) -> KerasTunerEngine:
    tuner: dict[str, Any] = {"kind": "hyperband", "hyperband": {"factor": 3,
                                                                "iterations": iterations}}
    if max_trials:
        tuner["max_trials"] = max_trials
    spec = tiny_spec(tuner=tuner, max_epochs=3)
    _, builder, declared = prepared(spec)
    declared = dataclasses.replace(declared,
                                   kt_hyperparameters=declared.kt_hyperparameters.copy())
    engine = KerasTunerEngine(spec, builder, declared, Broadcast([]), work, resume=resume)
    engine.tuner.oracle.verbose = 0
    return engine


def run_trials(engine: KerasTunerEngine, limit: int = 1000) -> list[str]:
    """Trials as the tuner runs them, the fit left out; their ids, in order."""
    oracle, tuner = engine.tuner.oracle, engine.tuner
    ran: list[str] = []
    while len(ran) < limit and (trial := oracle.create_trial("tuner0")).status == RUNNING:
        tuner.on_trial_begin(trial)
        oracle.update_trial(trial.trial_id, {"val_loss": 1.0 / (len(ran) + 2)}, step=0)
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        tuner.on_trial_end(trial)
        ran.append(trial.trial_id)
    return ran


def planned(iterations: int, max_trials: int | None = None) -> int:
    return sum(s.trials for s in hyperband_schedule(3, 3, iterations, max_trials))


def test_a_resumed_search_runs_the_rest_of_its_plan(tmp_path: Path) -> None:
    first = hyperband(tmp_path)
    assert first.planned_trials == planned(2) == 12
    assert len(run_trials(first, limit=7)) == 7
    resumed = hyperband(tmp_path, resume=True)
    resumed.check_budget()
    assert len(resumed.tuner.oracle.trials) == 7 and resumed.interrupted_trial_ids() == []
    assert len(run_trials(resumed)) == 12 - 7


def test_an_interrupted_trial_is_run_again_on_resume(tmp_path: Path) -> None:
    first = hyperband(tmp_path)
    run_trials(first, limit=4)
    killed = first.tuner.oracle.create_trial("tuner0")  # begun, never ended: the process died
    first.tuner.on_trial_begin(killed)
    resumed = hyperband(tmp_path, resume=True)
    assert resumed.interrupted_trial_ids() == [killed.trial_id]
    again = run_trials(resumed)
    assert again[0] == killed.trial_id  # first, with its own id and values
    assert 4 + len(again) == 12  # and the plan is the same size


def test_more_iterations_extend_a_finished_search(tmp_path: Path) -> None:
    assert len(run_trials(hyperband(tmp_path, iterations=1))) == planned(1) == 6
    extended = hyperband(tmp_path, iterations=2, resume=True)
    extended.check_budget()
    assert extended.planned_trials == planned(2)
    assert len(run_trials(extended)) == planned(2) - planned(1)


def test_a_larger_max_trials_extends_a_capped_search(tmp_path: Path) -> None:
    assert len(run_trials(hyperband(tmp_path, max_trials=4))) == 4
    extended = hyperband(tmp_path, max_trials=8, resume=True)
    assert extended.planned_trials == planned(2, 8) == 8
    assert len(run_trials(extended)) == 4


@pytest.mark.parametrize(("shrunk", "message"), [
    ({"iterations": 1}, "cannot shrink sweep 'tiny' to 1 Hyperband iteration(s): iteration 2 "
                        "already started"),
    ({"max_trials": 5}, "cannot shrink sweep 'tiny' to max_trials 5: 7 trials already ran"),
])
def test_a_budget_below_what_already_ran_is_refused(tmp_path: Path, shrunk: dict[str, int],
                                                    message: str) -> None:
    run_trials(hyperband(tmp_path), limit=7)  # into the second iteration
    with pytest.raises(SweepsError) as info:
        hyperband(tmp_path, resume=True, **shrunk).check_budget()
    assert str(info.value) == message
