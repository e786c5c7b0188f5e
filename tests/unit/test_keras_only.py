"""Which models need only Keras: those whose saved config names Keras's own objects alone, so
their requirements are pinned rather than inferred by MLflow (a subprocess, 6-9 s)."""

from __future__ import annotations

import keras
import pytest

from tracking.models import keras_only


def guide_model() -> keras.Model:
    """KerasTuner's getting-started form: an unbuilt Sequential, compiled with strings."""
    model = keras.Sequential()
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(8, activation="relu"))
    model.add(keras.layers.Dropout(0.2))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.build((None, 28, 28))
    return model


class Doubling(keras.layers.Layer):
    def call(self, x):
        return 2 * x


class Subclassed(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(1, activation="sigmoid")

    def call(self, x):
        return self.dense(x)


def functional(*layers: keras.layers.Layer, **compiled) -> keras.Model:
    inputs = keras.Input((4,))
    x = inputs
    for layer in layers:
        x = layer(x)
    model = keras.Model(inputs, x)
    model.compile(**{"optimizer": "adam", "loss": "mse", **compiled})
    return model


def test_a_model_of_keras_layers_needs_keras_alone() -> None:
    assert keras_only(guide_model())
    schedule = keras.optimizers.schedules.InverseTimeDecay(1e-3, 10, 0.5)
    assert keras_only(functional(keras.layers.Normalization(mean=0.0, variance=1.0),
                                 keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.01)),
                                 optimizer=keras.optimizers.Adam(schedule),
                                 loss=keras.losses.BinaryCrossentropy(),
                                 metrics=[keras.metrics.AUC(name="auc")]))


def test_every_bundled_hypermodel_needs_keras_alone() -> None:
    import numpy as np

    from hypermodels import CNN, MLP, BuildContext, FixedSpace, compile_model
    from sweeps.task import Task, TaskKind

    images = BuildContext(input_shape=(28, 28), task=Task(TaskKind.MULTICLASS, num_classes=10),
                          decay_steps=100, decay_rate=0.5, pixels=True)
    table = BuildContext(input_shape=(3,), task=Task(TaskKind.REGRESSION), decay_steps=100,
                         decay_rate=0.5, feature_mean=np.zeros(3), feature_variance=np.ones(3),
                         target_mean=np.array([5.0]), target_std=np.array([2.0]))
    mlp = {"depth": 1, "units_0": 8, "dropout": 0.1, "learning_rate": 0.01, "l2": 0.01}
    cnn = {"blocks": 1, "filters": 8, "kernel_size": 3, "units": 8, "dropout": 0.1,
           "learning_rate": 0.01}
    for hypermodel, context, values in [(MLP(translate=0.1), images, mlp), (MLP(), table, mlp),
                                        (CNN(), images, cnn)]:
        space = {**hypermodel.known_space()}
        model = hypermodel.build(FixedSpace(space, values), context)
        compile_model(model, 0.01, context)
        assert keras_only(model), type(hypermodel).__name__


def user_loss(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred))


@pytest.mark.parametrize("model", [
    pytest.param(lambda: functional(Doubling(), keras.layers.Dense(1)), id="custom layer"),
    pytest.param(lambda: functional(keras.layers.Lambda(lambda x: x * 2)), id="Lambda"),
    pytest.param(lambda: functional(keras.layers.Dense(1), loss=user_loss), id="custom loss"),
    pytest.param(Subclassed, id="subclassed model"),
])
def test_code_of_the_user_s_own_is_left_to_mlflow_s_inference(model) -> None:
    assert not keras_only(model())
