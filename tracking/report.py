"""Comparisons and reports of sweeps read back from MLflow: tables, plots, summary.md.

Plots are Optuna's (history, parallel coordinates, hyperparameter importances), drawn on an
in-memory study of any engine's trials, plus the model-size plots. They are saved to files and
closed, so nothing appears on the caller's screen; the matplotlib backend is the caller's
(matplotlib itself falls back to Agg where there is no display).
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from sweeps.final.uplift import DEFAULTS, LINEAR, uplift_lines
from sweeps.metrics import Direction
from sweeps.trials import TrialRecord
from tracking import plots
from tracking import tags as T
from tracking.queries import SweepRuns, metric_history, to_optuna_study
from tracking.render import Renderer

__all__ = ["DEFAULT_COLUMNS", "table_rows", "format_table", "optuna_plots", "size_comparison",
           "summary_markdown", "ReportDraft"]

_log = logging.getLogger(__name__)
#: matplotlib's backends that draw to files only.
_FILE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
DEFAULT_COLUMNS = ("sweep", "engine", "trial", "status", "objective", "epochs_run",
                   "param_count", "wall_time_s", "hyperparameters")


def table_rows(sweeps: Sequence[SweepRuns], columns: Sequence[str] = DEFAULT_COLUMNS,
               top: int | None = None) -> list[dict[str, Any]]:
    """One row per completed trial, best first within each sweep (top ``top`` of each)."""
    rows = []
    for sweep in sweeps:
        metric = sweep.objectives[0][0]
        for trial in sweep.ranked()[:top]:
            row: dict[str, Any] = {}
            for column in columns:
                if column == "sweep":
                    row[column] = sweep.name
                elif column == "engine":
                    row[column] = sweep.engine
                elif column == "objective":
                    row[f"best_{metric}"] = trial.metrics.get(f"best_{metric}")
                elif column == "hyperparameters":
                    row[column] = " ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
                else:
                    row[column] = trial.value(column)
            rows.append(row)
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        # MLflow stores counts (param_count, epochs_run) as floats
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return "" if value is None else str(value)


def format_table(rows: Sequence[dict[str, Any]], style: str = "text") -> str:
    """``text`` (aligned columns), ``csv`` or ``markdown``."""
    if not rows:
        return "no completed trials\n"
    headers = list(rows[0])
    if style == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=headers, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    cells = [[_fmt(row.get(h)) for h in headers] for row in rows]
    if style == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"


def optuna_plots(sweep: SweepRuns, out_dir: Path, prefix: str = "",
                 renderer: Renderer | None = None) -> list[Path]:
    """Optimisation history, parallel coordinates and hyperparameter importances, drawn by
    ``renderer`` (a helper process) if given, else here."""
    study = to_optuna_study(sweep)
    job = {"out_dir": str(out_dir), "trials": study.trials,
           "directions": [d.name.lower() for d in study.directions],
           "target_names": [m for m, _ in sweep.objectives], "prefix": prefix}
    paths = renderer.draw("study_plots", **job) if renderer else plots.save_study_plots(**job)
    return [Path(p) for p in paths]


def _pareto(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats: fewer parameters and higher accuracy."""
    return [i for i, (size, acc) in enumerate(points)
            if not any(s <= size and a >= acc and (s, a) != (size, acc) for s, a in points)]


