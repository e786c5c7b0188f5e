"""A trial's executions (sweeps.executions.ExecutionPlan): their labels and count, and the
k-fold splits of the pooled training and validation examples. The datasets are small numpy
arrays read by the ``arrays`` source; every example's first feature is its index in the pool,
so each fold's examples can be traced."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from sweeps.data import Dataset, load_dataset
from sweeps.errors import SpecError
from sweeps.executions import ExecutionPlan
from sweeps.spec import SweepSpec
from sweeps.task import TaskKind
from tests.unit.tiny import tiny_spec


def plan_for(y: np.ndarray, *, folds: int, repeats: int = 1, seed: int = 0,
             task: str | None = None) -> tuple[ExecutionPlan, Dataset]:
    """The plan of a sweep over ``len(y)`` examples, as the engines make it."""
    x = np.stack([np.arange(len(y), dtype=np.float32), np.ones(len(y), np.float32)], axis=1)
    spec = spec_for((x, y), folds=folds, repeats=repeats, seed=seed, task=task)
    data = load_dataset(spec.data, task=spec.task, seed=spec.seed)
    return ExecutionPlan.of(spec, data), data


def spec_for(arrays: Any, *, folds: int, repeats: int = 1, seed: int = 0,
             task: str | None = None) -> SweepSpec:
    return tiny_spec(tuner={"kind": "random", "max_trials": 2}, arrays=arrays, seed=seed,
                     validation={"folds": folds}, task=task,
                     training={"max_epochs": 2, "batch_size": 8, "executions_per_trial": repeats})


def ids(x: np.ndarray) -> list[int]:
    return [int(v) for v in x[:, 0]]


def folds_of(plan: ExecutionPlan) -> list[dict[str, Any]]:
    """Each fold's fit data (its first repeat)."""
    return [plan.fit_data(fold * plan.repeats) for fold in range(plan.folds)]


# -- labels and counts ----------------------------------------------------------------------------
@pytest.mark.parametrize(("folds", "repeats"), [(1, 1), (1, 3), (4, 1), (3, 2), (2, 5)])
def test_count_is_folds_times_repeats_and_every_label_differs(folds: int, repeats: int) -> None:
    plan = ExecutionPlan(folds=folds, repeats=repeats, data=None)
    assert plan.count == folds * repeats
    assert plan.single is (plan.count == 1)
    labels = [plan.label(n) for n in range(plan.count)]
    assert len(set(labels)) == plan.count
    # A label names what varies and nothing else: a fold only with folds, a run only with repeats.
    assert all(("fold_" in label) is (folds > 1) for label in labels)
    assert all(("run_" in label) is (repeats > 1) for label in labels)


def test_labels_number_folds_and_runs_from_one_repeats_innermost() -> None:
    plan = ExecutionPlan(folds=3, repeats=2, data=None)
    assert [plan.label(n) for n in range(6)] == [
        "fold_1_run_1", "fold_1_run_2", "fold_2_run_1", "fold_2_run_2", "fold_3_run_1",
        "fold_3_run_2"]
    assert [ExecutionPlan(folds=1, repeats=3, data=None).label(n) for n in range(3)] == [
        "run_1", "run_2", "run_3"]
    assert [ExecutionPlan(folds=4, repeats=1, data=None).label(n) for n in range(4)] == [
        "fold_1", "fold_2", "fold_3", "fold_4"]
    assert ExecutionPlan(folds=1, repeats=1, data=None).label(0) == ""


def test_the_spec_sets_folds_repeats_and_seed() -> None:
    plan, _ = plan_for(np.arange(30) % 2, folds=3, repeats=2, seed=7)
    assert (plan.folds, plan.repeats, plan.seed, plan.count) == (3, 2, 7, 6)


def test_without_folds_every_execution_fits_the_datasets_own_split() -> None:
    plan, data = plan_for(np.arange(20) % 2, folds=1, repeats=3)
    for n in range(3):
        given = plan.fit_data(n)
        assert given["x"] is data.x_train and given["y"] is data.y_train
        assert given["validation_data"][0] is data.x_val


# -- the folds ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("y", "folds"), [
    (np.arange(40) % 2, 4),  # binary
    (np.arange(45) % 3, 5),  # classes
    (np.linspace(0.0, 3.0, 23), 4),  # regression, not divisible
])
def test_every_pooled_example_is_validated_exactly_once(y: np.ndarray, folds: int) -> None:
    plan, data = plan_for(y, folds=folds)
    pool = len(data.x_train) + len(data.x_val)
    validated: list[int] = []
    for fit in folds_of(plan):
        trained, held = ids(fit["x"]), ids(fit["validation_data"][0])
        assert set(trained).isdisjoint(held)
        assert sorted(trained + held) == list(range(pool))
        validated += held
    assert sorted(validated) == list(range(pool))
    sizes = [len(fit["validation_data"][0]) for fit in folds_of(plan)]
    assert max(sizes) - min(sizes) <= 1


