"""Figures drawn in a helper process (tracking.render): where they are drawn, what the helper
loads, and that a helper that dies or fails costs no figure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import optuna
import pytest

from tracking import plots
from tracking.render import NICENESS, Renderer

HISTORY = {"loss": [(0, 1.0), (1, 0.6), (2, 0.5)], "val_loss": [(0, 1.1), (1, 0.7), (2, 0.65)],
           "accuracy": [(0, 0.7), (1, 0.8), (2, 0.85)],
           "val_accuracy": [(0, 0.68), (1, 0.79), (2, 0.82)]}
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the helper needs POSIX pipes")


def curves(renderer: Renderer, path: Path) -> Path:
    return Path(renderer.draw("learning_curves", path=str(path), history=HISTORY,
                              title="trial 1", metric="accuracy"))


def test_figures_are_drawn_by_a_helper_process_at_lower_priority(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn_here: list[str] = []  # jobs this process ran itself (the helper has its own JOBS)
    for name, job in plots.JOBS.items():
        monkeypatch.setitem(plots.JOBS, name, lambda *a, _n=name, _j=job, **k: (
            drawn_here.append(_n), _j(*a, **k))[1])
    renderer = Renderer()
    renderer.start()
    pid = renderer.pid
    try:
        assert pid is not None and pid != os.getpid()
        path = curves(renderer, tmp_path / "learning_curves.png")
        assert renderer.pid == pid  # drawn there, not here after a failure
        if hasattr(os, "SCHED_IDLE"):  # Linux: only the cores that nothing else wants
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE
        else:
            assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(
                os.PRIO_PROCESS, 0) + NICENESS
        assert matplotlib.image.imread(path).shape[:2] == (400, 1000)  # 10 x 4 in at 100 dpi

        study = optuna.create_study(direction="maximize")
        for units, value in ((32, 0.8), (64, 0.9), (128, 0.85)):
            study.add_trial(optuna.trial.create_trial(
                params={"units": units, "dropout": units / 1000},
                distributions={"units": optuna.distributions.IntDistribution(16, 256),
                               "dropout": optuna.distributions.FloatDistribution(0, 0.5)},
                value=value))
        paths = renderer.draw("study_plots", out_dir=str(tmp_path / "report"),
                              trials=study.trials, directions=["maximize"],
                              target_names=["val_accuracy"])
        assert renderer.pid == pid
        assert sorted(Path(p).name for p in paths) == [
            "optimization_history.png", "parallel_coordinate.png", "param_importances.png"]
        assert drawn_here == []
    finally:
        renderer.close()
    assert renderer.pid is None
    with pytest.raises(ProcessLookupError):  # exited and reaped: nothing left running
        os.kill(pid, 0)


def test_the_helper_loads_neither_tensorflow_nor_mlflow() -> None:
    # The helper as the renderer starts it, with its imports timed; it exits at end of input.
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tracking.render"],
                          cwd=ROOT, input=b"", capture_output=True, timeout=120, check=True)
    modules = {line.split("|")[-1].strip().split(".")[0]
               for line in done.stderr.decode().splitlines() if line.startswith("import time:")}
    assert {"matplotlib", "optuna"} <= modules
    assert not modules & {"tensorflow", "keras", "mlflow", "keras_tuner", "jax", "torch"}


def test_a_helper_that_dies_costs_no_figure(tmp_path: Path) -> None:
    renderer = Renderer()
    renderer.start()
    assert renderer.pid is not None
    os.kill(renderer.pid, signal.SIGKILL)
    try:
        path = curves(renderer, tmp_path / "a.png")  # drawn here instead
        assert matplotlib.image.imread(path).shape[:2] == (400, 1000)
        assert renderer.pid is None  # and no new helper is tried for every figure
        assert curves(renderer, tmp_path / "b.png").exists()
    finally:
        renderer.close()


def test_a_job_the_helper_fails_is_drawn_here_and_raises_here(tmp_path: Path) -> None:
    renderer = Renderer()
    try:
        with pytest.raises(ValueError, match="sideways"):  # Optuna's own error, from here
            renderer.draw("study_plots", out_dir=str(tmp_path), trials=[],
                          directions=["sideways"], target_names=["val_accuracy"])
        assert renderer.pid is not None  # the helper lives on for the next figure
        assert curves(renderer, tmp_path / "c.png").exists()
    finally:
        renderer.close()
