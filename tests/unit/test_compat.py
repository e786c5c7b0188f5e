"""The library boundaries: every private keras-tuner and Optuna API sweeps relies on still
exists (each test names the one that moved), and no module outside the compat modules
reaches into a library's privates."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from sweeps.engines import _keras_tuner_compat as kt_compat
from sweeps.engines import _optuna_compat as optuna_compat
from sweeps.training import _tensorflow_compat as tf_compat

REPO = Path(__file__).resolve().parents[2]
COMPAT = {"sweeps/engines/_keras_tuner_compat.py", "sweeps/engines/_optuna_compat.py",
          "sweeps/training/_tensorflow_compat.py"}


@pytest.mark.parametrize(("owner", "name"), kt_compat.PRIVATE_NAMES,
                         ids=[f"{getattr(o, '__name__', o)}.{n}" for o, n in kt_compat.PRIVATE_NAMES])
def test_keras_tuner_still_has(owner: object, name: str) -> None:
    assert hasattr(owner, name), f"keras-tuner no longer has {owner}.{name}: update {kt_compat.__name__}"


def test_the_debug_switch_round_trips() -> None:
    before = kt_compat.get_debug()
    try:
        kt_compat.set_debug(not before)
        assert kt_compat.get_debug() is (not before)
    finally:
        kt_compat.set_debug(before)


@pytest.mark.parametrize(("owner", "name"), optuna_compat.PRIVATE_NAMES,
                         ids=[f"{o}.{n}" for o, n in optuna_compat.PRIVATE_NAMES])
def test_optuna_still_has(owner: str, name: str) -> None:
    study = optuna.create_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    instance = {"Study": study, "FrozenTrial": study.trials[0]}[owner]
    assert hasattr(instance, name), f"Optuna's {owner} no longer has {name}: update {optuna_compat.__name__}"


def test_a_stale_trial_is_run_again_by_optunas_own_callback(tmp_path: Path) -> None:
    # The RDB storage takes the callback under its current name, without a deprecation.
    with _no_future_warning():
        optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'o.db'}", heartbeat_interval=1,
                                   grace_period=2, **optuna_compat.heartbeat_retry())
    study = optuna.create_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    dead = study.trials[0]
    optuna_compat.heartbeat_retry()["heartbeat_stale_trial_callback"](study, dead)
    retry = study.trials[1]
    assert retry.state is optuna.trial.TrialState.WAITING and retry.params == dead.params
    assert optuna_compat.retried_trial_number(retry) == dead.number
    assert optuna_compat.retried_trial_number(dead) is None


def test_another_process_s_running_trial_is_failed_with_its_attribute() -> None:
    study = optuna.create_study()
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    running = study.trials[trial.number]
    optuna_compat.fail_with_attr(study, running, "interrupted", True)
    after = study.trials[trial.number]
    assert after.state is optuna.trial.TrialState.FAIL
    assert after.user_attrs == {"interrupted": True}


@pytest.mark.parametrize(("module", "path"), tf_compat.PRIVATE_NAMES)
def test_tensorflow_still_has(module: str, path: str) -> None:
    import importlib

    owner: object = importlib.import_module(module)
    for name in path.split("."):
        assert hasattr(owner, name), f"TensorFlow's {module} no longer has {path}: update {tf_compat.__name__}"
        owner = getattr(owner, name)
    assert isinstance(owner, dict)


@contextlib.contextmanager
def _no_future_warning() -> Iterator[None]:
    """Optuna's deprecations are FutureWarnings: one here is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        yield


_PRIVATE_REACH = re.compile(
    r"keras_tuner\.src|noqa: SLF001|\._storage\b|\._trial_id\b|_gradient_registry")


def test_private_apis_are_reached_only_from_the_compat_modules() -> None:
    found = []
    for path in sorted(REPO.glob("*/**/*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.split("/")[0] not in ("sweeps", "tracking", "hypermodels") or relative in COMPAT:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _PRIVATE_REACH.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, "private library APIs outside the compat modules:\n" + "\n".join(found)
