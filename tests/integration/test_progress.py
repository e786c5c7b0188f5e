"""A sweep's best-so-far curve over wall-clock time, from the shared store's real sweep."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from mlflow.tracking import MlflowClient

from sweeps.metrics import Direction
from tracking import tags as T
from tracking.plots import best_so_far_plot
from tracking.progress import best_so_far, time_to_target


def _mnist_sweep(client: MlflowClient):
    experiment = client.get_experiment_by_name("mnist_mlp")
    (run,) = client.search_runs([experiment.experiment_id],
                                f"tags.`{T.KIND}` = '{T.KIND_SWEEP}'")
    trials = client.search_runs([experiment.experiment_id],
                                f"tags.`{T.PARENT}` = '{run.info.run_id}'")
    return run, trials


def test_best_so_far_follows_the_trials_epochs(store: Path) -> None:
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    run, trials = _mnist_sweep(client)
    curve = best_so_far(client, run.info.run_id, "val_accuracy")

    times, values = zip(*curve)
    duration_s = (run.info.end_time - run.info.start_time) / 1000
    assert times[0] > 0 and list(times) == sorted(times) and times[-1] <= duration_s
    assert all(a < b for a, b in pairwise(values))  # a point only where it improves
    # Its end is the best epoch of any trial, as each trial's own summary metric says.
    assert values[-1] == max(t.data.metrics["best_val_accuracy"] for t in trials)
    first_epochs = [client.get_metric_history(t.info.run_id, "val_accuracy")[0] for t in trials]
    earliest = min(first_epochs, key=lambda m: m.timestamp)
    assert curve[0] == ((earliest.timestamp - run.info.start_time) / 1000, earliest.value)

    assert time_to_target(curve, values[-1]) == times[-1]
    assert time_to_target(curve, values[0]) == times[0]
    assert time_to_target(curve, values[-1] + 1e-6) is None
    # A budget that ends before the last improvement leaves it out.
    cut = best_so_far(client, run.info.run_id, "val_accuracy", until_s=times[-1] - 1e-3)
    assert cut == curve[:-1]

    losses = best_so_far(client, run.info.run_id, "val_loss")  # minimised, from its name
    assert all(a[1] > b[1] for a, b in pairwise(losses))
    assert time_to_target(losses, losses[-1][1], Direction.MIN) == losses[-1][0]

    figure = best_so_far_plot({"optuna": [curve], "none": [[]]}, "val_accuracy", target=0.9,
                              until_s=duration_s)
    (axes,) = figure.axes
    assert [line.get_label() for line in axes.get_lines()] == ["optuna", "target 0.9"]
