"""The final fit (``final.retrain``): real tiny sweeps whose registered model is the retrained one."""

from __future__ import annotations

import io
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from sweeps.errors import SpecError
from sweeps.runner import SweepResult, run_sweep
from sweeps.spec import load_spec, parse_spec
from sweeps.state import spec_hash
from tests.integration.test_own_model import SELF_COMPILED, write_module
from tracking import tags as T

# final.baselines off: the champion checked below is the retrained model's by the registry's
# rules, not by how a tiny sweep compares with the builder's defaults (test_baselines).
TINY = ["data.subset=600", "search_space.units={min: 16, max: 32, step: 16}",
        "training.batch_size=64", "final.retrain=true", "final.baselines=false"]


def sweep(*settings: str) -> tuple[SweepResult, str]:
    out = io.StringIO()
    result = run_sweep(load_spec("mnist_mlp", [*TINY, *settings]), work_dir=Path(".sweeps"),
                       stream=out)
    return result, out.getvalue()


def epochs_to_best(client: MlflowClient, run_id: str) -> int:
    """From what MLflow logged, independently of the engines: the epochs up to the trial's best
    val_accuracy, plus those of the trial whose weights it continued (Hyperband)."""
    run = client.get_run(run_id)
    history = sorted(client.get_metric_history(run_id, "val_accuracy"), key=lambda m: m.step)
    values = [m.value for m in history]
    own = values.index(max(values)) + 1
    parent = run.data.tags.get(T.CONTINUES_RUN_ID)
    return own + (epochs_to_best(client, parent) if parent else 0)


def check_retrained(result: SweepResult, output: str, tracking_uri: str) -> MlflowClient:
    """The final model is the retrained one, everywhere it shows."""
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.sweep_run_id)
    metrics, tags = run.data.metrics, run.data.tags
    fit = result.final_fit
    assert tags[T.FINAL_MODEL] == T.FINAL_RETRAINED
    assert fit.examples == 600 == metrics[T.FINAL_FIT_EXAMPLES]  # 540 train + 60 validation
    assert fit.epochs == metrics[T.FINAL_FIT_EPOCHS] == epochs_to_best(
        client, tags[T.BEST_RUN_ID])
    assert metrics[T.FINAL_FIT_TIME] > 0
    # Both models tested: the final fit's as test_*, the best trial's as best_trial_test_*.
    for name in ("test_accuracy", "test_loss"):
        assert metrics[name] == pytest.approx(result.test_metrics[name])
        assert metrics[f"best_trial_{name}"] == pytest.approx(
            result.best_trial_test_metrics[name])
    assert (f"final fit: the best hyperparameters retrained from scratch on 600 "
            f"train+validation examples for {fit.epochs} epoch") in output
    accuracy = (f"  test_accuracy  {result.test_metrics['test_accuracy']:>11.4f}  "
                f"{result.best_trial_test_metrics['test_accuracy']:>10.4f}")
    assert accuracy in output

    # The registered champion is the retrained model, not the best trial's.
    version = client.get_model_version_by_alias("mnist_mlp", T.CHAMPION)
    assert float(version.tags[T.TEST_VALUE]) == result.test_metrics["test_accuracy"]
    x = _test_images()
    registered = mlflow.pyfunc.load_model(f"models:/mnist_mlp/{version.version}").predict(x)
    assert np.allclose(registered, result.model.predict(x, verbose=0), atol=1e-5)
    assert not np.allclose(registered, result.best_trial_model.predict(x, verbose=0), atol=1e-3)
    return client


def _test_images() -> np.ndarray:
    from sweeps.data import load_dataset

    return load_dataset(load_spec("mnist_mlp").data).x_test[:20]


def test_hyperband_retrains_for_the_epochs_of_its_chain_of_rounds(tracking_uri: str) -> None:
    # Round 0 of the first bracket (3 trials, 1 epoch), then its best continued to epoch 3.
    settings = ("tuner.kind=hyperband", "training.max_epochs=3", "tuner.max_trials=4")
    result, output = sweep(*settings)
    client = check_retrained(result, output, tracking_uri)

    # Every trial, continued or not, agrees with the epochs MLflow logged along its chain
    # (the best trial need not be a continued one: each is checked through the engine).
    from sweeps.engines.keras_tuner import KerasTunerEngine
    from sweeps.events import Broadcast
    from sweeps.planning.plan import prepare

    spec = load_spec("mnist_mlp", [*TINY, *settings])
    _, builder, declared, _ = prepare(spec)
    engine = KerasTunerEngine(spec, builder, declared, Broadcast([]),
                              Path(".sweeps") / spec.name / spec_hash(spec), resume=True)
    trials = client.search_runs([result.experiment_id], "tags.`sweeps.kind` = 'trial'")
    assert any(t.data.tags.get(T.CONTINUES_RUN_ID) for t in trials)  # Hyperband continued some
    for trial in trials:
        assert engine.epochs_to_best(trial.data.tags[T.TRIAL_ID]) == epochs_to_best(
            client, trial.info.run_id)


