"""The sweep's final model as an MLflow Model, and its place in the Model Registry.

:func:`log_keras_model` logs the model with MLflow's Keras flavor (Keras 3) as a *logged
model* of the sweep run: a signature and an input example from the training data, the pip
requirements MLflow infers, and a link from the run, so the UI's Models column shows it.
It loads back with ``mlflow.pyfunc.load_model`` and serves with ``mlflow models serve``.

:func:`register` adds it as a new version of a registered model and moves the ``champion``
alias to it only when it beats the current champion on the same test metric, measured on
the same test data::

    logged = log_keras_model(client, experiment_id, run_id, model, x_train[:5], name="mnist_mlp")
    outcome = register(client, "mnist_mlp", logged, run_id,
                       TestResult("test_accuracy", Direction.MAX, 0.9862, "3f2a..."))
    outcome.describe()  # "registered mnist_mlp version 3; champion: version 3 (...)"

Everything goes through the given ``MlflowClient``, with no active run. The one exception is
MLflow's own: a local registry store looks a ``models:/<id>`` source up through the global
tracking URI, so :func:`register` points it at the client's store for that call and puts the
caller's setting back (:func:`sweeps.runtime.tracking_uri`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from typing import Any

from mlflow.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from sweeps import runtime
from sweeps.metrics import Direction
from tracking import tags as T

__all__ = ["Registration", "TestResult", "input_example", "keras_only", "keras_requirements",
           "log_keras_model", "register"]

#: At most this many rows, and about this many values, go into a model's input example.
_EXAMPLE_ROWS = 5
_EXAMPLE_VALUES = 100_000


def input_example(x: Any) -> Any:
    """The first few rows of ``x``: enough to show the input's shape and dtype, small as JSON."""
    per_row = max(1, int(x[0].size)) if len(x) else 1
    return x[: max(1, min(_EXAMPLE_ROWS, _EXAMPLE_VALUES // per_row))]


def keras_only(model: Any) -> bool:
    """Whether every object the saved model names (its class, layers, initialisers, optimizer,
    loss and metrics) is Keras's own: then it loads with Keras alone, whatever code built it.

    A ``build_model(hp)`` that stacks Keras layers qualifies; a subclassed model, a custom
    layer, loss or metric, or a ``Lambda`` (whose code may import anything) does not.
    """
    from keras.saving import serialize_keras_object

    try:
        config = serialize_keras_object(model)
    except (NotImplementedError, TypeError, ValueError):
        return False  # a layer of the user's without get_config: not Keras's alone

    def keras_own(node: Any) -> bool:
        if isinstance(node, dict):
            name = node.get("class_name")
            # Keras's encodings of values (a functional graph's "__keras_tensor__", arrays'
            # "__numpy__", ...) name no module; a Lambda's code ("__lambda__") is the user's.
            special = isinstance(name, str) and name.startswith("__") and name != "__lambda__"
            module = "keras" if name is None or special else node.get("module")
            return (isinstance(module, str) and (module == "keras" or module.startswith("keras."))
                    and all(keras_own(value) for value in node.values()))
        if isinstance(node, (list, tuple)):
            return all(keras_own(value) for value in node)
        return True

    return keras_own(config)


def keras_requirements() -> list[str]:
    """What a model built from Keras's own objects needs (:func:`keras_only`): Keras, its
    backend and NumPy, pinned to the versions in this process.

    The same list MLflow's inference finds for such a model, without its cost: inference loads
    the saved model in a subprocess to see what it imports (6 to 9 s with TensorFlow, per sweep).
    Models with code of the user's own keep MLflow's inference, which can see their imports.
    """
    import keras

    backend = keras.backend.backend()
    pins = {"keras": keras.__version__, "numpy": version("numpy")}
    try:
        pins[backend] = version(backend)  # the distribution named as its module, usually
    except PackageNotFoundError:
        # Another distribution provides the module (tensorflow-cpu, tf-nightly...): found by
        # scanning every installed one, which costs 0.2 s, so only then.
        for dist in packages_distributions().get(backend, [backend]):
            pins[dist] = version(dist)
    return [f"{dist}=={pin}" for dist, pin in sorted(pins.items())]


def log_keras_model(client: MlflowClient, experiment_id: str, run_id: str, model: Any,
                    example: Any, *, name: str, params: Mapping[str, Any] | None = None,
                    pip_requirements: list[str] | None = None) -> LoggedModel:
    """Log a Keras model as an MLflow Model output of ``run_id``; return the logged model.

    ``pip_requirements`` None lets MLflow infer them (see :func:`keras_requirements`).

    What ``mlflow.keras.log_model`` does, but through ``client``: that function logs to the
    fluent API's active run and global tracking URI (it takes no run id), where a sweep
    writes to explicit run ids in the store it was given. The steps are MLflow's own
    public ones: create the logged model, save it with the Keras flavor, upload, finalize,
    link it to the run.
    """
    import mlflow.keras
    from mlflow.models import Model, infer_signature

    logged = client.create_logged_model(
        experiment_id, name=name, source_run_id=run_id,
        params={key: str(value) for key, value in (params or {}).items()})
    try:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # A model compiled but not trained since (the best trial's weights loaded into a
            # new model) saves an optimizer without its slots; Keras then warns at every load
            # that it skips them. Built, they are saved (as zeros) and load cleanly.
            optimizer.build(model.trainable_variables)
        signature = None
        if example is not None:
            signature = infer_signature(example, _output_like(model, example))
        with tempfile.TemporaryDirectory() as tmp:
            for exported in (False, True):
                path = os.path.join(tmp, "exported" if exported else "model")
                os.mkdir(path)  # the flavor writes the input example before the folder
                metadata = Model(artifact_path=logged.artifact_location,
                                 model_uuid=logged.model_id, run_id=run_id,
                                 model_id=logged.model_id)
                try:
                    # Keras's export prints the whole function signature: not for the console.
                    with contextlib.redirect_stdout(io.StringIO()):
                        mlflow.keras.save_model(model, path, save_exported_model=exported,
                                                mlflow_model=metadata, signature=signature,
                                                input_example=example,
                                                pip_requirements=pip_requirements)
                    break
                except NotImplementedError:
                    # A subclassed model without get_config() has no .keras form; the
                    # flavor's exported (SavedModel) form serves it for inference.
                    if exported:
                        raise
            client.log_model_artifacts(logged.model_id, path)
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    return client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)


def _output_like(model: Any, example: Any) -> Any:
    """What the model outputs for ``example``, as far as a signature needs it (shape and
    dtype): from the model's own output spec where it has one of known shape, since a
    prediction traces a new function first (0.2 s); predicted for any other model."""
    import numpy as np

    outputs = getattr(model, "outputs", None)
    if outputs and len(outputs) == 1 and None not in tuple(outputs[0].shape)[1:]:
        return np.zeros((len(example), *tuple(outputs[0].shape)[1:]), dtype=outputs[0].dtype)
    return model.predict(example, verbose=0)


@dataclass(frozen=True)
class TestResult:
    """The model's primary test metric, which versions are compared on."""

    __test__ = False  # not a pytest class, despite the name

    metric: str  # e.g. test_accuracy, test_mae
    direction: Direction
    value: float | None  # None: no test set (or the model did not report the metric)
    digest: str | None = None  # of the test set, so values compare only on the same data
    #: The builder's default hyperparameters on the same metric (sweeps.final.baselines): a model
    #: that loses to them never becomes champion (one that equals them is them: the
    #: defaults won the search).
    defaults: float | None = None

    def tags(self) -> dict[str, str]:
        tags = {T.TEST_METRIC: self.metric}
        if self.value is not None:
            tags[T.TEST_VALUE] = repr(self.value)
        if self.digest is not None:
            tags[T.TEST_DIGEST] = self.digest
        return tags


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    #: The version the ``champion`` alias points at now (``version`` if it moved); None if no
    #: version is champion (the first lost to the builder's defaults).
    champion: str | None
    #: Why the alias moved or stayed, e.g. ``test_accuracy 0.9862 > 0.9851``.
    reason: str

    @property
    def is_champion(self) -> bool:
        return self.champion == self.version

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.name}@{T.CHAMPION}"

    def describe(self) -> str:
        head = f"registered {self.name} version {self.version}"
        if self.is_champion:
            return f"{head}; champion: version {self.version} ({self.reason})"
        if self.champion is None:
            return f"{head}; no champion ({self.reason})"
        return f"{head}; kept version {self.champion} as champion ({self.reason})"


def register(client: MlflowClient, name: str, logged: LoggedModel, run_id: str,
             test: TestResult) -> Registration:
    """A new version of ``name`` for ``logged``; the champion alias moves to it only if it
    beats the champion's test metric (or there is no champion yet)."""
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    # As mlflow.register_model does: the source is the logged model, and the logged model
    # lists its versions (the UI links them both ways).
    with runtime.tracking_uri(client.tracking_uri):
        version = client.create_model_version(name, f"models:/{logged.model_id}", run_id=run_id,
                                              tags=test.tags(), model_id=logged.model_id)
    versions = json.loads(logged.tags.get(MLFLOW_MODEL_VERSIONS, "[]"))
    versions.append({"name": name, "version": str(version.version)})
    client.set_logged_model_tags(logged.model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(versions)})
    current = client.get_registered_model(name).aliases.get(T.CHAMPION)
    champion = client.get_model_version(name, current) if current is not None else None
    moves, reason = _decide(test, champion.tags if champion is not None else None)
    if moves:
        client.set_registered_model_alias(name, T.CHAMPION, version.version)
    return Registration(name=name, version=str(version.version),
                        champion=str(version.version) if moves else current, reason=reason)


