"""The bundled hypermodels build what their hyperparameters say, with the task's head, under a
fixed space and under keras-tuner; sweeps' compile step is Adam on InverseTimeDecay."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from hypermodels import CNN, MLP, BuildContext, FixedSpace, HpSpace, OptionError, compile_model
from hypermodels.space import ChoiceParam, FloatParam, IntParam
from sweeps.task import Task, TaskKind

CONTEXT = BuildContext(input_shape=(28, 28), task=Task(TaskKind.MULTICLASS, num_classes=10),
                       decay_steps=100, decay_rate=0.5, pixels=True)
KerasTunerSpace = HpSpace


def dense_units(model: keras.Model) -> list[int]:
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_built_model_matches_the_hyperparameters() -> None:
    values = {"depth": 2, "units_0": 64, "units_1": 32, "dropout": 0.25, "learning_rate": 0.003}
    model = MLP().build(FixedSpace(MLP.default_space, values), CONTEXT)
    assert dense_units(model) == [64, 32, 10]
    dropouts = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == [0.25, 0.25]
    assert model.count_params() == (784 * 64 + 64) + (64 * 32 + 32) + (32 * 10 + 10)
    assert model.output_shape == (None, 10)


def test_sweeps_compiles_with_adam_on_inverse_time_decay() -> None:
    values = {"depth": 1, "units_0": 16, "dropout": 0.0, "learning_rate": 0.01}
    model = MLP().build(FixedSpace(MLP.default_space, values), CONTEXT)
    assert not model.compiled  # hypermodels leave compiling to sweeps
    compile_model(model, 0.01, CONTEXT)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    schedule = keras.optimizers.schedules.deserialize(model.optimizer.get_config()["learning_rate"])
    assert isinstance(schedule, keras.optimizers.schedules.InverseTimeDecay)
    assert schedule.initial_learning_rate == 0.01
    # lr = 0.01 / (1 + 0.5 * step / 100): halved at step 200.
    assert float(schedule(200)) == pytest.approx(0.005)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)


def test_l2_penalises_every_dense_layer_the_output_included_and_only_when_in_the_space() -> None:
    values = {"depth": 2, "units_0": 16, "units_1": 8, "dropout": 0.0, "learning_rate": 0.01}
    plain = MLP().build(FixedSpace(MLP.default_space, values), CONTEXT)
    assert all(layer.kernel_regularizer is None for layer in plain.layers
               if isinstance(layer, keras.layers.Dense))
    space = {**MLP.default_space, **MLP.optional_space}
    penalised = MLP().build(FixedSpace(space, {**values, "l2": 0.01}), CONTEXT)
    dense = [layer for layer in penalised.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.kernel_regularizer.l2 for layer in dense] == pytest.approx([0.01] * 3)
    # The penalty is in the loss: 0.01 * the sum of the squared kernels.
    expected = sum(0.01 * float(np.sum(np.square(layer.kernel.numpy()))) for layer in dense)
    assert float(sum(penalised.losses)) == pytest.approx(expected, rel=1e-5)
    linear = MLP().build(FixedSpace(space, {**values, "depth": 0, "l2": 0.1}), CONTEXT)
    assert dense_units(linear) == [10]  # depth 0: a regularised linear (softmax) model


def test_shared_units_without_per_layer_option() -> None:
    values = {"depth": 3, "units": 8, "dropout": 0.1, "learning_rate": 0.001}
    model = MLP(units_per_layer=False).build(FixedSpace(MLP.default_space, values), CONTEXT)
    assert dense_units(model) == [8, 8, 8, 10]


def test_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="no option"):
        MLP(width=3)


def test_keras_tuner_space_declares_layers_in_conditional_scopes() -> None:
    space = {"depth": IntParam(1, 3), "units": IntParam(32, 128, step=32),
             "dropout": FloatParam(0.0, 0.5, step=0.1),
             "learning_rate": FloatParam(1e-4, 1e-2, log=True)}
    hp = kt.HyperParameters()
    hp.values["depth"] = 1
    hp.Int("depth", 1, 3)
    MLP().build(KerasTunerSpace(hp, space), CONTEXT)
    # One layer built: only units_0 is active, and the search space knows depth's range.
    active = {name for name in hp.values if hp.is_active(name)}
    assert active == {"depth", "units_0", "dropout"}
    by_name = {p.name: p for p in hp.space}
    assert (by_name["units_0"].min_value, by_name["units_0"].max_value,
            by_name["units_0"].step) == (32, 128, 32)
    # the learning rate is declared by the compile step, on the same hp
    assert KerasTunerSpace(hp, space).value("learning_rate") is not None
    assert {p.name: p for p in hp.space}["learning_rate"].sampling == "log"


def test_choice_and_fixed_params_reach_keras_tuner() -> None:
    space = {**MLP.default_space, "units": ChoiceParam((48, 96)), "depth": IntParam(1, 1)}
    hp = kt.HyperParameters()
    model = MLP().build(KerasTunerSpace(hp, space), CONTEXT)
    assert dense_units(model)[0] in (48, 96)
    assert isinstance(hp.space[[p.name for p in hp.space].index("units_0")], kt.engine.hyperparameters.Choice)


@pytest.mark.parametrize(("kind", "units", "activation", "loss"), [
    (TaskKind.BINARY, 1, "sigmoid", "binary_crossentropy"),
    (TaskKind.REGRESSION, 1, "linear", "mean_squared_error"),
])
def test_the_task_decides_head_and_loss(kind, units, activation, loss) -> None:
    mean, variance = np.zeros(8, np.float32), np.ones(8, np.float32)
    context = BuildContext(input_shape=(8,), task=Task(kind), decay_steps=10, decay_rate=0.5,
                           feature_mean=mean, feature_variance=variance)
    values = {"depth": 1, "units_0": 4, "dropout": 0.0, "learning_rate": 0.01}
    model = MLP().build(FixedSpace(MLP.default_space, values), context)
    head = model.layers[-1]
    assert head.units == units and head.activation.__name__ == activation
    # tabular features are normalised with the training statistics, not rescaled as pixels
    assert any(isinstance(layer, keras.layers.Normalization) for layer in model.layers)
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)
    compile_model(model, 0.01, context)
    assert model.loss == loss


def test_cnn_gives_grey_images_a_channel_axis() -> None:
    values = {"blocks": 2, "filters": 16, "kernel_size": 3, "units": 32, "dropout": 0.2,
              "learning_rate": 1e-3}
    model = CNN().build(FixedSpace(CNN.default_space, values), CONTEXT)
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [16, 32] and model.output_shape == (None, 10)


def test_translate_shifts_training_images_only() -> None:
    values = {"depth": 1, "units_0": 16, "dropout": 0.0, "learning_rate": 0.001}
    model = MLP(translate=0.2).build(FixedSpace(MLP.default_space, values), CONTEXT)
    layer = model.get_layer("translate")
    assert isinstance(layer, keras.layers.RandomTranslation)
    images = np.zeros((8, 28, 28, 1), dtype="float32")
    images[:, 10:18, 10:18] = 1.0  # a square that a shift moves
    keras.utils.set_random_seed(0)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    shifted = keras.ops.convert_to_numpy(layer(images, training=True))
    assert not np.array_equal(shifted, images)
    assert shifted.sum() == pytest.approx(images.sum(), rel=0.5)  # moved, not wiped out
    pixels = np.random.default_rng(0).integers(0, 256, (4, 28, 28)).astype("uint8")
    np.testing.assert_array_equal(model.predict(pixels, verbose=0),
                                  model.predict(pixels, verbose=0))  # inference: no shifts


def test_translate_on_features_that_are_not_an_image_is_an_option_error() -> None:
    tabular = BuildContext(input_shape=(10,), task=Task(TaskKind.REGRESSION), decay_steps=10,
                           decay_rate=0.5)
    values = {"depth": 1, "units_0": 8, "dropout": 0.0, "learning_rate": 0.001}
    with pytest.raises(OptionError, match=r"inputs have shape \(10,\)") as caught:
        MLP(translate=0.1).build(FixedSpace(MLP.default_space, values), tabular)
    assert caught.value.option == "translate"
