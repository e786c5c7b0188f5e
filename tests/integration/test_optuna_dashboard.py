"""An Optuna sweep's study in optuna-dashboard, Optuna's own web UI: served over the real
study file, its API lists the trials with their parameters, values and per-epoch
intermediate values (what its plots draw)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from sweeps.ui import free_port, start_server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_study_of_an_optuna_sweep_opens_in_optuna_dashboard(store: Path) -> None:
    import sys

    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    if not dashboard.exists():
        pytest.skip("optuna-dashboard is not installed (pip install -e '.[dev]' installs it)")
    port = free_port()
    proc, url = start_server([str(dashboard), f"sqlite:///{store / 'optuna.db'}", "--host",
                              "127.0.0.1", "--port", str(port)], f"http://127.0.0.1:{port}",
                             "/api/studies", "optuna-dashboard")
    try:
        with urllib.request.urlopen(f"{url}/api/studies", timeout=30) as response:
            studies = json.load(response)["study_summaries"]
        study = next(s for s in studies if s["study_name"].startswith("mnist_mlp-"))
        assert study["directions"] == ["maximize"]
        with urllib.request.urlopen(f"{url}/api/studies/{study['study_id']}?after=0",
                                    timeout=30) as response:
            found = json.load(response)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    trials = [t for t in found["trials"] if t["state"] == "Complete"]
    assert len(trials) == 4 and found["has_intermediate_values"]
    for trial in trials:
        assert {"depth", "dropout", "learning_rate", "units_0"} <= {p["name"] for p in
                                                                    trial["params"]}
        steps = [v["step"] for v in trial["intermediate_values"]]
        assert steps == list(range(len(steps))) and 1 <= len(steps) <= 2  # one per epoch
        assert trial["values"][0] == pytest.approx(max(v["value"] for v in
                                                       trial["intermediate_values"]))
