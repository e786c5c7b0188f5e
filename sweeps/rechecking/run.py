"""Re-check: a sweep's top configurations trained again under other seeds.

A sweep ranks each configuration on one seed's luck: one weight initialisation, one
shuffling. :func:`recheck` reads a finished sweep back from MLflow (its resolved spec and its
trial runs, whichever engine ran it), trains its ``top`` configurations again with ``seeds``
new seeds each, exactly as a trial trains (the spec's data, schedule, EarlyStopping and
objective), and ranks them by their mean objective, with the standard deviation and a 95 %
Student-t interval of the mean::

    result = recheck("mnist_mlp", top=3, seeds=3)     # sweeps.recheck(), or the CLI:
    # python -m sweeps recheck mnist_mlp --top 3 --seeds 3
    result.checked[0].candidate.trial_number, result.checked[0].spread.mean

Each retraining is a run nested under a ``recheck`` run of the sweep (:mod:`tracking.recheck`).
The seeds are ``spec.seed + 10000 + k`` (k = 1..seeds): reproducible, and none of them is a
trial's own seed (``spec.seed + trial number``), so no retraining merely repeats its trial.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from sweeps import interrupts, runtime
from sweeps.errors import SweepsError
from sweeps.events import TrialStatus
from sweeps.rechecking.records import (
    Checked,
    RecheckResult,
    format_result,
    rank,
    recheck_seeds,
    spread,
    top_configurations,
)
from sweeps.spec import SweepSpec, parse_spec_dict

if TYPE_CHECKING:
    from tracking.recheck import RecheckTracker

__all__ = ["recheck"]


def recheck(sweep: str, *, top: int = 3, seeds: int = 3, tracking_uri: str | None = None,
            data_dir: str | None = None, objects: Mapping[str, Any] | None = None,
            stream: TextIO | None = None, quiet: bool = True) -> RecheckResult:
    """Re-check sweep ``sweep`` (a sweep name, its latest run, or a sweep run id): its ``top``
    configurations, ``seeds`` seeds each. Prints the ranked table to ``stream``.
    ``objects``: the builder and data of a :func:`sweeps.tune` sweep, which MLflow cannot
    hold (``{"hypermodel": build_model, "data": (x, y)}``)."""
    if top < 1 or seeds < 1:
        raise SweepsError(f"recheck needs --top and --seeds of at least 1, got top {top}, "
                          f"seeds {seeds}")
    stream = stream or sys.stdout
    with runtime.scope():
        from sweeps.rechecking.train import ConfigurationTrainer
        from tracking.recheck import RecheckTracker

        tracker = RecheckTracker.open(sweep, tracking_uri)
        spec = _stored_spec(tracker, data_dir, objects)
        candidates = top_configurations(tracker.candidates(), top)
        if len(candidates) < top:
            print(f"note: sweep {tracker.sweep_name!r} has {len(candidates)} distinct "
                  f"completed configuration(s); re-checking those", file=stream)
        # Data, TensorFlow and the builder load before any run exists.
        setup = ConfigurationTrainer(spec, quiet=quiet)
        setup.check(candidates[0])  # a builder that asks for other values fails here
        seed_list = recheck_seeds(spec.seed, seeds)
        objective = spec.objective
        with interrupts.handled():
            try:
                tracker.started(candidates, seed_list)
                checked = []
                for candidate in candidates:
                    values = []
                    for seed in seed_list:
                        print(f"trial {candidate.trial_number} (sweep #{candidate.sweep_rank}), "
                              f"seed {seed} ...", file=stream, flush=True)
                        tracker.seed_started(candidate, seed)
                        value, epochs, status = setup.train(candidate, seed, tracker)
                        tracker.seed_ended(value, epochs, status)
                        values.append(value)
                    checked.append(Checked(candidate, seed_list, tuple(values), spread(values),
                                           rank=0))
                    tracker.candidate_ended(checked[-1])
                ranked = rank(checked, objective.direction)
                result = RecheckResult(
                    sweep=tracker.sweep_name, sweep_run_id=tracker.sweep_run_id,
                    recheck_run_id=tracker.recheck_run_id, metric=objective.metric,
                    direction=objective.direction, checked=ranked)
                tracker.ended(result)
            except KeyboardInterrupt:
                tracker.aborted(TrialStatus.KILLED)
                raise
            except BaseException:
                tracker.aborted(TrialStatus.FAILED)
                raise
    print(format_result(result), file=stream)
    return result


def _stored_spec(tracker: RecheckTracker, data_dir: str | None,
                 objects: Mapping[str, Any] | None) -> SweepSpec:
    """The sweep's resolved spec, as its run logged it (``spec.yaml``); ``objects`` gives
    what YAML cannot hold, as :func:`sweeps.tune` did: ``{"hypermodel": build_model,
    "data": (x, y)}``."""
    stored, name = tracker.stored_spec, f"sweep {tracker.sweep_name!r} (run {tracker.sweep_run_id})"
    if not stored:
        raise SweepsError(f"{name} has no spec.yaml artifact to retrain from")
    objects = {key: value for key, value in (objects or {}).items() if value is not None}
    data = stored.get("data") or {}
    if data.get("name") == "arrays" and "data" not in objects:
        raise SweepsError(f"{name} trained on arrays given from Python: re-check it from "
                          "Python, sweeps.recheck(..., build_model=..., data=...) with the "
                          "sweep's own builder and data")
    if data.get("name") != "arrays" and "data" in objects:
        raise SweepsError(f"{name} read its data from its spec ({data.get('name')}): "
                          "data= is for a sweep of sweeps.tune(..., data=...)")
    spec = parse_spec_dict(stored, f"spec.yaml of {name}",
                           [f"data.dir={data_dir}"] if data_dir else [], objects=objects)
    if "data" in objects and spec.data.digest != data.get("digest"):
        raise SweepsError(f"the data given is not the data {name} trained on (digest "
                          f"{spec.data.digest}, the sweep's {data.get('digest')})")
    return spec

