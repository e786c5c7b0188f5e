"""TensorBoard logs of a sweep: every trial's per-epoch scalars and the HParams plugin's data.

Two ways to the same folders:

- :func:`export_sweep` writes them from what MLflow holds (``python -m sweeps tensorboard``):
  any engine, any number of workers, a finished or a running sweep, an old one;
- :class:`TensorBoardObserver` writes them from the sweep's events while it runs
  (``tracking.tensorboard: true``), for users who watch live.

The layout is Keras's own (``keras.callbacks.TensorBoard`` with the HParams plugin's
``KerasCallback``), so what Keras users know reads the same::

    LOGDIR/                      the HParams experiment config (every hyperparameter, metrics)
    LOGDIR/trial_007/            the trial's session: its hyperparameters, status, best_* values
    LOGDIR/trial_007/train/      epoch_loss, epoch_accuracy, ... at step = epoch
    LOGDIR/trial_007/validation/ epoch_loss, epoch_accuracy, ... (MLflow's val_* metrics)

Everything is written with TensorBoard's own APIs (``tf.summary`` writers,
``tensorboard.plugins.hparams``); ``tensorboard --logdir LOGDIR`` shows the scalars, and the
HParams dashboard its table, parallel coordinates and scatter plots.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeps.events import (
    EpochEnded,
    ModelBuilt,
    SweepEnded,
    SweepObserver,
    SweepStarted,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from tracking import tags as T

__all__ = ["BoardWriter", "Exported", "TensorBoardObserver", "epoch_scalar", "export_sweep",
           "trial_folder"]

TRAIN, VALIDATION = "train", "validation"
#: Metrics a trial run holds once, at its end (beside its ``best_*`` values), not per epoch.
FINAL_METRICS = ("epochs_run", "wall_time_s", "param_count")
#: Up to this many distinct values, a numeric hyperparameter's domain is the values themselves
#: (the HParams table then offers them as checkboxes); beyond it, their range.
_DISCRETE_UP_TO = 10


def trial_folder(number: int) -> str:
    return f"trial_{number:03d}"


def epoch_scalar(key: str) -> tuple[str, str]:
    """Where a per-epoch MLflow metric goes: ``(sub-folder, tag)`` as Keras's TensorBoard
    callback names them (``val_loss`` -> ``("validation", "epoch_loss")``); a fold's metric
    (``fold1/val_loss``) stays in the trial's own folder under its own name."""
    if "/" in key:
        return "", key
    if key.startswith("val_"):
        return VALIDATION, f"epoch_{key[4:]}"
    return TRAIN, f"epoch_{key}"


def is_epoch_metric(key: str) -> bool:
    return "best_" not in key and key not in FINAL_METRICS


#: A trial's status as the HParams plugin's session status; a running trial has none yet.
#: Pruned and killed trials are "unknown", not "aborted": the dashboard offers no filter
#: for aborted sessions and so never shows them, and a pruned trial's values are worth
#: seeing beside the others.
_SESSION_STATUS = {TrialStatus.COMPLETED: "STATUS_SUCCESS", TrialStatus.FAILED: "STATUS_FAILURE",
                   TrialStatus.PRUNED: "STATUS_UNKNOWN", TrialStatus.KILLED: "STATUS_UNKNOWN"}


