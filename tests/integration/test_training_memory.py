"""A fit leaves nothing of its model behind: TensorFlow's registry of custom gradients would
otherwise keep every fit's traced graphs, and with them the model's operations, alive for the
process's life (``sweeps.training._tensorflow_compat``; ``scripts/bench_memory.py`` measures
a whole sweep). Real Keras, real fits on a few MNIST-sized arrays."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from sweeps.training._tensorflow_compat import custom_gradient_names, custom_gradients_released


def _fit_and_drop(released: bool) -> None:
    import contextlib

    import keras

    keras.backend.clear_session()
    x = np.random.default_rng(0).integers(0, 255, (256, 28, 28)).astype("uint8")
    y = np.random.default_rng(1).integers(0, 10, 256)
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    with custom_gradients_released() if released else contextlib.nullcontext():
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, validation_data=(x[:64], y[:64]))
    del model
    keras.backend.clear_session()
    gc.collect()


def _graphs() -> int:
    return sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())


@pytest.mark.parametrize("released", [True, False])
def test_a_fit_s_graphs_outlive_its_model_only_without_the_release(released: bool) -> None:
    _fit_and_drop(released)  # the first fit traces what every later one reuses
    graphs, names = _graphs(), custom_gradient_names()
    for _ in range(3):
        _fit_and_drop(released)
    added = custom_gradient_names() - names
    if released:
        assert _graphs() <= graphs and not added
    else:  # what TensorFlow does by itself: the test would notice a fixed TensorFlow
        assert _graphs() > graphs and added
