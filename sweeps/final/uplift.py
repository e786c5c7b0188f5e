"""How the tuned model compares with the baselines, as the console, summary.md and MLflow
say it ("tuned vs defaults: test_mae 44.1 vs 47.3 (6.8 % lower, better)").

The names and the comparison only: a leaf that tracking and the console read, apart from the
training of the baselines (:mod:`sweeps.final.baselines`)::

    uplift_lines(final_test_metrics, baselines.metrics, "val_mae")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sweeps.metrics import Direction, direction_of

__all__ = ["DEFAULTS", "LINEAR", "Baselines", "uplift", "metric_key", "compared_metric",
           "uplift_lines"]

DEFAULTS = "default"
LINEAR = "linear"


@dataclass(frozen=True)
class Baselines:
    """Each baseline's test metrics (``test_<metric>``, as the final model's), by name."""

    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: What each baseline was: the defaults' hyperparameters, the linear model's class.
    what: Mapping[str, str] = field(default_factory=dict)
    #: Why a baseline is missing (no test set, not a table), by name.
    notes: Mapping[str, str] = field(default_factory=dict)
    #: Why the defaults are the final configuration although a trial scored better
    #: (:func:`sweeps.final.baselines.defaults_kept`), if they are.
    kept: str | None = None

    def value(self, name: str, metric: str) -> float | None:
        return self.metrics.get(name, {}).get(metric)


def uplift(metric: str, tuned: float, baseline: float) -> tuple[bool, str]:
    """Whether ``tuned`` beats ``baseline`` on ``metric`` (direction from its name), and the
    relative difference as the user reads it: "12.3 % lower" or "4.0 % higher"."""
    direction = direction_of(metric) or Direction.MAX
    better = direction.better(tuned, baseline)
    if baseline == 0:
        return better, "" if tuned == baseline else "better" if better else "worse"
    change = (tuned - baseline) / abs(baseline) * 100
    word = "higher" if change > 0 else "lower"
    return better, f"{abs(change):.1f} % {word}" if change else "the same"


def metric_key(name: str, metric: str) -> str:
    """How a baseline's test metric is logged on the sweep run: ``baseline_default_test_mae``."""
    return f"baseline_{name}_{metric}"  # tracking.tags.BASELINE_PREFIX: its reader


def compared_metric(test_metrics: Mapping[str, float], objective: str) -> str | None:
    """The test metric the uplift is quoted on: the objective's (``val_mae`` -> ``test_mae``)
    where the test set reports it, else the first one that is not the loss (the task's own:
    accuracy, MAE), which is what the champion alias is decided on as well."""
    from sweeps.metrics import base_name

    wanted = f"test_{base_name(objective)}"
    if wanted in test_metrics and wanted != "test_loss":
        return wanted
    others = [k for k in test_metrics if k != "test_loss"]
    return others[0] if others else next(iter(test_metrics), None)


def uplift_lines(test_metrics: Mapping[str, float],
                 baselines: Mapping[str, Mapping[str, float]], objective: str,
                 what: Mapping[str, str] | None = None) -> list[str]:
    """"tuned vs defaults: test_mae 44.1 vs 47.3 (6.8 % lower, better)" and the linear
    model's line: what the console and summary.md say."""
    metric = compared_metric(test_metrics, objective)
    if metric is None:
        return []
    lines = []
    for name, label in ((DEFAULTS, "defaults"), (LINEAR, "linear")):
        theirs = baselines.get(name, {}).get(metric)
        if theirs is None:
            continue
        better, change = uplift(metric, test_metrics[metric], theirs)
        model = f" ({what[name]})" if what and name == LINEAR and name in what else ""
        verdict = "better" if better else "not better"
        if name == DEFAULTS and theirs == test_metrics[metric]:
            verdict = "the defaults won the search: they are the model"
        lines.append(f"tuned vs {label}{model}: {metric} {test_metrics[metric]:.4g} vs "
                     f"{theirs:.4g} ({change}, {verdict})")
    return lines
