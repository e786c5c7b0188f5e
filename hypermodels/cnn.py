"""A small convolutional network for images: a builder that is not an MLP."""

from __future__ import annotations

from typing import Any

from hypermodels.base import BuildContext, Hypermodel
from hypermodels.space import ChoiceParam, FloatParam, IntParam, Space

__all__ = ["CNN"]


class CNN(Hypermodel):
    """``blocks`` × (Conv2D(``filters`` · 2^i, ``kernel_size``) → MaxPool) → Dense(``units``)
    → Dropout → the task's head. Grey images of shape (H, W) get their channel axis here."""

    name = "cnn"
    description = "Conv2D blocks with max pooling, a dense layer and dropout"
    default_space = {
        "blocks": IntParam(1, 2),
        "filters": IntParam(16, 64, step=16),
        "kernel_size": ChoiceParam((3, 5)),
        "units": IntParam(64, 256, step=64),
        "dropout": FloatParam(0.0, 0.5, step=0.1),
        "learning_rate": FloatParam(3e-4, 3e-3, log=True),
    }
    default_options = {"activation": "relu"}

    def build_body(self, inputs: Any, space: Space, context: BuildContext) -> Any:
        import keras

        x = inputs
        if len(context.input_shape) == 2:
            x = keras.layers.Reshape((*context.input_shape, 1))(x)
        filters = space.value("filters")
        kernel = space.value("kernel_size")
        activation = self.options["activation"]
        for i in range(space.value("blocks")):
            x = keras.layers.Conv2D(filters * 2**i, kernel, padding="same",
                                    activation=activation)(x)
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(space.value("units"), activation=activation)(x)
        dropout = space.value("dropout")
        return keras.layers.Dropout(dropout)(x) if dropout else x
