"""keras-tuner's own distributed mode when a worker dies: the evidence for refusing it.

    python scripts/drill_keras_tuner_chief.py [--tuner random|hyperband] [--watch 240]

Plain keras-tuner, set up as its distributed-tuning guide does (a chief process holding the
oracle, workers over gRPC, ``KERASTUNER_TUNER_ID`` / ``KERASTUNER_ORACLE_IP`` /
``KERASTUNER_ORACLE_PORT``), no sweeps code: a chief and two workers tune a tiny regression
whose epochs take 2 s (a sleep), worker ``tuner1`` is killed with SIGKILL during its first
trial, and the script watches for ``--watch`` seconds which processes end, then prints every
trial's status from the tuner's folder. This is why ``sweeps run --workers`` runs only Optuna's
shared study (docs/resume-and-workers.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def role(tuner_kind: str, directory: str) -> None:
    """One keras-tuner process (chief or worker, from $KERASTUNER_TUNER_ID)."""
    import keras
    import keras_tuner
    import numpy as np

    def build_model(hp):
        model = keras.Sequential([keras.Input((8,)),
                                  keras.layers.Dense(hp.Int("units", 4, 64, step=4),
                                                     activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        return model

    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(2)

    x = np.random.rand(256, 8)
    common = dict(objective="val_loss", directory=directory, project_name="p")
    if tuner_kind == "random":
        tuner = keras_tuner.RandomSearch(build_model, max_trials=6, **common)
    else:
        tuner = keras_tuner.Hyperband(build_model, max_epochs=4, factor=2, **common)
    tuner.search(x, x.sum(1), epochs=3, validation_split=0.25, callbacks=[Slow()], verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuner", choices=["random", "hyperband"], default="random")
    parser.add_argument("--watch", type=int, default=240, help="seconds to watch after the kill")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role(args.tuner, args.dir)
        return

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="kt-chief-")
    env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(port), "TF_CPP_MIN_LOG_LEVEL": "3"}

    def start(tuner_id: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, __file__, "--tuner", args.tuner, "--role", tuner_id,
             "--dir", directory], env={**env, "KERASTUNER_TUNER_ID": tuner_id},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    procs = {"chief": start("chief")}
    time.sleep(8)  # the chief's server up before the workers ask it
    procs["tuner0"], procs["tuner1"] = start("tuner0"), start("tuner1")
    project = Path(directory) / "p"
    while len(list(project.glob("trial_*"))) < 2:  # both workers have a trial
        time.sleep(0.5)
    time.sleep(3)
    procs["tuner1"].send_signal(signal.SIGKILL)
    print(f"{args.tuner}: killed worker tuner1 during its first trial")
    killed_at, ended = time.monotonic(), {"tuner1"}
    while time.monotonic() - killed_at < args.watch and len(ended) < 3:
        for name, proc in procs.items():
            if name not in ended and proc.poll() is not None:
                ended.add(name)
                print(f"  {name} exited ({proc.returncode}) {time.monotonic() - killed_at:.0f} s "
                      "after the kill")
        time.sleep(1)
    for name in ("chief", "tuner0"):
        if name not in ended:
            print(f"  {name} still running {args.watch} s after the kill")
            procs[name].kill()
    statuses = Counter(json.loads(t.read_text())["status"]
                       for t in project.glob("trial_*/trial.json"))
    print(f"  trials in the tuner's folder: {dict(statuses)}")


if __name__ == "__main__":
    main()
