"""keras-tuner's Hyperband, RandomSearch and BayesianOptimization, reporting to an observer.

The tuners run as the library intends (their oracles, Hyperband's brackets and checkpoint
hand-over between rounds). We only subclass them to use the public hooks keras-tuner offers
for this (``on_trial_begin``, ``on_epoch_begin/end``, ``on_trial_end``) and turn what they see
into :mod:`sweeps.events`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner as kt
from keras_tuner.src import config as kt_config

from hypermodels import BuildContext, Hypermodel
from hypermodels.space import (
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    Space,
    discrete_values,
)
from sweeps.engines.base import (
    Engine,
    NonFiniteLoss,
    epoch_metrics,
    model_summary,
    training_callbacks,
)
from sweeps.engines.keras_tuner_state import recover, snapshot
from sweeps.errors import SweepsError
from sweeps.events import (
    EpochEnded,
    ModelBuilt,
    SweepObserver,
    TrialEnded,
    TrialStarted,
    TrialStatus,
)
from sweeps.spec import SweepSpec, TunerKind

if TYPE_CHECKING:
    from sweeps.data import Dataset

__all__ = ["KerasTunerEngine", "KerasTunerSpace"]

_HYPERBAND_KEYS = ("tuner/bracket", "tuner/round", "tuner/epochs", "tuner/initial_epoch")


class KerasTunerSpace(Space):
    """Answers a hypermodel through keras-tuner's ``HyperParameters``."""

    def __init__(self, hp: kt.HyperParameters, params: Mapping[str, Param]) -> None:
        super().__init__(params)
        self.hp = hp

    def _suggest(self, name: str, param: Param) -> Any:
        if isinstance(param, IntParam):
            return self.hp.Int(name, param.min, param.max, step=param.step)
        if isinstance(param, FloatParam):
            return self.hp.Float(name, param.min, param.max, step=param.step,
                                 sampling="log" if param.log else "linear")
        if isinstance(param, ChoiceParam):
            return self.hp.Choice(name, list(param.values))
        assert isinstance(param, FixedParam)
        return self.hp.Fixed(name, param.value)

    def conditional(self, parent: str, values: Sequence[Any]) -> Any:
        return self.hp.conditional_scope(parent, list(values))


class _HyperModel(kt.HyperModel):
    """Our hypermodel in keras-tuner's terms: ``build(hp)`` over the spec's space."""

    def __init__(self, hypermodel: Hypermodel, params: Mapping[str, Param],
                 context: BuildContext) -> None:
        super().__init__(name=hypermodel.name)
        self._hypermodel = hypermodel
        self._params = params
        self._context = context

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return self._hypermodel.build(KerasTunerSpace(hp, self._params), self._context)


