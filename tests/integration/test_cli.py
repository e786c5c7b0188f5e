"""The CLI as a user runs it: a real interpreter per command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras", "mlflow")
SMALL_RUN = ["--set", "data.subset=600", "--set", "search_space.units={min: 16, max: 32, step: 16}"]


def sweeps(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sweeps", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("args", [["--help"], ["list"], ["show", "mnist_mlp"],
                                  ["show", "mnist_mlp", "--tuner", "random", "--max-trials", "3"]])
def test_quick_commands_do_not_import_tensorflow_keras_or_mlflow(args: list[str]) -> None:
    code = (
        "import json, sys\nfrom sweeps.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(%r))\n"
        "print(json.dumps(heavy), file=sys.stderr)\n" % (HEAVY,)
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
    assert proc.stdout


def test_list_and_show() -> None:
    listing = sweeps("list")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == [
        "breast_cancer", "breast_cancer_sizes", "diabetes", "fashion_cnn", "fashion_mnist_mlp",
        "mnist_mlp", "model_sizes"]
    shown = sweeps("show", "mnist_mlp", "--tuner", "random", "--max-trials", "3",
                   "--set", "data.subset=500")
    assert shown.returncode == 0
    assert "kind: random" in shown.stdout and "subset: 500" in shown.stdout
    assert "random:\n    max_trials: 3" in shown.stdout


def test_bad_spec_exits_2_with_one_paragraph_and_logs_nothing(workdir: Path) -> None:
    spec = workdir / "bad.yaml"
    spec.write_text("data: {name: mnist}\nhypermodel: mlp\ntraining: {max_epoch: 3}\n")
    proc = sweeps("run", str(spec))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f'error: {spec}: training.max_epoch: unknown key (did you mean "max_epochs"?); '
        "known keys here: batch_size, early_stopping, executions_per_trial, lr_schedule, max_epochs"
    )
    assert "Traceback" not in proc.stderr
    assert not (workdir / "mlflow.db").exists()
    bad_flag = sweeps("run", "mnist_mlp", "--max-epochs", "0")
    assert bad_flag.returncode == 2
    assert bad_flag.stderr.strip().endswith(
        "training.max_epochs: expected an integer >= 1, got 0 (set by --set training.max_epochs=0)")


def test_option_that_does_not_fit_the_data_fails_before_any_run(workdir: Path,
                                                                 tracking_uri: str) -> None:
    proc = sweeps("run", "diabetes", "--set", "hypermodel.options.translate=0.1")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: diabetes.yaml (bundled): hypermodel.options.translate: translate (0.1) shifts "
        "images, but the inputs have shape (10,), not (height, width) or (height, width, "
        "channels); expected 0 for features that are not an image")
    runs = MlflowClient(tracking_uri).search_runs(
        [e.experiment_id for e in MlflowClient(tracking_uri).search_experiments()])
    assert runs == []
    assert not list(workdir.glob(".sweeps/diabetes/*"))  # no state to resume or overwrite


def test_missing_data_fails_before_any_run(workdir: Path) -> None:
    proc = sweeps("run", "mnist_mlp", "--data-dir", str(workdir / "nowhere"))
    assert proc.returncode == 1
    assert "does not hold the four IDX files of mnist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (workdir / "mlflow.db").exists()


@pytest.mark.parametrize(("tuner", "sig"), [("random", signal.SIGINT), ("random", signal.SIGTERM),
                                           ("optuna", signal.SIGTERM)])
def test_interrupt_marks_open_runs_killed(tuner: str, sig: signal.Signals, tracking_uri: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweeps", "run", "mnist_mlp", "--tuner", tuner,
         "--max-trials", "20", "--max-epochs", "50", *SMALL_RUN,
         "--set", "training.early_stopping.patience=50", "--set", "tuner.optuna.pruner=none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for one finished trial, then interrupt the next
        if line.startswith("trial 1/20"):
            break
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: open MLflow runs were marked KILLED" in err
    runs = MlflowClient(tracking_uri).search_runs(
        [MlflowClient(tracking_uri).get_experiment_by_name("mnist_mlp").experiment_id])
    statuses = {r.info.run_name: r.info.status for r in runs}
    assert statuses.pop("trial-001") == "FINISHED"
    assert statuses.pop("trial-002") == "KILLED"
    assert list(statuses.values()) == ["KILLED"]  # the sweep's parent run


@pytest.mark.parametrize("args", [["list"], ["show", "mnist_mlp"]])
def test_reader_gone_is_no_traceback(args: list[str]) -> None:
    # `python -m sweeps list | head -1`, made deterministic: the reading end is closed before
    # the command writes a byte, so its output meets a broken pipe.
    proc = subprocess.Popen([sys.executable, "-m", "sweeps", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # 128 + SIGPIPE
    assert err == ""
    shell = subprocess.run(f"{sys.executable} -m sweeps {' '.join(args)} | head -1",
                           shell=True, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert shell.returncode == 0 and len(shell.stdout.splitlines()) == 1
    assert "Traceback" not in shell.stderr and "BrokenPipe" not in shell.stderr


@pytest.mark.parametrize("where", ["tracking", "work_dir"])
def test_unusable_store_or_work_dir_fails_before_anything_trains(where: str, workdir: Path) -> None:
    afile = workdir / "afile"
    afile.write_text("a regular file, not a folder\n")
    paths = (["--tracking-uri", f"sqlite:///{afile}/x.db"] if where == "tracking"
             else ["--work-dir", str(afile / "state")])
    proc = sweeps("run", "mnist_mlp", "--set", "data.subset=600", "--max-trials", "1",
                  "--max-epochs", "1", *paths)
    assert proc.returncode == 1, proc.stderr
    what = f"the MLflow store sqlite:///{afile}/x.db" if where == "tracking" else (
        f"--work-dir {afile / 'state'}")
    assert proc.stderr == f"error: cannot use {what}: {afile} is a file, not a folder\n"
    assert proc.stdout == ""
    assert sorted(p.name for p in workdir.iterdir()) == ["afile"]  # no store, no .sweeps