class BoardWriter:
    """TensorBoard event files under ``logdir``: one summary writer per run folder."""

    def __init__(self, logdir: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self.logdir = Path(logdir)
        self._writers: dict[str, Any] = {}

    def _writer(self, *parts: str) -> Any:
        key = "/".join(p for p in parts if p)
        if key not in self._writers:
            self._writers[key] = self._tf.summary.create_file_writer(
                str(self.logdir.joinpath(*[p for p in parts if p])))
        return self._writers[key]

    def experiment(self, sessions: Iterable[Mapping[str, Any]], epoch_keys: Iterable[str],
                   final_keys: Iterable[str]) -> None:
        """The HParams experiment config, once: every hyperparameter any session has (its
        domain from the values seen) and every metric, the trial's best values first."""
        from tensorboard.plugins.hparams import api as hp

        values: dict[str, list[Any]] = {}
        for session in sessions:
            for name, value in session.items():
                values.setdefault(name, []).append(value)
        hparams = [hp.HParam(name, _domain(seen)) for name, seen in sorted(values.items())]
        metrics = [hp.Metric(key) for key in sorted(set(final_keys), key=_final_order)]
        for key in sorted(set(epoch_keys)):
            group, tag = epoch_scalar(key)
            metrics.append(hp.Metric(tag, group=group or None, display_name=key))
        with self._writer().as_default():
            hp.hparams_config(hparams=hparams, metrics=metrics)
        self._writer().flush()

    def session_started(self, folder: str, values: Mapping[str, Any],
                        start_time_s: float | None = None) -> None:
        from tensorboard.plugins.hparams import api as hp

        with self._writer(folder).as_default():
            hp.hparams(dict(values), trial_id=folder, start_time_secs=start_time_s)
        self._writer(folder).flush()

    def epoch(self, folder: str, step: int, metrics: Mapping[str, float], *,
              flush: bool = True) -> None:
        """One epoch's metrics; ``flush=False`` leaves them buffered (an export writes a
        trial's whole history, and closing its writers flushes it once)."""
        touched = set()
        for key, value in metrics.items():
            group, tag = epoch_scalar(key)
            with self._writer(folder, group).as_default():
                self._tf.summary.scalar(tag, float(value), step=step)
            touched.add((folder, group))
        for parts in touched if flush else ():
            self._writer(*parts).flush()

    def final_values(self, folder: str, metrics: Mapping[str, float]) -> None:
        """A trial's values written once (``best_*``, ``param_count``, ...), at step 0 in its
        own folder, where the HParams table looks for them."""
        writer = self._writer(folder)
        with writer.as_default():
            for key, value in metrics.items():
                self._tf.summary.scalar(key, float(value), step=0)
        writer.flush()

    def session_ended(self, folder: str, status: TrialStatus,
                      end_time_s: float | None = None) -> None:
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams import summary as hparams_summary

        end = hparams_summary.session_end_pb(
            api_pb2.Status.Value(_SESSION_STATUS[status]), end_time_s)
        writer = self._writer(folder)
        with writer.as_default():
            self._tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=0)
        writer.flush()

    def close(self, folder: str | None = None) -> None:
        """Close the writers of ``folder`` (a trial's) or all of them."""
        for key in [k for k in self._writers if folder is None or k.split("/")[0] == folder]:
            self._writers.pop(key).close()


def _domain(values: list[Any]) -> Any:
    """The narrowest domain the HParams plugin takes for the values a hyperparameter took."""
    from tensorboard.plugins.hparams import api as hp

    distinct = sorted(set(values), key=repr)
    if all(isinstance(v, bool) for v in distinct):
        return hp.Discrete([False, True])
    if all(isinstance(v, str) for v in distinct):
        return hp.Discrete(distinct)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct):
        numbers = sorted(float(v) for v in distinct)
        if len(distinct) <= _DISCRETE_UP_TO:
            return hp.Discrete(numbers)
        if all(isinstance(v, int) for v in distinct):
            return hp.IntInterval(int(numbers[0]), int(numbers[-1]))
        return hp.RealInterval(numbers[0], numbers[-1])
    return None  # mixed kinds: the plugin infers it


def _final_order(key: str) -> tuple[int, str]:
    return (0 if key.startswith("best_") else 1, key)