class _ReportingTuner:
    """Mixin for a keras-tuner ``Tuner``: reports each trial to a :class:`SweepObserver`."""

    def __init__(self, *args: Any, observer: SweepObserver, base_seed: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._observer = observer
        self._base_seed = base_seed
        self._started: dict[str, float] = {}
        self._epochs: dict[str, int] = {}

    def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_begin(trial)
        number = int(trial.trial_id) + 1  # keras-tuner ids are zero-padded counters
        # Seed each trial from the sweep seed and its number: reproducible weights and
        # shuffling, and independent of which trials ran before in this process.
        keras.utils.set_random_seed(self._base_seed + number)
        self._started[trial.trial_id] = time.monotonic()
        self._epochs[trial.trial_id] = 0
        values = trial.hyperparameters.values
        tags = {f"hyperband.{key.split('/')[1]}": str(values[key])
                for key in _HYPERBAND_KEYS if key in values}
        continues = values.get("tuner/trial_id")
        if tags:
            # Trial numbers, like the run names (trial-004), not keras-tuner's 0-based ids.
            tags["hyperband.continues_trial"] = str(int(continues) + 1) if continues else ""
        self._observer.trial_started(TrialStarted(
            trial_id=trial.trial_id, number=number, tags=tags, continues=continues,
            initial_epoch=int(values.get("tuner/initial_epoch", 0)),
        ))

    def on_epoch_begin(self, trial: Any, model: keras.Model, epoch: int, logs: Any = None):
        super().on_epoch_begin(trial, model, epoch, logs)
        if self._epochs[trial.trial_id] == 0:
            # Conditional hyperparameters exist only once the model is built.
            params = {name: value for name, value in trial.hyperparameters.values.items()
                      if not name.startswith("tuner/")}
            self._observer.model_built(ModelBuilt(
                trial_id=trial.trial_id, params=params, param_count=model.count_params(),
                summary=model_summary(model),
            ))

    def on_epoch_end(self, trial: Any, model: keras.Model, epoch: int, logs: Any = None):
        super().on_epoch_end(trial, model, epoch, logs)
        self._epochs[trial.trial_id] += 1
        try:
            metrics = epoch_metrics(model, epoch, logs)
        except NonFiniteLoss as exc:
            # keras-tuner's way to fail a trial without retrying it.
            raise kt.errors.FailedTrialError(str(exc)) from None
        self._observer.epoch_ended(EpochEnded(trial.trial_id, epoch, metrics))

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        # Tracking hears first, keras-tuner persists second: a kill in between leaves the
        # trial "ongoing" in keras-tuner's state, so --resume runs it again and marks this
        # run superseded, rather than keeping a finished trial without its run.
        objective = self.oracle.objective.name
        score = (trial.metrics.get_best_value(objective)
                 if trial.metrics.exists(objective) else None)  # what the oracle will score
        completed = (trial.status == kt.engine.trial.TrialStatus.COMPLETED
                     and score is not None and not math.isnan(score))
        self._observer.trial_ended(TrialEnded(
            trial_id=trial.trial_id,
            status=TrialStatus.COMPLETED if completed else TrialStatus.FAILED,
            objective=score if completed else None,
            epochs_run=self._epochs.get(trial.trial_id, 0),
            wall_time_s=time.monotonic() - self._started[trial.trial_id],
            message=None if completed else (trial.message or "the objective is NaN").strip(),
        ))
        super().on_trial_end(trial)
        snapshot(Path(self.project_dir), trial.trial_id)


# keras-tuner prints every failed trial's traceback while DEBUG is on (its default); the
# traceback reaches the trial's MLflow run as error.txt instead.
kt_config.DEBUG = False

_PROJECT = "keras_tuner"  # the project folder keras-tuner keeps under the sweep's state
_TUNERS = {
    TunerKind.HYPERBAND: kt.Hyperband,
    TunerKind.RANDOM: kt.RandomSearch,
    TunerKind.BAYESIAN: kt.BayesianOptimization,
    TunerKind.GRID: kt.GridSearch,
}


class KerasTunerEngine(Engine):
    name = "keras_tuner"

    def __init__(self, spec: SweepSpec, hypermodel: Hypermodel, context: BuildContext,
                 observer: SweepObserver, work_dir: Path, *, resume: bool = False) -> None:
        super().__init__(spec, hypermodel, context, observer, work_dir)
        kind = spec.tuner.kind
        options = spec.tuner.options
        kwargs: dict[str, Any] = {}
        if kind is TunerKind.HYPERBAND:
            kwargs.update(max_epochs=spec.training.max_epochs, factor=options["factor"],
                          hyperband_iterations=options["iterations"])
        else:
            kwargs["max_trials"] = spec.tuner.max_trials
        if kind is TunerKind.BAYESIAN:
            kwargs.update(num_initial_points=options["num_initial_points"],
                          alpha=options["alpha"], beta=options["beta"])
        tuner_cls = type(f"Reporting{_TUNERS[kind].__name__}", (_ReportingTuner, _TUNERS[kind]), {})
        project = work_dir / _PROJECT
        self.recovery_note = recover(project) if resume else None
        self.tuner = tuner_cls(
            hypermodel=_HyperModel(hypermodel, spec.search_space, context),
            objective=kt.Objective(spec.objective.metric, direction=spec.objective.direction.value),
            seed=spec.seed,
            directory=str(work_dir),
            project_name=_PROJECT,
            overwrite=not resume,
            observer=observer,
            base_seed=spec.seed,
            **kwargs,
        )
        if kind is TunerKind.HYPERBAND and spec.tuner.max_trials:
            # HyperbandOracle takes no max_trials argument, but the base Oracle honours the
            # attribute: the search stops once that many trials were created.
            self.tuner.oracle.max_trials = spec.tuner.max_trials

    @property
    def planned_trials(self) -> int | None:
        oracle = self.tuner.oracle
        if self.spec.tuner.kind is TunerKind.GRID and not oracle.max_trials:
            return _grid_size(self.spec.search_space)
        if self.spec.tuner.kind is not TunerKind.HYPERBAND:
            return oracle.max_trials
        # The size of Hyperband's plan, from the oracle's own bracket arithmetic (keras-tuner
        # has no public API for it).
        per_iteration = sum(
            oracle._get_size(bracket, round_num)  # noqa: SLF001 - no public API, see above
            for bracket in range(oracle._get_num_brackets())  # noqa: SLF001 - as above
            for round_num in range(oracle._get_num_rounds(bracket))  # noqa: SLF001 - as above
        )
        planned = per_iteration * self.spec.tuner.options["iterations"]
        return min(planned, oracle.max_trials) if oracle.max_trials else planned

    def search(self, data: Dataset) -> None:
        try:
            self.tuner.search(
                data.x_train, data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=self.spec.training.max_epochs,
                batch_size=self.spec.training.batch_size,
                callbacks=training_callbacks(self.spec),
                verbose=0,
            )
        except RuntimeError as exc:
            if "consecutive failures" in str(exc):
                raise SweepsError(f"the search stopped: {exc}".strip()) from None
            raise

    def load_model(self, trial_id: str) -> keras.Model:
        return self.tuner.load_model(self.tuner.oracle.get_trial(trial_id))

    def interrupted_trial_ids(self) -> list[str]:
        """Trials a killed or interrupted run left RUNNING: keras-tuner runs them again."""
        return [t.trial_id for t in self.tuner.oracle.trials.values()
                if t.status == kt.engine.trial.TrialStatus.RUNNING]


def _grid_size(space: Mapping[str, Param]) -> int | None:
    """How many combinations a grid over ``space`` has (None if a range is continuous).

    Per-layer copies of a parameter (``units_0``, ``units_1``) multiply it further; the
    count is then a lower bound, which is all the progress display needs.
    """
    size = 1
    for param in space.values():
        if isinstance(param, FloatParam) and param.step is None:
            return None
        size *= len(discrete_values(param))
    return size
