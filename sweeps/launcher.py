"""``python -m sweeps run SPEC --workers N``: N worker processes on this machine, one sweep.

The workers are ordinary ``python -m sweeps worker`` processes (:mod:`sweeps.worker`): they
coordinate through the Optuna study's storage, as workers on several machines do, and this
module only starts them, labels their output and waits. Nothing here schedules trials.

- The storage is the spec's (``--storage``), else a sqlite file beside the MLflow store
  (Optuna's heartbeat, which re-runs a dead worker's trial, needs an RDB storage).
- The MLflow store and the Optuna tables are created here, once, before the workers start,
  as a team does when it sets up servers: N processes creating one schema at once race.
- Where GPUs are visible, worker ``i`` sees only GPU ``i mod G`` (``CUDA_VISIBLE_DEVICES``).
- Ctrl-C or SIGTERM is passed on to every worker, which ends its trial's run KILLED; a worker
  that dies (``kill -9``, out of memory) leaves its trial to Optuna's heartbeat, and the
  others run it again.

keras-tuner's engines do not run here: their distributed mode (a chief holding the oracle,
workers over gRPC) waits for every worker it has seen to ask again, so one dead worker keeps
the chief, and under Hyperband the other workers, waiting forever; ``--workers`` names the
Optuna configuration that runs the same search instead (:func:`refusal`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sweeps.errors import SpecError, SweepsError
from sweeps.spec import SweepSpec, TunerKind
from sweeps.state import sweep_id

__all__ = ["WorkersResult", "gpu_assignment", "refusal", "run_workers", "visible_gpus"]

#: What each keras-tuner engine is under Optuna, for the one line that refuses it.
_OPTUNA_EQUIVALENT = {
    TunerKind.HYPERBAND: "--set tuner.optuna.sampler=tpe --set tuner.optuna.pruner=hyperband",
    TunerKind.RANDOM: "--set tuner.optuna.sampler=random --set tuner.optuna.pruner=none",
    TunerKind.BAYESIAN: "--set tuner.optuna.sampler=gp --set tuner.optuna.pruner=none",
    # Optuna's GridSampler needs the grid up front; random draws from the same choices.
    TunerKind.GRID: "--set tuner.optuna.sampler=random --set tuner.optuna.pruner=none",
}


@dataclass(frozen=True)
class WorkersResult:
    """How the workers ended. ``exit_code`` is the command's: 0 once the sweep has ended."""

    exit_code: int
    storage: str
    study_name: str
    #: Each worker's exit status, by label (negative: killed by that signal).
    returncodes: dict[str, int]
    #: The MLflow sweep run the workers shared, once the founder recorded it.
    sweep_run_id: str | None


def refusal(spec: SweepSpec) -> str | None:
    """Why ``spec``'s engine cannot run on several workers, naming the Optuna configuration
    that runs the same search; None for Optuna."""
    if spec.tuner.kind is TunerKind.OPTUNA:
        return None
    settings = _OPTUNA_EQUIVALENT[spec.tuner.kind]
    return (f"--workers runs Optuna's shared study, not keras-tuner's {spec.tuner.kind.value}: "
            "keras-tuner's distributed chief waits forever for a worker that died; run the same "
            f"search as `--tuner optuna {settings} --workers N` (docs/resume-and-workers.md, "
            "\"Several workers on one sweep\")")


