"""Draw the docs' pictures again from a real sweep, and screenshot what users look at.

    python scripts/docs_images.py [--out docs/images] [--shots /tmp/docs-shots]

Runs a Hyperband sweep of mnist_mlp (9 epochs at most, 10,000 digits, TensorBoard logs on)
into a temp MLflow store, then writes into ``--out``:

- ``sweep_history.png``: the sweep's optimisation history, as ``sweeps compare --plots`` draws it;
- ``tensorboard_hparams.png``: TensorBoard's HParams table over ``sweeps tensorboard``'s logs;
- ``mlflow_switch.png``: the MLflow UI's home page in a fresh browser profile (GenAI view,
  with its GenAI / Model training switch).

and into ``--shots`` the screenshots to look at before a release: TensorBoard's scalars,
the experiment link ``sweeps ui`` prints, and the built docs' front page.
Needs MNIST offline ($SWEEPS_DATA_DIR) or online, Chromium with chromedriver, and selenium.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def sweeps(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "sweeps", *args], cwd=cwd, check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--window-size=1400,860", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def shoot(url: str, path: Path, profile: Path, wait_s: float = 8.0) -> None:
    driver = browser(profile)
    try:
        driver.get(url)
        time.sleep(wait_s)
        driver.save_screenshot(str(path))
    finally:
        driver.quit()
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "docs-shots")
    args = parser.parse_args()
    from mlflow.tracking import MlflowClient

    from sweeps.ui import experiment_links, free_port, start_server, start_ui

    args.out.mkdir(parents=True, exist_ok=True)
    args.shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="docs-images-") as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        sweeps("run", "mnist_mlp", "--max-epochs", "9", "--set", "data.subset=10000",
               "--set", "tracking.tensorboard=true", "--tracking-uri", uri, cwd=root)
        sweeps("compare", "mnist_mlp", "--plots", str(root / "plots"), "--tracking-uri", uri,
               cwd=root)
        shutil.copy(root / "plots" / "optimization_history.png", args.out / "sweep_history.png")
        print(f"wrote {args.out / 'sweep_history.png'}")

        sweeps("tensorboard", "mnist_mlp", "--logdir", str(root / "tb"), "--tracking-uri", uri,
               cwd=root)
        port = free_port()
        board, url = start_server([sys.executable, "-m", "tensorboard.main", "--logdir",
                                   str(root / "tb"), "--host", "127.0.0.1", "--port",
                                   str(port)], f"http://127.0.0.1:{port}", "/", "TensorBoard")
        try:
            shoot(f"{url}/#hparams", args.out / "tensorboard_hparams.png", root / "p1")
            shoot(f"{url}/#timeseries", args.shots / "tensorboard_scalars.png", root / "p2")
        finally:
            board.terminate()

        ui, url = start_ui(uri)
        try:
            shoot(url, args.out / "mlflow_switch.png", root / "p3")
            link = dict(experiment_links(MlflowClient(uri), url))["mnist_mlp"]
            shoot(link, args.shots / "mlflow_training_runs.png", root / "p4")
        finally:
            ui.terminate()

    subprocess.run([shutil.which("mkdocs") or "mkdocs", "build", "--strict", "--site-dir",
                    str(args.shots / "site")], cwd=REPO, check=True)
    shoot((args.shots / "site" / "index.html").as_uri(), args.shots / "docs_front.png",
          args.shots / "p5", wait_s=2)


if __name__ == "__main__":
    main()
