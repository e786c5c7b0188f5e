"""``python -m sweeps ui``: the MLflow UI for the project's tracking store, on loopback only.

Runs ``mlflow ui`` bound to 127.0.0.1 (never other interfaces unless ``--host`` says so) on a
free port, waits until it answers, prints the URL, and stops it on Ctrl-C.

Browsing only: one uvicorn worker, and none of the job-execution processes MLflow starts by
default (a job runner and seven huey consumers for GenAI scorers, prompt optimisation and
trace roll-ups, ~1.9 GB). $MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false, MLflow's documented
switch, leaves them out: two processes (the ``mlflow ui`` launcher and uvicorn), ~0.5 GB
instead of ~2.4 GB in ten.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from typing import Any

__all__ = ["add_arguments", "experiment_links", "serve", "serve_until_stopped", "start_server",
           "start_ui", "free_port"]

#: mlflow.environment_variables.MLFLOW_SERVER_ENABLE_JOB_EXECUTION (named here: this module
#: is imported by the CLI's quick commands, which never import MLflow).
_JOB_EXECUTION = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="MLflow store (else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_ui(tracking_uri: str, host: str = "127.0.0.1", port: int = 0,
             timeout_s: float = 120) -> tuple[subprocess.Popen[bytes], str]:
    """Start the MLflow UI; return the process and its URL once it answers."""
    port = port or free_port(host)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri,
               "--host", host, "--port", str(port), "--workers", "1"]
    return start_server(command, f"http://{host}:{port}", "/health", "the MLflow UI",
                        env={"MLFLOW_LOGGING_LEVEL": "WARNING", _JOB_EXECUTION: "false"},
                        timeout_s=timeout_s)


def start_server(command: list[str], url: str, health: str, name: str, *,
                 env: dict[str, str] | None = None,
                 timeout_s: float = 120) -> tuple[subprocess.Popen[bytes], str]:
    """Start a web server (``command``); return the process and ``url`` once ``health``
    answers 200. Exiting or not answering in time is a RuntimeError naming ``name``."""
    import urllib.request  # here, not at the top: the CLI's quick commands import this module

    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{name} exited at start-up: {error.strip()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}{health}", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"{name} did not answer at {url} within {timeout_s:.0f} s")


def experiment_links(client: Any, url: str, limit: int = 20) -> list[tuple[str, str]]:
    """``(experiment name, link)`` for each experiment holding sweeps, latest first: the
    link opens its training runs. MLflow 3 starts a fresh browser in its GenAI view (the
    GenAI / Model training switch lives in the browser's storage, not in the experiment);
    ``workflowType=machine_learning`` in the link picks Model training, as the switch does."""
    experiments = client.search_experiments(order_by=["last_update_time DESC"])
    ids = [e.experiment_id for e in experiments]
    with_sweeps = {r.info.experiment_id for r in client.search_runs(
        ids, "tags.`sweeps.kind` = 'sweep'", max_results=5000)} if ids else set()
    return [(e.name, f"{url}/#/experiments/{e.experiment_id}/runs?workflowType=machine_learning")
            for e in experiments if e.experiment_id in with_sweeps][:limit]


def serve(args: argparse.Namespace) -> int:
    import mlflow

    from sweeps.errors import SweepsError
    from tracking.store import open_client, store_errors

    uri = args.tracking_uri or mlflow.get_tracking_uri()
    # A new sqlite store is created here, safely, not by the server beside a sweep.
    client = open_client(uri)
    try:
        proc, url = start_ui(uri, args.host, args.port)
    except RuntimeError as exc:
        raise SweepsError(str(exc)) from None
    print(f"MLflow UI for {uri} at {url}  (Ctrl-C to stop)", flush=True)
    try:
        with store_errors(uri, "cannot read the MLflow store"):
            links = experiment_links(client, url)
    except SweepsError:
        proc.terminate()
        raise
    for name, link in links:
        print(f"  {name}: {link}", flush=True)
    return serve_until_stopped(proc)


def serve_until_stopped(proc: subprocess.Popen[bytes]) -> int:
    """Wait on a server started by :func:`start_server` until Ctrl-C or SIGTERM, then stop
    it: the server never outlives the command that started it."""
    from sweeps import interrupts

    try:
        with interrupts.handled():
            proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=30)
    return 0
