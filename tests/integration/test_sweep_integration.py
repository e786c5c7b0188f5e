"""Real sweeps on a slice of real MNIST, for each keras-tuner engine, checked in MLflow."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import keras
import mlflow.keras
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from sweeps.data import load_dataset
from sweeps.errors import SpecError
from sweeps.runner import SweepResult, run_sweep
from sweeps.spec import load_spec
from tracking.tags import KIND as KIND_TAG
from tracking.tags import PARENT as PARENT_TAG

SMALL = [
    "data.subset=600",  # 540 train, 60 validation
    "search_space.units={min: 16, max: 64, step: 16}",
    "training.batch_size=64",
]
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


def sweep(tuner: str, *extra: str, work_dir: str = ".sweeps") -> tuple[SweepResult, str]:
    spec = load_spec("mnist_mlp", [*SMALL, f"tuner.kind={tuner}", *extra])
    out = io.StringIO()
    result = run_sweep(spec, work_dir=Path(work_dir), stream=out)
    return result, out.getvalue()


def check_layout(result: SweepResult, tuner: str, *, statuses=("COMPLETED",)) -> dict[str, object]:
    """Assert the MLflow layout every engine must produce; return the trial runs by number."""
    client = MlflowClient(result.tracking_uri)
    runs = client.search_runs([result.experiment_id])
    parents = [r for r in runs if r.data.tags[KIND_TAG] == "sweep"]
    trials = [r for r in runs if r.data.tags[KIND_TAG] == "trial"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.run_id == result.sweep_run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweeps.tuner"] == tuner
    assert parent.data.tags["sweeps.engine"] == ("optuna" if tuner == "optuna" else "keras_tuner")
    assert parent.data.tags["sweeps.dataset"] == "mnist"
    assert parent.data.tags["sweeps.objective"] == "val_accuracy (max)"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"spec.yaml", "report"}
    # The final model is an MLflow Model of its own, an output of the sweep run.
    (output,) = client.get_run(parent.info.run_id).outputs.model_outputs
    assert f"models:/{output.model_id}" == result.model_uri
    model = client.get_logged_model(output.model_id)
    assert model.source_run_id == parent.info.run_id and model.status == "READY"
    assert {"MLmodel", "requirements.txt", "input_example.json"} <= {
        a.path for a in client.list_logged_model_artifacts(output.model_id)}
    assert 0.3 < parent.data.metrics["test_accuracy"] <= 1.0
    assert parent.data.metrics["test_loss"] > 0

    assert len(trials) == len(result.trials) >= 2
    assert sorted(int(r.data.tags["sweeps.trial_number"]) for r in trials) == list(
        range(1, len(trials) + 1))
    for run in trials:
        assert run.data.tags[PARENT_TAG] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.tags["sweeps.trial_status"] in statuses
        depth = int(run.data.params["depth"])
        expected = {"depth", "dropout", "learning_rate"} | {f"units_{i}" for i in range(depth)}
        assert set(run.data.params) == expected  # inactive layers stay out of the params
        epochs = int(run.data.metrics["epochs_run"])
        first = int(run.data.tags["sweeps.initial_epoch"])
        for key in EPOCH_METRICS:
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert steps == list(range(first, first + epochs)), (key, steps)
        val = [m.value for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert run.data.metrics["best_val_accuracy"] == pytest.approx(max(val))
        assert run.data.metrics["param_count"] > 0
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
            "learning_curves.png", "model_summary.txt"}
    best = max((r for r in trials if r.data.tags["sweeps.trial_status"] == "COMPLETED"),
               key=lambda r: r.data.metrics["best_val_accuracy"])
    assert parent.data.tags["sweeps.best_run_id"] == best.info.run_id
    return {int(r.data.tags["sweeps.trial_number"]): r for r in trials}


def test_hyperband_sweep_logs_brackets_and_continuations() -> None:
    # max_epochs 3, factor 3: bracket 1 runs 3 trials for 1 epoch, then continues the best
    # to epoch 3; the cap of 4 trials stops the plan there.
    result, output = sweep("hyperband", "training.max_epochs=3", "tuner.max_trials=4")
    trials = check_layout(result, "hyperband")
    assert len(trials) == 4
    assert {t.data.tags["hyperband.bracket"] for t in trials.values()} == {"1"}
    continued = trials[4]
    assert continued.data.tags["hyperband.round"] == "1"
    source = continued.data.tags["hyperband.continues_trial"]
    assert source in {"1", "2", "3"}
    assert continued.data.tags["sweeps.continues_run_id"] == trials[int(source)].info.run_id
    assert continued.data.tags["sweeps.initial_epoch"] == "1"
    assert continued.data.params == trials[int(source)].data.params
    # The continued trial resumes its parent's learning-rate schedule rather than restarting
    # it: lr after n epochs in all is lr0 / (1 + decay_rate * n) (decay per epoch).
    client = MlflowClient(result.tracking_uri)
    lr0 = float(continued.data.params["learning_rate"])
    decay = load_spec("mnist_mlp").training.lr_schedule.decay_rate

    def rates(run):
        return [m.value for m in sorted(client.get_metric_history(run.info.run_id,
                                                                   "learning_rate"),
                                        key=lambda m: m.step)]

    parent_rates, child_rates = rates(trials[int(source)]), rates(continued)
    assert parent_rates[-1] == pytest.approx(lr0 / (1 + decay * 1), rel=1e-5)
    assert child_rates == pytest.approx([lr0 / (1 + decay * n) for n in (2, 3)][:len(child_rates)],
                                        rel=1e-5)
    assert "trial 4/4 [bracket 1 round 1]" in output
    assert "top 4 of 4 completed trials" in output


def test_random_search_sweep() -> None:
    result, output = sweep("random", "training.max_epochs=2", "tuner.max_trials=3")
    check_layout(result, "random")
    assert len(result.trials) == 3
    assert "test_accuracy:" in output


def test_bayesian_sweep_and_the_logged_model_reproduces_the_test_metric(mnist_dir) -> None:
    result, _ = sweep("bayesian", "training.max_epochs=2", "tuner.max_trials=2",
                      "tuner.bayesian.num_initial_points=1")
    check_layout(result, "bayesian")
    client = MlflowClient(result.tracking_uri)
    model = mlflow.keras.load_model(result.model_uri)
    assert isinstance(model, keras.Model)
    data = load_dataset(load_spec("mnist_mlp").data)
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    logged = client.get_run(result.sweep_run_id).data.metrics["test_accuracy"]
    assert accuracy == pytest.approx(logged, abs=1e-6)


def test_same_seed_same_trials() -> None:
    first, _ = sweep("random", "training.max_epochs=1", "tuner.max_trials=2", "seed=7",
                     "tracking.experiment=a", work_dir="first")
    second, _ = sweep("random", "training.max_epochs=1", "tuner.max_trials=2", "seed=7",
                      "tracking.experiment=b", work_dir="second")
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    assert np.allclose([t.objective for t in first.trials], [t.objective for t in second.trials])


def test_optuna_sweep_has_the_same_layout_with_pruned_trials_marked() -> None:
    # Median pruning after 2 startup trials over 6 epochs: later weak trials get pruned.
    result, output = sweep("optuna", "training.max_epochs=6", "tuner.max_trials=6",
                           "tuner.optuna.pruner=median", "training.early_stopping.patience=10",
                           "search_space.learning_rate={min: 1.0e-5, max: 3.0e-3}")
    trials = check_layout(result, "optuna", statuses=("COMPLETED", "PRUNED"))
    assert len(trials) == 6
    pruned = [t for t in trials.values() if t.data.tags["sweeps.trial_status"] == "PRUNED"]
    for run in pruned:
        assert run.info.run_name.endswith("(pruned)")
        assert 1 <= run.data.metrics["epochs_run"] < 6
    assert ("| pruned (val_accuracy=" in output) == bool(pruned)
    study_trials = {t.number: t for t in __import__("optuna").load_study(
        study_name=f"mnist_mlp-{_state_hash()}", storage="sqlite:///optuna.db").trials}
    for number, run in trials.items():
        assert study_trials[number - 1].state.name == (
            "PRUNED" if run.data.tags["sweeps.trial_status"] == "PRUNED" else "COMPLETE")


def _state_hash() -> str:
    import json

    (state,) = Path(".sweeps/mnist_mlp").glob("*/sweep.json")  # .sweeps/<name>/<hash>/
    return json.loads(state.read_text())["spec_hash"]


def test_optuna_multi_objective_tags_the_pareto_front() -> None:
    result, output = sweep("optuna", "training.max_epochs=1", "tuner.max_trials=4",
                           "objective=[{metric: val_accuracy}, {metric: params}]",
                           "tuner.optuna.storage=journal:///" + str(Path("study.log").resolve()))
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.sweep_run_id)
    runs = client.search_runs([result.experiment_id], "tags.`sweeps.kind` = 'trial'")
    pareto = {r.data.tags["sweeps.trial_number"] for r in runs if r.data.tags.get("sweeps.pareto")}
    assert pareto and parent.data.tags["sweeps.pareto_trials"] == ",".join(sorted(pareto, key=int))
    points = [(r.data.metrics["best_val_accuracy"], r.data.metrics["best_params"]) for r in runs]
    for run in runs:
        acc, size = run.data.metrics["best_val_accuracy"], run.data.metrics["best_params"]
        dominated = any(a >= acc and p <= size and (a, p) != (acc, size) for a, p in points)
        assert dominated == (run.data.tags["sweeps.trial_number"] not in pareto)
    assert "Pareto-optimal trials (val_accuracy, params):" in output
    assert Path("study.log").stat().st_size > 0  # the journal storage was used


def test_nan_loss_fails_the_trial_and_the_sweep_goes_on() -> None:
    result, _ = sweep("random", "training.max_epochs=2", "tuner.max_trials=4", "seed=3",
                      "search_space.learning_rate={type: choice, values: [1.0e-3, 1.0e+20]}")
    client = MlflowClient(result.tracking_uri)
    runs = client.search_runs([result.experiment_id], "tags.`sweeps.kind` = 'trial'")
    failed = [r for r in runs if r.info.status == "FAILED"]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert failed and finished, "seed 3 draws both learning rates"
    for run in failed:
        assert run.data.params["learning_rate"] == "1e+20"
        assert "the training loss became nan" in run.data.tags["sweeps.error"]
        assert run.data.tags["sweeps.trial_status"] == "FAILED"
    assert all(r.data.params["learning_rate"] == "0.001" for r in finished)
    assert result.best is not None and result.best.params["learning_rate"] == 0.001


@pytest.mark.parametrize("sampler", ["random", "cmaes", "nsga2", "gp"])
def test_every_optuna_sampler_runs_the_same_space(sampler: str) -> None:
    if sampler == "gp" and importlib.util.find_spec("torch") is None:
        with pytest.raises(SpecError, match=r"tuner\.optuna\.sampler: .*gp needs PyTorch .*sweeps\[gp\]"):
            load_spec("mnist_mlp", ["tuner.kind=optuna", "tuner.optuna.sampler=gp"])
        return
    result, _ = sweep("optuna", f"tuner.optuna.sampler={sampler}", "training.max_epochs=1",
                      "tuner.max_trials=3", "tuner.optuna.pruner=none")
    assert [t.status.value for t in result.trials] == ["COMPLETED"] * 3
    assert all(0 <= t.params["dropout"] <= 0.5 for t in result.trials)
