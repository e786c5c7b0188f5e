"""Comparisons, plots, reports and the UI, on a real MLflow store filled by real tiny sweeps."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from sweeps.cli import build_parser
from sweeps.compare import compare
from sweeps.errors import TrackingError
from sweeps.ui import start_ui

SIZES = {"tiny": 12730, "small": 13002, "medium": 59210, "large": 1195018}  # MNIST, 10 classes


def run_compare(store: Path, *args: str, capsys) -> str:
    parsed = build_parser().parse_args(
        ["compare", "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}", *args])
    assert compare(parsed) == 0
    return capsys.readouterr().out


def check_png(path: Path) -> None:
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 400 and image.height >= 250


def test_model_sizes_comparison_from_mlflow(store: Path, tmp_path: Path, capsys) -> None:
    out = run_compare(store, "model_sizes", "--by", "size", "--plots", str(tmp_path), "--csv",
                      capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["size"] for r in rows] == ["tiny", "small", "medium", "large"]  # by parameters
    assert {r["size"]: int(r["params"]) for r in rows} == SIZES
    assert all(1 <= int(r["epochs_run"]) <= 3 for r in rows)
    accuracies = {r["size"]: float(r["best_val_accuracy"]) for r in rows}
    # Pareto: no other size has both fewer parameters and a better accuracy.
    for row in rows:
        beaten = any(SIZES[s] <= SIZES[row["size"]] and a > accuracies[row["size"]]
                     for s, a in accuracies.items() if s != row["size"])
        assert row["pareto"] == str(not beaten)
    for name in ("size_learning_curves.png", "size_val_accuracy_vs_params.png"):
        check_png(tmp_path / name)
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    sweep_run = client.search_runs(
        [client.get_experiment_by_name("model_sizes").experiment_id],
        "tags.`sweeps.kind` = 'sweep'")[0]
    assert {a.path for a in client.list_artifacts(sweep_run.info.run_id, "compare_size")} == {
        "compare_size/size_learning_curves.png", "compare_size/size_val_accuracy_vs_params.png"}


def test_table_across_engines_sorted_by_objective(store: Path, capsys) -> None:
    out = run_compare(store, "model_sizes", "mnist_mlp", "--top", "3", "--markdown",
                      "--columns", "sweep,engine,trial,objective,param_count", capsys=capsys)
    lines = out.strip().splitlines()
    assert lines[0] == "| sweep | engine | trial | best_val_accuracy | param_count |"
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [row[:2] for row in body] == [["model_sizes", "grid"]] * 3 + [["mnist_mlp", "optuna"]] * 3
    for sweep in ("model_sizes", "mnist_mlp"):
        values = [float(row[3]) for row in body if row[0] == sweep]
        assert values == sorted(values, reverse=True)


def test_optuna_plots_for_a_keras_tuner_sweep(store: Path, tmp_path: Path, capsys) -> None:
    run_compare(store, "model_sizes", "--plots", str(tmp_path), capsys=capsys)  # grid search
    for name in ("optimization_history", "parallel_coordinate", "param_importances"):
        check_png(tmp_path / f"{name}.png")


def test_every_run_leaves_a_report_on_its_sweep_run(store: Path) -> None:
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mnist_mlp")
    sweep_run = client.search_runs([experiment.experiment_id], "tags.`sweeps.kind` = 'sweep'")[0]
    names = {a.path for a in client.list_artifacts(sweep_run.info.run_id, "report")}
    assert {"report/summary.md", "report/optimization_history.png",
            "report/parallel_coordinate.png"} <= names
    summary = Path(client.download_artifacts(sweep_run.info.run_id, "report/summary.md",
                                             str(store))).read_text()
    assert summary.startswith("# mnist_mlp (optuna)")
    assert "Trials: 4 completed, 0 pruned, 0 failed." in summary
    assert summary.count("\n| ") == 5  # header + 4 trials


def test_ui_serves_the_store_on_loopback(store: Path) -> None:
    proc, url = start_ui(f"sqlite:///{store / 'mlflow.db'}")
    try:
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/experiments/search", data=b'{"max_results": 10}',
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            names = {e["name"] for e in json.load(response)["experiments"]}
        assert {"model_sizes", "mnist_mlp"} <= names
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unknown_sweep_is_a_clear_error(store: Path, capsys) -> None:
    with pytest.raises(TrackingError, match="no sweep named 'nope' in this MLflow store"):
        run_compare(store, "nope", capsys=capsys)
