"""``python -m sweeps``: list, show, plan, run and re-check sweep specs.

``--help``, ``list`` and ``show`` import neither TensorFlow, Keras nor MLflow: the runner and
everything under it load only inside ``run``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from sweeps import __version__, runtime
from sweeps.api import OVERRIDES
from sweeps.board import add_arguments as add_board_arguments
from sweeps.board import tensorboard
from sweeps.compare import add_arguments as add_compare_arguments
from sweeps.compare import compare
from sweeps.errors import SpecError, SweepInterrupted, SweepsError
from sweeps.spec import SweepSpec, TunerKind, bundled_specs, load_spec
from sweeps.ui import add_arguments as add_ui_arguments
from sweeps.ui import serve

__all__ = ["main"]

#: Flags that are shorthands for ``--set key=value``: the Python API's keyword overrides.
_FLAG_KEYS = OVERRIDES


def _count(text: str) -> int:
    """A count of at least 1 (K, N): refused by argparse before anything loads or trains."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="a bundled spec name (see `list`) or a path to a YAML spec")
    parser.add_argument("--tuner", choices=[k.value for k in TunerKind],
                        help="the engine to run (default: the spec's tuner.kind)")
    parser.add_argument("--max-trials", type=int, metavar="N",
                        help="trials to run (for hyperband: a cap on its plan)")
    parser.add_argument("--max-epochs", type=int, metavar="N", help="epochs per trial at most")
    parser.add_argument("--seed", type=int, help="random seed of the tuner and the trials")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder of the dataset's four IDX files (else $SWEEPS_DATA_DIR)")
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="MLflow tracking URI (else $MLFLOW_TRACKING_URI, else "
                             "sqlite:///mlflow.db)")
    parser.add_argument("--experiment", help="MLflow experiment name (default: the spec's)")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage: sqlite:///…, postgresql://…, or journal:///path.log "
                             "(default: optuna.db beside a sqlite MLflow store)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override any spec key, e.g. --set data.subset=2000 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sweeps",
        description="Hyperparameter sweeps for Keras models, every trial tracked in MLflow.",
    )
    parser.add_argument("--version", action="version", version=f"sweeps {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="list the bundled specs")
    _add_spec_arguments(commands.add_parser(
        "show", help="print a spec as it would run, defaults resolved"))

    plan = commands.add_parser(
        "plan", help="print a sweep's trial schedule, model sizes and estimated time; "
                     "trains nothing for the sweep, logs nothing")
    _add_spec_arguments(plan)
    plan.add_argument("-v", "--verbose", action="store_true", help="log more detail")

    run = commands.add_parser("run", help="run a sweep and log it to MLflow")
    _add_spec_arguments(run)
    run.add_argument("--work-dir", default=".sweeps", type=Path, metavar="DIR",
                     help="where each sweep keeps its state and checkpoints (default: .sweeps)")
    again = run.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue this sweep where it stopped (same spec only)")
    again.add_argument("--overwrite", action="store_true",
                       help="discard this sweep's state and start it over")
    run.add_argument("--recheck", type=_count, metavar="K",
                     help="at the end, retrain the top K configurations with other seeds "
                          "(as `recheck`)")
    run.add_argument("--recheck-seeds", type=_count, default=3, metavar="N",
                     help="seeds per configuration for --recheck (default 3)")
    run.add_argument("--workers", type=_count, default=1, metavar="N",
                     help="run the sweep on N worker processes of this machine, one Optuna study "
                          "(one GPU each where GPUs are visible; docs/resume-and-workers.md)")
    run.add_argument("-v", "--verbose", action="store_true", help="log more detail")

    recheck = commands.add_parser(
        "recheck", help="retrain a sweep's top configurations with other seeds: mean, spread "
                        "and a 95%% interval each, logged under the sweep run")
    recheck.add_argument("sweep", metavar="SWEEP",
                         help="a sweep name (its latest run) or an MLflow sweep run id")
    recheck.add_argument("--top", type=_count, default=3, metavar="K",
                         help="configurations to retrain, best first (default 3)")
    recheck.add_argument("--seeds", type=_count, default=3, metavar="N",
                         help="seeds per configuration (default 3)")
    recheck.add_argument("--tracking-uri", metavar="URI",
                         help="MLflow store (else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    recheck.add_argument("--data-dir", metavar="DIR",
                         help="folder of the dataset's IDX files, if not where the sweep read it")
    recheck.add_argument("-v", "--verbose", action="store_true", help="log more detail")

    worker = commands.add_parser(
        "worker", help="run trials of a shared Optuna study beside other workers")
    _add_spec_arguments(worker)
    worker.add_argument("--work-dir", default=".sweeps", type=Path, metavar="DIR",
                        help="where trial weights go; share it between machines for the final "
                             "test evaluation (default: .sweeps)")
    worker.add_argument("--name", metavar="LABEL",
                        help="this worker's label on its trial runs (default: host/pid<pid>)")
    worker.add_argument("-v", "--verbose", action="store_true", help="log more detail")

    sync = commands.add_parser(
        "sync", help="replay the MLflow writes sweeps kept while their tracking store was away")
    sync.add_argument("work_dir", nargs="?", default=".sweeps", type=Path, metavar="WORK_DIR",
                      help="a sweeps work dir (default .sweeps) or one journal file")

    add_compare_arguments(commands.add_parser(
        "compare", help="compare trials of sweeps from MLflow: table, CSV/Markdown, plots"))
    add_ui_arguments(commands.add_parser(
        "ui", help="start the MLflow UI on this machine (127.0.0.1) and print its URL"))
    add_board_arguments(commands.add_parser(
        "tensorboard", help="write a sweep's TensorBoard logs (scalars, HParams) from MLflow"))
    return parser


def _settings_from(args: argparse.Namespace) -> list[str]:
    """Every flag that sets a spec key, as ``--set``'s ``key=value`` texts."""
    return [f"{key}={getattr(args, flag)}" for flag, key in _FLAG_KEYS.items()
            if getattr(args, flag) is not None] + list(args.overrides)


def _spec_from(args: argparse.Namespace) -> SweepSpec:
    return load_spec(args.spec, _settings_from(args))


def _list() -> int:
    for name, path in bundled_specs().items():
        try:
            spec = load_spec(str(path))
            print(f"{name:<22} {spec.tuner.kind.value:<10} {spec.data.name:<14} "
                  f"{spec.description}")
        except SpecError as exc:
            print(f"{name:<22} INVALID: {exc}")
    return 0


def _show(args: argparse.Namespace) -> int:
    spec = _spec_from(args)
    print(f"# {spec.source}, resolved")
    print(yaml.safe_dump(spec.to_dict(), sort_keys=False), end="")
    return 0


def _plan(args: argparse.Namespace) -> int:
    spec = _spec_from(args)
    from sweeps.planning.plan import format_plan, plan_sweep

    print(format_plan(plan_sweep(spec, quiet=not args.verbose)))
    return 0


def _run(args: argparse.Namespace) -> int:
    spec = _spec_from(args)  # validated before anything heavy loads
    if args.workers > 1:
        return _run_workers(args, spec)
    from sweeps.runner import run_sweep

    result = run_sweep(spec, work_dir=args.work_dir, quiet=not args.verbose,
                       resume=args.resume, overwrite=args.overwrite)
    print(f"MLflow: experiment {spec.tracking.experiment!r} (id {result.experiment_id}), "
          f"sweep run {result.sweep_run_id}")
    print(f"browse: mlflow ui --backend-store-uri {result.tracking_uri}")
    if result.best is None:
        return 1
    if args.recheck:
        from sweeps.rechecking import recheck

        recheck(result.sweep_run_id, top=args.recheck, seeds=args.recheck_seeds,
                tracking_uri=result.tracking_uri, data_dir=args.data_dir,
                quiet=not args.verbose)
    return 0


def _run_workers(args: argparse.Namespace, spec: SweepSpec) -> int:
    # The spec was loaded (and checked) by _run; each worker loads it again.
    if args.recheck:
        raise SweepsError("--recheck runs after a sweep in one process: run `sweeps recheck "
                          "SWEEP` once the workers have ended")
    from sweeps.api import run_workers

    result = run_workers(args.spec, workers=args.workers, work_dir=args.work_dir,
                         resume=args.resume, overwrite=args.overwrite,
                         settings=_settings_from(args), quiet=not args.verbose)
    if result.sweep_run_id:
        print(f"MLflow: experiment {spec.tracking.experiment!r}, sweep run {result.sweep_run_id}")
    return result.exit_code


def _recheck(args: argparse.Namespace) -> int:
    from sweeps.rechecking import recheck

    recheck(args.sweep, top=args.top, seeds=args.seeds, tracking_uri=args.tracking_uri,
            data_dir=args.data_dir, quiet=not args.verbose)
    return 0


def _worker(args: argparse.Namespace) -> int:
    args.tuner = "optuna"  # workers share an Optuna study
    spec = _spec_from(args)
    from sweeps.worker import run_worker

    result = run_worker(spec, work_dir=args.work_dir, quiet=not args.verbose, name=args.name)
    print(f"MLflow: experiment {spec.tracking.experiment!r} (id {result.experiment_id}), "
          f"sweep run {result.sweep_run_id}")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from sweeps.api import sync

    if not args.work_dir.exists():
        raise SweepsError(f"{args.work_dir} does not exist: give the sweeps' --work-dir")
    done = sync(args.work_dir)
    for path, uri, count in done:
        print(f"{path}: {count} writes replayed into {uri}")
    if not done:
        print(f"nothing to replay: no journal under {args.work_dir}")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "list":
        return _list()
    if args.command == "show":
        return _show(args)
    if args.command == "plan":
        return _plan(args)
    if args.command == "worker":
        return _worker(args)
    if args.command == "sync":
        return _sync(args)
    if args.command == "ui":
        return serve(args)
    if args.command == "compare":
        return compare(args)
    if args.command == "tensorboard":
        return tensorboard(args)
    if args.command == "recheck":
        return _recheck(args)
    return _run(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    runtime.cli_environment(verbose=getattr(args, "verbose", False))
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a reader that went away (`| head -1`) is noticed here, not at exit
        return code
    except BrokenPipeError:
        # As the Python docs advise (signal module, "Note on SIGPIPE"): point stdout at
        # /dev/null so the interpreter's final flush cannot raise again. Exit 141 (128 +
        # SIGPIPE), what `cat`, `grep` and other tools report when killed by SIGPIPE: output
        # was cut short, and a `set -o pipefail` script sees that as it would for them.
        runtime.stdout_to_devnull()
        return 141
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SweepsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SweepInterrupted):
        print("interrupted: open MLflow runs were marked KILLED", file=sys.stderr)
        return 130
