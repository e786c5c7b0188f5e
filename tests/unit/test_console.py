"""Progress output: a live status line on a terminal, plain lines in logs."""

from __future__ import annotations

import io

from sweeps.console import ConsoleReporter
from sweeps.events import (
    Broadcast,
    EpochEnded,
    ModelBuilt,
    SweepEnded,
    SweepStarted,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from sweeps.spec import load_spec
from sweeps.trials import TrialBook


def play(live: bool) -> str:
    spec = load_spec("mnist_mlp")
    book = TrialBook(spec.objective)
    out = io.StringIO()
    observer = Broadcast([book, ConsoleReporter(book, out, live=live)])
    observer.sweep_started(SweepStarted(spec=spec, engine="keras_tuner", planned_trials=2,
                                        data_source="here", data_sizes={"train": 9}))
    for trial_id, accuracy in (("0", 0.91), ("1", 0.95)):
        observer.trial_started(TrialStarted(trial_id, int(trial_id) + 1))
        observer.model_built(ModelBuilt(trial_id, {"depth": 1, "units_0": 256}, 1000, ""))
        for epoch in range(2):
            observer.epoch_ended(EpochEnded(trial_id, epoch, {"val_accuracy": accuracy - 0.01 + epoch / 100}))
        observer.trial_ended(TrialEnded(trial_id, TrialStatus.COMPLETED, accuracy, 2, 3.0))
    observer.sweep_ended(SweepEnded("1", 0.95, {"test_accuracy": 0.94}))
    observer.close()
    return out.getvalue()


def test_terminal_shows_trial_epoch_best_and_elapsed() -> None:
    text = play(live=True)
    assert "trial 2/2 · epoch 2/20 · val_accuracy 0.95 · best 0.91 · 00:00" in text
    assert "trial 1/2 depth=1 units_0=256 | 2 ep | val_accuracy=0.91 | best 0.91" in text
    assert "test_accuracy: 0.9400" in text


def test_logs_get_plain_lines_only() -> None:
    text = play(live=False)
    assert "\x1b[" not in text and "epoch 2/20" not in text
    lines = text.splitlines()
    assert lines[2].startswith("trial 1/2 depth=1 units_0=256 | 2 ep | val_accuracy=0.91")
    assert lines[3].startswith("trial 2/2 depth=1 units_0=256 | 2 ep | val_accuracy=0.95 | best 0.95")
