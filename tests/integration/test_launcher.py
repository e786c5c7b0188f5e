"""``python -m sweeps run SPEC --workers N``: real worker processes on one sqlite Optuna study
and one sqlite MLflow store, a real ``kill -9`` of one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient

from sweeps.cli import main
from tests.integration.test_tensorboard import check_against_mlflow, same_scalars

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--tuner", "optuna", "--max-trials", "5", "--max-epochs", "2",
         "--set", "data.subset=600", "--set", "search_space.units={min: 16, max: 32, step: 16}",
         "--set", "tuner.optuna.pruner=none"]


def _sweeps(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sweeps", "run", "mnist_mlp", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, **kwargs)


def _runs(workdir: Path) -> tuple[list, list]:
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mnist_mlp")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    return ([r for r in runs if r.data.tags["sweeps.kind"] == "sweep"],
            [r for r in runs if r.data.tags["sweeps.kind"] == "trial"])


def test_three_workers_run_the_budget_once_under_one_sweep_run(workdir: Path) -> None:
    proc = _sweeps(*SMALL, "--workers", "3", "--set", "tracking.tensorboard=true")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err and "Warning" not in out + err
    assert out.startswith("3 workers on Optuna study mnist_mlp-")
    assert {line[:4] for line in out.splitlines()[1:-1]} == {"[w1]", "[w2]", "[w3]"}

    parents, trials = _runs(workdir)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.metrics["trials_completed"] == 5
    assert sorted(int(r.data.tags["sweeps.trial_number"]) for r in trials) == [1, 2, 3, 4, 5]
    assert all(r.info.status == "FINISHED" for r in trials)
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parents[0].info.run_id}
    workers = {r.data.tags["sweeps.worker"] for r in trials}
    assert workers <= {f"{os.uname().nodename}/w{i}" for i in (1, 2, 3)} and len(workers) >= 2
    assert out.rstrip().endswith(f"sweep run {parents[0].info.run_id}")

    # TensorBoard: every worker wrote its trials live into the sweep's folder; the export
    # from MLflow has the same scalars, and the HParams data of every trial.
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    assert main(["tensorboard", "mnist_mlp", "--logdir", "tb", "--tracking-uri", uri]) == 0
    check_against_mlflow(workdir / "tb", uri, "mnist_mlp")
    same_scalars(next(workdir.glob(".sweeps/mnist_mlp/*/tensorboard")), workdir / "tb")

    # The same command again is refused in one line, and --resume finds nothing left to do.
    again = _sweeps(*SMALL, "--workers", "3")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 1 and "add --resume to go on with it, or --overwrite" in err
    assert len(err.strip().splitlines()) == 1 and not out
    assert len(_runs(workdir)[1]) == 5


def test_a_killed_worker_s_trial_runs_again_on_another(workdir: Path) -> None:
    # Trials of a few seconds, so the kill lands mid-trial; a dead worker's trial is noticed
    # after the heartbeat's grace: keep it short.
    args = [*SMALL, "--max-trials", "4", "--max-epochs", "10", "--set", "data.subset=3000",
            "--set", "training.early_stopping.patience=20"]
    proc = _sweeps(*args, "--workers", "2", env={"SWEEPS_HEARTBEAT_GRACE_S": "6"})
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    victim = _worker_training_a_trial(workdir, proc)
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    assert "was killed (SIGKILL); the others ran its trial again" in out

    name = next(n for n in optuna.get_all_study_names(storage) if not n.endswith(":ended"))
    states = [t.state.name for t in optuna.load_study(study_name=name, storage=storage).trials
              if not t.user_attrs.get("sweeps_surplus")]
    assert states.count("COMPLETE") == 4 and states.count("FAIL") == 1
    parents, trials = _runs(workdir)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.info.status for r in trials) == ["FINISHED"] * 4 + ["KILLED"]


def test_a_keras_tuner_engine_is_refused_in_one_line_naming_optuna(workdir: Path) -> None:
    proc = _sweeps("--workers", "2", "--max-trials", "4")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and not out
    assert err.startswith("error: --workers runs Optuna's shared study, not keras-tuner's "
                          "hyperband")
    assert "--tuner optuna --set tuner.optuna.sampler=tpe --set tuner.optuna.pruner=hyperband" in err
    assert len(err.strip().splitlines()) == 1
    assert not (workdir / "mlflow.db").exists() and not (workdir / "optuna.db").exists()


def _worker_training_a_trial(workdir: Path, launcher: subprocess.Popen) -> int:
    """The pid of a worker whose trial has logged an epoch (so it is mid-trial)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert launcher.poll() is None, launcher.communicate()
        if (workdir / "mlflow.db").exists():
            _, trials = _runs(workdir)
            for run in trials:
                if run.info.status == "RUNNING" and run.data.metrics:
                    label = run.data.tags["sweeps.worker"].rsplit("/", 1)[1]
                    return _child_pid(launcher.pid, f"--name={os.uname().nodename}/{label}")
        time.sleep(0.2)
    raise AssertionError("no worker started a trial within 300 s")


def _child_pid(parent: int, marker: str) -> int:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
            command = (stat.parent / "cmdline").read_bytes().decode()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and marker in command.split("\0"):
            return int(stat.parent.name)
    raise AssertionError(f"no child of {parent} runs with {marker}")


def test_ctrl_c_reaches_every_worker_once_and_resume_finishes_the_sweep(workdir: Path) -> None:
    args = [*SMALL, "--max-trials", "4", "--max-epochs", "10", "--set", "data.subset=3000",
            "--set", "training.early_stopping.patience=20"]
    proc = _sweeps(*args, "--workers", "2")
    _worker_training_a_trial(workdir, proc)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the launcher (workers have their own
    out, err = proc.communicate(timeout=300)  # sessions: only the launcher's copy reaches them)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    parents, trials = _runs(workdir)
    assert parents[0].info.status == "KILLED"
    assert "KILLED" in {r.info.status for r in trials}
    assert "RUNNING" not in {r.info.status for r in trials}

    resumed = _sweeps(*args, "--workers", "2", "--resume")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out + err
    parents, trials = _runs(workdir)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len([r for r in trials if r.info.status == "FINISHED"]) == 4
    assert {r.info.status for r in trials} <= {"FINISHED", "KILLED"}
