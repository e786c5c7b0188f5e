"""keras-tuner's state files, kept loadable across kills.

keras-tuner rewrites oracle.json, tuner0.json and trial_*/trial.json in place, so a kill
mid-write can leave a truncated file that makes the project unloadable (keras-tuner #439).
After every trial we keep a copy of the files as they stood, written atomically, and a
resume that finds a broken file rolls the project back to that copy.

GridSearchOracle saves none of its own bookkeeping (it has no get_state), so a reloaded grid
would stop at once; ``_keras_tuner_compat.restore_grid_order`` rebuilds it from the trials.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sweeps.state import write_atomic

__all__ = ["snapshot", "recover"]

SNAPSHOT = "sweeps_snapshot"


def _copy_atomic(source: Path, target: Path) -> None:
    write_atomic(target, source.read_text(encoding="utf-8"))


def snapshot(project: Path, trial_id: str) -> None:
    snapshot = project / SNAPSHOT
    snapshot.mkdir(exist_ok=True)
    _copy_atomic(project / f"trial_{trial_id}" / "trial.json", snapshot / f"trial_{trial_id}.json")
    for state_file in project.glob("*.json"):  # oracle.json, tuner0.json
        _copy_atomic(state_file, snapshot / state_file.name)


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def recover(project: Path) -> str | None:
    """Make keras-tuner's project loadable again after a kill; say what was done, if anything."""
    files = [*project.glob("*.json"), *project.glob("trial_*/trial.json")]
    broken = [f for f in files if not _parses(f)]
    if not broken:
        return None
    snapshot = project / SNAPSHOT
    if not (snapshot / "oracle.json").exists():
        shutil.rmtree(project)
        return (f"keras-tuner's state was cut mid-write ({broken[0].name}) before any trial "
                "finished; its search starts over")
    for saved in snapshot.glob("*.json"):
        if saved.name.startswith("trial_"):
            _copy_atomic(saved, project / saved.stem / "trial.json")
        else:
            _copy_atomic(saved, project / saved.name)
    kept = set(json.loads((project / "oracle.json").read_text())["start_order"])
    for trial_dir in project.glob("trial_*"):
        if trial_dir.name.removeprefix("trial_") not in kept:
            shutil.rmtree(trial_dir)
    return (f"keras-tuner's state was cut mid-write ({', '.join(f.name for f in broken)}); "
            f"rolled back to the snapshot after its last finished trial")
