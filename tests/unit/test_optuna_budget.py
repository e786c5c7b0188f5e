"""How the Optuna engine counts its budget: which trials of a real study use up
``max_trials``, what is left, what a worker's trial beyond it is, and re-runs of interrupted
trials. The study's trials are made with Optuna's own ``create_trial`` / ``enqueue_trial``;
nothing trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from sweeps.engines.optuna import OptunaEngine
from sweeps.engines.optuna_study import INTERRUPTED, RETRY_OF, SURPLUS
from sweeps.errors import SweepsError
from sweeps.events import Broadcast
from tests.unit.tiny import prepared, tiny_spec

optuna.logging.set_verbosity(optuna.logging.WARNING)

def optuna_engine(tmp_path: Path, max_trials: int = 4, *, name: str = "study") -> OptunaEngine:
    """An engine over a fresh study in a journal file (no server, no tables to create)."""
    spec = tiny_spec(tuner={"kind": "optuna", "max_trials": max_trials,
                            "optuna": {"pruner": "none"}})
    _, builder, declared = prepared(spec)
    return OptunaEngine(spec, builder, declared, Broadcast([]), tmp_path / "state",
                        storage=f"journal:///{tmp_path / 'optuna.log'}", study_name=name)


LR = {"lr": FloatDistribution(1e-4, 1e-1, log=True)}


def add(engine: OptunaEngine, state: TrialState, **user_attrs: Any) -> None:
    """A trial of ``state`` with one parameter, as Optuna records one."""
    engine.study.add_trial(create_trial(
        state=state, value=0.5 if state is TrialState.COMPLETE else None,
        params={"lr": 0.01}, distributions=LR,
        intermediate_values={0: 0.7} if state is TrialState.PRUNED else None,
        user_attrs=user_attrs or None))


def test_a_fresh_study_has_the_whole_budget(tmp_path: Path) -> None:
    engine = optuna_engine(tmp_path, max_trials=4)
    assert engine.created
    assert engine.planned_trials == 4
    assert engine.remaining_trials() == 4
    engine.check_budget()  # nothing ran: any budget holds


@pytest.mark.parametrize("state", [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL,
                                   TrialState.RUNNING])
def test_each_trial_that_ran_or_runs_uses_one_of_the_budget(tmp_path: Path,
                                                            state: TrialState) -> None:
    engine = optuna_engine(tmp_path, max_trials=4)
    add(engine, state)
    add(engine, state)
    assert engine.remaining_trials() == 2


def test_a_queued_trial_uses_none_until_it_runs(tmp_path: Path) -> None:
    engine = optuna_engine(tmp_path, max_trials=3)
    engine.study.enqueue_trial({"lr": 0.01})
    add(engine, TrialState.WAITING)
    assert [t.state for t in engine.study.trials] == [TrialState.WAITING] * 2
    assert engine.remaining_trials() == 3
    trial = engine.study.ask(LR)  # Optuna starts the first queued trial
    assert trial.params == {"lr": 0.01}
    assert engine.remaining_trials() == 2


@pytest.mark.parametrize("attr", [INTERRUPTED, SURPLUS])
def test_interrupted_and_surplus_trials_use_none(tmp_path: Path, attr: str) -> None:
    engine = optuna_engine(tmp_path, max_trials=3)
    add(engine, TrialState.FAIL, **{attr: True})
    add(engine, TrialState.COMPLETE)
    assert engine.remaining_trials() == 2


def test_a_failed_trial_that_was_run_again_counts_once(tmp_path: Path) -> None:
    # A dead worker's trial, failed by Optuna's heartbeat, then run again with RETRY_OF.
    engine = optuna_engine(tmp_path, max_trials=5)
    add(engine, TrialState.COMPLETE)
    add(engine, TrialState.FAIL)
    add(engine, TrialState.COMPLETE, **{RETRY_OF: 1})
    assert engine._used_trials() == 2  # noqa: SLF001 - the count remaining_trials subtracts
    assert engine.remaining_trials() == 3
    # A failure nobody re-ran is a trial of the budget like any other.
    add(engine, TrialState.FAIL)
    assert engine.remaining_trials() == 2


def test_remaining_is_never_negative_and_a_smaller_budget_is_refused(tmp_path: Path) -> None:
    engine = optuna_engine(tmp_path, max_trials=5)
    for _ in range(3):
        add(engine, TrialState.COMPLETE)
    smaller = optuna_engine(tmp_path, max_trials=2)  # the same study, loaded with a new budget
    assert not smaller.created
    assert smaller.remaining_trials() == 0
    with pytest.raises(SweepsError, match=r"cannot shrink sweep 'tiny' to max_trials 2: 3 trials already ran"):
        smaller.check_budget()
    same = optuna_engine(tmp_path, max_trials=3)
    same.check_budget()  # exactly what ran: nothing left, nothing refused
    assert same.remaining_trials() == 0
    larger = optuna_engine(tmp_path, max_trials=7)
    larger.check_budget()
    assert larger.remaining_trials() == 4


def test_a_workers_trial_beyond_the_budget_is_surplus(tmp_path: Path) -> None:
    engine = optuna_engine(tmp_path, max_trials=2)
    add(engine, TrialState.FAIL, **{INTERRUPTED: True})  # number 0: not counted
    first = engine.study.ask()  # number 1
    second = engine.study.ask()  # number 2: another worker's, asked at the same time
    third = engine.study.ask()  # number 3
    assert [t.number for t in (first, second, third)] == [1, 2, 3]
    # Only trials numbered before a trial decide, whatever came after it.
    assert not engine._is_surplus(first)  # noqa: SLF001 - the rule the workers apply
    assert not engine._is_surplus(second)  # noqa: SLF001
    assert engine._is_surplus(third)  # noqa: SLF001
    assert engine.remaining_trials() == 0  # three RUNNING, one more than the budget


def test_interrupted_trials_are_queued_again_once(tmp_path: Path) -> None:
    engine = optuna_engine(tmp_path, max_trials=4)
    add(engine, TrialState.COMPLETE)
    killed = engine.study.ask(LR)  # left RUNNING
    add(engine, TrialState.FAIL, **{INTERRUPTED: True})  # Ctrl-C'd, as the objective marks it
    assert engine.remaining_trials() == 2  # the running one counts until it is known dead

    assert engine.requeue_interrupted() == [killed.number, 2]
    trials = engine.study.get_trials()
    assert trials[killed.number].state is TrialState.FAIL
    assert trials[killed.number].user_attrs[INTERRUPTED] is True
    queued = [t for t in trials if t.state is TrialState.WAITING]
    assert [t.user_attrs[RETRY_OF] for t in queued] == [killed.number, 2]
    assert engine.remaining_trials() == 3  # neither the interrupted nor their re-runs, yet
    assert engine.interrupted_trial_ids() == []  # already queued: not twice

    reruns = [engine.study.ask(LR), engine.study.ask(LR)]  # the queue, in order
    assert [(t.user_attrs[RETRY_OF], t.params) for t in reruns] == [
        (killed.number, killed.params), (2, {"lr": 0.01})]
    engine.study.tell(reruns[0], 0.3)
    engine.study.tell(reruns[1], state=TrialState.FAIL)
    assert engine.remaining_trials() == 1  # used: the first trial and the two re-runs


def test_start_with_queues_the_defaults_only_in_an_empty_study(tmp_path: Path) -> None:
    engine = optuna_engine(tmp_path, max_trials=3)
    engine.start_with({"lr": 0.005})
    engine.start_with({"lr": 0.005})  # the study has a trial now: not queued again
    assert [t.state for t in engine.study.trials] == [TrialState.WAITING]
    assert engine.study.ask(LR).params == {"lr": 0.005}  # the first trial takes them
    other = optuna_engine(tmp_path / "other", max_trials=3)
    add(other, TrialState.COMPLETE)
    other.start_with({"lr": 0.005})
    assert [t.state for t in other.study.trials] == [TrialState.COMPLETE]
