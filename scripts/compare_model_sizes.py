"""Compare the model sizes of a sweep, read back from MLflow (the bundled `model_sizes`).

    python scripts/compare_model_sizes.py [SWEEP_OR_RUN_ID] [--by size] [--plots DIR]
                                          [--tracking-uri URI] [--markdown | --csv]

The same as `python -m sweeps compare model_sizes --by size`: overlaid learning curves per
size (training solid, validation dashed), best validation accuracy against parameter count
(log scale) with the Pareto front, and a table; the plots go to DIR and onto the sweep run.
"""

from __future__ import annotations

import argparse
import sys

from sweeps.compare import add_arguments, compare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    args.sweeps = args.sweeps or ["model_sizes"]
    args.by = args.by or "size"
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
