"""Overhead of a sweep over bare Keras: the same trial configurations, trained both ways.

    python scripts/bench_overhead.py [--pairs 5] [--tuner random] [--max-trials 5]
                                     [--max-epochs 3] [--subset N] [--spec mnist_mlp]
                                     [--set KEY=VALUE ...]

Each pair runs a real sweep (keras-tuner or Optuna, MLflow logging, artifacts, the report, the
final model logged and registered, test evaluation) into a fresh temp MLflow store, then
trains every trial's hyperparameters again in a plain Keras loop, for the epochs that trial
ran, with the same data, batch size, schedule and seeds, and evaluates the best model on the
test set. Each side runs in a fresh interpreter and is timed from after TensorFlow's import,
so nothing one run leaves behind (garbage, caches) weighs on the next. Pairs alternate which
side goes first, so drift in the machine's load falls on both. Each sweep's MLflow store is
created before its clock starts (a store's schema is made once, not per sweep).

Prints each pair, the median ratio with min and max (target <= 1.02), a 95 % interval for it,
the same comparison trial by trial (each trial's fit against its bare twin, over the pairs: a
slow spell of the machine hurts a few fits, not a whole estimate), and where the sweep's
extra seconds went (median over the pairs), measured by timing the tracking and engine steps
in-process, on the training thread and on tracking's background writer. The CPU-time ratio
(every thread, and the sweep's figure helper process) is printed beside the wall-time one: on
a machine shared with other jobs it moves less. So are the seconds spent inside Model.fit on
each side (what the sweep's callbacks and background work cost training itself), and the
seconds each side spent in Python's full garbage collections: the
sweep moves start-up objects out of the collector's reach (gc.freeze), which a bare Keras
loop does not do, and that is part of the difference. Needs the dataset offline
($SWEEPS_DATA_DIR) or online.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

#: Where a sweep's seconds beyond training go: label -> the functions timed for it. Time is
#: counted exclusively (a timed call inside another timed call counts once, for itself).
PHASES = {
    "sweep set-up: data and store opened": ["sweeps.session:Session.__init__"],
    "sweep set-up: first build, spec checked": ["sweeps.session:Session.start"],
    "sweep set-up: sweep run, dataset inputs": [
        "tracking.mlflow_tracker:MlflowTracker.sweep_started"],
    "per-epoch metrics to MLflow": ["tracking.mlflow_tracker:MlflowTracker.epoch_ended"],
    "trial runs: start, params, end": [
        "tracking.mlflow_tracker:MlflowTracker.trial_started",
        "tracking.mlflow_tracker:MlflowTracker.model_built",
        "tracking.mlflow_tracker:MlflowTracker.trial_ended"],
    "model summaries": ["sweeps.training.lifecycle:model_summary"],
    "learning curves (drawn here + uploaded)": [
        "tracking.plots:learning_curves", "mlflow.tracking.client:MlflowClient.log_figure",
        "mlflow.tracking.client:MlflowClient.log_artifact"],
    "figures: waiting for the helper process (curves, report plots)": [
        "tracking.render:Renderer.draw"],
    "tracking writes waited for (flush)": ["tracking.writer:Writer.flush"],
    "per-epoch metrics, params, inputs (written)": [
        "mlflow.tracking.client:MlflowClient.log_batch",
        "mlflow.tracking.client:MlflowClient.log_inputs",
        "mlflow.tracking.client:MlflowClient.log_text"],
    "checkpoints (best epoch's weights)": [
        "sweeps.engines._keras_tuner_compat:KerasTunerBestEpoch._save_model",
        "sweeps.engines._keras_tuner_compat:KerasTunerBestEpoch.on_train_end",
        "sweeps.training.checkpoints:BestEpochWeights.on_epoch_end",
        "sweeps.training.checkpoints:BestEpochWeights.on_train_end",
        "keras_tuner.src.engine.tuner_utils:SaveBestEpoch._save_model",
        "keras.src.callbacks.model_checkpoint:ModelCheckpoint._save_model"],
    "keras-tuner oracle bookkeeping": [
        "keras_tuner.src.engine.oracle:Oracle.create_trial",
        "keras_tuner.src.engine.oracle:Oracle.update_trial",
        "keras_tuner.src.engine.oracle:Oracle.end_trial"],
    "final model: logged and registered": [
        "tracking.publish:ModelPublisher.log_model",
        "tracking.publish:ModelPublisher.register"],
    "sweep report (plots, summary.md)": ["tracking.report:ReportDraft.draw_plots",
                                         "tracking.report:ReportDraft.log"],
    "best model loaded + test evaluation": ["sweeps.session:Session.finish"],
}


class PhaseTimer:
    """Wraps the PHASES functions; exclusive seconds per label while ``active``: on the
    thread that trains (``seconds``) and on tracking's background thread (``background``),
    whose seconds run beside training instead of after it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.background: dict[str, float] = defaultdict(float)
        self.active = False
        self._local = threading.local()  # per thread, per open call: [start, nested time]
        for label, targets in PHASES.items():
            for target in targets:
                self._wrap(label, target)

    def _wrap(self, label: str, target: str) -> None:
        module_name, _, path = target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            return  # not in this version of the library
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
            if owner is None:
                return
        original = getattr(owner, name, None)
        if original is None:
            return
        timer = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not timer.active:
                return original(*args, **kwargs)
            stack = timer._local.__dict__.setdefault("stack", [])
            main = threading.current_thread() is threading.main_thread()
            frame = [time.perf_counter(), 0.0]
            stack.append(frame)
            try:
                return original(*args, **kwargs)
            finally:
                stack.pop()
                spent = time.perf_counter() - frame[0]
                (timer.seconds if main else timer.background)[label] += spent - frame[1]
                if stack:
                    stack[-1][1] += spent

        setattr(owner, name, timed)

    @contextlib.contextmanager
    def measuring(self) -> Any:
        self.seconds.clear()
        self.background.clear()
        self.active = True
        try:
            yield self.seconds
        finally:
            self.active = False