def test_labels_travel_with_their_examples() -> None:
    y = (np.arange(30) * 7) % 3
    plan, data = plan_for(y, folds=3)
    pooled_y = np.concatenate([data.y_train, data.y_val])
    pooled_x = np.concatenate([data.x_train, data.x_val])
    label_of = dict(zip(ids(pooled_x), pooled_y.tolist()))
    for fit in folds_of(plan):
        for x, labels in ((fit["x"], fit["y"]), fit["validation_data"]):
            assert [label_of[i] for i in ids(x)] == labels.tolist()


def test_the_repeats_of_a_fold_validate_on_the_same_examples() -> None:
    plan, _ = plan_for(np.arange(24) % 2, folds=3, repeats=2)
    for fold in range(3):
        first, second = plan.fit_data(2 * fold), plan.fit_data(2 * fold + 1)
        assert ids(first["validation_data"][0]) == ids(second["validation_data"][0])
        assert ids(first["x"]) == ids(second["x"])
    assert ids(plan.fit_data(0)["validation_data"][0]) != ids(plan.fit_data(2)["validation_data"][0])


def class_counts(labels: np.ndarray) -> Counter[int]:
    classes = labels.argmax(axis=1) if labels.ndim == 2 and labels.shape[1] > 1 else labels.reshape(-1)
    return Counter(int(c) for c in classes)


@pytest.mark.parametrize("form", ["sparse", "column", "one_hot"])
def test_classes_are_stratified_across_folds(form: str) -> None:
    # 36 of class 0, 12 of class 1, 6 of class 2: contiguous, as sorted data comes.
    classes = np.array([0] * 36 + [1] * 12 + [2] * 6)
    y = {"sparse": classes, "column": classes[:, None],
         "one_hot": np.eye(3, dtype=np.float32)[classes]}[form]
    plan, data = plan_for(y, folds=3, task="multiclass")
    assert data.task.one_hot is (form == "one_hot")
    total = class_counts(np.concatenate([data.y_train, data.y_val]))
    for fit in folds_of(plan):
        held = class_counts(fit["validation_data"][1])
        for label, count in total.items():
            assert abs(held[label] - count / 3) <= 1, (form, label, held)
        assert fit["validation_data"][1].shape[1:] == y.shape[1:]  # the labels' own form


def test_binary_labels_in_a_column_are_stratified() -> None:
    y = np.array([0] * 40 + [1] * 8)[:, None]
    plan, data = plan_for(y, folds=4)
    assert data.task.kind is TaskKind.BINARY
    for fit in folds_of(plan):
        assert class_counts(fit["validation_data"][1])[1] == 2


def test_regression_folds_are_shuffled_not_cut_in_blocks() -> None:
    plan, data = plan_for(np.linspace(0.0, 1.0, 40), folds=4)
    assert data.task.kind is TaskKind.REGRESSION
    held = [ids(fit["validation_data"][0]) for fit in folds_of(plan)]
    blocks = [list(range(start, start + 10)) for start in range(0, 40, 10)]
    assert all(sorted(fold) not in blocks for fold in held)


@pytest.mark.parametrize("y", [np.arange(40) % 2, np.linspace(0.0, 1.0, 40)])
def test_the_seed_decides_the_folds(y: np.ndarray) -> None:
    def validated(seed: int) -> list[list[int]]:
        plan, _ = plan_for(y, folds=4, seed=seed)
        return [ids(fit["validation_data"][0]) for fit in folds_of(plan)]

    assert validated(3) == validated(3)
    assert validated(3) != validated(4)


# -- too few examples ------------------------------------------------------------------------------
@pytest.mark.parametrize(("y", "folds", "pool"), [
    (np.array([0, 1] * 4), 5, 8),  # 4 examples of each class, 5 folds
    (np.linspace(0.0, 1.0, 20), 30, 20),  # fewer examples than folds
])
def test_too_few_examples_for_the_folds_is_a_one_line_spec_error(
        y: np.ndarray, folds: int, pool: int) -> None:
    x = np.arange(len(y), dtype=np.float32)[:, None]
    spec = spec_for((x, y), folds=folds)
    data = load_dataset(spec.data, task=spec.task, seed=spec.seed)
    with pytest.raises(SpecError) as info:
        ExecutionPlan.of(spec, data)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"tiny.yaml: validation.folds: cannot split {pool} training "
                              f"and validation examples into {folds} folds: ")
    assert len(data.x_train) + len(data.x_val) == pool
    assert info.value.key_path == "validation.folds"
