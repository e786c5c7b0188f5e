"""A sweep's identity and its state on disk, so a sweep can be resumed and never doubled.

A sweep is identified by its name plus a hash of the resolved spec (less what does not
change its trials: description, tracking, data.dir, the Optuna storage URL, ``final`` (what
is done with the best trial once the search ends, redone on every resume), and the
budget: every kind's ``max_trials``, Hyperband's ``iterations``, so ``--resume`` with a larger
budget extends the same sweep). Its state
lives in ``<work_dir>/<name>/<hash>/``: ``sweep.json`` (identity, spec, MLflow sweep run id)
and the engine's own files. So one spec name may hold several sweeps (``--tuner random``
and then ``--tuner bayesian``, a longer ``max_epochs``), each resumed or overwritten on its
own. ``sweep.json`` is written atomically (temp file, then rename), so a kill mid-write
leaves the previous version. State written before this layout, ``<work_dir>/<name>/
sweep.json`` with the engine's files beside it, is still found and resumed where it is.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeps.errors import SweepsError
from sweeps.spec import SweepSpec, TunerKind

__all__ = ["SweepState", "prepare_state", "identity", "budget", "spec_changes", "spec_hash",
           "sweep_id",
           "write_atomic"]

_NOT_IDENTITY = (("description",), ("tracking",), ("data", "dir"), ("tuner", "optuna", "storage"),
                 ("final",))
#: How many trials a sweep runs: what ``--resume`` may change (extend, or shrink down to the
#: trials already run), unlike every other key of the identity.
BUDGET_KEYS = (*(("tuner", kind.value, "max_trials") for kind in TunerKind),
               ("tuner", TunerKind.HYPERBAND.value, "iterations"))
STATE_FILE = "sweep.json"


def _pop(data: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """Remove ``paths`` from ``data`` (in place); what was there, nested the same way."""
    popped: dict[str, Any] = {}
    for path in paths:
        node, out = data, popped
        for key in path[:-1]:
            node = node.get(key, {})
            out = out.setdefault(key, {})
        if path[-1] in node:
            out[path[-1]] = node.pop(path[-1])
    return popped


#: Keys added after sweeps existed, with the value every earlier sweep had: left out of the
#: identity at that value, so a sweep started before them keeps its hash (and its --resume).
_LATER_KEYS = {("training", "executions_per_trial"): 1, ("validation", "folds"): 1}


def _resolved(spec: SweepSpec) -> dict[str, Any]:
    data = json.loads(json.dumps(spec.to_dict()))
    _pop(data, _NOT_IDENTITY)
    for path, value in _LATER_KEYS.items():
        parent = data
        for key in path[:-1]:
            parent = parent.get(key, {})
        if parent.get(path[-1]) == value:
            parent.pop(path[-1])
    if data.get("validation") == {}:
        data.pop("validation")
    return data


def identity(spec: SweepSpec) -> dict[str, Any]:
    """The parts of the resolved spec that decide what the sweep computes, budget aside."""
    data = _resolved(spec)
    _pop(data, BUDGET_KEYS)
    return data


def budget(spec: SweepSpec) -> dict[str, Any]:
    """The spec's budget keys (``{"tuner": {"random": {"max_trials": 20}, ...}}``)."""
    return _pop(_resolved(spec), BUDGET_KEYS)


def _hash(ident: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def spec_hash(spec: SweepSpec) -> str:
    """The hash of the sweep's identity: its state folder's name under ``<work_dir>/<name>``."""
    return _hash(identity(spec))


def sweep_id(spec: SweepSpec) -> str:
    """``<name>-<hash>``: the same for every worker running the same sweep (their Optuna
    study name). The budget is part of it: workers cannot extend a shared sweep, so a
    different budget is a different study."""
    return f"{spec.name}-{_hash(_resolved(spec))}"


def spec_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``key.path: old -> new`` for every leaf that differs."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            changes += spec_changes(old.get(key), new.get(key), path)
        return changes
    return [] if old == new else [f"{prefix}: {json.dumps(old)} -> {json.dumps(new)}"]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass
class SweepState:
    directory: Path
    name: str
    spec_hash: str
    spec: dict[str, Any]
    created: str
    resumed: bool = False
    sweep_run_id: str | None = None
    tracking_uri: str | None = None
    #: The budget keys as the sweep last ran (:func:`budget`); ``None`` in state written
    #: before budgets were recorded apart (their ``spec`` still holds them).
    budget: dict[str, Any] | None = None
    #: On a resume that changes the budget: ``key.path: old -> new`` for each change.
    budget_changes: list[str] = field(default_factory=list)

    @property
    def study_name(self) -> str:
        """The Optuna study of this sweep: ``<name>-<hash of the identity when it started>``."""
        return f"{self.name}-{self.spec_hash}"

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items()
                if k not in ("directory", "resumed", "budget_changes")}
        write_atomic(self.directory / STATE_FILE, json.dumps(data, indent=2))

    def record_run(self, sweep_run_id: str, tracking_uri: str) -> None:
        self.sweep_run_id = sweep_run_id
        self.tracking_uri = tracking_uri
        self.save()