def _hparam_value(value: Any) -> Any:
    """A value the HParams plugin takes (bool, number or text); ints become floats so that
    every session of a hyperparameter has the same kind, whatever MLflow gave back."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


# -- from MLflow --------------------------------------------------------------------------
@dataclass(frozen=True)
class Exported:
    logdir: Path
    trials: int
    running: int


def export_sweep(client: Any, sweep_run: Any, logdir: Path) -> Exported:
    """Write the TensorBoard logs of the sweep run ``sweep_run`` into ``logdir`` (replaced
    whole, so that exporting again, say while the sweep runs on, never doubles a point)."""
    from tracking.queries import param_value

    children = client.search_runs(
        [sweep_run.info.experiment_id], max_results=50000,
        filter_string=f"tags.`{T.PARENT}` = '{sweep_run.info.run_id}' "
                      f"and tags.`{T.KIND}` = '{T.KIND_TRIAL}'")
    latest: dict[int, Any] = {}  # a trial run again after a kill: its last run is the trial
    for child in sorted(children, key=lambda r: r.info.start_time or 0):
        latest[int(child.data.tags.get(T.TRIAL_NUMBER, 0))] = child
    logdir = Path(logdir)
    logdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{logdir.name}-", dir=logdir.parent))
    try:
        board = BoardWriter(staging)
        sessions, epoch_keys, final_keys, running = [], set(), set(), 0
        for number, run in sorted(latest.items()):
            folder = trial_folder(number)
            values = {k: _hparam_value(param_value(v)) for k, v in run.data.params.items()}
            sessions.append(values)
            board.session_started(folder, values, (run.info.start_time or 0) / 1000)
            by_step: dict[int, dict[str, float]] = {}
            for key in [k for k in run.data.metrics if is_epoch_metric(k)]:
                epoch_keys.add(key)
                for metric in client.get_metric_history(run.info.run_id, key):
                    by_step.setdefault(metric.step, {})[key] = metric.value
            for step, metrics in sorted(by_step.items()):
                board.epoch(folder, step, metrics, flush=False)
            final = {k: v for k, v in run.data.metrics.items() if not is_epoch_metric(k)}
            final_keys.update(final)
            board.final_values(folder, final)
            status = _run_status(run)
            if status is None:  # still training: no end yet
                running += 1
            else:
                board.session_ended(folder, status, (run.info.end_time or 0) / 1000 or None)
            board.close(folder)
        board.experiment(sessions, epoch_keys, final_keys)
        board.close()
        if logdir.exists():
            shutil.rmtree(logdir)
        staging.rename(logdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Exported(logdir=logdir, trials=len(latest), running=running)


def _run_status(run: Any) -> TrialStatus | None:
    if run.info.status == "RUNNING":
        return None
    tag = run.data.tags.get(T.TRIAL_STATUS)
    return TrialStatus(tag) if tag else TrialStatus.KILLED


# -- while the sweep runs -----------------------------------------------------------------
class TensorBoardObserver(SweepObserver):
    """``tracking.tensorboard: true``: the same logs as :func:`export_sweep`, written from
    the sweep's events as it runs (trial by trial, epoch by epoch). The experiment config
    follows at the sweep's end, when every hyperparameter's values are known; until then
    the HParams dashboard infers it from the sessions. ``experiment_config=False`` (one of
    several workers, which sees only its own trials): never written here."""

    def __init__(self, logdir: Path, *, experiment_config: bool = True) -> None:
        self.board = BoardWriter(logdir)
        self.experiment_config = experiment_config
        self._folders: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._sessions: dict[str, dict[str, Any]] = {}
        self._epoch_keys: set[str] = set()
        self._final_keys: set[str] = set()
        self._objective = "val_loss"

    def sweep_started(self, event: SweepStarted) -> None:
        self._objective = event.spec.objectives[0].metric

    def trial_started(self, event: TrialStarted) -> None:
        folder = self._folders[event.trial_id] = trial_folder(event.number)
        # A trial run again (killed, then resumed) starts over: its old epochs would
        # otherwise lie beside the new ones at the same steps.
        shutil.rmtree(self.board.logdir / folder, ignore_errors=True)
        self._started[event.trial_id] = time.time()

    def model_built(self, event: ModelBuilt) -> None:
        folder = self._folders.get(event.trial_id)
        if folder is None:
            return
        values = {k: _hparam_value(v) for k, v in event.params.items()}
        self._sessions[folder] = values
        self.board.session_started(folder, values, self._started.get(event.trial_id))
        if event.param_count is not None:
            self.board.final_values(folder, {"param_count": event.param_count})
            self._final_keys.add("param_count")

    def epoch_ended(self, event: EpochEnded) -> None:
        folder = self._folders.get(event.trial_id)
        if folder is not None:
            self._epoch_keys.update(event.metrics)
            self.board.epoch(folder, event.epoch, event.metrics)

    def trial_ended(self, event: TrialEnded) -> None:
        folder = self._folders.pop(event.trial_id, None)
        if folder is None:
            return
        final = {"epochs_run": event.epochs_run, "wall_time_s": event.wall_time_s,
                 **{f"best_{k}": v for k, v in event.values.items()}, **event.extra}
        if event.objective is not None:  # as the trial's MLflow run has it
            final[f"best_{self._objective}"] = event.objective
        self._final_keys.update(final)
        self.board.final_values(folder, {k: v for k, v in final.items() if v == v})
        self.board.session_ended(folder, event.status, time.time())
        self.board.close(folder)

    def sweep_ended(self, event: SweepEnded) -> None:
        if self.experiment_config:
            self.board.experiment(self._sessions.values(), self._epoch_keys,
                                  self._final_keys)
        self.board.close()
