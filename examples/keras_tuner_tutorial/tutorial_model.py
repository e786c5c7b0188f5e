"""The Keras Tuner tutorial's model and data, as a KerasTuner user has them.

One hidden layer whose width is searched, a learning rate chosen from three, compiled by
the builder itself with a from-logits loss; Fashion-MNIST scaled to 0..1. Run with::

    cd examples/keras_tuner_tutorial && python -m sweeps run tutorial.yaml
"""

import keras

from sweeps.data import load_arrays


def model_builder(hp):
    model = keras.Sequential()
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(units=hp.Int("units", min_value=32, max_value=512, step=32),
                                 activation="relu"))
    model.add(keras.layers.Dense(10))
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    return model


def load():
    """Fashion-MNIST as the tutorial prepares it. sweeps' loader reads the Debian package or
    $SWEEPS_DATA_DIR offline, else what keras.datasets.fashion_mnist.load_data() downloads."""
    (x_train, y_train), (x_test, y_test) = load_arrays("fashion_mnist", None)[0]
    return (x_train.astype("float32") / 255.0, y_train), (x_test.astype("float32") / 255.0,
                                                          y_test)
