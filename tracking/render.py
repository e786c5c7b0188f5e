"""Figures drawn in a helper process, so that drawing them does not slow training down.

matplotlib is Python from end to end: a trial's learning-curve figure holds the interpreter
lock for about 0.1 s, and a thread that draws while Keras trains makes each training step that
ends meanwhile wait for the lock. Measured on a 2-core machine (``scripts/bench_overhead.py``
explains the setting): three epochs of an MLP took 6.8 s alone, 13.4-15.3 s beside a thread
drawing learning curves without pause, and 7.3-8.1 s beside a helper *process* at low priority
drawing without pause (Keras on TensorFlow keeps 1.2 of the 2 cores busy; the helper takes the
rest). A sweep draws much less than that, but all of it used to land on training.

A :class:`Renderer` starts one helper, ``python -m tracking.render``, in Linux's idle
scheduling class (elsewhere at a higher niceness): a niced helper importing its libraries
during the first trial slowed that trial's training by a median 22 % (10 runs), one in the
idle class by 1.5 %, within noise. The helper imports matplotlib and Optuna's plotting (never
TensorFlow, Keras or MLflow) and runs drawing jobs by name (:data:`tracking.plots.JOBS`):
the caller sends the job's plain arguments, the helper writes the PNG files and answers with
their paths. One job at a time; the caller's thread waits for the answer without holding the
lock, so training goes on::

    renderer = Renderer()
    renderer.start()       # the helper imports its libraries while the caller goes on
    path = renderer.draw("learning_curves", path=..., history=..., title="trial 3")
    renderer.close()       # the helper exits; nothing is left running

Nothing is lost if a helper cannot be had: where it cannot start (no ``sys.executable``, not
POSIX), dies, or does not answer within ``timeout_s``, that job and every later one are drawn
in the caller's process, as before; a job that fails in the helper is drawn again here, so
that its error, if it is one, is raised here with its traceback.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from sweeps import runtime
from tracking import plots

__all__ = ["Renderer"]

_log = logging.getLogger(__name__)

#: The helper's niceness over its parent's where there is no idle scheduling class: it
#: draws with what training leaves idle, and still gets a share of a busy machine.
NICENESS = 10


class Renderer:
    """Draws :data:`tracking.plots.JOBS` in a helper process; in this one if it cannot."""

    def __init__(self, timeout_s: float = 120.0) -> None:
        # A learning-curve job takes 0.1 s and a report of hundreds of trials seconds; a
        # helper that has not answered in two minutes is stuck, or starved on a machine with
        # no idle core: the figures are drawn here from then on.
        self.timeout_s = timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._failed = False  # the helper could not start or stopped: draw here from now on
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The helper's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the helper now (else the first job starts it)."""
        with self._lock:
            self._helper()

    def draw(self, job: str, **arguments: Any) -> Any:
        """Run ``plots.JOBS[job](**arguments)`` in the helper and return its result."""
        with self._lock:
            process = self._helper()
            if process is not None:
                try:
                    status, value = self._ask(process, job, arguments)
                except (OSError, EOFError, pickle.PickleError, TimeoutError) as exc:
                    _log.info("the figure helper stopped (%s); figures are drawn in this "
                              "process from now on", str(exc) or type(exc).__name__)
                    self._stop(kill=True)
                    self._failed = True
                else:
                    if status == "ok":
                        return value
                    _log.debug("the figure helper could not draw %s (%s); drawing it here",
                               job, value)
        return plots.JOBS[job](**arguments)

    def close(self) -> None:
        """Stop the helper (it exits at the end of its input) and wait for it."""
        with self._lock:
            self._stop(kill=False)

    def _helper(self) -> subprocess.Popen[bytes] | None:
        if self._process is None and not self._failed:
            self._process = _spawn()
            self._failed = self._process is None
        return self._process

    def _ask(self, process: subprocess.Popen[bytes], job: str,
             arguments: dict[str, Any]) -> tuple[str, Any]:
        assert process.stdin is not None and process.stdout is not None
        pickle.dump((job, arguments), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        process.stdin.flush()
        # One answer per request, and the helper writes it at once: when the pipe turns
        # readable, the whole answer follows.
        readable, _, _ = select.select([process.stdout], [], [], self.timeout_s)
        if not readable:
            raise TimeoutError(f"no answer in {self.timeout_s:g} s")
        return pickle.load(process.stdout)

    def _stop(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if kill:
            process.kill()
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()  # the helper's end of input: it exits
            except OSError:
                pass  # its end is gone already
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _spawn() -> subprocess.Popen[bytes] | None:
    if os.name != "posix" or not sys.executable:
        return None  # select() on pipes is POSIX's; elsewhere figures are drawn in-process
    # The helper imports this package as the caller does, wherever its working directory.
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}
    try:
        return subprocess.Popen([sys.executable, "-m", "tracking.render"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
    except OSError as exc:
        _log.info("no figure helper (%s); figures are drawn in this process", exc)
        return None


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper's loop: a job per request until its input ends."""
    plots.warm()
    while True:
        try:
            job, arguments = pickle.load(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", plots.JOBS[job](**arguments))
        except Exception as exc:  # noqa: BLE001 - the caller draws it again and raises there
            answer = ("error", f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def _lower_priority() -> None:
    """Linux's idle scheduling class where there is one: the helper runs only on a core that
    nothing else wants, and a training thread that wakes takes the core back at once (a
    niced process keeps it until the scheduler's next check). Elsewhere: a higher niceness."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(NICENESS)


def main() -> None:
    answers = runtime.answers_from_stdout()  # what a library prints goes to stderr instead
    # Ctrl-C reaches the whole process group: the caller decides when the helper ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lower_priority()
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
