"""A sweep's state on disk (sweeps.state): atomic writes, its identity, and what a second
start, ``--resume`` and ``--overwrite`` find there. Specs are loaded, never run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweeps.errors import SweepsError
from sweeps.spec import SweepSpec, load_spec
from sweeps.state import (
    STATE_FILE,
    budget,
    identity,
    prepare_state,
    spec_changes,
    spec_hash,
    sweep_id,
    write_atomic,
)


def spec(*overrides: str) -> SweepSpec:
    return load_spec("mnist_mlp", ["tuner.kind=random", "tuner.max_trials=2", *overrides])


# -- atomic writes --------------------------------------------------------------------------------
def test_write_atomic_writes_and_replaces_leaving_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    write_atomic(path, '{"a": 1}')
    write_atomic(path, '{"a": 2, "text": "ünïcode"}')
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 2, "text": "ünïcode"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.json"]


def test_a_write_that_fails_midway_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    write_atomic(path, '{"version": 1}')
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, '{"version": 2, "bad": "' + "x" * 10_000 + '\udcff"}')
    assert json.loads(path.read_text(encoding="utf-8")) == {"version": 1}
    write_atomic(path, '{"version": 3}')  # a leftover temporary file is no obstacle
    assert json.loads(path.read_text(encoding="utf-8")) == {"version": 3}


# -- identity -------------------------------------------------------------------------------------
@pytest.mark.parametrize("change", [
    "description=another", "tracking.experiment=elsewhere", "data.dir=/elsewhere",
    "final.retrain=true", "tuner.max_trials=50", "tuner.random.max_trials=9",
    "tuner.hyperband.iterations=3", "tuner.optuna.storage=sqlite:///other.db",
])
def test_what_does_not_change_the_trials_keeps_the_identity(change: str) -> None:
    assert spec_hash(spec(change)) == spec_hash(spec())


@pytest.mark.parametrize("change", [
    "training.max_epochs=3", "seed=7", "tuner.kind=bayesian", "data.subset=600",
    "search_space.units={min: 16, max: 32, step: 16}", "validation.folds=3",
    "training.executions_per_trial=2",
])
def test_what_changes_the_trials_changes_the_identity(change: str) -> None:
    assert spec_hash(spec(change)) != spec_hash(spec())


def test_keys_added_later_are_left_out_at_their_old_value() -> None:
    assert "validation" not in identity(spec())
    assert "executions_per_trial" not in identity(spec())["training"]
    assert identity(spec("validation.folds=3"))["validation"] == {"folds": 3}


def test_the_budget_is_kept_apart_from_the_identity_but_is_in_the_workers_study_name() -> None:
    small, large = spec(), spec("tuner.max_trials=5")
    assert budget(small)["tuner"]["random"] == {"max_trials": 2}
    assert budget(large)["tuner"]["random"] == {"max_trials": 5}
    assert "max_trials" not in identity(small)["tuner"]["random"]
    assert spec_hash(small) == spec_hash(large)
    assert sweep_id(small) != sweep_id(large)
    assert sweep_id(small).startswith("mnist_mlp-") and sweep_id(small) == sweep_id(spec())


def test_spec_changes_lists_each_leaf_that_differs() -> None:
    old = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": True}
    new = {"a": 1, "b": {"c": [1, 3], "d": "x", "e": None}, "added": 0.5}
    assert spec_changes(old, new) == [
        "added: null -> 0.5", "b.c: [1, 2] -> [1, 3]", "gone: true -> null"]
    assert spec_changes(old, old) == []


# -- start, resume, overwrite ---------------------------------------------------------------------
@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The sweeps' work folder (``--work-dir``), apart from the working directory."""
    return tmp_path / ".sweeps"


def test_a_new_sweep_writes_its_state_under_its_hash(work: Path) -> None:
    state, replaced = prepare_state(spec(), work, resume=False, overwrite=False)
    assert replaced is None and not state.resumed
    assert state.directory == work / "mnist_mlp" / spec_hash(spec())
    saved = json.loads((state.directory / STATE_FILE).read_text())
    assert saved["spec_hash"] == spec_hash(spec()) and saved["spec"] == identity(spec())
    assert saved["budget"] == budget(spec()) and saved["sweep_run_id"] is None
    assert state.study_name == f"mnist_mlp-{spec_hash(spec())}"


