"""The hypermodels' build context: what the data and the spec tell a builder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypermodels import BuildContext
from sweeps.spec import SweepSpec
from sweeps.task import TaskKind

if TYPE_CHECKING:
    from sweeps.data import Dataset

__all__ = ["build_context"]


def build_context(spec: SweepSpec, data: Dataset) -> BuildContext:
    """The hypermodels' build context: the task, the input preprocessing the data calls for
    and, for regression, the targets' scale (both from the training slice only), and the
    schedule's ``decay_per: epoch`` resolved."""
    import numpy as np

    from sweeps.data import feature_sample

    schedule = spec.training.lr_schedule
    if schedule.decay_per == "epoch":
        decay_steps = data.steps_per_epoch(spec.training.batch_size)
    else:
        assert schedule.decay_steps is not None  # the loader requires it for "steps"
        decay_steps = schedule.decay_steps
    pixels = data.x_train.dtype == np.uint8
    mean = variance = None
    if not pixels and np.issubdtype(data.x_train.dtype, np.floating):
        # Per feature for a table; one mean and variance for anything of more axes. A stream's
        # from its first batches: a pass over the features is what it must not need.
        x = feature_sample(data.x_train) if data.streamed else data.x_train
        axis = 0 if x.ndim == 2 else None
        mean = np.asarray(x.mean(axis=axis, dtype=np.float64), dtype=np.float32)
        variance = np.asarray(x.var(axis=axis, dtype=np.float64), dtype=np.float32)
    target_mean = target_std = None
    if data.task.kind is TaskKind.REGRESSION:
        y = np.asarray(data.y_train, dtype=np.float64).reshape(len(data.y_train), -1)
        target_mean = y.mean(axis=0)
        target_std = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
    return BuildContext(
        input_shape=data.input_shape, task=data.task, decay_steps=decay_steps,
        decay_rate=schedule.decay_rate, staircase=schedule.staircase, pixels=pixels,
        feature_mean=mean, feature_variance=variance, target_mean=target_mean,
        target_std=target_std,
    )
