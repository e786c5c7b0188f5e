"""Tiny sweeps for unit tests: a spec over 40 numpy examples and the bundled ``mlp``, and
what a sweep's first build makes of it (data, builder, checked space). Building is cheap;
nothing here trains.

    spec = tiny_spec(tuner={"kind": "optuna", "max_trials": 4})
    data, builder, declared = prepared(spec)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from sweeps import runtime
from sweeps.spec import SweepSpec, parse_spec_dict

#: A search space of every kind of entry, sized for a tiny model; endless configurations.
SPACE = {
    "depth": {"type": "int", "min": 1, "max": 3},
    "units": {"type": "choice", "values": [32, 8, 16]},
    "dropout": {"type": "float", "min": 0.0, "max": 0.2, "step": 0.1},
    "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2, "log": True},
}
#: Only two configurations: one layer of 8 or of 4 units, everything else fixed.
TWO_CONFIGURATIONS = {"depth": 1, "units": {"type": "choice", "values": [8, 4]},
                      "dropout": 0.0, "learning_rate": 0.001}


def tiny_arrays(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` examples of 3 features, binary labels from the first feature's sign."""
    x = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def tiny_spec(*, tuner: dict[str, Any], space: dict[str, Any] | None = None,
              options: dict[str, Any] | None = None, max_epochs: int = 9,
              arrays: Any = None, **raw: Any) -> SweepSpec:
    """A spec as ``sweeps.tune`` makes one: arrays given from Python, the bundled mlp."""
    spec = {"name": "tiny", "data": {"validation_split": 0.25},
            "hypermodel": {"name": "mlp", "options": options or {}},
            "search_space": SPACE if space is None else space, "tuner": tuner,
            "training": {"max_epochs": max_epochs, "batch_size": 8}, **raw}
    return parse_spec_dict(spec, "tiny.yaml", objects={
        "data": tiny_arrays() if arrays is None else arrays})


_PREPARED: dict[str, tuple[Any, Any, Any]] = {}


def prepared(spec: SweepSpec) -> tuple[Any, Any, Any]:
    """The data, builder and checked space of ``spec``'s first build (:func:`sweeps.planning.plan.prepare`).

    Made once per data, space and hypermodel options in a process: callers must not change
    them.
    """
    from sweeps.planning.plan import prepare

    key = json.dumps([spec.data.digest, spec.to_dict()["search_space"],
                      dict(spec.hypermodel.options), spec.task], sort_keys=True, default=str)
    if key not in _PREPARED:
        with building():
            data, builder, declared, _ = prepare(spec)
        _PREPARED[key] = data, builder, declared
    return _PREPARED[key]


@contextlib.contextmanager
def building() -> Iterator[None]:
    """Builds as a sweep makes them (:mod:`sweeps.runtime`): the objects alive before are
    kept out of the full garbage collection that precedes each build, which otherwise walks
    the whole test process (seconds a build) - and the process is left as it was."""
    with runtime.scope():
        runtime.freeze_what_lives_on()
        yield
