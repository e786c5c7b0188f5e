"""A multi-layer perceptron for image classification."""

from __future__ import annotations

from typing import Any

from hypermodels.base import BuildContext, Hypermodel
from hypermodels.space import FloatParam, IntParam, Space

__all__ = ["MLP"]


class MLP(Hypermodel):
    """Rescale → Flatten → ``depth`` × (Dense → Dropout) → softmax.

    With ``units_per_layer`` (the default) each layer ``i`` has its own ``units_i``, drawn from
    the ``units`` distribution and declared in a conditional scope on ``depth`` so that
    layers a trial does not build stay out of its hyperparameters. Without it, one ``units``
    serves every layer.
    """

    name = "mlp"
    description = "Dense layers with dropout; searches depth, units, dropout, learning rate"
    default_space = {
        "depth": IntParam(1, 3),
        "units": IntParam(128, 1024, step=128),
        "dropout": FloatParam(0.0, 0.5, step=0.1),
        "learning_rate": FloatParam(1e-4, 1e-2, log=True),
    }
    default_options = {"units_per_layer": True, "activation": "relu"}

    def build_body(self, inputs: Any, space: Space, context: BuildContext) -> Any:
        import keras

        # Pixels arrive as 0..255 bytes; rescaling inside the model means the saved model
        # takes the same raw images the dataset loaders return.
        x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
        x = keras.layers.Flatten()(x)
        depth = space.value("depth")
        dropout = space.value("dropout")
        max_depth = int(space.max_value("depth"))
        for i in range(depth):
            if self.options["units_per_layer"]:
                with space.conditional("depth", list(range(i + 1, max_depth + 1))):
                    units = space.value("units", name=f"units_{i}")
            else:
                units = space.value("units")
            x = keras.layers.Dense(units, activation=self.options["activation"])(x)
            if dropout:
                x = keras.layers.Dropout(dropout)(x)
        return keras.layers.Dense(context.num_classes, activation="softmax")(x)
