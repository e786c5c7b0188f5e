"""A stop always stops: SIGINT or SIGTERM at random moments of short sweeps.

    python scripts/drill_signals.py [--signals 100] [--tuners random optuna] [--seed 0]
                                    [--no-resume]

For each engine a reference sweep (4 trials of 2 epochs on 600 MNIST digits) runs to the
end, and the time of each line it prints is noted. Each drill then starts the same sweep in
a fresh directory and store, picks a moment uniformly over the reference's wall time (start-up,
data loading, building, fitting, evaluating, logging, the final model's registration), waits
for the line the reference had printed last before that moment, sleeps the rest, and sends the
signal. What must hold, every time:

- the sweep exits non-zero (130, "interrupted"), with no Python traceback;
- no trial run is FAILED and no run is left RUNNING in the MLflow store;
- ``--resume`` then finishes the sweep (exit 0) with exactly 4 FINISHED trial runs, none twice.

A signal that arrives after the sweep has exited is counted apart, as "too late". Prints one
line per signal (the engine, the signal, where it landed, the exit code, the statuses) and a
summary; exits 1 if anything above failed. ``tests/integration/test_signal_drill.py`` runs a
few of these; docs/benchmarks.md quotes this script's figures. Needs MNIST offline
($SWEEPS_DATA_DIR) or online.
"""

from __future__ import annotations

import argparse
import bisect
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRIALS = 4
SWEEP = ["mnist_mlp", "--max-trials", str(TRIALS), "--max-epochs", "2",
         "--set", "data.subset=600", "--set", "search_space.units={min: 16, max: 32, step: 16}",
         "--set", "tuner.optuna.pruner=none"]


@dataclass(frozen=True)
class Reference:
    """A sweep run to the end: when each line of its output appeared, and when it exited."""

    lines: tuple[str, ...]
    times: tuple[float, ...]
    wall: float

    def moment(self, at: float) -> tuple[int, float]:
        """The number of lines printed before ``at`` seconds, and the seconds after the last."""
        count = bisect.bisect_right(self.times, at)
        return count, at - (self.times[count - 1] if count else 0.0)


@dataclass
class Outcome:
    tuner: str
    signal: str
    where: str
    returncode: int | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    too_late: bool = False
    stderr: str = ""


def command(tuner: str, tmp: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sweeps", "run", *SWEEP, "--tuner", tuner,
            "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--work-dir", str(tmp / ".sweeps"),
            *extra]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
            "MLFLOW_LOGGING_LEVEL": "WARNING"}


