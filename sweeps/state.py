"""A sweep's identity and its state on disk, so a sweep can be resumed and never doubled.

A sweep is identified by its name plus a hash of the resolved spec (less what does not
change its results: description, tracking, data.dir, the Optuna storage URL). Its state
lives in ``<work_dir>/<name>/``: ``sweep.json`` (identity, spec, MLflow sweep run id) and
the engine's own files. ``sweep.json`` is written atomically (temp file, then rename), so a
kill mid-write leaves the previous version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sweeps.errors import SweepsError
from sweeps.spec import SweepSpec

__all__ = ["SweepState", "prepare_state", "identity", "spec_changes", "sweep_id", "write_atomic"]

_NOT_IDENTITY = (("description",), ("tracking",), ("data", "dir"), ("tuner", "optuna", "storage"))
STATE_FILE = "sweep.json"


def identity(spec: SweepSpec) -> dict[str, Any]:
    """The parts of the resolved spec that decide what the sweep computes."""
    data = json.loads(json.dumps(spec.to_dict()))
    for path in _NOT_IDENTITY:
        node = data
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return data


def _hash(ident: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def sweep_id(spec: SweepSpec) -> str:
    """``<name>-<hash>``: the same for every process running the same sweep (the Optuna
    study name)."""
    return f"{spec.name}-{_hash(identity(spec))}"


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

    @property
    def study_name(self) -> str:
        return f"{self.name}-{self.spec_hash}"  # as sweep_id(spec)

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k not in ("directory", "resumed")}
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


def prepare_state(spec: SweepSpec, work_dir: Path, *, resume: bool,
                  overwrite: bool) -> tuple[SweepState, SweepState | None]:
    """The state to run ``spec`` under, and the state it replaces (for ``--overwrite``).

    Refuses to start over existing state unless ``resume`` (same spec only) or ``overwrite``.
    """
    directory = work_dir / spec.name
    ident = identity(spec)
    new_hash = _hash(ident)
    saved = _load(directory)
    if saved is not None and not overwrite:
        if not resume:
            run = f", MLflow run {saved.sweep_run_id}" if saved.sweep_run_id else ""
            raise SweepsError(
                f"sweep {spec.name!r} already has state in {directory} (started "
                f"{saved.created}{run}); add --resume to continue it, or --overwrite to "
                "start it over"
            )
        if saved.spec_hash != new_hash:
            changes = "; ".join(spec_changes(saved.spec, ident))
            raise SweepsError(
                f"cannot --resume sweep {spec.name!r}: its spec changed since it started "
                f"({changes}); run it as it was, or use --overwrite to start over"
            )
        saved.resumed = True
        return saved, None
    if saved is None and resume:
        raise SweepsError(f"nothing to resume: no state for sweep {spec.name!r} in {directory}")
    if directory.exists():  # replaced state, or a start killed before sweep.json was written
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    state = SweepState(directory=directory, name=spec.name, spec_hash=new_hash, spec=ident,
                       created=time.strftime("%Y-%m-%d %H:%M:%S"))
    state.save()
    return state, saved
