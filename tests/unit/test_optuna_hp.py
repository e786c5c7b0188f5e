"""OptunaHyperParameters: a KerasTuner ``build(hp)`` answered by real Optuna trials."""

from __future__ import annotations

import dataclasses
from typing import Any

import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam
from sweeps.engines.optuna_hp import OptunaHyperParameters

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(seed: int = 0) -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


def _hp(overrides: dict[str, Any] | None = None, seed: int = 0) -> OptunaHyperParameters:
    return OptunaHyperParameters(_study(seed).ask(), overrides)


def test_each_declaration_lands_in_the_trial_with_its_distribution() -> None:
    hp = _hp()
    units = hp.Int("units", 8, 64, step=8)
    layers = hp.Int("layers", 1, 4)
    batch = hp.Int("batch", 16, 256, sampling="log")
    dropout = hp.Float("dropout", 0.0, 0.5)
    momentum = hp.Float("momentum", 0.1, 0.9, step=0.1)
    lr = hp.Float("lr", 1e-4, 1e-1, sampling="log")
    beta = hp.Float("beta", 0.9, 0.999, sampling="reverse_log")
    act = hp.Choice("act", ["relu", "tanh"])
    bn = hp.Boolean("bn")
    epochs = hp.Fixed("epochs", 3)

    trial = hp.trial
    dist = trial.distributions
    assert dist["units"] == IntDistribution(8, 64, step=8, log=False)
    assert dist["layers"] == IntDistribution(1, 4, step=1, log=False)
    assert dist["batch"] == IntDistribution(16, 256, step=1, log=True)
    assert dist["dropout"] == FloatDistribution(0.0, 0.5, step=None, log=False)
    assert dist["momentum"] == FloatDistribution(0.1, 0.9, step=0.1, log=False)
    assert dist["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dist["beta"] == FloatDistribution(0.9, 0.999, log=True)  # reverse_log -> log
    assert dist["act"] == CategoricalDistribution(["relu", "tanh"])
    assert dist["bn"] == CategoricalDistribution([False, True])
    assert "epochs" not in dist and "epochs" not in trial.params

    assert units % 8 == 0 and 8 <= units <= 64
    assert 1 <= layers <= 4 and 16 <= batch <= 256
    assert 0.0 <= dropout <= 0.5 and 1e-4 <= lr <= 1e-1 and 0.9 <= beta <= 0.999
    assert momentum == pytest.approx(round(momentum, 1))
    assert act in ("relu", "tanh") and isinstance(bn, bool) and epochs == 3
    expected = {"units": units, "layers": layers, "batch": batch, "dropout": dropout,
                "momentum": momentum, "lr": lr, "beta": beta, "act": act, "bn": bn,
                "epochs": 3}  # fmt: skip
    assert hp.values == expected
    assert list(hp.values) == list(expected)  # declaration order
    assert trial.params == {k: v for k, v in expected.items() if k != "epochs"}


@pytest.mark.parametrize(
    "declare",
    [
        lambda hp: hp.Int("batch", 2, 32, step=2, sampling="log"),
        lambda hp: hp.Float("lr", 1e-3, 10.0, step=10.0, sampling="log"),
    ],
)
def test_log_sampling_with_a_multiplicative_step_is_refused(declare: Any) -> None:
    hp = _hp()
    with pytest.raises(ValueError, match="multiplicative"):
        declare(hp)
    assert hp.trial.params == {} and hp.values == {}


def test_keras_tuner_argument_checks() -> None:
    hp = _hp()
    with pytest.raises(ValueError, match="sampling"):
        hp.Int("a", 1, 4, sampling="cubic")
    with pytest.raises(ValueError, match="min_value"):
        hp.Float("b", 1.0, 0.5)
    with pytest.raises(ValueError, match="min_value"):
        hp.Float("c", 0.0, 1.0, sampling="log")
    assert hp.trial.params == {}


def test_int_override_narrows_the_declared_range() -> None:
    study = _study()
    seen = []
    for _ in range(30):
        hp = OptunaHyperParameters(study.ask(), {"units": IntParam(4, 12, step=4)})
        seen.append(hp.Int("units", 1, 1024))
        assert hp.trial.distributions["units"] == IntDistribution(4, 12, step=4)
    assert set(seen) == {4, 8, 12}


def test_int_override_log_flag_is_honoured_when_the_field_exists() -> None:
    if "log" not in {f.name for f in dataclasses.fields(IntParam)}:
        pytest.skip("IntParam has no `log` field yet")
    hp = _hp({"batch": IntParam(16, 256, log=True)})  # type: ignore[call-arg]
    hp.Int("batch", 1, 10_000)
    assert hp.trial.distributions["batch"] == IntDistribution(16, 256, log=True)


def test_float_and_choice_overrides_replace_the_declared_distribution() -> None:
    hp = _hp({"lr": FloatParam(1e-5, 1e-3, log=True), "act": ChoiceParam(("gelu", "selu"))})
    lr = hp.Float("lr", 0.0, 1.0)
    act = hp.Choice("act", ["relu", "tanh"])
    assert hp.trial.distributions["lr"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert hp.trial.distributions["act"] == CategoricalDistribution(["gelu", "selu"])
    assert 1e-5 <= lr <= 1e-3 and act in ("gelu", "selu")


def test_fixed_override_pins_the_value_without_suggesting() -> None:
    hp = _hp({"units": FixedParam(48), "bn": FixedParam(True)})
    assert hp.Int("units", 1, 8) == 48
    assert hp.Boolean("bn") is True
    assert hp.trial.params == {} and hp.trial.distributions == {}
    assert hp.values == {"units": 48, "bn": True}


def test_override_replaces_a_declaration_optuna_could_not_express() -> None:
    hp = _hp({"batch": IntParam(16, 64, step=16)})
    assert hp.Int("batch", 2, 32, step=2, sampling="log") in (16, 32, 48, 64)


def _model_selection(hp: OptunaHyperParameters) -> dict[str, Any]:
    model = hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["mlp"]):
        units = hp.Int("units", 8, 64)
    with hp.conditional_scope("model", "cnn"):
        filters = hp.Int("filters", 4, 16)
        with hp.conditional_scope("filters", list(range(4, 9))):
            kernel = hp.Choice("kernel", [3, 5])
    return {"model": model, "units": units, "filters": filters, "kernel": kernel}


def test_conditional_scope_keeps_inactive_params_out_of_trial_and_values() -> None:
    study = _study()
    models, kernels = set(), set()
    for _ in range(30):
        hp = OptunaHyperParameters(study.ask())
        out = _model_selection(hp)
        params, values = hp.trial.params, hp.values
        models.add(out["model"])
        if out["model"] == "mlp":
            assert out["units"] is not None and out["filters"] is None and out["kernel"] is None
            assert set(params) == set(values) == {"model", "units"}
        else:
            assert out["units"] is None and out["filters"] is not None
            nested_active = out["filters"] <= 8
            kernels.add(nested_active)
            assert (out["kernel"] is not None) == nested_active
            expected = {"model", "filters"} | ({"kernel"} if nested_active else set())
            assert set(params) == set(values) == expected
        assert values == params
        with pytest.raises(ValueError, match="inactive"):
            hp.get("units" if out["model"] == "cnn" else "filters")
    assert models == {"mlp", "cnn"} and kernels == {True, False}


def test_parent_keyword_form_is_a_one_declaration_scope() -> None:
    for fixed_opt in ("adam", "sgd"):
        hp = _hp({"opt": FixedParam(fixed_opt)})
        hp.Choice("opt", ["adam", "sgd"])
        momentum = hp.Float("momentum", 0.0, 0.9, parent_name="opt", parent_values=["sgd"])
        nesterov = hp.Boolean("nesterov", parent_name="opt", parent_values="sgd")
        beta = hp.Fixed("beta", 0.9, parent_name="opt", parent_values=["adam"])
        if fixed_opt == "sgd":
            assert momentum is not None and nesterov is not None and beta is None
            assert set(hp.values) == {"opt", "momentum", "nesterov"}
            assert set(hp.trial.params) == {"momentum", "nesterov"}
        else:
            assert momentum is None and nesterov is None and beta == 0.9
            assert hp.values == {"opt": "adam", "beta": 0.9}
            assert hp.trial.params == {}


def test_undeclared_parent_is_a_value_error_naming_it() -> None:
    hp = _hp()
    with pytest.raises(ValueError, match="optimizer"), hp.conditional_scope("optimizer", ["sgd"]):
        pass
    with pytest.raises(ValueError, match="optimizer"):
        hp.Float("momentum", 0.0, 0.9, parent_name="optimizer", parent_values=["sgd"])
    assert hp.trial.params == {} and hp.values == {}


def test_declaring_a_name_twice_returns_the_first_value() -> None:
    hp = _hp()
    first = hp.Int("units", 1, 1000)
    assert hp.Int("units", 1, 1000) == first
    assert hp.Int("units", 5000, 6000) == first  # a different range is not suggested again
    assert hp.Choice("units", ["a", "b"]) == first
    assert hp.trial.params == {"units": first}
    assert hp.trial.distributions["units"] == IntDistribution(1, 1000)


def test_lookup_follows_keras_tuner() -> None:
    hp = _hp()
    act = hp.Choice("act", ["relu"])
    assert hp.get("act") == hp["act"] == act == "relu"
    assert "act" in hp and "nope" not in hp
    with pytest.raises(KeyError):
        hp.get("nope")
    with pytest.raises(KeyError):
        hp["nope"]


def _build(hp: OptunaHyperParameters) -> dict[str, Any]:
    """A KerasTuner-style builder: only the keras_tuner.HyperParameters API, no Optuna."""
    read: dict[str, Any] = {"layers": hp.Int("layers", 1, 3)}
    for i in range(read["layers"]):
        read[f"units_{i}"] = hp.Int(f"units_{i}", 16, 128, step=16)
    read["dropout"] = hp.Float("dropout", 0.0, 0.5, step=0.1)
    read["lr"] = hp.Float("lr", 1e-4, 1e-2, sampling="log")
    read["optimizer"] = hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        read["momentum"] = hp.Float("momentum", 0.0, 0.99)
    read["batch_norm"] = hp.Boolean("batch_norm")
    read["epochs"] = hp.Fixed("epochs", 2)
    return read


def test_keras_tuner_builder_runs_under_tpe() -> None:
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    reads: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        hp = OptunaHyperParameters(trial, {"layers": IntParam(1, 2)})
        read = _build(hp)
        reads.append(read)
        active = {k: v for k, v in read.items() if v is not None}
        assert hp.values == active
        assert trial.params == {k: v for k, v in active.items() if k != "epochs"}
        return read["dropout"] + read["lr"] + (read["momentum"] or 0.0)

    study.optimize(objective, n_trials=20)

    assert len(study.trials) == 20
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert all(r["layers"] in (1, 2) and r["epochs"] == 2 for r in reads)
    assert all((r["momentum"] is None) == (r["optimizer"] == "adam") for r in reads)
    assert all(("units_1" in r) == (r["layers"] == 2) for r in reads)
    assert {r["optimizer"] for r in reads} == {"adam", "sgd"}
