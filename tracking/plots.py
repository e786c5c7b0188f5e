"""Figures logged as artifacts. Plain ``Figure`` objects on Agg: headless, thread-safe,
and nothing registered in pyplot's global state that would need closing (Optuna's plots, which
do use pyplot, are closed once saved).

Imports matplotlib, and Optuna where its plots are drawn, but never MLflow, Keras or
TensorFlow: :mod:`tracking.render`'s helper process draws with these functions, and the jobs
it runs (:data:`JOBS`) take and return plain, picklable values.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sweeps import runtime

__all__ = ["JOBS", "best_so_far_plot", "learning_curves", "quiet_optuna", "save",
           "save_learning_curves", "save_study_plots", "warm"]

_log = logging.getLogger(__name__)

Series = Sequence[tuple[int, float]]


def learning_curves(history: Mapping[str, Series], title: str,
                    metric: str = "accuracy") -> Figure:
    """Loss and the task's ``metric`` per epoch; training solid, validation dashed."""
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for ax, name in zip(axes, ("loss", metric)):
        for key, style, label in ((name, "-", "train"), (f"val_{name}", "--", "validation")):
            points = history.get(key, ())
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, style, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.88, wspace=0.25)
    return fig


def best_so_far_plot(curves: Mapping[str, Sequence[Sequence[tuple[float, float]]]], metric: str,
                     *, target: float | None = None, until_s: float | None = None) -> Figure:
    """The best ``metric`` so far against wall-clock seconds: one colour per engine (or any
    label), one line per seed; the ``target`` as a dotted line."""
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    colours = {label: f"C{i}" for i, label in enumerate(curves)}
    for label, runs in curves.items():
        for i, curve in enumerate(runs):
            if not curve:
                continue
            times, values = map(list, zip(*curve))
            if until_s is not None:  # held until the budget's end: the best stays the best
                times.append(until_s)
                values.append(values[-1])
            ax.step(times, values, where="post", color=colours[label], alpha=0.8,
                    label=label if i == 0 else None)
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.set_xlabel("seconds since the sweep started")
    ax.set_ylabel(f"best {metric} so far")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG and release it (a pyplot figure is closed too)."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def save_learning_curves(path: str, history: Mapping[str, Series], title: str,
                         metric: str = "accuracy") -> str:
    """:func:`learning_curves` written to ``path`` (as ``MlflowClient.log_figure`` would)."""
    learning_curves(history, title, metric).savefig(path, dpi=100)
    return path


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's INFO line for each in-memory study ("A new study created in memory") is not
    for the sweep's console; its verbosity is put back as the caller had it."""
    import optuna

    with runtime.optuna_verbosity(optuna.logging.WARNING):
        yield


def save_study_plots(out_dir: str, trials: Sequence[Any], directions: Sequence[str],
                     target_names: Sequence[str], prefix: str = "") -> list[str]:
    """Optuna's optimisation history, parallel coordinates and hyperparameter importances
    (and the Pareto front for two objectives) of ``trials`` (Optuna ``FrozenTrial`` objects),
    written to ``out_dir`` as ``<prefix><plot>.png``; the paths of those drawn."""
    import optuna
    import optuna.visualization.matplotlib as vis

    with quiet_optuna():
        study = optuna.create_study(directions=list(directions))
    study.add_trials(trials)
    if len(study.trials) < 2:
        return []
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    metric = target_names[0]
    multi = len(target_names) > 1
    target = (lambda t: t.values[0]) if multi else None
    plots = {
        "optimization_history": lambda: vis.plot_optimization_history(
            study, target=target, target_name=metric),
        "parallel_coordinate": lambda: vis.plot_parallel_coordinate(
            study, target=target, target_name=metric),
        "param_importances": lambda: vis.plot_param_importances(
            study, target=target, target_name=metric),
    }
    if multi:
        plots["pareto_front"] = lambda: vis.plot_pareto_front(
            study, target_names=list(target_names))
    paths = []
    for name, draw in plots.items():
        # Optuna marks its matplotlib plots experimental and says so on every call, and its
        # importance evaluator warns about small samples, which a sweep report of a few trials
        # always is; neither belongs on the sweep's console.
        with runtime.warnings_ignored(optuna.exceptions.ExperimentalWarning, UserWarning):
            try:
                axes = draw()
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                # e.g. importances need two distinct values of some parameter
                _log.info("no %s plot: %s", name, exc)
                continue
        fig = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        fig.set_size_inches(9, 6)
        paths.append(str(save(fig, Path(out_dir) / f"{prefix}{name}.png")))
    return paths


def warm() -> None:
    """Import what the study plots need beyond matplotlib (Optuna's plotting and importance
    modules, 0.2 s), ahead of the first job."""
    import optuna.importance
    import optuna.visualization.matplotlib  # noqa: F401


#: The drawing jobs a :class:`tracking.render.Renderer` runs, by name: each takes and returns
#: plain picklable values, so it runs the same in the helper process or in this one.
JOBS = {"learning_curves": save_learning_curves, "study_plots": save_study_plots}
