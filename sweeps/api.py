"""The Python API: the same sweeps as the CLI, from a script or a notebook.

    import sweeps

    result = sweeps.run("mnist_mlp", tuner="random", max_trials=5)      # a spec, as the CLI
    result = sweeps.tune(build_model, data=(x, y), tuner="optuna")      # no YAML at all
    result.best_hyperparameters, result.model, result.trials_frame()
    checked = sweeps.recheck("mnist_mlp", top=3, seeds=3)              # the top 3, other seeds

``run`` and ``tune`` return a :class:`~sweeps.session.SweepResult`, ``recheck`` a
:class:`~sweeps.rechecking.RecheckResult`. A sweep run this way leaves the caller's
process as it found it (warning filters, signal handlers, log levels, random generators).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sweeps.spec import SweepSpec, load_spec, parse_spec_dict

if TYPE_CHECKING:
    from sweeps.launcher import WorkersResult
    from sweeps.rechecking import RecheckResult
    from sweeps.session import SweepResult

__all__ = ["run", "tune", "recheck", "run_workers", "sync", "OVERRIDES"]

#: Keyword arguments of :func:`run`, as the CLI's flags: each sets one spec key.
OVERRIDES = {
    "tuner": "tuner.kind",
    "max_trials": "tuner.max_trials",
    "max_epochs": "training.max_epochs",
    "seed": "seed",
    "data_dir": "data.dir",
    "tracking_uri": "tracking.uri",
    "experiment": "tracking.experiment",
    "storage": "tuner.optuna.storage",
}


def run(spec: str | Path | Mapping[str, Any] | SweepSpec, *, work_dir: str | Path = ".sweeps",
        resume: bool = False, overwrite: bool = False, settings: Sequence[str] = (),
        stream: TextIO | None = None, quiet: bool = True, **overrides: Any) -> SweepResult:
    """Run a sweep: a bundled spec's name, a YAML path, a spec mapping, or a loaded spec.

    ``overrides`` are the CLI's flags as keyword arguments (``tuner="optuna"``,
    ``max_trials=5``, ``max_epochs``, ``seed``, ``data_dir``, ``tracking_uri``,
    ``experiment``, ``storage``); ``settings`` takes ``--set``'s ``key=value`` strings.
    """
    from sweeps.runner import run_sweep

    texts = _texts(overrides, settings)
    if isinstance(spec, SweepSpec):
        if texts:
            raise TypeError("overrides need a spec name, path or mapping, not a loaded SweepSpec")
        loaded = spec
    elif isinstance(spec, Mapping):
        loaded = parse_spec_dict(spec, "<dict>", texts)
    else:
        loaded = load_spec(str(spec), texts)
    return run_sweep(loaded, work_dir=Path(work_dir), stream=stream or sys.stdout, quiet=quiet,
                     resume=resume, overwrite=overwrite)


def run_workers(spec: str | Path, *, workers: int, work_dir: str | Path = ".sweeps",
                resume: bool = False, overwrite: bool = False, settings: Sequence[str] = (),
                stream: TextIO | None = None, quiet: bool = True,
                **overrides: Any) -> WorkersResult:
    """Run a sweep on ``workers`` processes of this machine, one Optuna study between them
    (``python -m sweeps run SPEC --workers N``; docs/resume-and-workers.md).

    ``spec`` is a bundled spec's name or a YAML path (each worker loads it again); the
    keywords are :func:`run`'s. Returns each worker's exit status and the sweep run's id.
    """
    from sweeps.launcher import run_workers as launch

    texts = _texts(overrides, settings)
    return launch(str(spec), texts, load_spec(str(spec), texts), workers=workers,
                  work_dir=Path(work_dir), resume=resume, overwrite=overwrite,
                  verbose=not quiet, stream=stream or sys.stdout)


def _texts(overrides: Mapping[str, Any], settings: Sequence[str]) -> list[str]:
    """``run``'s keywords and ``--set`` texts, as ``key=value`` texts; unknown keywords are
    a TypeError, as Python gives for any function."""
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise TypeError(f"sweeps.run() got unexpected keyword argument(s) {unknown}; "
                        f"known: {', '.join(OVERRIDES)}")
    return [f"{OVERRIDES[key]}={_yaml(value)}" for key, value in overrides.items()
            if value is not None] + list(settings)


def tune(build_model: Any, data: Any, *, task: str | None = None, tuner: str = "hyperband",
         max_trials: int | None = None, max_epochs: int | None = None,
         objective: str | Mapping[str, Any] | Sequence[Any] | None = None,
         experiment: str | None = None, tracking_uri: str | None = None,
         name: str | None = None, search_space: Mapping[str, Any] | None = None,
         metrics: Sequence[str] = (), seed: int = 42, batch_size: int | None = None,
         early_stopping: Mapping[str, Any] | None = None, validation_split: float = 0.1,
         test_split: float | None = None, work_dir: str | Path = ".sweeps",
         resume: bool = False, overwrite: bool = False, stream: TextIO | None = None,
         quiet: bool = True, register_model: str | bool = True,
         final_retrain: bool | str = "auto", callbacks: Sequence[Any] = (), folds: int = 1,
         executions_per_trial: int = 1, validation_data: Any = None) -> SweepResult:
    """Tune ``build_model`` on ``data`` without a spec file.

    ``build_model``: a KerasTuner-style ``build_model(hp)`` function, a
    ``keras_tuner.HyperModel`` or a sweeps ``Hypermodel``. ``data``: ``(x, y)`` (validation
    and, with ``test_split``, test held out), what ``keras.datasets.*.load_data()`` returns,
    a mapping with ``train``/``validation``/``test`` pairs, or a loader function returning
    one of these; or a batched ``tf.data.Dataset`` or ``keras.utils.PyDataset`` with
    ``validation_data`` another, as ``model.fit`` takes them (read batch by batch, never held
    whole; a mapping adds a ``test`` one). ``validation_data``: the validation split, as
    ``fit``'s argument of that name (an ``(x, y)`` pair or a dataset).
    ``objective``: a metric name (direction from its name), a mapping with
    ``metric`` and ``direction``, or a list of those; default ``val_loss``.
    ``register_model``: the Model Registry name of the final model (``True``: the sweep's
    name; ``False``: logged on the sweep run only). ``final_retrain``: the spec's
    ``final.retrain`` (``"auto"``: on for small data; train the best hyperparameters again
    on training plus validation data;
    ``result.model`` is then that model, ``result.best_trial_model`` the best trial's).
    ``callbacks``: Keras callbacks of your own, as ``tuner.search(callbacks=...)`` takes
    them; every trial trains with its own deep copy of each. ``folds``: k-fold
    cross-validation of every trial (the spec's ``validation.folds``);
    ``executions_per_trial``: fits per trial (per fold), their objective averaged.

    Re-running the same call refuses (the sweep has state) unless ``resume`` or
    ``overwrite``, as the CLI does; a different ``data`` or space is a different sweep.
    """
    data = _called(data)
    if validation_data is not None:
        if isinstance(data, Mapping):
            raise TypeError("sweeps.tune(): give the validation split once, in data's "
                            "'validation' or as validation_data, not both")
        data = {"train": data, "validation": validation_data}
    name = name or getattr(build_model, "__name__", type(build_model).__name__)
    raw: dict[str, Any] = {
        "name": name,
        "data": {"validation_split": validation_split, "test_split": test_split},
        "task": task,
        "metrics": list(metrics),
        "search_space": dict(search_space or {}),
        "tuner": {"kind": tuner, "max_trials": max_trials},
        "seed": seed,
        "final": {"retrain": final_retrain},
        "validation": {"folds": folds},
        "tracking": {"experiment": experiment or name, "uri": tracking_uri,
                     "register_model": register_model},
    }
    if objective is not None:
        raw["objective"] = {"metric": objective} if isinstance(objective, str) else objective
    training: dict[str, Any] = {"executions_per_trial": executions_per_trial}
    if max_epochs is not None:
        training["max_epochs"] = max_epochs
    if batch_size is not None:
        training["batch_size"] = batch_size
    if early_stopping is not None:
        training["early_stopping"] = dict(early_stopping)
    raw["training"] = training
    spec = parse_spec_dict(raw, f"sweeps.tune({name})", default_name=name,
                           objects={"hypermodel": build_model, "data": data,
                                    "callbacks": list(callbacks)})
    return run(spec, work_dir=work_dir, resume=resume, overwrite=overwrite, stream=stream,
               quiet=quiet)


def _called(data: Any) -> Any:
    """``data`` as arrays: a loader function (which ``tune`` and ``recheck`` take) called."""
    if callable(data) and not isinstance(data, (tuple, list, Mapping)):
        return data()
    return data


def _yaml(value: Any) -> str:
    """A keyword argument as the YAML text ``--set`` takes."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


def recheck(sweep: str | SweepResult, *, top: int = 3, seeds: int = 3,
            build_model: Any = None, data: Any = None, tracking_uri: str | None = None,
            data_dir: str | None = None, stream: TextIO | None = None,
            quiet: bool = True) -> RecheckResult:
    """Retrain sweep ``sweep``'s ``top`` configurations with ``seeds`` other seeds each: a
    sweep name or sweep run id, read back from MLflow, or what :func:`run` or :func:`tune`
    returned; see :mod:`sweeps.rechecking`.

    A sweep of :func:`tune` needs its ``build_model`` and ``data`` again (MLflow holds
    neither), and refuses data other than the sweep's::

        result = sweeps.tune(build_model, data=(x, y), tuner="random")
        sweeps.recheck(result, top=2, seeds=3, build_model=build_model, data=(x, y))
    """
    from sweeps.rechecking import recheck as _recheck

    if not isinstance(sweep, str):  # a SweepResult: its run, in its store
        tracking_uri = tracking_uri or sweep.tracking_uri
        sweep = sweep.sweep_run_id
    data = _called(data)
    return _recheck(sweep, top=top, seeds=seeds, tracking_uri=tracking_uri,
                    data_dir=data_dir, objects={"hypermodel": build_model, "data": data},
                    stream=stream or sys.stdout, quiet=quiet)


def sync(work_dir: str | Path = ".sweeps") -> list[tuple[Path, str, int]]:
    """Replay the MLflow writes that sweeps under ``work_dir`` (or one journal file) kept
    while their tracking store was away: ``(journal, store URI, writes made)`` for each.

    A sweep replays its own journal as soon as the store answers, and on ``--resume``; this
    is for a sweep that stopped before the store came back. A store still away raises a
    one-line :class:`~sweeps.errors.TrackingError`; what was replayed stays replayed.
    """
    from tracking.journal import journals_in, replay_journal

    done = []
    for path in journals_in(Path(work_dir)):
        uri, count = replay_journal(path)
        done.append((path, uri, count))
    return done