def start(tuner: str, tmp: Path) -> tuple[subprocess.Popen[str], list[float], threading.Event]:
    """The sweep started; a thread notes when each of its lines appears."""
    proc = subprocess.Popen(command(tuner, tmp), cwd=tmp, env=environment(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    begun = time.perf_counter()
    times: list[float] = []
    lines: list[str] = []
    changed = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            times.append(time.perf_counter() - begun)
            changed.set()
        changed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.lines = lines  # type: ignore[attr-defined]  # the reader's, for the caller
    proc.reader = reader  # type: ignore[attr-defined]
    return proc, times, changed


def reference(tuner: str) -> Reference:
    """One sweep run to the end, which must succeed with every trial FINISHED."""
    with tempfile.TemporaryDirectory(prefix="drill-signals-") as name:
        tmp = Path(name)
        proc, times, _ = start(tuner, tmp)
        _, err = proc.communicate(timeout=600)
        proc.reader.join()  # type: ignore[attr-defined]
        wall = times[-1] if times else 0.0
        if proc.returncode != 0:
            sys.exit(f"the reference sweep ({tuner}) exited {proc.returncode}:\n{err[-2000:]}")
        statuses = trial_statuses(tmp)
        if statuses != Counter({"FINISHED": TRIALS, "sweep FINISHED": 1}):
            sys.exit(f"the reference sweep ({tuner}) left trial runs {dict(statuses)}")
        return Reference(tuple(proc.lines), tuple(times), wall)  # type: ignore[attr-defined]


def trial_statuses(tmp: Path, names: bool = False) -> Counter[str]:
    """The trial runs' statuses (with ``names``: each FINISHED run's name counted)."""
    if not (tmp / "mlflow.db").exists():
        return Counter()
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(f"sqlite:///{tmp / 'mlflow.db'}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(experiments) if experiments else []
    except Exception as exc:  # noqa: BLE001 - a store left half-made is what this looks for
        return Counter({f"store unreadable ({type(exc).__name__})": 1})
    counts: Counter[str] = Counter()
    for run in runs:
        if run.data.tags.get("sweeps.kind") == "sweep":
            counts[f"sweep {run.info.status}"] += 1
        elif names:
            if run.info.status == "FINISHED":
                counts[run.info.run_name] += 1
        else:
            counts[run.info.status] += 1
    return counts


def where(lines: list[str]) -> str:
    """Where in the sweep a signal lands that the sweep receives after printing ``lines``."""
    if len(lines) < 2:  # before "objective: ...": imports, data, the first build
        return "start-up"
    last = lines[-1].split()
    if last[:1] == ["trial"] and "/" in last[1]:
        done = int(last[1].split("/")[0])
        return f"trial {done + 1}" if done < TRIALS else "after the trials"
    return "trial 1" if last[:1] == ["objective:"] else "after the trials"


def _before_sweeps(err: str) -> bool:
    """Whether a traceback comes from the interpreter's own start-up (``site`` reading the
    ``.pth`` files, ``runpy`` finding the package), before a line of this project ran."""
    tb = err[err.index("Traceback"):].splitlines()
    frames = [line.strip() for line in tb if line.strip().startswith("File ")]
    ours = [f for f in frames for package in ("sweeps", "tracking", "hypermodels")
            if f'"{REPO / package}' in f]
    return bool(frames) and frames[0].startswith('File "<frozen ') and not ours


def drill(tuner: str, ref: Reference, at: float, sig: signal.Signals, resume: bool) -> Outcome:
    lines_before, after = ref.moment(at)
    outcome = Outcome(tuner, sig.name, "")
    with tempfile.TemporaryDirectory(prefix="drill-signals-") as name:
        tmp = Path(name)
        proc, times, changed = start(tuner, tmp)
        while len(times) < lines_before and proc.poll() is None:
            changed.wait(1.0)
            changed.clear()
        time.sleep(after)
        if proc.poll() is not None:
            outcome.too_late = True
            proc.communicate()
            return outcome
        proc.send_signal(sig)
        outcome.where = where(list(proc.lines))  # type: ignore[attr-defined]
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            outcome.problems.append("still running 300 s after the signal: killed")
        outcome.returncode = proc.returncode
        if proc.returncode == 0:
            outcome.problems.append("exit 0 after the signal")
        if "Traceback" in err and _before_sweeps(err):
            # A SIGINT in the interpreter's own start-up, before Python runs a line of sweeps
            # (the first ~0.05 s): its KeyboardInterrupt traceback is Python's, as for any
            # program (docs/resume-and-workers.md).
            outcome.where = "interpreter start-up"
        elif "Traceback" in err:
            # Where it was raised: the last frame's line and the exception's.
            tb = err[err.index("Traceback"):].strip().splitlines()
            frames = [line.strip() for line in tb if line.strip().startswith("File ")]
            outcome.problems.append(f"a traceback ({len(tb)} lines of stderr, last frame "
                                    f"{frames[-1][:160] if frames else '-'}): "
                                    + next((line for line in tb[1:] if not line.startswith(" ")),
                                           "")[:200])
            outcome.stderr = err
        outcome.statuses = trial_statuses(tmp)
        for what, count in outcome.statuses.items():
            if what.startswith("store unreadable"):
                outcome.problems.append(what)
            elif what.endswith(("FAILED", "RUNNING")):
                outcome.problems.append(f"{count} run(s) {what}")
        if resume and not outcome.problems:
            # A sweep stopped before it kept any state has nothing to resume: it runs again.
            state = tmp / ".sweeps" / "mnist_mlp"
            resuming = ["--resume"] if state.is_dir() and any(state.iterdir()) else []
            again = subprocess.run(command(tuner, tmp, *resuming),
                                   cwd=tmp, env=environment(),
                                   capture_output=True, text=True, timeout=600)
            finished = trial_statuses(tmp, names=True)
            trials = {k: v for k, v in finished.items() if not k.startswith("sweep ")}
            if again.returncode != 0:
                outcome.problems.append(f"--resume exited {again.returncode}: "
                                        + (again.stderr.strip().splitlines() or [""])[-1][:200])
            elif len(trials) != TRIALS or any(v != 1 for v in trials.values()):
                outcome.problems.append(f"after --resume, FINISHED trial runs {trials}")
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--tuners", nargs="+", default=["random", "optuna"])
    parser.add_argument("--seed", type=int, default=0, help="draws the moments and signals")
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="skip the --resume after each signal (halves the time)")
    parser.add_argument("--stderr", type=Path, default=None, metavar="FILE",
                        help="append the stderr of every signal with a problem to FILE")
    args = parser.parse_args()
    # A shell's background job ignores SIGINT, and children inherit that: the sweeps here
    # must receive it as a terminal's Ctrl-C delivers it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = random.Random(args.seed)
    print(f"{args.signals} signals over {', '.join(args.tuners)}; {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    refs = {tuner: reference(tuner) for tuner in args.tuners}
    for tuner, ref in refs.items():
        print(f"reference {tuner}: {ref.wall:.1f} s, {len(ref.lines)} lines", flush=True)
    outcomes = []
    for i in range(args.signals):
        tuner = args.tuners[i % len(args.tuners)]
        at = rng.uniform(0.0, refs[tuner].wall)
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        outcome = drill(tuner, refs[tuner], at, sig, args.resume)
        outcomes.append(outcome)
        if args.stderr and outcome.stderr:
            with args.stderr.open("a") as log:
                log.write(f"--- signal {i + 1} ({tuner}, {sig.name} at {at:.1f} s)\n"
                          f"{outcome.stderr}\n")
        print(f"{i + 1:>3} {tuner:<7} {sig.name:<7} at {at:5.1f} s  {outcome.where:<17} "
              + ("too late: the sweep had ended" if outcome.too_late else
                 f"exit {outcome.returncode}  {dict(outcome.statuses)}  "
                 + ("; ".join(outcome.problems) or "ok")), flush=True)
    landed = [o for o in outcomes if not o.too_late]
    bad = [o for o in landed if o.problems]
    places = Counter(o.where for o in landed)
    print(f"{len(landed)} signals landed ({', '.join(f'{k}: {v}' for k, v in places.items())}), "
          f"{len(outcomes) - len(landed)} too late; {len(bad)} with a problem")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
