"""How big and how slow a sweep's models are, measured before the sweep: for ``sweeps plan``.

A sweeps :class:`~hypermodels.Hypermodel` (the bundled ones) is built in every combination
of its hyperparameters' extremes (integers and numeric choices at their lowest and highest,
every value of a text choice, floats at their lowest: dropout and learning rate do not
change a model's size), which gives the smallest and the largest model it can make, and in
a few random configurations, whose mean size is the typical model's. A builder of the
user's own is built once, with default values. Each of these models is then
timed on the real training data: three epochs on a slice of it, the first of which includes
building the step functions (a cost each trial pays once), the fastest of the others the
steady speed, scaled to the whole training and validation sets. Nothing is logged or written.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweeps.training import Trainer

if TYPE_CHECKING:
    from sweeps.builders import Builder
    from sweeps.data import Dataset
    from sweeps.declared import DeclaredSpace
    from sweeps.spec import SweepSpec

__all__ = ["ModelTiming", "Sized", "measure_models"]

#: The most builds spent looking for the smallest and largest configurations.
MAX_BUILDS = 256
#: Batches of the training data that the timed epochs run (the rest is extrapolated).
TIMED_BATCHES = 20
#: Epochs timed: the first builds the step functions, the fastest of the others is the speed.
TIMED_EPOCHS = 3
#: Random configurations built (not trained) for the typical model size.
TYPICAL_DRAWS = 16


@dataclass(frozen=True)
class ModelTiming:
    """One configuration: its size and how long its training takes."""

    label: str  # "smallest", "largest" or "defaults"
    values: Mapping[str, Any]
    param_count: int
    #: Seconds per epoch over the whole training set, validation included.
    epoch_s: float
    #: Seconds each trial pays once: building the model and its step functions.
    overhead_s: float

    def trial_s(self, epochs: int) -> float:
        return self.overhead_s + epochs * self.epoch_s


@dataclass(frozen=True)
class Sized:
    """The configurations measured: smallest and largest, or the defaults alone."""

    models: tuple[ModelTiming, ...]
    #: How many configurations were built to find the extremes (0: defaults only).
    built: int = 0
    #: Whether :data:`MAX_BUILDS` cut the search short.
    truncated: bool = False
    #: The mean parameter count of :data:`TYPICAL_DRAWS` random configurations.
    typical_params: float | None = None

    def typical(self) -> ModelTiming | None:
        """A model of the typical size, timed by interpolating (in parameters) between the
        smallest and the largest."""
        if self.typical_params is None or len(self.models) != 2:
            return None
        small, large = self.models
        span = large.param_count - small.param_count
        w = min(1.0, max(0.0, (self.typical_params - small.param_count) / span)) if span else 0.0
        return ModelTiming("typical", {}, round(self.typical_params),
                           small.epoch_s + w * (large.epoch_s - small.epoch_s),
                           small.overhead_s + w * (large.overhead_s - small.overhead_s))


class _ExtremesHp:
    """keras-tuner's ``hp`` API answering from ``assigned``; every other hyperparameter
    gets its first extreme, and the alternatives it had are recorded as ``branches``. With
    ``rng``, every other hyperparameter gets a random value of its whole range instead."""

    def __init__(self, assigned: Mapping[str, Any], rng: random.Random | None = None) -> None:
        self.values: dict[str, Any] = dict(assigned)
        self.rng = rng
        self.decided: list[str] = []
        self.branches: list[tuple[str, list[Any]]] = []

    def _pick(self, name: str, extremes: list[Any], every: Sequence[Any] = ()) -> Any:
        if name not in self.values:
            unique = list(dict.fromkeys(extremes))
            self.values[name] = self.rng.choice(every or unique) if self.rng else unique[0]
            self.decided.append(name)
            if len(unique) > 1:
                self.branches.append((name, unique[1:]))
        return self.values[name]

    # The names and arguments are keras-tuner's (hp.Int("units", 32, 512, step=32)).
    def Int(self, name: str, min_value: int, max_value: int, step: int | None = None,
            **_: Any) -> int:
        every = range(min_value, max_value + 1, step or 1)
        return self._pick(name, [every[0], every[-1]], every)

    def Float(self, name: str, min_value: float, max_value: float, **_: Any) -> float:
        return self._pick(name, [min_value])

    def Choice(self, name: str, values: list[Any], **_: Any) -> Any:
        numeric = all(isinstance(v, int | float) for v in values)
        return self._pick(name, [min(values), max(values)] if numeric else list(values),
                          values)

    def Boolean(self, name: str, **_: Any) -> bool:
        return self._pick(name, [False, True])

    def Fixed(self, name: str, value: Any, **_: Any) -> Any:
        return self._pick(name, [value])

    def get(self, name: str) -> Any:
        return self.values[name]

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        yield


def _extremes(build: Callable[[Any], Any]) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
    """Every combination of extremes the builder asks for: (parameter count, values).

    A walk over the builder's decisions: each build takes the first candidate of every
    hyperparameter not yet assigned, and queues one assignment per alternative, keeping the
    decisions made before it (a conditional hyperparameter exists only on its parent's
    branch).
    """
    queue: list[dict[str, Any]] = [{}]
    found = []
    while queue and len(found) < MAX_BUILDS:
        assigned = queue.pop()
        hp = _ExtremesHp(assigned)
        found.append((_count(build, hp), dict(hp.values)))
        for name, alternatives in hp.branches:
            before = hp.decided[:hp.decided.index(name)]
            prefix = {**assigned, **{n: hp.values[n] for n in before}}
            queue.extend({**prefix, name: alternative} for alternative in alternatives)
    return found, bool(queue)


class _EpochTimer:
    def __init__(self) -> None:
        import keras

        timer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                timer.started = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                timer.seconds.append(time.perf_counter() - timer.started)

        self.started = 0.0
        self.seconds: list[float] = []
        self.callback = Callback()


def _time(builder: Builder, hp: Any, spec: SweepSpec, data: Dataset) -> tuple[int, float, float]:
    """Parameter count, seconds per full epoch and the once-per-trial overhead of ``hp``'s
    model, from :data:`TIMED_EPOCHS` epochs on at most :data:`TIMED_BATCHES` batches of the
    training data."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    start = time.perf_counter()
    model = builder.build(hp)
    built_s = time.perf_counter() - start
    timer = _EpochTimer()
    inputs, scale = _timed_inputs(spec, data)
    # Fitted as trials are (their callbacks, the builder's own fit), but for a fixed number
    # of epochs.
    Trainer(spec, builder).train_model(hp, model, **inputs, epochs=TIMED_EPOCHS, verbose=0,
                                       early_stopping=False, after=[timer.callback],
                                       run_label="plan")
    first, steady = timer.seconds[0], min(timer.seconds[1:])
    return model.count_params(), steady * scale, built_s + max(0.0, first - steady)