class GcTimer:
    """Seconds and count of Python's full (generation 2) garbage collections, explicit
    (keras-tuner's and Keras's gc.collect() before each build) or automatic: the sweep moves
    start-up objects out of their reach (gc.freeze); bare Keras, as a user writes it, does
    not."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.count += 1

    def take(self) -> tuple[float, int]:
        """Seconds and count since the last take."""
        taken = (self.seconds, self.count)
        self.seconds, self.count = 0.0, 0
        return taken


class FitTimer:
    """Seconds inside ``Model.fit`` (training itself, the callbacks included), on either side:
    the sweep's seconds outside it are its own work; inside it, what its callbacks and its
    background work (through the interpreter lock) cost the training."""

    def __init__(self) -> None:
        import keras

        self.seconds = 0.0
        self.each: list[float] = []  # every fit's seconds, in order
        original = keras.Model.fit
        timer = self

        @functools.wraps(original)
        def fit(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timer.each.append(time.perf_counter() - start)
                timer.seconds += timer.each[-1]

        keras.Model.fit = fit


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free interval for the median: the k-th smallest and k-th largest value,
    for the largest k whose coverage (binomial, p = 1/2) is at least ``confidence``; None when
    even min..max covers less (fewer than 6 values for 95 %)."""
    n, ordered = len(values), sorted(values)
    best = None
    for k in range(1, n // 2 + 1):
        outside = 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n
        if 1 - outside < confidence:
            break
        best = (ordered[k - 1], ordered[n - k])
    return best


def children_cpu() -> float:
    """CPU seconds of this process's ended and waited-for children (the sweep's figure
    helper), which ``time.process_time`` does not count."""
    times = os.times()
    return times.children_user + times.children_system


def run_sweep_once(spec: Any, timer: PhaseTimer, gc_timer: GcTimer,
                   fit_timer: FitTimer) -> dict[str, Any]:
    """One sweep into a fresh temp MLflow store: wall and CPU seconds (every thread's), the
    phases' seconds on the training thread and on the background one, full collections, and
    the trials (what the bare side trains again)."""
    from mlflow.tracking import MlflowClient

    from sweeps.runner import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        # The store exists before the sweep, as a user's does after their first sweep: its
        # schema is created once (about 1.5 s), not per sweep.
        MlflowClient(uri).search_experiments()
        try:
            gc_timer.take()
            with timer.measuring() as seconds:
                start, cpu = time.perf_counter(), time.process_time() + children_cpu()
                result = run_sweep(spec, work_dir=Path(tmp) / "work", stream=io.StringIO())
                elapsed = time.perf_counter() - start
                cpu = time.process_time() + children_cpu() - cpu
            gc_s, gc_n = gc_timer.take()
            return {
                "wall": elapsed, "cpu": cpu, "fit": fit_timer.seconds, "fits": fit_timer.each,
                "phases": dict(seconds),
                "background": dict(timer.background), "gc_s": gc_s, "gc_n": gc_n,
                "trials": [{"trial_id": t.trial_id, "params": t.params,
                            "epochs_run": t.epochs_run, "number": t.number}
                           for t in result.trials],
                "best": result.best.trial_id if result.best is not None else None,
            }
        finally:
            os.chdir(cwd)


def run_bare_once(spec: Any, sweep: dict[str, Any], gc_timer: GcTimer,
                  fit_timer: FitTimer) -> dict[str, Any]:
    """The sweep's trials in plain Keras: build, compile, fit for the same epochs, and the
    best one evaluated on the test set."""
    import keras

    from hypermodels import FixedSpace, compile_model, get_hypermodel
    from sweeps.data import load_dataset
    from sweeps.training import build_context, training_callbacks

    gc_timer.take()
    start, cpu = time.perf_counter(), time.process_time()
    data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics, seed=spec.seed)
    context = build_context(spec, data)
    hypermodel = get_hypermodel(spec.hypermodel.name)(**spec.hypermodel.options)
    models = {}
    for trial in sweep["trials"]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(spec.seed + trial["number"])
        space = FixedSpace(spec.search_space, trial["params"])
        model = hypermodel.build(space, context)
        compile_model(model, space.value("learning_rate"), context)
        # The trial's own callbacks but EarlyStopping (the epochs are the trial's already):
        # TerminateOnNaN. It matters for more than NaNs: a callback with a batch hook makes
        # Keras 3 run batch callbacks inline; without one, fit hands every batch's callbacks
        # to a thread pool, whose thread contends for the interpreter lock with the training
        # loop (the same 2-epoch fit: 3.6-6.0 s that way, 3.8-4.1 s inline, 6 runs each).
        model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                  batch_size=spec.training.batch_size, epochs=trial["epochs_run"], verbose=0,
                  callbacks=training_callbacks(spec, early_stopping=False))
        models[trial["trial_id"]] = model
    if sweep["best"] is not None:
        models[sweep["best"]].evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    gc_s, gc_n = gc_timer.take()
    return {"wall": elapsed, "cpu": cpu, "fit": fit_timer.seconds, "fits": fit_timer.each,
            "gc_s": gc_s, "gc_n": gc_n}