def visible_gpus(environ: dict[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, without importing TensorFlow: ``CUDA_VISIBLE_DEVICES``
    when set, else what ``nvidia-smi -L`` lists, else none."""
    environ = dict(os.environ if environ is None else environ)
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [g.strip() for g in environ["CUDA_VISIBLE_DEVICES"].split(",")
                if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listed.splitlines()) if line.startswith("GPU ")]


def gpu_assignment(workers: int, gpus: Sequence[str]) -> list[str | None]:
    """Worker ``i``'s ``CUDA_VISIBLE_DEVICES``: round robin over ``gpus``; None without GPUs."""
    return [gpus[i % len(gpus)] if gpus else None for i in range(workers)]


def run_workers(spec_ref: str, settings: Sequence[str], spec: SweepSpec, *, workers: int,
                work_dir: Path, resume: bool = False, overwrite: bool = False,
                verbose: bool = False, stream: TextIO | None = None) -> WorkersResult:
    """Run ``spec`` (loaded from ``spec_ref`` with ``settings``) on ``workers`` processes.

    A study of the same sweep already in the storage is refused unless ``resume`` (the
    workers join it) or ``overwrite`` (it is deleted first).
    """
    stream = stream or sys.stdout
    if workers < 1:
        raise SpecError(f"--workers takes a count of at least 1, not {workers}")
    if (why := refusal(spec)) is not None:
        raise SweepsError(why)
    from sweeps.engines.optuna_study import open_storage
    from sweeps.runner import default_storage
    from sweeps.session import resolve_tracking_uri
    from tracking.store import open_client, store_errors

    tracking_uri = resolve_tracking_uri(spec)
    storage = spec.tuner.settings[TunerKind.OPTUNA]["storage"] or default_storage(
        tracking_uri, work_dir)
    study_name = sweep_id(spec)
    with store_errors(tracking_uri, "cannot open the MLflow store"):
        open_client(tracking_uri).search_experiments(max_results=1)  # the schema, once
    opened = open_storage(storage)  # once: checked before the workers, read after them
    _prepare_study(opened, study_name, resume=resume, overwrite=overwrite)

    command = [sys.executable, "-m", "sweeps", "worker", spec_ref, "--work-dir", str(work_dir),
               *(f"--set={text}" for text in [*settings, "tuner.kind=optuna",
                                              f"tuner.optuna.storage={storage}",
                                              f"tracking.uri={tracking_uri}"]),
               *(["--verbose"] if verbose else [])]
    host = socket.gethostname()
    labels = [f"w{i + 1}" for i in range(workers)]
    gpus = gpu_assignment(workers, visible_gpus())
    print(f"{workers} workers on Optuna study {study_name} in {storage}"
          + (f"; GPUs {', '.join(g or '-' for g in gpus)}" if any(gpus) else ""),
          file=stream, flush=True)
    codes = _run_all(command, labels, host, gpus, stream)
    run_id = _sweep_run_id(opened, study_name)
    return WorkersResult(exit_code=_exit_code(codes, stream), storage=storage,
                         study_name=study_name, returncodes=codes, sweep_run_id=run_id)


def _prepare_study(storage, study_name: str, *, resume: bool, overwrite: bool) -> None:
    import optuna

    names = set(optuna.get_all_study_names(storage))
    present = sorted({study_name, f"{study_name}:ended"} & names)
    if present and overwrite:
        for name in present:
            optuna.delete_study(study_name=name, storage=storage)
    elif present and not resume:
        state = "ended" if f"{study_name}:ended" in names else "was stopped"
        raise SweepsError(f"this sweep's Optuna study {study_name} already exists ({state}): "
                          "add --resume to go on with it, or --overwrite to start it over")


def _run_all(command: list[str], labels: list[str], host: str, gpus: list[str | None],
             stream: TextIO) -> dict[str, int]:
    """Start every worker, copy its output line by line under its label, wait for all."""
    lock = threading.Lock()
    procs: list[subprocess.Popen[str]] = []
    copiers: list[threading.Thread] = []

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    # Each worker has its own session, so a Ctrl-C in the terminal reaches the workers once,
    # from here, not twice; the caller's handlers come back afterwards.
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for label, gpu in zip(labels, gpus):
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})}
            proc = subprocess.Popen([*command, f"--name={host}/{label}"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            procs.append(proc)
            copier = threading.Thread(target=_copy, args=(proc, label, stream, lock), daemon=True)
            copier.start()
            copiers.append(copier)
        for proc in procs:
            proc.wait()
        for copier in copiers:
            copier.join(timeout=10)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for proc in procs:  # only if this process itself is failing: no orphan workers
            if proc.poll() is None:
                proc.terminate()
    return {label: proc.returncode for label, proc in zip(labels, procs)}


def _copy(proc: subprocess.Popen[str], label: str, stream: TextIO, lock: threading.Lock) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        with lock:
            stream.write(f"[{label}] {line}")
            stream.flush()


def _exit_code(codes: dict[str, int], stream: TextIO) -> int:
    """0 when the sweep ended: some worker finished and no other failed on its own (a
    worker killed by a signal left its trial to the others)."""
    interrupted = [c for c in codes.values() if c in (130, 143)]
    failed = {label: c for label, c in codes.items() if c not in (0, 130, 143) and c > 0}
    killed = {label: -c for label, c in codes.items() if c < 0}
    for label, signum in killed.items():
        print(f"worker {label} was killed ({signal.Signals(signum).name}); the others ran its "
              "trial again", file=stream)
    if interrupted:
        return 130
    if failed:
        return max(failed.values())
    if 0 not in codes.values():
        print("every worker was killed: run the same command with --resume", file=stream)
        return 1
    return 0


def _sweep_run_id(storage, study_name: str) -> str | None:
    import optuna

    from sweeps.engines.optuna_study import SWEEP_RUN_ID

    try:
        return optuna.load_study(study_name=study_name, storage=storage).user_attrs.get(
            SWEEP_RUN_ID)
    except KeyError:
        return None