def test_optuna_retrains_for_the_best_trials_epochs(tracking_uri: str) -> None:
    result, output = sweep("tuner.kind=optuna", "tuner.max_trials=2", "training.max_epochs=2",
                           "tuner.optuna.pruner=none")
    check_retrained(result, output, tracking_uri)


def test_without_retrain_the_best_trials_model_is_the_final_model(store: Path) -> None:
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("mnist_mlp").experiment_id],
                             "tags.`sweeps.kind` = 'sweep'")[0]
    assert run.data.tags[T.FINAL_MODEL] == T.FINAL_BEST_TRIAL
    assert "test_accuracy" in run.data.metrics
    assert not [k for k in run.data.metrics if k.startswith(("final_fit", "best_trial_"))]


def test_final_retrain_defaults_to_auto_and_is_not_part_of_the_sweeps_identity() -> None:
    # auto: on for small data (where validation is a large share of it) or several fits per
    # trial, off for MNIST's 54,000 training images, so the flagship is unchanged.
    minimal = "data: {name: mnist}\nhypermodel: mlp\n"
    auto = parse_spec(minimal, "m.yaml").final
    assert auto.retrain is None
    assert not auto.retrains(54_000) and auto.retrains(10_000) and auto.retrains(54_000, 5)
    on = parse_spec(minimal + "final: {retrain: true}\n", "m.yaml")
    assert on.final.retrains(54_000)
    assert on.to_dict()["final"] == {"retrain": True, "baselines": True, "max_epochs": None}
    assert parse_spec(minimal, "m.yaml").to_dict()["final"]["retrain"] == "auto"
    off = parse_spec(minimal + "final: {retrain: false}\n", "m.yaml")
    assert not off.final.retrains(100, 5)
    assert spec_hash(on) == spec_hash(parse_spec(minimal, "m.yaml"))  # the trials are the same


@pytest.mark.parametrize(("text", "expected"), [
    ("final: {retrian: true}", 'm.yaml: final.retrian: unknown key (did you mean "retrain"?); '
                               "known keys here: baselines, max_epochs, retrain"),
    ("final: {retrain: 3}", "m.yaml: final.retrain: expected auto, true or false, got 3"),
    ("final: true", "m.yaml: final: expected a mapping, got true"),
    ("final: {retrain: false, max_epochs: 50}", "m.yaml: final.max_epochs: finds the epochs of "
     "a final fit, but final.retrain is false; set retrain: true (or auto), or drop max_epochs"),
    ("final: {max_epochs: 0}", "m.yaml: final.max_epochs: expected an integer >= 1 or null, got 0"),
])
def test_a_bad_final_section_is_one_line(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(f"data: {{name: mnist}}\nhypermodel: mlp\n{text}\n", "m.yaml")
    assert str(raised.value) == expected


def test_a_builders_own_compile_and_fit_make_the_final_model(workdir: Path,
                                                             tracking_uri: str) -> None:
    import sweeps

    write_module(workdir, "kt_builder", SELF_COMPILED)  # keras-tuner HyperModel, own compile+fit
    spec = {"name": "digits_kt", "data": {"name": "digits", "test_split": 0.2},
            "hypermodel": {"name": "kt_builder:Builder"}, "objective": {"metric": "val_accuracy"},
            "tuner": {"kind": "random", "max_trials": 2}, "training": {"max_epochs": 3},
            "final": {"retrain": True}}
    result = sweeps.run(spec, stream=io.StringIO())
    client = MlflowClient(tracking_uri)
    best_run = client.get_run(result.sweep_run_id).data.tags[T.BEST_RUN_ID]
    assert result.final_fit.epochs == epochs_to_best(client, best_run)
    assert result.final_fit.examples == 1797 - 359  # digits less the test slice
    optimizer = result.model.optimizer  # the builder's own compile step, with the best lr
    assert type(optimizer).__name__ == "SGD"
    assert float(optimizer.learning_rate) == pytest.approx(result.best_hyperparameters["lr"])
    assert set(result.test_metrics) == {"test_accuracy", "test_loss"} == {
        k.removeprefix("best_trial_") for k in client.get_run(result.sweep_run_id).data.metrics
        if k.startswith("best_trial_")}


def test_final_max_epochs_finds_the_epoch_count_on_validation_first(tracking_uri: str) -> None:
    # The Keras Tuner tutorial's last step: the best hyperparameters trained longer than the
    # trials were (with validation and EarlyStopping), then retrained on all for their best.
    result, output = sweep("tuner.kind=random", "tuner.max_trials=2", "training.max_epochs=2",
                           "final.max_epochs=5", "training.early_stopping.patience=1")
    fit = result.final_fit
    assert fit is not None and fit.model is not None and fit.searched_epochs == 5
    assert 1 <= fit.epochs <= 5
    assert (f"for {fit.epochs} epoch{'s' if fit.epochs != 1 else ''}, the best of up to 5 on "
            "validation") in output
    run = MlflowClient(tracking_uri).get_run(result.sweep_run_id)
    assert run.data.metrics[T.FINAL_FIT_EPOCHS] == fit.epochs
    assert run.data.tags[T.FINAL_MODEL] == T.FINAL_RETRAINED
