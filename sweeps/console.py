"""What a person sees while a sweep runs: one line per trial, then a summary.

On a terminal a live status line (rich) shows the running trial, its epoch, the best so far,
the elapsed time and an estimate of the time left; in a Jupyter notebook the same line is a
display updated in place (IPython's display handles, no widgets needed); in logs (CI, a pipe)
only the plain per-trial lines appear.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from sweeps.events import (
    EpochEnded,
    SweepEnded,
    SweepObserver,
    SweepStarted,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from sweeps.trials import TrialBook, TrialRecord

__all__ = ["ConsoleReporter", "format_value"]


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def in_notebook(stream: TextIO) -> bool:
    """True when ``stream`` is the standard output of a Jupyter kernel (IPython already
    imported by the kernel: nothing is imported here to find out)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or stream is not sys.stdout:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _NotebookStatus:
    """The status line as one notebook display, updated in place."""

    def __init__(self) -> None:
        self._handle: Any = None

    def update(self, text: str) -> None:
        from IPython.display import Pretty, display

        if self._handle is None:
            self._handle = display(Pretty(text), display_id=True)
        else:
            self._handle.update(Pretty(text))


def _params(record: TrialRecord) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in record.params.items())


class ConsoleReporter(SweepObserver):
    """Prints progress to ``stream``; reads trial outcomes from a shared :class:`TrialBook`."""

    def __init__(self, book: TrialBook, stream: TextIO, *, live: bool | None = None) -> None:
        self.book = book
        self.stream = stream
        self.planned: int | None = None
        self.metric = book.objective.metric
        self.objectives: tuple[Any, ...] = ()
        self.max_epochs = 0
        self._start = time.monotonic()
        self._live: Any = None
        self._console: Any = None
        self._notebook: _NotebookStatus | None = None
        self._done = 0
        if live is None and in_notebook(stream):
            self._notebook = _NotebookStatus()
        elif stream.isatty() if live is None else live:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=stream, force_terminal=True, highlight=False)
            # Refreshed by events, not by a thread: nothing to stop if the process dies.
            self._live = Live(console=self._console, auto_refresh=False, transient=True)

    def _print(self, text: str = "") -> None:
        if self._console is not None:
            self._console.print(text, markup=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def _status(self, text: str) -> None:
        if self._notebook is not None:
            self._notebook.update(text)
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(text), refresh=True)

    def note(self, text: str) -> None:
        """One line about the sweep from elsewhere (where its model was registered)."""
        self._print(text)

    def trial_started(self, event: TrialStarted) -> None:
        self._trial = event.number
        self._status(self._status_line(event.number, None, None))

    def epoch_ended(self, event: EpochEnded) -> None:
        if self._live is not None or self._notebook is not None:
            self._status(self._status_line(self._trial, event.epoch + 1,
                                           event.metrics.get(self.metric)))

    def _status_line(self, number: int, epoch: int | None, value: float | None) -> str:
        total = f"/{self.planned}" if self.planned else ""
        best = self.book.best()
        parts = [f"trial {number}{total}",
                 f"epoch {epoch}/{self.max_epochs}" if epoch else "building",
                 f"{self.metric} {format_value(value)}" if value is not None else "",
                 f"best {format_value(best.objective)}" if best else "best -",
                 _clock(time.monotonic() - self._start), self._time_left()]
        return " · ".join(p for p in parts if p)

    def _time_left(self) -> str:
        """The time left if the trials to come take as long as the finished ones did, on
        average (a rough guide: Hyperband's later trials train for more epochs)."""
        if not self.planned or not self._done or self._done >= self.planned:
            return ""
        elapsed = time.monotonic() - self._start
        return f"about {_clock(elapsed / self._done * (self.planned - self._done))} left"

    def close(self) -> None:
        if self._live is not None and self._live.is_started:
            self._live.stop()

    def sweep_started(self, event: SweepStarted) -> None:
        spec = event.spec
        self.planned = event.planned_trials
        self.objectives = spec.objectives
        self.max_epochs = spec.training.max_epochs
        self._start = time.monotonic()
        if self._live is not None:
            self._live.start()
        sizes = ", ".join(f"{n} {k}" for k, n in event.data_sizes.items())
        task = f", {event.task.describe()}" if event.task else ""
        self._print(f"sweep {spec.name}: {spec.tuner.kind.value} ({event.engine}) on "
                    f"{spec.data.name} [{sizes}{task}] from {event.data_source}")
        if event.compiled_by == "builder":
            self._print("the builder compiles its own models: its optimizer, loss and metrics "
                        "are kept")
        objectives = ", ".join(f"{o.direction.value} {o.metric}" for o in spec.objectives)
        self._print(f"objective: {objectives}; planned trials: {self.planned or 'open-ended'}; "
                    f"max epochs: {spec.training.max_epochs}")
        if event.resume_run_id:
            rerun = ", ".join(event.rerun_trial_ids) or "none"
            self._print(f"resuming MLflow run {event.resume_run_id}; interrupted trials to run "
                        f"again (engine ids): {rerun}")
        if event.budget_changes:
            self._print(f"budget: {'; '.join(event.budget_changes)}")
        if event.recovery_note:
            self._print(f"note: {event.recovery_note}")

    def trial_ended(self, event: TrialEnded) -> None:
        self._done += 1
        record = self.book.records[event.trial_id]
        total = f"/{self.planned}" if self.planned else ""
        best = self.book.best()
        if event.status is TrialStatus.COMPLETED:
            outcome = f"{self.metric}={format_value(event.objective)}"
        elif event.status is TrialStatus.PRUNED:
            outcome = f"pruned ({self.metric}={format_value(event.objective)})"
        else:
            outcome = f"{event.status.value}: {event.error or 'no message'}"
        extra = ""
        if "hyperband.bracket" in record.tags:
            extra = (f" [bracket {record.tags['hyperband.bracket']}"
                     f" round {record.tags['hyperband.round']}]")
        best_text = f"best {format_value(best.objective)}" if best else "best -"
        self._print(
            f"trial {record.number}{total}{extra} {_params(record)} | {event.epochs_run} ep | "
            f"{outcome} | {best_text} | {_clock(time.monotonic() - self._start)}"
        )

    def _final_fit(self, event: SweepEnded) -> None:
        """How the final model was made, and its test metrics beside the best trial's."""
        fit = event.final_fit
        if fit.failure:
            self._print(f"final fit failed ({fit.failure}): the best trial's model is the "
                        "final model")
            for key, value in event.test_metrics.items():
                self._print(f"{key}: {value:.4f}")
            return
        found = (f", the best of up to {fit.searched_epochs} on validation"
                 if fit.searched_epochs else "")
        self._print(f"final fit: the best hyperparameters retrained from scratch on "
                    f"{fit.examples:,} train+validation examples for {fit.epochs} "
                    f"epoch{'s' if fit.epochs != 1 else ''}{found} "
                    f"({fit.wall_time_s:.1f} s)")
        if not event.test_metrics:
            return
        width = max(len(key) for key in event.test_metrics)
        self._print(f"  {'':<{width}}  {'final model':>11}  {'best trial':>10}")
        for key, value in event.test_metrics.items():
            theirs = event.best_trial_test_metrics.get(key)
            self._print(f"  {key:<{width}}  {value:>11.4f}  "
                        f"{format(theirs, '.4f') if theirs is not None else '-':>10}")

    def _baselines(self, event: SweepEnded) -> None:
        """The uplift over the builder's defaults and a linear model (sweeps.final.baselines)."""
        from sweeps.final.uplift import uplift_lines

        found = event.baselines
        for line in uplift_lines(event.test_metrics, found.metrics, self.metric, found.what):
            self._print(line)
        for name, why in found.notes.items():
            self._print(f"no {name} baseline: {why}")

    def sweep_ended(self, event: SweepEnded) -> None:
        top = self.book.top(5)
        if self._notebook is not None:  # the display stays: make it say the sweep is over
            best = self.book.best()
            self._notebook.update(" · ".join([
                f"done: {len(self.book.completed())} trials completed",
                f"best {self.metric} {format_value(best.objective)}" if best else "no best",
                _clock(time.monotonic() - self._start)]))
        self._print()
        if event.pareto_trial_ids:
            self._print(f"Pareto-optimal trials ({', '.join(o.metric for o in self.objectives)}):")
            for trial_id in event.pareto_trial_ids:
                record = self.book.records[trial_id]
                self._print(f"  trial {record.number}: "
                            f"{self.metric}={format_value(record.objective)} "
                            f"params={record.param_count or 0:,}  {_params(record)}")
        if not top:
            self._print("no trial completed")
            self.close()
            return
        self._print(f"top {len(top)} of {len(self.book.completed())} completed trials "
                    f"(by {self.metric}):")
        header = f"  {'trial':>5}  {self.metric:>12}  {'epochs':>6}  {'params':>9}  hyperparameters"
        self._print(header)
        for record in top:
            self._print(f"  {record.number:>5}  {record.objective:>12.5f}  "
                        f"{record.epochs_run:>6}  {record.param_count or 0:>9,}  {_params(record)}")
        best = top[0]
        self._print(f"best trial {best.number}: {_params(best)}")
        if event.final_fit is not None:
            self._final_fit(event)
        else:
            for key, value in event.test_metrics.items():
                self._print(f"{key}: {value:.4f}")
        if event.baselines is not None:
            self._baselines(event)
        if event.test_note:
            self._print(f"note: {event.test_note}")
        self._print(f"elapsed: {_clock(time.monotonic() - self._start)}")
        self.close()