def _decide(test: TestResult, champion: Mapping[str, str] | None) -> tuple[bool, str]:
    """Whether a version with ``test`` takes the alias from a champion with these tags."""
    value = f"{test.metric} {test.value:.4f}" if test.value is not None else None
    if (test.value is not None and test.defaults is not None
            and test.direction.better(test.defaults, test.value)):
        return False, f"{value} loses to the builder's defaults' {test.defaults:.4f}"
    if champion is None:
        return True, f"the first; {value}" if value else "the first; no test metric to compare"
    if test.value is None:
        return False, (f"no {test.metric} for this one (no test set): only a first version "
                       "becomes champion without one")
    theirs = champion.get(T.TEST_VALUE)
    if champion.get(T.TEST_METRIC) != test.metric or theirs is None:
        return False, f"the champion has no {test.metric} to compare with; move the alias by hand"
    if champion.get(T.TEST_DIGEST) != test.digest:
        return False, (f"the champion's {test.metric} is on other test data; "
                       "move the alias by hand")
    old = float(theirs)
    better = test.direction.better(test.value, old)
    if better:
        sign = ">" if test.direction is Direction.MAX else "<"
    else:
        sign = "<=" if test.direction is Direction.MAX else ">="
    return better, f"{value} {sign} {old:.4f}"