def _timed_inputs(spec: SweepSpec, data: Dataset) -> tuple[dict[str, Any], float]:
    """At most :data:`TIMED_BATCHES` training batches (validation in proportion), and how
    many times longer a full epoch is."""
    from sweeps.data import Stream, head_batches

    x_train, x_val = data.x_train, data.x_val
    if isinstance(x_train, Stream) and isinstance(x_val, Stream):
        share = min(1.0, TIMED_BATCHES / x_train.batches)
        n_train = max(1, math.ceil(share * x_train.batches))
        n_val = max(1, math.ceil(share * x_val.batches))
        scale = (x_train.batches + x_val.batches) / (n_train + n_val)
        return dict(x=head_batches(x_train, n_train),
                    validation_data=head_batches(x_val, n_val)), scale
    batch = spec.training.batch_size
    share = min(1.0, TIMED_BATCHES * batch / len(x_train))
    n_train = max(1, math.ceil(share * len(x_train)))
    n_val = max(1, math.ceil(share * len(x_val)))
    scale = (len(x_train) + len(x_val)) / (n_train + n_val)
    return dict(x=x_train[:n_train], y=data.y_train[:n_train], batch_size=batch,
                validation_data=(x_val[:n_val], data.y_val[:n_val])), scale


def measure_models(spec: SweepSpec, builder: Builder, declared: DeclaredSpace,
                   data: Dataset, *, hypermodel_space: bool) -> Sized:
    """Size and time the smallest and largest model (``hypermodel_space``: the builder is a
    sweeps Hypermodel), else the builder's default-valued model."""
    if not hypermodel_space:
        hp = declared.kt_hyperparameters.copy()  # the spec's narrowing, default values
        count, epoch_s, overhead_s = _time(builder, hp, spec, data)
        return Sized((ModelTiming("defaults", dict(hp.values), count, epoch_s, overhead_s),))
    found, truncated = _extremes(builder.build)
    smallest = min(found, key=lambda item: item[0])
    largest = max(found, key=lambda item: item[0])
    models = []
    for label, (_, values) in (("smallest", smallest), ("largest", largest)):
        count, epoch_s, overhead_s = _time(builder, _ExtremesHp(values), spec, data)
        models.append(ModelTiming(label, values, count, epoch_s, overhead_s))
    rng = random.Random(spec.seed)
    typical = statistics.fmean(_count(builder.build, _ExtremesHp({}, rng))
                               for _ in range(TYPICAL_DRAWS))
    return Sized(tuple(models), built=len(found), truncated=truncated, typical_params=typical)


def _count(build: Callable[[Any], Any], hp: Any) -> int:
    import keras

    keras.backend.clear_session()
    return build(hp).count_params()
