"""Does the tuned model beat what the user had? The final model's test metric beside the
builder's defaults and the linear model, over seeds.

    python scripts/bench_uplift.py [--spec diabetes] [--seeds 1 2 3] [--metric test_mae]
        [--tuner bayesian] [--set KEY=VALUE ...]
    python scripts/bench_uplift.py --spec breast_cancer_sizes --metric test_auc

Each seed runs ``python -m sweeps run SPEC --seed S`` in its own process, directory and
sqlite store (bench_flagship's runner). With ``data.shuffle`` the seed also draws the
train/validation/test split, so each seed is another split; the baselines are tested on the
same split as the tuned model (the sweep trains and tests them itself, ``final.baselines``).
Prints each seed's three figures and which baseline the tuned model beat, then the medians
and the number of seeds it won. Figures in docs/benchmarks.md come from this script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_flagship import run_once  # a sibling script, not a package

sys.path.pop(0)


def beats(metric: str, tuned: float, baseline: float) -> bool:
    from sweeps.metrics import Direction, direction_of

    direction = direction_of(metric) or Direction.MAX
    return tuned > baseline if direction is Direction.MAX else tuned < baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="diabetes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--tuner", default=None, help="the engine (default: the spec's)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a spec override, as in `sweeps run --set`")
    parser.add_argument("--metric", default="test_mae", help="the test metric to compare")
    args = parser.parse_args()

    metric = args.metric
    names = ("tuned", "default", "linear")
    print(f"{args.spec} ({args.tuner or 'its own tuner'}) over seeds {args.seeds}, {metric}, "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'seed':>4} {'wall':>7} " + " ".join(f"{n:>9}" for n in names) + "  beats")
    figures: dict[str, list[float]] = {name: [] for name in names}
    wins = {"default": 0, "linear": 0}
    for seed in args.seeds:
        result = run_once(args.spec, seed, args.tuner, args.settings)
        row = {"tuned": result.get(metric, float("nan")),
               "default": result.get(f"baseline_default_{metric}", float("nan")),
               "linear": result.get(f"baseline_linear_{metric}", float("nan"))}
        won = [name for name in wins if beats(metric, row["tuned"], row[name])]
        for name in won:
            wins[name] += 1
        for name in names:
            figures[name].append(row[name])
        print(f"{seed:>4} {result['wall_s']:>6.0f}s " + " ".join(f"{row[n]:>9.4f}" for n in names)
              + f"  {', '.join(won) or '-'}", flush=True)
    print("median    " + " ".join(f"{statistics.median(figures[n]):>9.4f}" for n in names))
    median_wins = [name for name in wins if beats(metric, statistics.median(figures["tuned"]),
                                                  statistics.median(figures[name]))]
    print(f"seeds won: over the defaults {wins['default']}/{len(args.seeds)}, over the linear "
          f"model {wins['linear']}/{len(args.seeds)}; the median beats: "
          f"{', '.join(median_wins) or 'neither'}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
