"""The base every hypermodel extends: the shared compile step and what a build is told.

Keras is imported inside :meth:`Hypermodel.build` rather than at module level: the CLI reads
hypermodels' default spaces for ``list`` and ``show``, which must answer without loading
TensorFlow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hypermodels.space import Param, Scalar, Space

if TYPE_CHECKING:
    import keras

__all__ = ["BuildContext", "Hypermodel"]


@dataclass(frozen=True)
class BuildContext:
    """What a hypermodel needs to know about the task and the training schedule."""

    input_shape: tuple[int, ...]
    num_classes: int
    #: InverseTimeDecay: ``lr = initial / (1 + decay_rate * step / decay_steps)``.
    decay_steps: int
    decay_rate: float
    staircase: bool = False


class Hypermodel(ABC):
    """A Keras model builder over a named search space.

    Subclasses declare ``name``, ``default_space`` (every hyperparameter they ask for, with
    defaults the spec may override) and ``default_options`` (settings that are not searched),
    and implement :meth:`build_body`. Every model is compiled the same way: Adam on an
    ``InverseTimeDecay`` schedule whose initial rate is the ``learning_rate`` hyperparameter.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_space: ClassVar[Mapping[str, Param]]
    default_options: ClassVar[Mapping[str, Scalar]] = {}

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.default_options)
        if unknown:
            raise TypeError(f"{self.name} has no option(s) {sorted(unknown)}")
        self.options = {**self.default_options, **options}

    def build(self, space: Space, context: BuildContext) -> keras.Model:
        import keras

        inputs = keras.Input(shape=context.input_shape, name="inputs")
        outputs = self.build_body(inputs, space, context)
        model = keras.Model(inputs, outputs, name=self.name)
        schedule = keras.optimizers.schedules.InverseTimeDecay(
            initial_learning_rate=space.value("learning_rate"),
            decay_steps=context.decay_steps,
            decay_rate=context.decay_rate,
            staircase=context.staircase,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    @abstractmethod
    def build_body(self, inputs: Any, space: Space, context: BuildContext) -> Any:
        """Layers from ``inputs`` to the class probabilities (softmax over num_classes)."""
