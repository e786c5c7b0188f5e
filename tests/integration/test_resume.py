"""Resume without loss: real processes, real SIGKILL mid-trial, then --resume."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeps.errors import SweepsError
from sweeps.runner import run_sweep
from sweeps.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
# Trials of a few seconds each, so a kill lands mid-trial.
ARGS = ["--max-trials", "4", "--max-epochs", "15", "--set", "data.subset=3000",
        "--set", "search_space.units={min: 16, max: 32, step: 16}",
        "--set", "training.early_stopping.patience=20", "--set", "tuner.optuna.pruner=none"]


# Hyperband's first round trains 15 / 9 -> 2 epochs a trial, a window that a loaded machine's
# poll can miss; six times the examples keep the kill mid-trial (and cost a few seconds).
LONGER = {"hyperband": ["--set", "data.subset=18000"]}


def sweeps_cmd(tuner: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sweeps", "run", "mnist_mlp", "--tuner", tuner, *ARGS,
            *LONGER.get(tuner, []), *extra]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def kill_during_trial(tuner: str, number: int, *extra: str) -> None:
    """Start a sweep and SIGKILL it mid-trial ``number``: once it has logged an epoch, or
    under Hyperband once its run is open (a 2-epoch first round leaves about a second after
    the first epoch, which a loaded machine's poll missed now and then; Hyperband's values
    are drawn before the run opens, Optuna's only when the model is built)."""
    proc = subprocess.Popen(sweeps_cmd(tuner, *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env())
    deadline = time.monotonic() + 300
    name = f"trial-{number:03d}"
    db = Path("mlflow.db")
    while not (_running(db, name) if tuner == "hyperband" else _epochs_logged(db, name) >= 1):
        assert proc.poll() is None, "the sweep ended before the chosen trial trained"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _query(db: Path, sql: str, run_name: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute(sql, (run_name,)).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return 0


def _running(db: Path, run_name: str) -> bool:
    return _query(db, "SELECT COUNT(*) FROM runs WHERE name = ? AND status = 'RUNNING'",
                  run_name) > 0


def _epochs_logged(db: Path, run_name: str) -> int:
    return _query(db, "SELECT COUNT(*) FROM metrics m JOIN runs r ON m.run_uuid = r.run_uuid "
                      "WHERE r.name = ? AND r.status = 'RUNNING' AND m.key = 'loss'", run_name)


def state_dir(work_dir: str = ".sweeps") -> Path:
    """The one sweep state folder of mnist_mlp: ``<work_dir>/mnist_mlp/<spec hash>``."""
    (found,) = Path(work_dir, "mnist_mlp").glob("*/sweep.json")
    return found.parent


def resume(tuner: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(sweeps_cmd(tuner, "--resume"), capture_output=True, text=True,
                          env=env(), timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def trial_runs(tracking_uri: str) -> list:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("mnist_mlp")
    return client.search_runs([experiment.experiment_id])


def check_resumed_store(tracking_uri: str) -> list:
    runs = trial_runs(tracking_uri)
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["sweeps.resumes"] == "1"
    trials = [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]
    finished = [r for r in trials if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["sweeps.trial_number"] for r in finished) == sorted(
        {r.data.tags["sweeps.trial_number"] for r in finished})  # no trial finished twice
    assert len(finished) == 4
    assert parents[0].data.metrics["trials_completed"] == 4
    killed = [r for r in trials if r.info.status == "KILLED"]
    assert len(killed) == 1 and killed[0].data.tags["sweeps.trial_status"] == "KILLED"
    return killed


@pytest.mark.parametrize("tuner", ["random", "hyperband"])
def test_keras_tuner_sweep_killed_mid_trial_resumes_and_reruns_it(tuner, tracking_uri) -> None:
    kill_during_trial(tuner, 3)
    out = resume(tuner).stdout
    killed = check_resumed_store(tracking_uri)
    # keras-tuner runs the interrupted trial again under its own id and number.
    number = killed[0].data.tags["sweeps.trial_number"]
    assert number == "3"
    assert "trial 3/4" in out
    assert "top 4 of 4 completed trials" in out  # the summary covers the trials before the kill


def test_optuna_sweep_killed_mid_trial_resumes_and_reruns_it(tracking_uri: str) -> None:
    kill_during_trial("optuna", 3)
    resume("optuna")
    killed = check_resumed_store(tracking_uri)
    state = json.loads((state_dir() / "sweep.json").read_text())
    study = optuna.load_study(study_name=f"mnist_mlp-{state['spec_hash']}",
                              storage="sqlite:///optuna.db")
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 4 and states.count("FAIL") == 1
    interrupted = next(t for t in study.trials if t.state.name == "FAIL")
    assert interrupted.user_attrs["sweeps_interrupted"] is True
    assert interrupted.number == int(killed[0].data.tags["sweeps.trial_number"]) - 1
    rerun = next(t for t in study.trials if t.user_attrs.get("sweeps_retry_of") is not None)
    assert rerun.user_attrs["sweeps_retry_of"] == interrupted.number
    assert rerun.params == interrupted.params and rerun.state.name == "COMPLETE"


def test_resume_repairs_keras_tuner_state_cut_mid_write(tracking_uri: str) -> None:
    kill_during_trial("random", 3)
    oracle = state_dir() / "keras_tuner" / "oracle.json"
    oracle.write_text(oracle.read_text()[:40])  # what a kill mid-write leaves
    out = resume("random").stdout
    assert "note: keras-tuner's state was cut mid-write (oracle.json); rolled back" in out
    check_resumed_store(tracking_uri)


QUICK = ["tuner.kind=random", "tuner.max_trials=1", "training.max_epochs=1", "data.subset=300",
         "search_space.units={min: 16, max: 16}"]


def quick(*extra: str, work_dir: str = ".sweeps", **flags: bool):
    return run_sweep(load_spec("mnist_mlp", [*QUICK, *extra]), work_dir=Path(work_dir),
                     stream=io.StringIO(), **flags)


def sweep_runs(tracking_uri: str) -> dict[str, object]:
    return {r.info.run_id: r for r in trial_runs(tracking_uri)
            if r.data.tags["sweeps.kind"] == "sweep"}


def test_one_spec_two_engines_are_two_sweeps_each_resumed_or_overwritten_alone(
        tracking_uri: str) -> None:
    random = quick()
    bayesian = quick("tuner.kind=bayesian")  # no flag: a spec unlike any stored one is new
    dirs = sorted(p.parent for p in Path(".sweeps/mnist_mlp").glob("*/sweep.json"))
    assert len(dirs) == 2 and all(len(d.name) == 12 for d in dirs)
    runs = sweep_runs(tracking_uri)
    assert set(runs) == {random.sweep_run_id, bayesian.sweep_run_id}
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    assert {r.data.tags["sweeps.tuner"] for r in runs.values()} == {"random", "bayesian"}

    with pytest.raises(SweepsError, match=r"sweep 'mnist_mlp' with this spec already has state "
                                          r"in \.sweeps/mnist_mlp/[0-9a-f]{12} .*add --resume"):
        quick()
    with pytest.raises(SweepsError, match=(
            r"cannot --resume sweep 'mnist_mlp': no stored sweep of that name has this spec; "
            r"the stored ones differ from it in: training\.max_epochs: 1 -> 2 \(\.sweeps/"
            r"mnist_mlp/[0-9a-f]{12}, started [^)]*\) \| .*tuner\.kind: \"bayesian\" -> "
            r"\"random\".*; run one as it was to resume it, or leave out --resume")):
        quick("training.max_epochs=2", resume=True)
    with pytest.raises(SweepsError, match="nothing to resume"):
        quick(work_dir="elsewhere", resume=True)
    assert quick(resume=True).sweep_run_id == random.sweep_run_id  # finished: nothing to add

    bayesian_dir = next(p.parent for p in Path(".sweeps/mnist_mlp").glob("*/sweep.json")
                        if json.loads(p.read_text())["sweep_run_id"] == bayesian.sweep_run_id)
    bayesian_files = {p: p.read_bytes() for p in bayesian_dir.rglob("*") if p.is_file()}
    again = quick(overwrite=True)  # discards the random sweep's state only
    assert again.sweep_run_id not in (random.sweep_run_id, bayesian.sweep_run_id)
    assert len(list(Path(".sweeps/mnist_mlp").glob("*/sweep.json"))) == 2
    assert {p: p.read_bytes() for p in bayesian_dir.rglob("*") if p.is_file()} == bayesian_files
    assert {r.info.status for r in sweep_runs(tracking_uri).values()} == {"FINISHED"}


def test_state_of_the_old_layout_is_still_resumed(tracking_uri: str) -> None:
    first = quick(work_dir="old")
    folder = state_dir("old")  # moved to where state lived before: old/mnist_mlp/sweep.json
    for entry in folder.iterdir():
        entry.rename(folder.parent / entry.name)
    folder.rmdir()
    with pytest.raises(SweepsError, match=r"already has state in old/mnist_mlp \("):
        quick(work_dir="old")
    other = quick("training.max_epochs=2", work_dir="old")  # a new sweep beside it
    assert quick(work_dir="old", resume=True).sweep_run_id == first.sweep_run_id
    assert other.sweep_run_id != first.sweep_run_id
    assert {r.info.status for r in sweep_runs(tracking_uri).values()} == {"FINISHED"}


# -- extending a sweep: --resume with a larger budget ----------------------------------------
TINY = ["data.subset=600", "training.max_epochs=2", "tuner.optuna.pruner=none",
        "search_space.units={min: 16, max: 32, step: 16}"]


def sweep_and_trials(tracking_uri: str) -> tuple:
    runs = trial_runs(tracking_uri)
    parents = [r for r in runs if r.data.tags["sweeps.kind"] == "sweep"]
    assert len(parents) == 1
    return parents[0], [r for r in runs if r.data.tags["sweeps.kind"] == "trial"]


@pytest.mark.parametrize("tuner", ["random", "optuna"])
def test_resume_with_more_trials_extends_the_finished_sweep(tuner: str, tracking_uri: str) -> None:
    def spec(*extra: str):
        return load_spec("mnist_mlp", [*TINY, f"tuner.kind={tuner}", *extra])

    first = run_sweep(spec("tuner.max_trials=3"), work_dir=Path(".sweeps"), stream=io.StringIO())
    out = io.StringIO()
    extended = run_sweep(spec("tuner.max_trials=5"), work_dir=Path(".sweeps"), stream=out,
                         resume=True)
    assert f"budget: tuner.{tuner}.max_trials: 3 -> 5" in out.getvalue()
    assert "trial 4/5" in out.getvalue() and "top 5 of 5 completed trials" in out.getvalue()
    assert extended.sweep_run_id == first.sweep_run_id

    sweep, trials = sweep_and_trials(tracking_uri)
    assert sweep.info.status == "FINISHED" and sweep.data.metrics["trials_completed"] == 5
    assert sweep.data.tags["sweeps.planned_trials"] == "5"
    assert sweep.data.tags["sweeps.budget_changes"] == f"tuner.{tuner}.max_trials: 3 -> 5"
    assert sorted(int(r.data.tags["sweeps.trial_number"]) for r in trials) == [1, 2, 3, 4, 5]
    assert {r.info.status for r in trials} == {"FINISHED"}
    assert len({tuple(sorted(r.data.params.items())) for r in trials}) == 5  # none drawn twice
    best = [r.info.run_id for r in trials if r.data.tags.get("sweeps.best") == "true"]
    assert best == [sweep.data.tags["sweeps.best_run_id"]]
    (state,) = Path(".sweeps/mnist_mlp").glob("*/sweep.json")  # one sweep, however extended
    assert json.loads(state.read_text())["budget"]["tuner"][tuner]["max_trials"] == 5

    # Shrinking below what ran, or changing anything but the budget, is refused.
    with pytest.raises(SweepsError, match="cannot shrink sweep 'mnist_mlp' to max_trials 4: "
                                          "5 trials already ran"):
        run_sweep(spec("tuner.max_trials=4"), work_dir=Path(".sweeps"), resume=True,
                  stream=io.StringIO())
    with pytest.raises(SweepsError, match=r"no stored sweep of that name has this spec; the "
                                          r"stored ones differ from it in: "
                                          r"training\.max_epochs: 2 -> 3 "):
        run_sweep(spec("tuner.max_trials=6", "training.max_epochs=3"),
                  work_dir=Path(".sweeps"), resume=True)
    assert json.loads(state.read_text())["budget"]["tuner"][tuner]["max_trials"] == 5
    assert sweep_and_trials(tracking_uri)[0].info.status == "FINISHED"


@pytest.mark.parametrize(("tuner", "key", "before", "after", "trials"), [
    ("hyperband", "tuner.hyperband.iterations", 1, 2, (2, 4)),  # 2 trials per iteration
    ("grid", "tuner.max_trials", 2, 3, (2, 3)),
])
def test_resume_extends_hyperband_iterations_and_a_capped_grid(
        tuner: str, key: str, before: int, after: int, trials: tuple[int, int],
        tracking_uri: str) -> None:
    settings = [*TINY, f"tuner.kind={tuner}", "search_space.depth=1",
                "search_space.dropout=0.1", "search_space.learning_rate={type: choice, values: [0.001, 0.002]}"]
    run_sweep(load_spec("mnist_mlp", [*settings, f"{key}={before}"]), work_dir=Path(".sweeps"),
              stream=io.StringIO())
    assert len(sweep_and_trials(tracking_uri)[1]) == trials[0]
    run_sweep(load_spec("mnist_mlp", [*settings, f"{key}={after}"]), work_dir=Path(".sweeps"),
              stream=io.StringIO(), resume=True)
    sweep, runs = sweep_and_trials(tracking_uri)
    assert sweep.info.status == "FINISHED"
    assert sorted(int(r.data.tags["sweeps.trial_number"]) for r in runs) == list(
        range(1, trials[1] + 1))
    if tuner == "grid":  # the grid goes on where it stopped: no combination twice
        assert len({tuple(sorted(r.data.params.items())) for r in runs}) == trials[1]
