"""Figures logged as artifacts. Plain ``Figure`` objects on Agg: headless, thread-safe,
and nothing registered in pyplot's global state that would need closing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

__all__ = ["best_so_far_plot", "learning_curves"]

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
