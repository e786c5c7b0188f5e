"""``python -m sweeps compare``: trials of one or more sweeps, read back from MLflow.

    python -m sweeps compare mnist_mlp                         # latest mnist_mlp sweep
    python -m sweeps compare RUN_ID other_sweep --top 5 --markdown
    python -m sweeps compare --experiment mnist_mlp --csv > trials.csv
    python -m sweeps compare model_sizes --by size --plots plots/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "compare"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweeps", nargs="*", metavar="SWEEP",
                        help="sweep names (their latest run) or MLflow sweep run ids; "
                             "default: the latest run of every sweep")
    parser.add_argument("--experiment", help="every sweep of this MLflow experiment")
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="MLflow store (else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    parser.add_argument("--top", type=int, default=10, metavar="N",
                        help="best N trials of each sweep (default 10)")
    parser.add_argument("--columns", metavar="A,B,...",
                        help="columns: sweep, engine, trial, status, objective, epochs_run, "
                             "param_count, wall_time_s, hyperparameters, or any param or metric")
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--csv", action="store_true", help="CSV output")
    style.add_argument("--markdown", action="store_true", help="Markdown table output")
    parser.add_argument("--plots", type=Path, metavar="DIR",
                        help="write Optuna's history, parallel-coordinate and importance plots")
    parser.add_argument("--by", metavar="PARAM",
                        help="compare model sizes grouped by this hyperparameter (e.g. size): "
                             "learning curves, accuracy vs parameters, a table; the plots are "
                             "also logged on the sweep run")


def compare(args: argparse.Namespace) -> int:
    import mlflow

    from tracking.store import open_client, store_errors

    uri = args.tracking_uri or mlflow.get_tracking_uri()
    # A store being created by a sweep is waited for; one that fails is one line, no traceback.
    client = open_client(uri)
    with store_errors(uri, "cannot read the MLflow store"):
        return _compare(args, client)


def _compare(args: argparse.Namespace, client: Any) -> int:
    from tracking.queries import find_sweeps
    from tracking.report import (
        DEFAULT_COLUMNS,
        format_table,
        optuna_plots,
        size_comparison,
        table_rows,
    )

    sweeps = find_sweeps(client, args.sweeps, args.experiment)
    style = "csv" if args.csv else "markdown" if args.markdown else "text"
    if args.by:
        out = args.plots or Path(f"{args.by}_comparison")
        for sweep in sweeps:
            rows, paths = size_comparison(client, sweep, out, by=args.by)
            for path in paths:
                client.log_artifact(sweep.run_id, str(path), artifact_path=f"compare_{args.by}")
            sys.stdout.write(format_table(rows, style))
            print(f"plots: {', '.join(str(p) for p in paths)} (also on MLflow run {sweep.run_id})",
                  file=sys.stderr)
        return 0
    columns = tuple(args.columns.split(",")) if args.columns else DEFAULT_COLUMNS
    sys.stdout.write(format_table(table_rows(sweeps, columns, args.top), style))
    if args.plots:
        for sweep in sweeps:
            prefix = f"{sweep.name}-{sweep.run_id[:8]}_" if len(sweeps) > 1 else ""
            for path in optuna_plots(sweep, args.plots, prefix):
                print(f"plot: {path}", file=sys.stderr)
    return 0
