"""Figures logged as artifacts. Plain ``Figure`` objects on Agg: headless, thread-safe,
and nothing registered in pyplot's global state that would need closing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

__all__ = ["learning_curves"]

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
