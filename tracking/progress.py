"""A sweep's progress over wall-clock time, read back from MLflow: the best value of a metric
seen so far, against seconds since the sweep run started.

Every trial logs its epoch metrics as they happen (one timestamp per epoch), so the history
of, say, ``val_accuracy`` over all of a sweep's trial runs says when the sweep first had a
model that good, whichever engine ran it::

    curve = best_so_far(client, sweep_run_id, "val_accuracy")   # [(12.4, 0.91), (15.0, 0.95)]
    time_to_target(curve, 0.95)                                  # 15.0; None if never reached

Hyperband's later rounds continue an earlier trial in a new run; each epoch is one point
either way. Trial runs that a resume superseded are left out (their epochs ran again).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlflow.tracking import MlflowClient

from sweeps.metrics import Direction, direction_of
from tracking import tags as T

__all__ = ["Curve", "best_so_far", "time_to_target"]

#: ``(seconds since the sweep run started, best value so far)``, one point per improvement.
Curve = list[tuple[float, float]]


def best_so_far(client: MlflowClient, sweep_run_id: str, metric: str,
                direction: Direction | None = None, *, until_s: float | None = None) -> Curve:
    """The running best of ``metric`` over the sweep's trial runs, by the time it was logged.

    ``direction``: default from the metric's name. ``until_s``: points logged later than this
    many seconds after the sweep run's start are left out (a wall-clock budget).
    """
    direction = direction or direction_of(metric)
    if direction is None:
        raise ValueError(f"say which way {metric!r} is better: direction is needed")
    sweep = client.get_run(sweep_run_id)
    start_ms = sweep.info.start_time
    trials = client.search_runs(
        [sweep.info.experiment_id], filter_string=f"tags.`{T.PARENT}` = '{sweep_run_id}'",
        max_results=50000)
    points = sorted(
        ((m.timestamp - start_ms) / 1000, m.value)
        for run in trials if run.data.tags.get(T.SUPERSEDED) is None
        for m in client.get_metric_history(run.info.run_id, metric))
    curve: Curve = []
    for seconds, value in points:
        if until_s is not None and seconds > until_s:
            break
        if math.isnan(value):  # a diverged epoch: never the best
            continue
        if not curve or direction.better(value, curve[-1][1]):
            curve.append((seconds, value))
    return curve


def time_to_target(curve: Sequence[tuple[float, float]], target: float,
                   direction: Direction = Direction.MAX) -> float | None:
    """Seconds until the curve first reached ``target`` (at least it, or at most for a
    minimised metric); None if it never did."""
    for seconds, value in curve:
        if not direction.better(target, value):  # reached: at least as good as the target
            return seconds
    return None