def size_comparison(client: MlflowClient, sweep: SweepRuns, out_dir: Path,
                    by: str = "size") -> tuple[list[dict[str, Any]], list[Path]]:
    """Learning curves per model size, the objective against parameter count, and a table.

    Trials are grouped by the hyperparameter ``by``; per group the best completed trial
    (Hyperband may run a configuration several times) stands for it.
    """
    metric, direction = sweep.objectives[0]
    groups: dict[Any, TrialRecord] = {}
    for trial in sweep.ranked():
        groups.setdefault(trial.params.get(by), trial)
    if None in groups:
        raise ValueError(f"the trials of {sweep.name} have no hyperparameter {by!r}")
    ordered = sorted(groups.items(), key=lambda item: item[1].metrics.get("param_count", 0))
    out_dir.mkdir(parents=True, exist_ok=True)

    task_metric = sweep.task_metric
    curves = Figure(figsize=(11, 4.5))
    loss_ax, acc_ax = curves.subplots(1, 2)
    colors = matplotlib.colormaps["tab10"]
    for i, (label, trial) in enumerate(ordered):
        for ax, key in ((loss_ax, "loss"), (acc_ax, task_metric)):
            for series, style in ((key, "-"), (f"val_{key}", "--")):
                points = metric_history(client, trial.run_id, series)
                if points:
                    steps, values = zip(*points)
                    ax.plot(steps, values, style, color=colors(i % 10),
                            label=f"{label} {'val' if series.startswith('val') else 'train'}")
    for ax, key in ((loss_ax, "loss"), (acc_ax, task_metric)):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    loss_ax.set_yscale("log")
    acc_ax.legend(fontsize=8, ncol=2)
    curves.suptitle(f"{sweep.name}: training (solid) and validation (dashed) by {by}")
    paths = [plots.save(curves, out_dir / f"{by}_learning_curves.png")]

    points = [(trial.metrics.get("param_count", 0.0), trial.metrics[f"best_{metric}"])
              for _, trial in ordered]
    front = _pareto([(s, -Direction(direction).sort_key(a)) for s, a in points])
    scatter = Figure(figsize=(7, 4.5))
    ax = scatter.subplots()
    ax.scatter(*zip(*points), color="tab:blue", zorder=3)
    for (label, _), (size, acc) in zip(ordered, points):
        ax.annotate(str(label), (size, acc), textcoords="offset points", xytext=(5, 5))
    pareto_points = sorted(points[i] for i in front)
    ax.plot(*zip(*pareto_points), "-o", color="tab:red", label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(f"best {metric}")
    ax.grid(alpha=0.3)
    ax.legend()
    paths.append(plots.save(scatter, out_dir / f"{by}_{metric}_vs_params.png"))

    rows = [{by: label, "params": int(trial.metrics.get("param_count", 0)),
             "epochs_run": int(trial.metrics.get("epochs_run", 0)),
             f"best_{metric}": trial.metrics[f"best_{metric}"],
             f"test_{task_metric}": trial.metrics.get(f"test_{task_metric}"),
             "wall_time_s": round(trial.metrics.get("wall_time_s", 0.0), 1),
             "pareto": i in front}
            for i, (label, trial) in enumerate(ordered)]
    return rows, paths


def summary_markdown(sweep: SweepRuns, top: int = 10) -> str:
    metric, direction = sweep.objectives[0]
    parent = sweep.run.data
    lines = [f"# {sweep.name} ({sweep.engine})", "",
             f"Objective: {direction} `{metric}`. Trials: "
             f"{sum(t.status == 'COMPLETED' for t in sweep.trials)} completed, "
             f"{sum(t.status == 'PRUNED' for t in sweep.trials)} pruned, "
             f"{sum(t.status == 'FAILED' for t in sweep.trials)} failed."]
    tests = {k: v for k, v in sorted(parent.metrics.items()) if k.startswith("test_")}
    if tests:
        lines.append("Best trial on the test set: "
                     + ", ".join(f"{k.removeprefix('test_')} {v:.4g}" for k, v in tests.items())
                     + ".")
    baselines: dict[str, dict[str, float]] = {}
    for key, value in parent.metrics.items():
        if key.startswith(T.BASELINE_PREFIX):
            name, _, measured = key.removeprefix(T.BASELINE_PREFIX).partition("_")
            baselines.setdefault(name, {})[measured] = value
    what = {DEFAULTS: parent.tags.get(T.BASELINE_DEFAULT, ""),
            LINEAR: parent.tags.get(T.BASELINE_LINEAR, "")}
    uplift = uplift_lines(tests, baselines, metric, what)
    if uplift:
        lines += ["", *(f"- {line}" for line in uplift)]
        if what[DEFAULTS]:
            lines.append(f"- the defaults: {what[DEFAULTS]}")
    lines += ["", f"## Top {top}", "",
              format_table(table_rows([sweep], ("trial", "objective", "epochs_run",
                                                "param_count", "hyperparameters"), top),
                           "markdown")]
    return "\n".join(lines)


class ReportDraft:
    """A sweep's report made in two steps. The plots need only the trials and take most of
    the time (Optuna's importances fit a random forest): they are drawn as soon as the last
    trial has ended, by the tracker's helper process (:mod:`tracking.render`) while the best
    model is tested and logged here. summary.md quotes the test metrics, so it is written at
    the very end::

        draft = ReportDraft()
        draft.draw_plots(load_sweep(client, run), renderer)   # once every trial has ended
        draft.log(client, client.get_run(run_id))   # once the test metrics are logged
        draft.discard()
    """

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="sweeps-report-"))
        self.sweep: SweepRuns | None = None

    @staticmethod
    def off_main_thread_ok() -> bool:
        """Whether pyplot may draw on another thread: with a backend that only renders to
        files or a notebook (Agg, the default without a display; inline), not with a GUI
        backend the caller chose (Tk, Qt: their windows belong to the main thread)."""
        backend = matplotlib.get_backend().lower()
        return backend in _FILE_BACKENDS or backend.endswith("inline")

    def draw_plots(self, sweep: SweepRuns, renderer: Renderer | None = None) -> None:
        self.sweep = sweep
        optuna_plots(sweep, self._dir, renderer=renderer)

    def log(self, client: MlflowClient, run: Any) -> None:
        """Write summary.md from ``run`` (the sweep run as it ends) and log the report."""
        assert self.sweep is not None, "draw_plots first"
        sweep = SweepRuns(run=run, spec=self.sweep.spec, trials=self.sweep.trials)
        (self._dir / "summary.md").write_text(summary_markdown(sweep), encoding="utf-8")
        client.log_artifacts(sweep.run_id, str(self._dir), artifact_path="report")

    def discard(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
