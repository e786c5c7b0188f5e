"""The spec's ``final:`` section: how the sweep's final model is made once the search ends.

    final:
      retrain: auto     # the best hyperparameters, trained again on train + validation data
                        # (auto: when the data is small; true; false)
      baselines: true   # the builder's defaults and a linear model, tested beside it
      max_epochs: 50    # the final fit's epochs: the best of up to 50 with validation
"""

from __future__ import annotations

from sweeps.spec._limits import MAX_EPOCHS
from sweeps.spec._model import FinalSpec
from sweeps.spec._reader import Node, describe

__all__ = ["parse_final"]


def parse_final(node: Node) -> FinalSpec:
    """``final.retrain`` (``auto``, the default: on for small data; true; false: the best
    trial's own model is the final model) and ``final.baselines`` (default true)."""
    retrain = node.raw("retrain", "auto")
    if retrain != "auto" and not isinstance(retrain, bool):
        node.fail("retrain", f"expected auto, true or false, got {describe(retrain)}")
    max_epochs = node.integer("max_epochs", None, minimum=1, maximum=MAX_EPOCHS, nullable=True)
    if max_epochs is not None and retrain is False:
        node.fail("max_epochs", "finds the epochs of a final fit, but final.retrain is "
                                "false; set retrain: true (or auto), or drop max_epochs")
    final = FinalSpec(retrain=None if retrain == "auto" else retrain,
                      baselines=node.boolean("baselines", True), max_epochs=max_epochs)
    node.finish()
    return final