def test_starting_the_same_sweep_again_is_refused(work: Path) -> None:
    first, _ = prepare_state(spec(), work, resume=False, overwrite=False)
    first.record_run("run123", "sqlite:///mlflow.db")
    with pytest.raises(SweepsError, match=r"already has state .* MLflow run run123\); add "
                                          r"--resume to continue it, or --overwrite"):
        prepare_state(spec(), work, resume=False, overwrite=False)


def test_resume_reads_the_state_back_and_records_budget_changes(work: Path) -> None:
    first, _ = prepare_state(spec(), work, resume=False, overwrite=False)
    first.record_run("run123", "sqlite:///mlflow.db")
    again, _ = prepare_state(spec(), work, resume=True, overwrite=False)
    assert again.resumed and again.directory == first.directory
    assert (again.sweep_run_id, again.tracking_uri) == ("run123", "sqlite:///mlflow.db")
    assert again.created == first.created and again.budget_changes == []

    extended, _ = prepare_state(spec("tuner.max_trials=5"), work, resume=True, overwrite=False)
    assert extended.directory == first.directory
    assert extended.budget_changes == ["tuner.random.max_trials: 2 -> 5"]
    extended.save()
    later, _ = prepare_state(spec("tuner.max_trials=5"), work, resume=True, overwrite=False)
    assert later.budget_changes == []  # measured from the budget it last ran with


def test_resume_of_another_spec_says_how_the_stored_ones_differ(work: Path) -> None:
    with pytest.raises(SweepsError, match="nothing to resume: no state for sweep 'mnist_mlp'"):
        prepare_state(spec(), work, resume=True, overwrite=False)
    prepare_state(spec(), work, resume=False, overwrite=False)
    with pytest.raises(SweepsError) as info:
        prepare_state(spec("training.max_epochs=3"), work, resume=True, overwrite=False)
    message = str(info.value)
    assert "no stored sweep of that name has this spec" in message and "\n" not in message
    assert f"training.max_epochs: {spec().training.max_epochs} -> 3" in message


def test_two_specs_of_one_name_keep_apart_and_overwrite_discards_only_its_own(
        work: Path) -> None:
    short, _ = prepare_state(spec("training.max_epochs=3"), work, resume=False,
                             overwrite=False)
    long, _ = prepare_state(spec(), work, resume=False, overwrite=False)
    (long.directory / "engine_file").write_text("keras-tuner's")
    assert short.directory != long.directory
    fresh, replaced = prepare_state(spec(), work, resume=False, overwrite=True)
    assert replaced is not None and replaced.directory == long.directory
    assert fresh.directory == long.directory and not (fresh.directory / "engine_file").exists()
    assert (short.directory / STATE_FILE).exists()


def test_unreadable_state_is_reported_and_overwrite_starts_over(work: Path) -> None:
    state, _ = prepare_state(spec(), work, resume=False, overwrite=False)
    (state.directory / STATE_FILE).write_text('{"name": "mnist_mlp", "spec_ha')  # cut short
    with pytest.raises(SweepsError, match=r"sweep.json is unreadable .*run with --overwrite"):
        prepare_state(spec(), work, resume=True, overwrite=False)
    fresh, _ = prepare_state(spec(), work, resume=False, overwrite=True)
    assert json.loads((fresh.directory / STATE_FILE).read_text())["spec_hash"] == spec_hash(spec())


def test_a_state_folder_in_the_working_directory_does_not_hide_the_bundled_spec(
        tmp_path: Path) -> None:
    prepare_state(spec(), Path("."), resume=False, overwrite=False)  # --work-dir .
    assert (tmp_path / "mnist_mlp").is_dir()
    assert spec_hash(spec()) == spec_hash(load_spec("mnist_mlp", ["tuner.kind=random",
                                                                  "tuner.max_trials=2"]))
