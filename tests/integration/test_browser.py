"""The MLflow UI in a real headless Chromium: a sweep run and its nested trial runs."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweeps.ui import experiment_links, start_ui

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER and importlib.util.find_spec("selenium")),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them) and selenium",
)


def wait_for(driver, text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = driver.find_element("tag name", "body").text
        if text in body:
            return body
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never appeared; the page shows: {body[:2000]}")


def test_ui_shows_the_sweep_run_and_its_trial_runs(store: Path, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("model_sizes")
    sweep_run = client.search_runs([experiment.experiment_id], "tags.`sweeps.kind` = 'sweep'")[0]
    proc, url = start_ui(uri)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Headless, and no calls home: this machine's network is closed.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1600,1000",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        # A fresh browser profile: MLflow 3 would open its GenAI view; the link `sweeps ui`
        # prints opens the experiment's training runs.
        links = dict(experiment_links(client, url))
        assert links["model_sizes"].endswith(
            f"/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning")
        driver.get(links["model_sizes"])
        wait_for(driver, sweep_run.info.run_name)
        assert "5 matching runs" in driver.find_element("tag name", "body").text
        cell = driver.find_element(
            "xpath", f"//*[text()='{sweep_run.info.run_name}']/ancestor::*[@role='gridcell'][1]")
        cell.find_element("css selector", "button").click()  # expand the nested runs
        body = wait_for(driver, "trial-004")
        assert all(f"trial-00{n}" in body for n in range(1, 5))
        driver.save_screenshot(str(tmp_path / "mlflow_ui.png"))
        assert (tmp_path / "mlflow_ui.png").stat().st_size > 10_000
    finally:
        driver.quit()
        proc.terminate()
        proc.wait(timeout=30)
