"""The tag names tracking reads (tracking/tags.py) and the engine tags the engines write.

tags.py has no logic: what can go wrong is two names spelled alike, or an engine tag the
readers' prefixes miss. The keras-tuner engine's tags are taken from its real
``on_trial_begin`` for trials its Hyperband oracle hands out; no model is trained.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import keras_tuner as kt

from sweeps.engines.keras_tuner import KerasTunerEngine
from sweeps.trials import TrialBook
from tests.unit.tiny import prepared, tiny_spec
from tracking import tags as T


def test_every_tag_name_is_spelled_once() -> None:
    names = {key: value for key, value in vars(T).items()
             if key.isupper() and isinstance(value, str)}
    repeated = {v: n for v, n in Counter(names.values()).items() if n > 1}
    assert not repeated, repeated
    tags = [v for v in names.values() if v.startswith(("sweeps.", "mlflow."))]
    assert len(tags) > 30 and all(tag == tag.strip() and " " not in tag for tag in tags)


def test_hyperband_trials_are_tagged_with_their_place_in_the_plan(tmp_path: Path) -> None:
    spec = tiny_spec(tuner={"kind": "hyperband", "hyperband": {"factor": 3, "iterations": 1}},
                     max_epochs=3)
    _, builder, declared = prepared(spec)
    declared = dataclasses.replace(declared,
                                   kt_hyperparameters=declared.kt_hyperparameters.copy())
    book = TrialBook(spec.objective)
    engine = KerasTunerEngine(spec, builder, declared, book, tmp_path / "state")
    oracle = engine.tuner.oracle
    oracle.verbose = 0
    values = {}
    while (trial := oracle.create_trial("tuner0")).status == kt.engine.trial.TrialStatus.RUNNING:
        engine.tuner.on_trial_begin(trial)  # what the tuner calls before it builds
        values[trial.trial_id] = trial.hyperparameters.values
        oracle.update_trial(trial.trial_id, {"val_loss": 1.0 / (len(values))}, step=0)
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        oracle.end_trial(trial)

    assert len(book.records) == engine.planned_trials
    continued = 0
    for trial_id, record in book.records.items():
        given = values[trial_id]
        assert record.number == int(trial_id) + 1
        assert all(key.startswith(T.ENGINE_TAG_PREFIXES) for key in record.tags)
        assert record.tags == {
            "hyperband.bracket": str(given["tuner/bracket"]),
            "hyperband.round": str(given["tuner/round"]),
            "hyperband.epochs": str(given["tuner/epochs"]),
            "hyperband.initial_epoch": str(given["tuner/initial_epoch"]),
            # the trial number (trial-004) whose weights it continues, as the run names say
            "hyperband.continues_trial": (str(book.records[given["tuner/trial_id"]].number)
                                          if "tuner/trial_id" in given else ""),
        }
        continued += bool(record.tags["hyperband.continues_trial"])
    assert continued > 0
