"""``python -m sweeps tensorboard``: a sweep's TensorBoard logs, from what MLflow holds.

    python -m sweeps tensorboard mnist_mlp                  # -> tensorboard/mnist_mlp
    python -m sweeps tensorboard RUN_ID --logdir tb/ --serve

One run folder per trial (its per-epoch scalars as Keras's TensorBoard callback names them)
and the HParams plugin's data (:mod:`tracking.tensorboard`). Run it again at any time, while
the sweep runs too: the folder is rewritten whole. ``--serve`` then starts TensorBoard on
loopback (as ``sweeps ui`` starts MLflow's) and stops it on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "tensorboard"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", metavar="SWEEP",
                        help="a sweep name (its latest run) or an MLflow sweep run id")
    parser.add_argument("--logdir", type=Path, metavar="DIR",
                        help="where to write the logs (default: tensorboard/<sweep name>); "
                             "replaced whole")
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="MLflow store (else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    parser.add_argument("--serve", action="store_true",
                        help="then start TensorBoard on this machine and print its URL")
    parser.add_argument("--host", default="127.0.0.1",
                        help="with --serve: interface to bind (default 127.0.0.1: this machine "
                             "only)")
    parser.add_argument("--port", type=int, default=0,
                        help="with --serve: port (default: a free one)")


def tensorboard(args: argparse.Namespace) -> int:
    import mlflow

    from sweeps.backend import load_backend
    from tracking.queries import find_sweeps
    from tracking.store import open_client, store_errors
    from tracking.tensorboard import export_sweep

    uri = args.tracking_uri or mlflow.get_tracking_uri()
    client = open_client(uri)
    with store_errors(uri, "cannot read the MLflow store"):
        sweep = find_sweeps(client, [args.sweep])[0]
        logdir = args.logdir or Path("tensorboard") / sweep.name
        load_backend()  # TensorFlow's summary writers, its start-up lines hidden
        exported = export_sweep(client, sweep.run, logdir)
    running = f", {exported.running} still running" if exported.running else ""
    print(f"sweep {sweep.name!r} (run {sweep.run_id}): {exported.trials} trials{running} "
          f"written to {exported.logdir}")
    if not args.serve:
        print(f"view: tensorboard --logdir {exported.logdir}")
        return 0
    return _serve(exported.logdir, args.host, args.port)


def _serve(logdir: Path, host: str, port: int) -> int:
    from sweeps.errors import SweepsError
    from sweeps.ui import free_port, serve_until_stopped, start_server

    port = port or free_port(host)
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
               "--host", host, "--port", str(port)]
    try:
        proc, url = start_server(command, f"http://{host}:{port}", "/", "TensorBoard")
    except RuntimeError as exc:
        raise SweepsError(str(exc)) from None
    print(f"TensorBoard for {logdir} at {url}  (Ctrl-C to stop)", flush=True)
    return serve_until_stopped(proc)
