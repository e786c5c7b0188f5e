"""The base every bundled hypermodel extends, what a build is told, and the compile step
that sweeps applies to any model that comes back uncompiled.

Keras is imported inside the functions rather than at module level: the CLI reads
hypermodels' default spaces for ``list`` and ``show``, which must answer without loading
TensorFlow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from hypermodels.space import Param, Scalar, Space

if TYPE_CHECKING:
    import keras
    import numpy as np

    from sweeps.task import Task

__all__ = ["BuildContext", "Hypermodel", "OptionError", "compile_model"]


class OptionError(ValueError):
    """A hypermodel's option does not fit the data (found when the first model is built)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class BuildContext:
    """What a hypermodel needs to know about the data, the task and the training schedule."""

    input_shape: tuple[int, ...]
    task: Task
    #: InverseTimeDecay: ``lr = initial / (1 + decay_rate * step / decay_steps)``.
    decay_steps: int
    decay_rate: float
    staircase: bool = False
    #: Inputs arrive as 0..255 bytes (images): :meth:`preprocess` rescales them.
    pixels: bool = False
    #: Per-feature mean and variance of the training inputs (not validation, not test):
    #: :meth:`preprocess` normalises float features with them.
    feature_mean: np.ndarray | None = field(default=None, repr=False, compare=False)
    feature_variance: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: Per-target mean and standard deviation of the training targets (regression): the
    #: output head predicts standardised targets and :meth:`head` maps them back.
    target_mean: np.ndarray | None = field(default=None, repr=False, compare=False)
    target_std: np.ndarray | None = field(default=None, repr=False, compare=False)

    def preprocess(self, inputs: Any) -> Any:
        """The input layers the data calls for, inside the model so that a saved model takes
        the raw inputs the data loaders return: 1/255 rescaling of pixels, or Normalization
        with the training set's statistics for float features."""
        import keras

        if self.pixels:
            return keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
        if self.feature_mean is not None:
            return keras.layers.Normalization(
                axis=-1 if self.feature_mean.ndim else None, mean=self.feature_mean,
                variance=self.feature_variance, name="normalize")(inputs)
        return inputs

    def head(self, x: Any, kernel_regularizer: Any = None) -> Any:
        """The task's output layer; for regression followed by the training targets' scale
        and offset, so that the last Dense layer learns standardised targets (the scale of
        ``y`` stops mattering to the learning rate and the initialisation) while the model,
        saved, predicts in the targets' own units."""
        import keras

        out = self.task.head(x, kernel_regularizer)
        if self.target_mean is None or self.target_std is None:
            return out
        # Plain floats for the usual single target: they serialise with the saved model.
        scale, offset = (v.item() if v.size == 1 else v.tolist()
                         for v in (self.target_std, self.target_mean))
        return keras.layers.Rescaling(scale=scale, offset=offset, name="target_scale")(out)


def compile_model(model: keras.Model, learning_rate: float, context: BuildContext) -> None:
    """The compile step of every model its builder left uncompiled: Adam on an
    ``InverseTimeDecay`` schedule, the task's loss and metrics."""
    import keras

    schedule = keras.optimizers.schedules.InverseTimeDecay(
        initial_learning_rate=learning_rate,
        decay_steps=context.decay_steps,
        decay_rate=context.decay_rate,
        staircase=context.staircase,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss=context.task.loss,
        metrics=context.task.compile_metrics(),
    )


class Hypermodel(ABC):
    """A Keras model builder over a named search space.

    Subclasses declare ``name``, ``default_space`` (every hyperparameter they ask for, with
    defaults the spec may override; ``learning_rate`` is used by the compile step) and
    ``default_options`` (settings that are not searched), and implement :meth:`build_body`.
    :meth:`build` returns the model uncompiled: sweeps compiles it (:func:`compile_model`).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_space: ClassVar[Mapping[str, Param]]
    #: Hyperparameters in the space only when a spec names them (``search_space: {l2: ...}``),
    #: so that adding one changes no existing sweep's space (nor its identity on resume).
    optional_space: ClassVar[Mapping[str, Param]] = {}
    default_options: ClassVar[Mapping[str, Scalar]] = {}
    #: Inclusive (min, max) of numeric options that have bounds; the spec loader checks them.
    option_bounds: ClassVar[Mapping[str, tuple[float, float]]] = {}

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.default_options)
        if unknown:
            raise TypeError(f"{self.name} has no option(s) {sorted(unknown)}")
        self.options = {**self.default_options, **options}

    @classmethod
    def known_space(cls) -> dict[str, Param]:
        """Every hyperparameter a spec may name: the defaults and the optional ones."""
        return {**cls.default_space, **cls.optional_space}

    @classmethod
    def space_names(cls) -> str:
        """``depth, units, ... (optional: l2)``: the names a spec may use, for messages."""
        optional = [k for k in cls.optional_space if k not in cls.default_space]
        return ", ".join(cls.default_space) + (f" (optional: {', '.join(optional)})"
                                               if optional else "")

    def build(self, space: Space, context: BuildContext) -> keras.Model:
        import keras

        inputs = keras.Input(shape=context.input_shape, name="inputs")
        x = self.build_body(context.preprocess(inputs), space, context)
        return keras.Model(inputs, context.head(x, self.kernel_regularizer(space)),
                           name=self.name)

    def kernel_regularizer(self, space: Space) -> Any:
        """The penalty on the weights of the Dense layers, the output layer's included: L2
        of strength ``l2`` where the space has it (an optional hyperparameter), else None."""
        if "l2" not in space.params:
            return None
        import keras

        return keras.regularizers.L2(space.value("l2"))

    @abstractmethod
    def build_body(self, inputs: Any, space: Space, context: BuildContext) -> Any:
        """Layers from the preprocessed inputs to the last hidden layer (the task adds the
        output head)."""
