"""A re-check in MLflow: the sweep read back, and the retrainings logged under it.

Layout, nested as the MLflow UI shows it::

    sweep run (sweeps.kind=sweep)
    └── recheck                      sweeps.kind=recheck; tags: ranking by mean; recheck.txt
        ├── recheck-trial-007        one per configuration: its hyperparameters as params,
        │   │                        <objective>_mean, _std, _ci95_low, _ci95_high
        │   ├── trial-007-seed-10043 one per seed: per-epoch metrics, best_<objective>
        │   └── ...
        └── ...

Nothing here is a trial run (``sweeps.kind`` says so), so ``compare``, reports and resuming
the sweep see the same trials as before.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mlflow.entities import Metric, Param, RunTag

from sweeps import interrupts
from sweeps.errors import SweepsError, TrackingError
from sweeps.events import TrialStatus
from sweeps.paths import sqlite_path
from sweeps.rechecking.records import (
    Candidate,
    Checked,
    RecheckObserver,
    RecheckResult,
    format_result,
)
from tracking import tags as T
from tracking.queries import SweepRuns, find_sweeps
from tracking.runs import RUN_STATUS, now_ms
from tracking.store import open_client, store_errors

__all__ = ["RecheckTracker"]


class RecheckTracker(RecheckObserver):
    """Reads one sweep back and logs its re-check (see the module's layout)."""

    def __init__(self, client: Any, uri: str, sweep: SweepRuns) -> None:
        self.client = client
        self.uri = uri
        self.sweep = sweep
        self.recheck_run_id: str | None = None
        self._config_runs: dict[int, str] = {}  # trial number -> its configuration run
        self._seed_run: str | None = None
        self._metric = sweep.objectives[0][0]

    @classmethod
    def open(cls, ref: str, tracking_uri: str | None) -> RecheckTracker:
        import mlflow

        uri = tracking_uri or mlflow.get_tracking_uri()
        database = sqlite_path(uri)
        if database is not None and not database.exists():  # reading must not create one
            raise TrackingError(f"no MLflow store at {uri} ({database} does not exist): no "
                                "sweep to re-check there (--tracking-uri names another)")
        client = open_client(uri)
        with store_errors(uri, "cannot read the MLflow store"):
            try:
                sweeps = find_sweeps(client, [ref])
            except TrackingError as exc:
                names = _sweep_names(client)
                known = f"; sweeps there: {', '.join(names)}" if names else ""
                raise TrackingError(f"{exc} ({uri}){known}") from None
        return cls(client, uri, sweeps[0])

    @property
    def sweep_name(self) -> str:
        return self.sweep.name

    @property
    def sweep_run_id(self) -> str:
        return self.sweep.run_id

    @property
    def stored_spec(self) -> Mapping[str, Any]:
        """The sweep's resolved spec as its run logged it (``spec.yaml``; empty if none)."""
        return self.sweep.spec or {}

    def candidates(self) -> list[Candidate]:
        """The sweep's completed trials, best first, with their hyperparameters."""
        key = f"best_{self._metric}"
        ranked = self.sweep.ranked()
        if not ranked:
            raise SweepsError(f"sweep {self.sweep_name!r} (run {self.sweep_run_id}) has no "
                              f"completed trial with {key} to re-check")
        return [Candidate(trial_number=t.number, sweep_rank=i, params=dict(t.params),
                          sweep_value=float(t.metrics[key]))
                for i, t in enumerate(ranked, start=1)]

    # -- the re-check's runs ------------------------------------------------------------
    @contextlib.contextmanager
    def _store(self) -> Iterator[None]:
        with store_errors(self.uri), interrupts.deferred():  # never cut a write in half
            yield

    def _create(self, parent: str, name: str, kind: str, tags: Mapping[str, str] | None = None,
                params: Mapping[str, Any] | None = None) -> str:
        run = self.client.create_run(
            self.sweep.run.info.experiment_id, run_name=name,
            tags={T.PARENT: parent, T.KIND: kind, T.SWEEP: self.sweep_name, **(tags or {})})
        if params:
            self.client.log_batch(run.info.run_id, params=[
                Param(key, str(value)) for key, value in params.items()])
        return run.info.run_id

    def started(self, candidates: Sequence[Candidate], seeds: Sequence[int]) -> None:
        with self._store():
            self.recheck_run_id = self._create(
                self.sweep_run_id, "recheck", T.KIND_RECHECK,
                params={"top": len(candidates), "seeds": ",".join(map(str, seeds)),
                        "objective": self._metric})

    def seed_started(self, candidate: Candidate, seed: int) -> None:
        assert self.recheck_run_id is not None
        number = candidate.trial_number
        with self._store():
            if number not in self._config_runs:
                self._config_runs[number] = self._create(
                    self.recheck_run_id, f"recheck-trial-{number:03d}", T.KIND_RECHECK_CONFIG,
                    tags={T.TRIAL_NUMBER: str(number), T.SWEEP_RANK: str(candidate.sweep_rank),
                          **({T.SAME_AS: ",".join(map(str, candidate.same_as))}
                             if candidate.same_as else {})},
                    params=candidate.params)
            self._seed_run = self._create(
                self._config_runs[number], f"trial-{number:03d}-seed-{seed}",
                T.KIND_RECHECK_SEED, tags={T.TRIAL_NUMBER: str(number), T.SEED: str(seed)},
                params={**candidate.params, "seed": seed})

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None:
        assert self._seed_run is not None
        now = now_ms()
        with self._store():
            self.client.log_batch(self._seed_run, metrics=[
                Metric(key, value, now, epoch) for key, value in metrics.items()
                if math.isfinite(value)])

    def seed_ended(self, value: float, epochs: int, status: TrialStatus) -> None:
        assert self._seed_run is not None
        metrics = {"epochs_run": float(epochs)}
        if math.isfinite(value):
            metrics[f"best_{self._metric}"] = value
        with self._store():
            self.client.log_batch(self._seed_run, metrics=[
                Metric(key, v, now_ms(), 0) for key, v in metrics.items()],
                tags=[RunTag(T.TRIAL_STATUS, status.value)])
            self.client.set_terminated(self._seed_run, RUN_STATUS[status])
        self._seed_run = None

    def candidate_ended(self, checked: Checked) -> None:
        run_id = self._config_runs[checked.candidate.trial_number]
        with self._store():
            self.client.log_batch(run_id, metrics=[
                Metric(key, value, now_ms(), 0)
                for key, value in checked.spread.metrics(self._metric).items()])
            self.client.set_terminated(run_id, "FINISHED")

    def ended(self, result: RecheckResult) -> None:
        assert self.recheck_run_id is not None
        with self._store():
            for checked in result.checked:
                self.client.set_tag(self._config_runs[checked.candidate.trial_number],
                                    T.RECHECK_RANK, str(checked.rank))
            ranking = ",".join(str(c.candidate.trial_number) for c in result.checked)
            self.client.set_tag(self.recheck_run_id, T.RECHECK_RANKING, ranking)
            self.client.set_tag(self.recheck_run_id, T.RECHECK_REORDERED,
                                str(result.reordered).lower())
            self.client.log_text(self.recheck_run_id, format_result(result), "recheck.txt")
            self.client.set_terminated(self.recheck_run_id, "FINISHED")

    def aborted(self, status: TrialStatus) -> None:
        """End every run still open, innermost first; a store that is gone is left as is."""
        open_runs = [self._seed_run, *self._config_runs.values(), self.recheck_run_id]
        for run_id in open_runs:
            if run_id is None:
                continue
            with contextlib.suppress(Exception):
                if self.client.get_run(run_id).info.status == "RUNNING":
                    self.client.set_terminated(run_id, RUN_STATUS[status])


def _sweep_names(client: Any) -> list[str]:
    """The names of the sweeps in the store, for an error message (none if it cannot say)."""
    with contextlib.suppress(Exception):
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(experiments, f"tags.`{T.KIND}` = '{T.KIND_SWEEP}'",
                                  max_results=5000) if experiments else []
        return sorted({r.data.tags.get(T.SWEEP, r.info.run_name) for r in runs})
    return []
