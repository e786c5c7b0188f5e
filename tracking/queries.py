"""Sweeps and their trials, read back from an MLflow store, whatever engine ran them.

    client = MlflowClient(uri)
    sweeps = find_sweeps(client, ["mnist_mlp"])           # by sweep name, run id or experiment
    rows = sweeps[0].trials                                 # one TrialRecord per trial run
    study = to_optuna_study(sweeps[0])                      # for Optuna's plots and importances
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from sweeps.errors import TrackingError
from sweeps.events import TrialStatus
from sweeps.metrics import Direction
from sweeps.trials import TrialRecord
from tracking import tags as T
from tracking.plots import quiet_optuna

__all__ = ["SweepRuns", "find_sweeps", "load_sweep", "metric_history", "param_value",
           "read_trial", "to_optuna_study"]

_RUN_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class SweepRuns:
    run: Run
    spec: dict[str, Any]
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def name(self) -> str:
        return self.run.data.tags.get(T.SWEEP, self.run.info.run_name)

    @property
    def engine(self) -> str:
        return self.run.data.tags.get(T.TUNER, "?")

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """``(metric, direction)`` pairs, primary first (the resolved spec always has them)."""
        objective = self.spec.get("objective") or {"metric": "val_loss", "direction": "min"}
        items = objective if isinstance(objective, list) else [objective]
        return [(o["metric"], o["direction"]) for o in items]

    @property
    def task_metric(self) -> str:
        """The task's metric that reports and plots show beside the loss."""
        metrics = self.run.data.params.get("metrics", "accuracy")
        return metrics.split(",")[0] if metrics else "loss"

    def ranked(self) -> list[TrialRecord]:
        """Completed trials, best first by the primary objective (earlier trial on ties)."""
        metric, direction = self.objectives[0]
        key = f"best_{metric}"
        done = [t for t in self.trials if t.status == "COMPLETED" and key in t.metrics]
        done.sort(key=lambda t: t.number)
        return sorted(done, key=lambda t: Direction(direction).sort_key(t.metrics[key]))


def read_trial(run: Run, objective: str | None = None) -> TrialRecord:
    """A trial run read back as the one trial record: params parsed back from MLflow's
    strings, its final metrics, every tag; ``objective``: which ``best_<metric>`` is its
    objective value."""
    tags = run.data.tags
    metrics = dict(run.data.metrics)
    number = int(tags.get(T.TRIAL_NUMBER, 0))
    return TrialRecord(
        trial_id=tags.get(T.TRIAL_ID, str(number)), number=number,
        params={k: param_value(v) for k, v in run.data.params.items()},
        param_count=int(metrics["param_count"]) if "param_count" in metrics else None,
        status=_status(tags.get(T.TRIAL_STATUS, run.info.status)),
        objective=metrics.get(f"best_{objective}") if objective else None,
        epochs_run=int(metrics.get("epochs_run", 0)),
        wall_time_s=metrics.get("wall_time_s", 0.0),
        tags=dict(tags), metrics=metrics, run_id=run.info.run_id,
    )


def _status(text: str) -> TrialStatus:
    """A trial's status tag; MLflow's own run status where a run has none (FINISHED)."""
    return {"FINISHED": TrialStatus.COMPLETED, "RUNNING": TrialStatus.KILLED,
            "SCHEDULED": TrialStatus.KILLED}.get(text) or TrialStatus(text)