def _load(directory: Path) -> SweepState | None:
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        return SweepState(directory=directory, **data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise SweepsError(f"{directory / STATE_FILE} is unreadable ({exc}); run with "
                          "--overwrite to start this sweep over") from None


def _stored(root: Path) -> dict[str, SweepState]:
    """Every readable sweep state of one spec name, by identity hash (an old-layout state in
    ``root`` itself included); unreadable ones are another identity's concern."""
    found: dict[str, SweepState] = {}
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for directory in [*folders, root]:  # the per-identity folders first
        try:
            state = _load(directory)
        except SweepsError:
            continue
        if state is not None:
            found.setdefault(state.spec_hash, state)
    return found


def _discard(state: SweepState) -> None:
    """Remove a sweep's state and nothing else: an old-layout state shares its folder with
    the per-identity folders of the name's other sweeps."""
    if state.directory.name == state.spec_hash:
        shutil.rmtree(state.directory)
        return
    for entry in state.directory.iterdir():
        if entry.is_dir() and (entry / STATE_FILE).exists():
            continue  # another sweep of this name
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _no_such_sweep(spec: SweepSpec, root: Path, ident: dict[str, Any],
                   stored: dict[str, SweepState]) -> SweepsError:
    """What --resume says when no stored sweep of this name has this spec: how each differs."""
    if not stored:
        return SweepsError(f"nothing to resume: no state for sweep {spec.name!r} in {root}")
    differences = sorted(((spec_changes(state.spec, ident), state) for state in stored.values()),
                         key=lambda pair: (len(pair[0]), pair[1].created))  # closest first
    shown = [f"{'; '.join(changes)} ({state.directory}, started {state.created})"
             for changes, state in differences[:3]]
    more = f" | and {len(differences) - 3} more" if len(differences) > 3 else ""
    return SweepsError(
        f"cannot --resume sweep {spec.name!r}: no stored sweep of that name has this spec; "
        f"the stored ones differ from it in: {' | '.join(shown)}{more}; run one as it was to "
        "resume it, or leave out --resume to start a new sweep with this spec"
    )


def prepare_state(spec: SweepSpec, work_dir: Path, *, resume: bool,
                  overwrite: bool) -> tuple[SweepState, SweepState | None]:
    """The state to run ``spec`` under, and the state it replaces (for ``--overwrite``).

    A spec that differs from every stored sweep of its name starts a new sweep; the same
    spec with state is refused unless ``resume`` (continue it) or ``overwrite`` (discard it,
    and only it, and start over). ``resume`` with no sweep of this spec is refused, listing
    how the stored ones differ.
    """
    root = work_dir / spec.name
    ident = identity(spec)
    new_hash = _hash(ident)
    new_budget = budget(spec)
    directory = root / new_hash
    saved = None if overwrite else _load(directory)  # an unreadable one: --overwrite only
    stored = _stored(root)
    saved = saved or stored.get(new_hash)
    if saved is not None and not overwrite:
        if not resume:
            run = f", MLflow run {saved.sweep_run_id}" if saved.sweep_run_id else ""
            raise SweepsError(
                f"sweep {spec.name!r} with this spec already has state in {saved.directory} "
                f"(started {saved.created}{run}); add --resume to continue it, or "
                "--overwrite to start it over"
            )
        old_spec = copy.deepcopy(saved.spec)
        in_spec = _pop(old_spec, BUDGET_KEYS)  # where state written before budgets kept them
        old_budget = saved.budget if saved.budget is not None else in_spec
        saved.resumed = True
        saved.spec = ident
        saved.budget_changes = spec_changes(old_budget, new_budget)
        saved.budget = new_budget
        return saved, None
    if resume:
        raise _no_such_sweep(spec, root, ident, stored)
    if saved is not None:
        _discard(saved)
    if directory.exists():  # unreadable state, or a start killed before sweep.json was written
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    state = SweepState(directory=directory, name=spec.name, spec_hash=new_hash, spec=ident,
                       created=time.strftime("%Y-%m-%d %H:%M:%S"), budget=new_budget)
    state.save()
    return state, saved
