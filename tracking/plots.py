"""Figures logged as artifacts. Matplotlib's Agg backend: works headless."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["learning_curves"]

Series = Sequence[tuple[int, float]]


def learning_curves(history: Mapping[str, Series], title: str) -> Figure:
    """Loss and accuracy per epoch; training solid, validation dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, style, label in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
            points = history.get(key, ())
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, style, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