def child(args: argparse.Namespace) -> None:
    """One side of a pair in this fresh process, its figures written to ``args.io``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sweeps.runner import load_backend

    load_backend()  # TensorFlow's import and start-up are paid by neither side
    spec = load_spec_of(args)
    gc_timer, fit_timer = GcTimer(), FitTimer()
    if args.child == "sweep":
        figures = run_sweep_once(spec, PhaseTimer(), gc_timer, fit_timer)
    else:
        sweep = json.loads(args.trials.read_text(encoding="utf-8"))
        figures = run_bare_once(spec, sweep, gc_timer, fit_timer)
    args.io.write_text(json.dumps(figures), encoding="utf-8")


def load_spec_of(args: argparse.Namespace) -> Any:
    from sweeps.spec import load_spec

    overrides = [f"tuner.kind={args.tuner}", f"tuner.max_trials={args.max_trials}",
                 f"training.max_epochs={args.max_epochs}"]
    if args.subset:
        overrides.append(f"data.subset={args.subset}")
    return load_spec(args.spec, overrides + args.settings)


def run_side(side: str, io_path: Path, trials: Path | None = None) -> dict[str, Any]:
    """``side`` (sweep or bare) in a fresh interpreter with this script's arguments: nothing
    one side or pair leaves behind (objects for the collector, caches) reaches another."""
    command = [sys.executable, __file__, *sys.argv[1:], "--child", side, "--io", str(io_path)]
    if trials is not None:
        command += ["--trials", str(trials)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(io_path.read_text(encoding="utf-8"))


def print_by_trial(by_trial: dict[int, list[tuple[float, float]]], extra_outside: float,
                   bare_wall: float) -> None:
    """The comparison trial by trial, when every pair's sweep ran the same trials (a fixed
    seed, no pruning): each trial's fit against its bare twin over the pairs. A slow spell of
    the machine lands on a few fits of one side; a trial's median over the pairs leaves it
    out, where a whole sweep's ratio keeps it. The trials' medians, weighted by their bare
    seconds, and the seconds outside fit give another estimate of the overhead."""
    print("each trial's fit against its bare twin, over the pairs (median, 95 % interval):")
    weighted = seconds = 0.0
    for place, pairs in sorted(by_trial.items()):
        ratios = [ratio for ratio, _ in pairs]
        bare_s = statistics.median(bare for _, bare in pairs)
        median, interval = statistics.median(ratios), median_interval(ratios)
        weighted += median * bare_s
        seconds += bare_s
        print(f"  trial {place + 1}: bare fit {bare_s:5.1f} s, sweep/bare {median:.3f}" + (
            f" ({interval[0]:.3f}-{interval[1]:.3f})" if interval else ""))
    inside = weighted / seconds
    print(f"  inside fit, the trials' medians weighted by their bare seconds: {inside:.3f}; "
          f"with the sweep's {extra_outside:+.1f} s outside fit: ratio about "
          f"{1 + (extra_outside + seconds * (inside - 1)) / bare_wall:.3f}")


def import_seconds() -> tuple[float, float]:
    """Process start-up: importing Keras alone, and what a sweep imports besides (median of 3
    fresh interpreters each)."""
    def timed(code: str) -> float:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    keras_only = timed("import keras")
    sweep = timed("import keras, keras_tuner, optuna, mlflow, sweeps.runner, tracking")
    return keras_only, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="mnist_mlp")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--tuner", default="random",
                        choices=["hyperband", "random", "bayesian", "optuna"])
    parser.add_argument("--max-trials", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a spec override, as `sweeps run --set`")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write every pair's raw figures here, for a later analysis")
    parser.add_argument("--child", choices=["sweep", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--io", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    if args.child:
        child(args)
        return

    print(f"{args.spec} --tuner {args.tuner}, {args.max_trials} trials x {args.max_epochs} "
          f"epochs, {args.pairs} pairs, each side in a fresh process; {os.cpu_count()} CPU "
          f"cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    ratios, cpu_ratios, fit_ratios, sweeps_s, bares_s = [], [], [], [], []
    # Per trial (its place in the sweep): each pair's sweep/bare fit ratio and bare seconds.
    by_trial: dict[int, list[tuple[float, float]]] = defaultdict(list)
    configurations: list[Any] = []  # each pair's trials, to check they are the same ones
    records: list[dict[str, Any]] = []  # every pair's raw figures, for --json
    outside: dict[str, list[float]] = defaultdict(list)
    gc_sweep: list[float] = []
    gc_bare: list[float] = []
    phases: dict[str, list[float]] = defaultdict(list)
    background: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        trials = Path(tmp) / "trials.json"
        for pair in range(args.pairs):
            if pair % 2 == 0:
                sweep = run_side("sweep", Path(tmp) / "sweep.json")
                trials.write_text(json.dumps(sweep), encoding="utf-8")
                bare = run_side("bare", Path(tmp) / "bare.json", trials)
            else:  # the bare side first: needs the trials, so from the previous pair's sweep
                bare = run_side("bare", Path(tmp) / "bare.json", trials)
                sweep = run_side("sweep", Path(tmp) / "sweep.json")
                trials.write_text(json.dumps(sweep), encoding="utf-8")
            gc_sweep.append(sweep["gc_s"])
            gc_bare.append(bare["gc_s"])
            for label in PHASES:
                phases[label].append(sweep["phases"].get(label, 0.0))
                background[label].append(sweep["background"].get(label, 0.0))
            epochs = sum(t["epochs_run"] for t in sweep["trials"])
            ratio, cpu_ratio = sweep["wall"] / bare["wall"], sweep["cpu"] / bare["cpu"]
            ratios.append(ratio)
            cpu_ratios.append(cpu_ratio)
            fit_ratios.append(sweep["fit"] / bare["fit"])
            outside["sweep"].append(sweep["wall"] - sweep["fit"])
            outside["bare"].append(bare["wall"] - bare["fit"])
            sweeps_s.append(sweep["wall"])
            bares_s.append(bare["wall"])
            print(f"pair {pair + 1}: sweep {sweep['wall']:6.1f} s, bare Keras "
                  f"{bare['wall']:6.1f} s, ratio {ratio:.3f}; CPU time ratio {cpu_ratio:.3f} "
                  f"({len(sweep['trials'])} trials, {epochs} epochs); full garbage "
                  f"collections: sweep {sweep['gc_n']} ({sweep['gc_s']:.2f} s), bare "
                  f"{bare['gc_n']} ({bare['gc_s']:.2f} s); in Model.fit: sweep "
                  f"{sweep['fit']:.1f} s, bare {bare['fit']:.1f} s", flush=True)
            fits = [s / b for s, b in zip(sweep["fits"], bare["fits"], strict=False)]
            for place, (fit_ratio, bare_fit) in enumerate(zip(fits, bare["fits"], strict=False)):
                by_trial[place].append((fit_ratio, bare_fit))
            configurations.append([(t["params"], t["epochs_run"]) for t in sweep["trials"]])
            records.append({"sweep": sweep, "bare": bare})
            print("  each fit, sweep/bare: " + " ".join(f"{r:.2f}" for r in fits), flush=True)
    print(f"overhead ratio: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f}  (sweep median {statistics.median(sweeps_s):.1f} s, bare "
          f"Keras median {statistics.median(bares_s):.1f} s)")
    interval = median_interval(ratios)
    print("  95 % interval of the median ratio: " + (
        f"{interval[0]:.3f}-{interval[1]:.3f} (distribution-free)" if interval else
        f"none from {len(ratios)} pairs (min..max covers {1 - 2 / 2 ** len(ratios):.0%}); "
        f"at least 6 pairs give one"))
    print(f"CPU time ratio (every thread, less sensitive to other jobs): median "
          f"{statistics.median(cpu_ratios):.3f}, min {min(cpu_ratios):.3f}, "
          f"max {max(cpu_ratios):.3f}")
    print(f"inside Model.fit (training and its callbacks): sweep/bare median "
          f"{statistics.median(fit_ratios):.3f}, min {min(fit_ratios):.3f}, max "
          f"{max(fit_ratios):.3f}; outside it (median s): sweep "
          f"{statistics.median(outside['sweep']):.1f}, bare "
          f"{statistics.median(outside['bare']):.1f}")
    if args.json:
        args.json.write_text(json.dumps(records), encoding="utf-8")
    if all(c == configurations[0] for c in configurations):
        print_by_trial(by_trial, statistics.median(
            s - b for s, b in zip(outside["sweep"], outside["bare"], strict=True)),
            statistics.median(bares_s))
    else:
        print("trial by trial: not compared, the pairs' sweeps ran different trials")
    print(f"full garbage collections (median s): sweep {statistics.median(gc_sweep):.2f}, "
          f"bare Keras {statistics.median(gc_bare):.2f} (the sweep freezes start-up objects "
          f"out of the collector's reach; a bare loop does not)")
    extra = statistics.median(s - b for s, b in zip(sweeps_s, bares_s, strict=True))
    print(f"\nwhere the sweep's time goes beyond training (median s per sweep; extra seconds "
          f"over bare Keras: {extra:.1f}):")
    for label, values in sorted(phases.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {statistics.median(values):6.2f}  {label}")
    print("on tracking's background thread, beside training (median s per sweep):")
    for label, values in sorted(background.items(), key=lambda kv: -statistics.median(kv[1])):
        if statistics.median(values) > 0:
            print(f"  {statistics.median(values):6.2f}  {label}")
    keras_only, sweep_imports = import_seconds()
    print(f"  process start-up, not in the ratio: importing keras {keras_only:.1f} s; keras + "
          f"keras-tuner + optuna + mlflow + sweeps {sweep_imports:.1f} s")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
