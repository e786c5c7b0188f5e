"""The spec's ``final:`` section: how the sweep's final model is made once the search ends.

    final:
      retrain: true   # the best hyperparameters, trained again on train + validation data
"""

from __future__ import annotations

from sweeps.spec._model import FinalSpec
from sweeps.spec._reader import Node

__all__ = ["parse_final"]


def parse_final(node: Node) -> FinalSpec:
    """``final.retrain`` (default false: the best trial's own model is the final model)."""
    final = FinalSpec(retrain=node.boolean("retrain", False))
    node.finish()
    return final