def param_value(text: str) -> Any:
    """A parameter as it was before MLflow stored it as a string: ``str(value)`` of an int,
    float, bool or string. YAML reads most back, but takes ``1e-05`` for a string."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return value


def load_sweep(client: MlflowClient, run: Run) -> SweepRuns:
    """A sweep run with its spec and its trials (superseded and killed runs left out)."""
    try:
        path = client.download_artifacts(run.info.run_id, "spec.yaml")
        with open(path, encoding="utf-8") as handle:
            spec = yaml.safe_load(handle)
    except Exception:  # noqa: BLE001 - a sweep logged without its spec still compares
        spec = {}
    children = client.search_runs(  # trial runs only: not a re-check's runs
        [run.info.experiment_id], filter_string=f"tags.`{T.PARENT}` = '{run.info.run_id}' "
        f"and tags.`{T.KIND}` = '{T.KIND_TRIAL}'", max_results=50000)
    trials = sorted((read_trial(c) for c in children if c.info.status != "RUNNING"
                     and c.data.tags.get(T.TRIAL_STATUS) != "KILLED"),
                    key=lambda t: t.number)
    return SweepRuns(run=run, spec=spec or {}, trials=trials)


def find_sweeps(client: MlflowClient, refs: Sequence[str] = (),
                experiment: str | None = None) -> list[SweepRuns]:
    """Sweeps by MLflow run id or sweep name (its latest run), or every sweep of an
    experiment; with neither, the latest sweep of each name in the store."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise TrackingError(f"no MLflow experiment {experiment!r} in this store")
        experiments = [found.experiment_id]
    if not experiments:
        raise TrackingError("the MLflow store holds no experiments yet")
    sweeps_filter = f"tags.`{T.KIND}` = '{T.KIND_SWEEP}'"
    runs: list[Run] = []
    for ref in refs:
        if _RUN_ID.fullmatch(ref):
            run = _run_or_none(client, ref)
            if run is None:
                raise TrackingError(f"no MLflow run {ref} in this store")
            if run.data.tags.get(T.KIND) != T.KIND_SWEEP:
                raise TrackingError(f"MLflow run {ref} is not a sweep run")
            runs.append(run)
            continue
        named = client.search_runs(
            experiments, f"{sweeps_filter} and tags.`sweeps.sweep` = '{ref}'",
            order_by=["attributes.start_time DESC"], max_results=1)
        if not named:
            raise TrackingError(f"no sweep named {ref!r} in this MLflow store")
        runs.append(named[0])
    if not refs:
        everything = client.search_runs(experiments, sweeps_filter,
                                        order_by=["attributes.start_time DESC"], max_results=5000)
        if experiment is not None:
            runs = everything
        else:
            latest: dict[str, Run] = {}
            for run in everything:
                latest.setdefault(run.data.tags.get(T.SWEEP, run.info.run_id), run)
            runs = list(latest.values())
    if not runs:
        raise TrackingError("no sweep runs found")
    return [load_sweep(client, run) for run in runs]


def _run_or_none(client: MlflowClient, run_id: str) -> Run | None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise


def metric_history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def _distribution(entry: dict[str, Any]) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    kind = entry.get("type")
    if kind == "int":
        return IntDistribution(entry["min"], entry["max"], step=entry.get("step", 1))
    if kind == "float":
        return FloatDistribution(entry["min"], entry["max"], step=entry.get("step"),
                                 log=bool(entry.get("log")))
    if kind == "choice":
        return CategoricalDistribution(entry["values"])
    return None  # fixed: nothing to plot


def to_optuna_study(sweep: SweepRuns) -> Any:
    """An in-memory Optuna study of the sweep's completed trials, for Optuna's plots and
    hyperparameter importances, whichever engine ran them."""
    import optuna

    space = sweep.spec.get("search_space", {})
    directions = [Direction(d).optuna for _, d in sweep.objectives]
    with quiet_optuna():
        study = optuna.create_study(directions=directions, study_name=sweep.name)
    metrics = [f"best_{m}" for m, _ in sweep.objectives]
    for trial in sweep.trials:
        if trial.status != "COMPLETED" or any(m not in trial.metrics for m in metrics):
            continue
        params, distributions = {}, {}
        for name, value in trial.params.items():
            base = name if name in space else re.sub(r"_\d+$", "", name)  # units_0 -> units
            distribution = _distribution(space.get(base, {}))
            if distribution is not None:
                params[name], distributions[name] = value, distribution
        values = [trial.metrics[m] for m in metrics]
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=distributions,
            **({"values": values} if len(values) > 1 else {"value": values[0]}),
            user_attrs={"sweeps_trial_number": trial.number},
        ))
    return study
