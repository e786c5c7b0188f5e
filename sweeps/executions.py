"""How many times a trial trains, and on what: k-fold cross-validation and repeats.

With one validation slice of a small dataset, choosing among trials selects noise. Two
remedies, the same under every engine:

- ``validation: {folds: k}``: the training and validation examples are pooled and split into
  k folds (stratified for classes, shuffled with the seed); the trial trains k times, each
  time validating on another fold.
- ``training: {executions_per_trial: r}`` (keras-tuner's own name and meaning): each split
  is trained r times from fresh weights.

A trial's objective is then the mean of its executions' best values (what keras-tuner's
oracle averages), their spread is logged beside it, each execution's epochs are logged
under its label (``fold_2/val_loss``) and the trial's plain per-epoch metrics are the mean
curve. keras-tuner runs the executions through its own ``executions_per_trial`` loop;
Optuna's objective loops over them. Both ask this module for the n-th execution's data::

    plan = ExecutionPlan.of(spec, dataset)
    plan.count, plan.label(3)                       # 6, "fold_2_run_2"
    plan.fit_data(3)                                # x, y, validation_data for model.fit
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sweeps.errors import SpecError, one_line
from sweeps.task import TaskKind

if TYPE_CHECKING:
    import numpy as np

    from sweeps.data import Dataset
    from sweeps.spec import SweepSpec

__all__ = ["ExecutionPlan"]


@dataclass(frozen=True)
class ExecutionPlan:
    """The executions of every trial of a sweep: ``folds`` × ``repeats`` fits."""

    folds: int
    repeats: int
    data: Any = field(repr=False)
    seed: int = 0
    #: Per fold: the indices into the pooled examples it validates on (folds > 1 only).
    _fold_indices: tuple[Any, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, spec: SweepSpec, data: Dataset) -> ExecutionPlan:
        folds = spec.validation.folds
        indices: tuple[Any, ...] = ()
        if folds > 1 and data.streamed:
            raise SpecError(spec.source, "validation.folds", f"k-fold cross-validation "
                            f"re-splits the examples, which a {data.x_train.kind} given as it is "
                            f"cannot be; expected folds: 1, got {folds} (give arrays to fold)")
        if folds > 1:
            try:
                indices = _fold_indices(data, folds, spec.seed)
            except ValueError as exc:  # too few examples (of a class) for k folds
                raise SpecError(spec.source, "validation.folds", f"cannot split "
                                f"{len(data.x_train) + len(data.x_val)} training and validation "
                                f"examples into {folds} folds: {one_line(exc)}") from None
        return cls(folds=folds, repeats=spec.training.executions_per_trial, data=data,
                   seed=spec.seed, _fold_indices=indices)

    @property
    def count(self) -> int:
        return self.folds * self.repeats

    @property
    def single(self) -> bool:
        return self.count == 1

    def label(self, n: int) -> str:
        """What execution ``n`` (0-based) is called in metric names: ``fold_2``, ``run_3``,
        ``fold_2_run_3``; empty for a trial that trains once."""
        fold, repeat = divmod(n, self.repeats)
        parts = []
        if self.folds > 1:
            parts.append(f"fold_{fold + 1}")
        if self.repeats > 1:
            parts.append(f"run_{repeat + 1}")
        return "_".join(parts)

    def fit_data(self, n: int) -> dict[str, Any]:
        """``x``, ``y`` and ``validation_data`` of execution ``n``."""
        data = self.data
        if self.folds == 1:
            return data.fit_inputs()
        import numpy as np

        fold = n // self.repeats
        held = self._fold_indices[fold]
        total = len(data.x_train) + len(data.x_val)
        train = np.setdiff1d(np.arange(total), held, assume_unique=True)
        x_train, y_train = _take(data, train)
        x_val, y_val = _take(data, held)
        return dict(x=x_train, y=y_train, validation_data=(x_val, y_val))


def _take(data: Dataset, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``index`` of training and validation examples pooled (in that order), without
    copying the pool first."""
    import numpy as np

    n_train = len(data.x_train)
    from_train, from_val = index[index < n_train], index[index >= n_train] - n_train
    x = np.concatenate([data.x_train[from_train], data.x_val[from_val]])
    y = np.concatenate([data.y_train[from_train], data.y_val[from_val]])
    return x, y


def _fold_indices(data: Dataset, folds: int, seed: int) -> tuple[np.ndarray, ...]:
    """The validation indices of each fold of the pooled examples: scikit-learn's
    StratifiedKFold for classes (one-hot labels by their class), KFold for regression."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.concatenate([data.y_train, data.y_val])
    if data.task.kind is TaskKind.REGRESSION:
        splitter: Any = KFold(folds, shuffle=True, random_state=seed)
        classes = None
    else:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        classes = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)
    pooled = np.zeros(len(y))
    return tuple(np.sort(held) for _, held in splitter.split(pooled, classes))
