"""Multi-layer perceptrons: for images (flattened) and tabular features alike."""

from __future__ import annotations

from typing import Any

from hypermodels.base import BuildContext, Hypermodel, OptionError
from hypermodels.space import ChoiceParam, FixedParam, FloatParam, IntParam, Space

__all__ = ["MLP", "SizedMLP", "dense_stack", "random_translation"]


def dense_stack(x: Any, units: list[int], dropout: float, activation: str,
                kernel_regularizer: Any = None) -> Any:
    """Flatten → (Dense → Dropout) per entry of ``units`` (no output layer)."""
    import keras

    if len(x.shape) > 2:
        x = keras.layers.Flatten()(x)
    for width in units:
        x = keras.layers.Dense(width, activation=activation,
                               kernel_regularizer=kernel_regularizer)(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return x


class MLP(Hypermodel):
    """Flatten → ``depth`` × (Dense → Dropout) → the task's head.

    With ``units_per_layer`` (the default) each layer ``i`` has its own ``units_i``, drawn from
    the ``units`` distribution and declared in a conditional scope on ``depth`` so that
    layers a trial does not build stay out of its hyperparameters. Without it, one ``units``
    serves every layer. Pixels are rescaled and tabular features normalised by the build
    context, so the same MLP serves MNIST and a CSV file.

    ``translate`` (images only; 0, the default, is off) shifts each training image at random
    by up to that fraction of its height and width (Keras's ``RandomTranslation``, empty
    pixels black): an MLP has no notion of neighbouring pixels, and seeing digits a pixel or
    two off is what lifts it from about 98.6 % to 99 % on MNIST for the same epochs and
    nearly the same time per epoch (docs/benchmarks.md). The layer is part of the model
    and passes images through unchanged at inference.

    ``l2`` (optional: in the space only when the spec names it) is an L2 penalty on every
    Dense layer's weights, the output's included: with ``depth: 0`` the MLP is then a
    regularised linear model, which on a few hundred rows of a table is what to beat.
    """

    name = "mlp"
    description = "Dense layers with dropout; searches depth, units, dropout, learning rate"
    default_space = {
        "depth": IntParam(1, 3),
        "units": IntParam(128, 1024, step=128),
        "dropout": FloatParam(0.0, 0.5, step=0.1),
        "learning_rate": FloatParam(1e-4, 1e-2, log=True),
    }
    optional_space = {"l2": FloatParam(1e-5, 1e-1, log=True)}
    default_options = {"units_per_layer": True, "activation": "relu", "translate": 0.0}
    option_bounds = {"translate": (0.0, 0.5)}

    def build_body(self, inputs: Any, space: Space, context: BuildContext) -> Any:
        if self.options["translate"]:
            inputs = random_translation(inputs, self.options["translate"])
        depth = space.value("depth")
        dropout = space.value("dropout")
        max_depth = int(space.max_value("depth"))
        units = []
        for i in range(depth):
            if self.options["units_per_layer"]:
                with space.conditional("depth", list(range(i + 1, max_depth + 1))):
                    units.append(space.value("units", name=f"units_{i}"))
            else:
                units.append(space.value("units"))
        return dense_stack(inputs, units, dropout, self.options["activation"],
                           self.kernel_regularizer(space))


def random_translation(x: Any, fraction: float) -> Any:
    """Images shifted at random by up to ``fraction`` of their size while training."""
    import keras

    if len(x.shape) not in (3, 4):
        raise OptionError("translate", (
            f"translate ({fraction:g}) shifts images, but the inputs have shape "
            f"{tuple(x.shape[1:])}, not (height, width) or (height, width, channels); "
            "expected 0 for features that are not an image"))
    if len(x.shape) == 3:  # (height, width): Keras's image layers want a channel axis
        x = keras.layers.Reshape((*x.shape[1:], 1))(x)
    return keras.layers.RandomTranslation(fraction, fraction, fill_mode="constant",
                                          name="translate")(x)


class SizedMLP(Hypermodel):
    """MLPs of named sizes, as in TensorFlow's "Overfit and underfit" tutorial.

    The searched hyperparameter is ``size``; each name maps to the units of its layers.
    Everything else is fixed by default so that size alone explains the differences.
    """

    name = "sized_mlp"
    description = "Tiny (1x16), Small (2x16), Medium (3x64), Large (4x512) MLPs"
    SIZES = {"tiny": [16], "small": [16, 16], "medium": [64, 64, 64],
             "large": [512, 512, 512, 512]}
    default_space = {
        "size": ChoiceParam(tuple(SIZES)),
        "dropout": FixedParam(0.0),
        "learning_rate": FixedParam(1e-3),
    }
    #: The tutorial's other remedy for overfitting, weight regularisation (it tries 0.001).
    optional_space = {"l2": FloatParam(1e-5, 1e-1, log=True)}
    default_options = {"activation": "elu"}

    def build_body(self, inputs: Any, space: Space, context: BuildContext) -> Any:
        size = space.value("size")
        return dense_stack(inputs, self.SIZES[size], space.value("dropout"),
                           self.options["activation"], self.kernel_regularizer(space))
