"""The spec's ``final:`` section: how the sweep's final model is made once the search ends.

    final:
      retrain: auto     # the best hyperparameters, trained again on train + validation data
                        # (auto: when the data is small; true; false)
      baselines: true   # the builder's defaults and a linear model, tested beside it
"""

from __future__ import annotations

from sweeps.spec._model import FinalSpec
from sweeps.spec._reader import Node, describe

__all__ = ["parse_final"]


def parse_final(node: Node) -> FinalSpec:
    """``final.retrain`` (``auto``, the default: on for small data; true; false: the best
    trial's own model is the final model) and ``final.baselines`` (default true)."""
    retrain = node.raw("retrain", "auto")
    if retrain != "auto" and not isinstance(retrain, bool):
        node.fail("retrain", f"expected auto, true or false, got {describe(retrain)}")
    final = FinalSpec(retrain=None if retrain == "auto" else retrain,
                      baselines=node.boolean("baselines", True))
    node.finish()
    return final
