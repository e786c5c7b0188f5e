"""A stop always stops: the short version of ``scripts/drill_signals.py`` (100 signals there).

An engine is drawn (keras-tuner's random search or Optuna: each run of the suite tries one, so
both are drilled over time, and the script drills both every time); a reference sweep runs to
the end; then the same sweep is signalled at a random moment of its run (SIGINT or SIGTERM,
drawn too), and it must exit non-zero with no
traceback, leave no trial run FAILED and no run RUNNING, and finish on ``--resume`` with
exactly its 4 trial runs FINISHED once each. The moments are drawn afresh each run; a failure
names the seed that drew them (``drill_signals.py --seed``).
"""

from __future__ import annotations

import importlib.util
import random
import signal
import sys

from tests.conftest import REPO


def drill_script():
    spec = importlib.util.spec_from_file_location("drill_signals",
                                                  REPO / "scripts" / "drill_signals.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_signals_at_random_moments_stop_the_sweep_and_lose_nothing() -> None:
    drill = drill_script()
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    tuner = rng.choice(["random", "optuna"])
    ref = drill.reference(tuner)
    at, sig = rng.uniform(0.0, ref.wall), rng.choice([signal.SIGINT, signal.SIGTERM])
    outcome = drill.drill(tuner, ref, at, sig, resume=True)
    assert not outcome.problems, (f"{tuner}: {sig.name} at {at:.1f} s ({outcome.where}, "
                                  f"seed {seed}): "
                                  f"exit {outcome.returncode}, {outcome.problems}")
