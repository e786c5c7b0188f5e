"""Is Hyperband worth it here? Time to a validation accuracy, per engine, on one budget.

    python scripts/bench_time_to_target.py [--engines random hyperband optuna] [--seeds 1 2 3]
        [--budget-minutes 6] [--target 0.985] [--subset N] [--max-epochs N] [--out DIR]

Runs mnist_mlp under each engine (keras-tuner's RandomSearch and Hyperband, Optuna's TPE
with its Hyperband pruner: the spec's settings) and seed, each through the Python API
(``sweeps.run``) in its own process, with as many trials as fit in the same wall-clock
budget: the sweep is stopped with SIGTERM (its trial ends KILLED, as on Ctrl-C) once the
budget has run since it started. Everything goes into one MLflow store under ``--out``.

Then, from MLflow alone (:mod:`tracking.progress`): each sweep's best validation accuracy so
far against seconds since its run started, the time it first reached ``--target``, and per
engine the median over seeds and the speed-up against random search. A plot of every
curve goes onto each sweep run (``time_to_target/best_so_far.png``).

The default benchmark (3 engines x 3 seeds x 6 minutes, docs/benchmarks.md's table) takes an hour of
a 2-core CPU; a sweep's first minutes do not depend on its budget (the budget only stops it),
so a longer one adds higher targets, not other times to these. ``--subset 6000
--budget-minutes 2 --seeds 1 --target 0.95`` shows it working in minutes.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXPERIMENT = "mnist_mlp_time_to_target"
ENGINES = ("random", "hyperband", "optuna")
#: Enough trials (and Hyperband iterations) that the budget, not the plan, ends a sweep.
_OPEN_ENDED = ["tuner.max_trials=100000", "tuner.hyperband.iterations=100",
               "tracking.register_model=false"]
_GRACE_S = 120  # for a stopped sweep to end its runs before it is killed outright


def child(engine: str, seed: int, args: argparse.Namespace) -> None:
    """One sweep, through the Python API; the parent stops it when the budget is spent."""
    import sweeps
    from sweeps.errors import SweepInterrupted

    settings = list(_OPEN_ENDED)
    if args.subset:
        settings.append(f"data.subset={args.subset}")
    if args.max_epochs:
        settings.append(f"training.max_epochs={args.max_epochs}")
    try:
        sweeps.run("mnist_mlp", tuner=engine, seed=seed, tracking_uri=store_uri(args.out),
                   experiment=EXPERIMENT, work_dir=args.out / "work" / f"{engine}-{seed}",
                   overwrite=True, settings=settings, stream=sys.stdout)
    except SweepInterrupted:
        sys.exit(0)  # the budget's end: the runs are ended, the data is in MLflow


def store_uri(out: Path) -> str:
    return f"sqlite:///{out.resolve() / 'mlflow.db'}"


def run_budgeted(engine: str, seed: int, args: argparse.Namespace) -> float:
    """Run one sweep in a child process until it ends or its budget is spent; wall seconds."""
    command = [sys.executable, __file__, "--child", engine, str(seed), "--out", str(args.out)]
    if args.subset:
        command += ["--subset", str(args.subset)]
    if args.max_epochs:
        command += ["--max-epochs", str(args.max_epochs)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_LOGGING_LEVEL": "WARNING",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = (args.out / f"{engine}-{seed}.log").open("w")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    started = threading.Event()

    def echo() -> None:  # the sweep's console: its first line means the sweep run exists
        assert proc.stdout is not None
        for line in proc.stdout:
            started.set()
            log.write(line)
            log.flush()
        started.set()

    reader = threading.Thread(target=echo, daemon=True)
    reader.start()
    started.wait()
    begin = time.monotonic()
    try:
        proc.wait(timeout=args.budget_minutes * 60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    reader.join()
    log.close()
    if proc.returncode != 0:
        sys.exit(f"{engine} seed {seed}: the sweep exited {proc.returncode}; "
                 f"see {args.out / f'{engine}-{seed}.log'}")
    return time.monotonic() - begin


def sweep_run_id(client: object, experiment_id: str, engine: str, seed: int) -> str:
    from tracking import tags as T

    runs = client.search_runs(  # type: ignore[attr-defined]
        [experiment_id], f"tags.`{T.KIND}` = '{T.KIND_SWEEP}' and params.tuner = '{engine}' "
                         f"and params.seed = '{seed}'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        sys.exit(f"no sweep run of {engine} seed {seed} in {EXPERIMENT}")
    return runs[0].info.run_id


def seconds(value: float) -> str:
    return "not reached" if math.isinf(value) else f"{value:7.0f} s"


def speed_up(random: float, other: float, budget: float) -> str:
    """Random search's median time over the engine's; a bound where one never got there."""
    if math.isinf(other):
        return "-" if math.isinf(random) else f"< x{random / budget:.2f}"
    if math.isinf(random):
        return f"> x{budget / other:.2f}"
    return f"x{random / other:.2f}"


def report(args: argparse.Namespace) -> None:
    """Curves from MLflow, the table, and the plot onto every sweep run."""
    from mlflow.tracking import MlflowClient

    from tracking.plots import best_so_far_plot
    from tracking.progress import best_so_far, time_to_target

    client = MlflowClient(store_uri(args.out))
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    budget = args.budget_minutes * 60
    run_ids = {(e, s): sweep_run_id(client, experiment_id, e, s)
               for e in args.engines for s in args.seeds}
    curves = {key: best_so_far(client, run_id, "val_accuracy", until_s=budget)
              for key, run_id in run_ids.items()}
    times = {key: time_to_target(curve, args.target) for key, curve in curves.items()}
    medians = {e: statistics.median(math.inf if times[e, s] is None else times[e, s]
                                    for s in args.seeds) for e in args.engines}

    print(f"\ntime to val_accuracy >= {args.target} within {args.budget_minutes:g} min "
          f"(seconds since the sweep run started), seeds {args.seeds}:")
    print(f"{'engine':<10} {'per seed':<30} {'median':>12} {'best (median)':>14} "
          f"{'speed-up vs random':>19}")
    for engine in args.engines:
        per_seed = ", ".join("-" if times[engine, s] is None else f"{times[engine, s]:.0f}"
                             for s in args.seeds)
        best = statistics.median(curves[engine, s][-1][1] if curves[engine, s] else math.nan
                                 for s in args.seeds)
        ratio = (speed_up(medians["random"], medians[engine], budget)
                 if "random" in medians else "-")
        print(f"{engine:<10} {per_seed:<30} {seconds(medians[engine]):>12} {best:>14.4f} "
              f"{ratio:>19}")

    by_engine = {e: [curves[e, s] for s in args.seeds] for e in args.engines}
    figure = best_so_far_plot(by_engine, "val_accuracy", target=args.target, until_s=budget)
    for run_id in run_ids.values():
        client.log_figure(run_id, figure, "time_to_target/best_so_far.png")
    print(f"plot logged on {len(run_ids)} sweep runs of experiment {EXPERIMENT!r} in "
          f"{store_uri(args.out)} (time_to_target/best_so_far.png)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budget-minutes", type=float, default=6.0)
    parser.add_argument("--target", type=float, default=0.985)
    parser.add_argument("--subset", type=int, default=None,
                        help="train and validate on the first N digits (default: all 60,000)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epochs per trial at most (default: the spec's 20)")
    parser.add_argument("--out", type=Path, default=Path("bench_time_to_target"),
                        help="folder of the MLflow store, the sweeps' state and their logs")
    parser.add_argument("--report-only", action="store_true",
                        help="read the sweeps already in --out, run none")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        print(f"engines {args.engines}, seeds {args.seeds}, {args.budget_minutes:g} min each, "
              f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start")
        for seed in args.seeds:  # engines alternate, so a busy spell falls on all of them
            for engine in args.engines:
                wall = run_budgeted(engine, seed, args)
                print(f"  {engine:<10} seed {seed}: {wall:6.0f} s", flush=True)
    report(args)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # the sweep console reaches the parent by line
    main()
