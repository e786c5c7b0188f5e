"""`sweeps plan`: the schedule keras-tuner will run, model sizes and a timed estimate, and
nothing written: no MLflow store, no state folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweeps.cli import main
from sweeps.events import Broadcast
from sweeps.planning.plan import hyperband_schedule, prepare
from sweeps.spec import load_spec

HYPERBAND_ROW = re.compile(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)->(\d+)\s+(\d+)\s+(\d+)$",
                           re.MULTILINE)
ESTIMATE = re.compile(r"estimated wall time of the trials: about (\d+) (s|min|h)")


def nothing_written(workdir: Path) -> None:
    assert sorted(p.name for p in workdir.iterdir()) == []  # no mlflow.db, no .sweeps


def test_plan_prints_the_hyperband_brackets_keras_tuner_runs(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "mnist_mlp", "--set", "data.subset=600"]) == 0
    out = capsys.readouterr().out
    nothing_written(workdir)

    rows = [tuple(map(int, row)) for row in HYPERBAND_ROW.findall(out)]
    from sweeps.engines.keras_tuner import KerasTunerEngine

    spec = load_spec("mnist_mlp", ["data.subset=600"])
    _, builder, declared, _ = prepare(spec)
    engine = KerasTunerEngine(spec, builder, declared, Broadcast([]), workdir / "elsewhere")
    oracle = engine.tuner.oracle  # its bracket arithmetic has no public API
    assert sum(row[3] for row in rows) == engine.planned_trials == 30
    assert {row[1] for row in rows} == set(range(oracle._get_num_brackets()))  # noqa: SLF001
    for _, bracket, round_num, trials, initial, epochs, trains, in_all in rows:
        assert trials == oracle._get_size(bracket, round_num)  # noqa: SLF001
        assert epochs == oracle._get_epochs(bracket, round_num)  # noqa: SLF001
        assert trains == epochs - initial and in_all == trials * trains
    assert f"total: 30 trials, {sum(r[-1] for r in rows)} epochs at most" in out
    assert re.search(r"model size: [\d,]+ to [\d,]+ parameters", out)
    estimate = ESTIMATE.search(out)
    assert estimate and int(estimate.group(1)) > 0


def test_plan_of_a_random_search_has_a_row_per_trial(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "mnist_mlp", "--tuner", "random", "--max-trials", "3",
                 "--max-epochs", "2", "--set", "data.subset=600"]) == 0
    out = capsys.readouterr().out
    nothing_written(workdir)
    assert re.findall(r"^\s+(\d+)\s+<= 2$", out, re.MULTILINE) == ["1", "2", "3"]
    assert "total: 3 trials, 6 epochs at most" in out
    assert ESTIMATE.search(out)


def test_hyperband_schedule_is_cut_at_max_trials_in_the_order_trials_are_created() -> None:
    full = hyperband_schedule(max_epochs=9, factor=3, iterations=2)
    assert [(s.iteration, s.bracket, s.round, s.trials, s.epochs) for s in full[:3]] == [
        (1, 2, 0, 9, 1), (1, 2, 1, 3, 3), (1, 2, 2, 1, 9)]
    assert sum(s.trials for s in full) == 2 * sum(s.trials for s in full if s.iteration == 1)
    capped = hyperband_schedule(max_epochs=9, factor=3, iterations=2, max_trials=10)
    assert [(s.bracket, s.round, s.trials, s.first_trial) for s in capped] == [
        (2, 0, 9, 1), (2, 1, 1, 10)]
