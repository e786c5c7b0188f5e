"""The spec's ``final:`` section: how the sweep's final model is made once the search ends.

    final:
      retrain: true     # the best hyperparameters, trained again on train + validation data
      baselines: true   # the builder's defaults and a linear model, tested beside it
"""

from __future__ import annotations

from sweeps.spec._model import FinalSpec
from sweeps.spec._reader import Node

__all__ = ["parse_final"]


def parse_final(node: Node) -> FinalSpec:
    """``final.retrain`` (default false: the best trial's own model is the final model) and
    ``final.baselines`` (default true)."""
    final = FinalSpec(retrain=node.boolean("retrain", False),
                      baselines=node.boolean("baselines", True))
    node.finish()
    return final
