"""The one way a configuration trains.

Trials of every engine, each fold and repeat of a trial, the final fit, the re-check, the
defaults baseline and the plan's timing all train here, so none of them can train
differently from the trials it stands for: the spec's fit arguments, EarlyStopping,
TerminateOnNaN, fresh copies of the user's own callbacks, the builder's own ``fit`` when it
has one (keras-tuner's contract), a check for Ctrl-C at every epoch, and the per-epoch
metrics recorded as an :class:`~sweeps.training.outcome.Outcome`::

    trainer = Trainer(spec, builder)
    trained = trainer.train(hp, trainer.inputs(data), seed=spec.seed)  # clear, seed, build, fit
    trained.model, trained.outcome.history, trained.outcome.failure
    trainer.train_model(hp, model, **fit_kwargs)  # a model built elsewhere (keras-tuner's)

``before`` callbacks run ahead of the standard ones (a trial's reporter, so that a pruned or
diverged epoch is still reported), ``after`` callbacks behind them (checkpoints, pruning,
keras-tuner's own).
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweeps import interrupts
from sweeps.spec import SweepSpec
from sweeps.training._tensorflow_compat import custom_gradients_released
from sweeps.training.outcome import Outcome, numeric_logs

if TYPE_CHECKING:
    from sweeps.builders import Builder
    from sweeps.data import Dataset

__all__ = ["Trainer", "Trained", "training_callbacks", "fit_arguments"]

EpochHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class Trained:
    """A fitted model, what its epochs recorded, and what ``fit`` returned (a History for
    ``model.fit``; whatever a builder's own ``fit`` returns, which keras-tuner reads)."""

    model: Any
    outcome: Outcome
    result: Any = None


class Trainer:
    """Trains models of ``builder`` as the spec says."""

    def __init__(self, spec: SweepSpec, builder: Builder) -> None:
        self.spec = spec
        self.builder = builder

    def inputs(self, data: Dataset) -> dict[str, Any]:
        return fit_arguments(self.spec, data)

    def train(self, hp: Any, inputs: Mapping[str, Any], *, seed: int | None = None,
              early_stopping: bool = True, before: Sequence[Any] = (),
              after: Sequence[Any] = (), on_epoch: EpochHook | None = None,
              run_label: str | None = None) -> Trained:
        """Build ``hp``'s model from a clean Keras session and fit it on ``inputs`` (``fit``'s
        keyword arguments). ``seed``: Keras's global seed first (``None``: the caller seeded,
        as a trial does once for all its fits)."""
        import keras

        keras.backend.clear_session()  # what keras-tuner does before every build
        if seed is not None:
            keras.utils.set_random_seed(seed)
        model = self.builder.build(hp)
        return self.train_model(hp, model, early_stopping=early_stopping, before=before,
                                after=after, on_epoch=on_epoch, run_label=run_label, **inputs)

    def train_model(self, hp: Any, model: Any, *args: Any, early_stopping: bool = True,
                    before: Sequence[Any] = (), after: Sequence[Any] = (),
                    on_epoch: EpochHook | None = None, run_label: str | None = None,
                    **fit_kwargs: Any) -> Trained:
        """Fit a built ``model`` through the builder's ``fit``; ``args`` and ``fit_kwargs``:
        ``x``, ``epochs`` and the rest (without validation data there is no EarlyStopping).
        ``run_label``: the fit's folder under a user's TensorBoard ``log_dir``."""
        stopping = early_stopping and fit_kwargs.get("validation_data") is not None
        recorder = _recorder(on_epoch)
        callbacks = [*before, *training_callbacks(self.spec, early_stopping=stopping,
                                                  run_label=run_label),
                     recorder, *after]
        with custom_gradients_released():  # else each fit's graphs live on: see the module
            result = _fit(self.builder.own_fit, hp, model, *args, callbacks=callbacks,
                          **fit_kwargs)
        return Trained(model, Outcome(recorder.history), result)


def _fit(own_fit: Callable[..., Any] | None, hp: Any, model: Any, *args: Any,
         **kwargs: Any) -> Any:
    """keras-tuner's contract: the builder's own ``fit`` if it has one, else ``model.fit``.

    The builder's own ``fit`` is not handed ``batch_size``: KerasTuner's guides tune it
    there (``model.fit(*args, batch_size=hp.Choice(...), **kwargs)``), which a second
    ``batch_size`` in ``kwargs`` would break. The spec's batch size still applies when
    that ``fit`` gives none (see :func:`_default_batch_size`).
    """
    if own_fit is None:
        return model.fit(*args, **kwargs)
    batch_size = kwargs.pop("batch_size", None)
    with _default_batch_size(model, batch_size):
        return own_fit(hp, model, *args, **kwargs)


@contextlib.contextmanager
def _default_batch_size(model: Any, batch_size: int | None) -> Iterator[None]:
    """While a builder's own ``fit`` runs, ``model.fit`` on arrays uses ``batch_size`` unless
    the call gives one (never for a ``tf.data.Dataset`` or generator, which batch
    themselves). An attribute of this one model instance, set and removed here, past
    Keras's attribute tracking."""
    if batch_size is None:
        yield
        return
    fit = model.fit

    def fit_with_default(*args: Any, **kwargs: Any) -> Any:
        x = args[0] if args else kwargs.get("x")
        if hasattr(x, "shape") or isinstance(x, (list, dict)):
            kwargs.setdefault("batch_size", batch_size)
        return fit(*args, **kwargs)

    object.__setattr__(model, "fit", fit_with_default)
    try:
        yield
    finally:
        object.__delattr__(model, "fit")


def _recorder(on_epoch: EpochHook | None) -> Any:
    import keras

    class Recorder(keras.callbacks.Callback):
        """Each epoch's numeric metrics; an interrupt Python swallowed inside TensorFlow
        still ends the fit here, within an epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float]] = {}

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            interrupts.check()
            metrics = numeric_logs(logs)
            for key, value in metrics.items():
                self.history.setdefault(key, []).append(value)
            if on_epoch is not None:
                on_epoch(epoch, metrics)

    return Recorder()


def training_callbacks(spec: SweepSpec, *, early_stopping: bool = True,
                       run_label: str | None = None) -> list[Any]:
    """The callbacks of every fit: EarlyStopping as the spec says, TerminateOnNaN, and a
    deep copy of each of the user's own (``training.callbacks``), so that no state passes
    from one fit to the next (keras-tuner copies them per execution the same way).
    ``early_stopping=False`` (a fit with no validation data): no EarlyStopping.
    ``run_label`` (``"3/execution0"``): a copy of the user's ``TensorBoard`` writes under
    ``<log_dir>/<run_label>``, one folder per trial and execution, as keras-tuner lays
    them out, whichever engine runs the trial."""
    import keras

    es = spec.training.early_stopping
    stopping = [keras.callbacks.EarlyStopping(
        monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
        mode=es.mode.value, restore_best_weights=es.restore_best_weights,
    )] if early_stopping else []
    mine = [copy.deepcopy(callback) for callback in spec.training.callbacks]
    for callback in mine:
        if run_label and isinstance(callback, keras.callbacks.TensorBoard):
            callback.log_dir = os.path.join(callback.log_dir, *run_label.split("/"))
    return [*stopping, keras.callbacks.TerminateOnNaN(), *mine]


def fit_arguments(spec: SweepSpec, data: Dataset) -> dict[str, Any]:
    """What every fit hands ``fit`` besides callbacks: the data, the spec's epochs and batch
    size (a stream comes batched: Keras refuses a batch size beside it)."""
    batch = {} if data.streamed else {"batch_size": spec.training.batch_size}
    return dict(**data.fit_inputs(), epochs=spec.training.max_epochs, verbose=0, **batch)
