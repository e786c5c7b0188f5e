"""sweeps: hyperparameter search for Keras models, every trial tracked in MLflow.

Importing this package is cheap: TensorFlow, Keras and MLflow load only when a sweep runs.
"""

__version__ = "0.1.0"
