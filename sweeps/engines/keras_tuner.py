"""keras-tuner's Hyperband, RandomSearch and BayesianOptimization, reporting to an observer.

The tuners run as the library intends (their oracles, Hyperband's brackets and checkpoint
hand-over between rounds). We only subclass them to use the public hooks keras-tuner offers
for this (``on_trial_begin``, ``on_epoch_begin/end``, ``on_trial_end``) and turn what they see
into :mod:`sweeps.events`.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner as kt

from hypermodels.space import FloatParam, Param, discrete_values
from sweeps import interrupts, runtime
from sweeps.engines import _keras_tuner_compat as compat
from sweeps.engines._keras_tuner_compat import FitHook, KerasTunerBestEpoch, SaveBestEpoch
from sweeps.engines.base import Engine
from sweeps.engines.keras_tuner_state import recover, snapshot
from sweeps.errors import SweepInterrupted, SweepsError
from sweeps.events import SweepObserver, TrialStatus
from sweeps.executions import ExecutionPlan
from sweeps.spec import SweepSpec, TunerKind
from sweeps.training import Trainer
from sweeps.training.checkpoints import BestTrialModel
from sweeps.training.lifecycle import NonFiniteLoss, TrialLifecycle

if TYPE_CHECKING:
    from sweeps.builders import Builder
    from sweeps.declared import DeclaredSpace

__all__ = ["KerasTunerEngine"]

_HYPERBAND_KEYS = ("tuner/bracket", "tuner/round", "tuner/epochs", "tuner/initial_epoch")
#: The fit argument that carries a fit's label from the tuner's hook to the trainer.
_RUN_LABEL = "sweeps_run_label"


class _HyperModel(kt.HyperModel):
    """The spec's builder in keras-tuner's terms: its ``build(hp)``, and a ``fit`` that is
    sweeps' one training path (which calls the builder's own ``fit`` if it has one)."""

    def __init__(self, builder: Builder, trainer: Trainer) -> None:
        super().__init__(name=builder.name.replace(":", "."))
        self._builder = builder
        self._trainer = trainer
        #: Optimizer steps in one epoch; set by the engine once it has the data.
        self.steps_per_epoch = 0

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = self._builder.build(hp)
        initial_epoch = int(hp.values.get("tuner/initial_epoch", 0))
        if initial_epoch and model.optimizer is not None:
            # A later Hyperband round continues its parent's weights (keras-tuner loads them
            # after this build) in a freshly compiled model: without this its learning-rate
            # schedule would start over. keras-tuner's checkpoint holds weights only, so
            # Adam's moments do start afresh.
            model.optimizer.iterations.assign(initial_epoch * self.steps_per_epoch)
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        # keras-tuner's callbacks (its best-epoch checkpoint, the hooks that report each
        # epoch) run after the trainer's own: the order a tuner.search(callbacks=...) gave.
        after = kwargs.pop("callbacks", [])
        return self._trainer.train_model(hp, model, *args, after=after,
                                         run_label=kwargs.pop(_RUN_LABEL, None), **kwargs).result


class _ReportingTuner(FitHook):
    """Mixin for a keras-tuner ``Tuner``: reports each trial through a TrialLifecycle."""

    def __init__(self, *args: Any, spec: SweepSpec, observer: SweepObserver,
                 builder: Builder, kept: BestTrialModel, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._spec = spec
        self._observer = observer
        self._builder = builder
        self._trials: dict[str, TrialLifecycle] = {}
        self._checkpoints: weakref.WeakKeyDictionary[Any, KerasTunerBestEpoch] = (
            weakref.WeakKeyDictionary())
        self._fitted: dict[str, KerasTunerBestEpoch | None] = {}
        self._kept = kept  # where each completed trial's model is offered
        #: Folds and repeats (sweeps.executions), set with the data; fits begun per trial.
        self.execution_plan: ExecutionPlan | None = None
        self._fits: dict[str, int] = {}

    def before_fit(self, trial: kt.engine.trial.Trial, kwargs: dict[str, Any]) -> dict[str, Any]:
        # keras-tuner's best-epoch checkpoint is swapped for one that writes the file once,
        # when the fit ends. One replacement per checkpoint, as keras-tuner shares one across
        # a trial's executions.
        def in_memory(callback: Any) -> Any:
            if not isinstance(callback, SaveBestEpoch):
                return callback
            if callback not in self._checkpoints:
                self._checkpoints[callback] = KerasTunerBestEpoch(callback)
            return self._checkpoints[callback]

        kwargs["callbacks"] = [in_memory(c) for c in kwargs.get("callbacks", [])]
        n = self._fits[trial.trial_id] = self._fits.get(trial.trial_id, -1) + 1
        if self.execution_plan is not None and not self.execution_plan.single:
            # keras-tuner's own executions_per_trial loop: its n-th fit gets the n-th data.
            self._trials[trial.trial_id].execution_started(self.execution_plan.label(n))
            kwargs.update(self.execution_plan.fit_data(n))
        kwargs[_RUN_LABEL] = f"{trial.trial_id}/execution{n}"  # read by _HyperModel.fit
        return kwargs

    def after_fit(self, trial: kt.engine.trial.Trial, kwargs: dict[str, Any]) -> None:
        # The trained model and its best epoch, offered to the engine when the trial ends.
        self._fitted[trial.trial_id] = next(
            (c for c in kwargs["callbacks"] if isinstance(c, KerasTunerBestEpoch)), None)

    def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_begin(trial)
        values = trial.hyperparameters.values
        tags = {f"hyperband.{key.split('/')[1]}": str(values[key])
                for key in _HYPERBAND_KEYS if key in values}
        continues = values.get("tuner/trial_id")
        if tags:
            # Trial numbers, like the run names (trial-004), not keras-tuner's 0-based ids.
            tags["hyperband.continues_trial"] = str(int(continues) + 1) if continues else ""
        self._trials[trial.trial_id] = TrialLifecycle(
            self._spec, self._observer, trial.trial_id,
            number=int(trial.trial_id) + 1,  # keras-tuner ids are zero-padded counters
            tags=tags, continues=continues,
            initial_epoch=int(values.get("tuner/initial_epoch", 0)))

    def on_epoch_begin(self, trial: Any, model: keras.Model, epoch: int, logs: Any = None):
        super().on_epoch_begin(trial, model, epoch, logs)
        lifecycle = self._trials[trial.trial_id]
        if lifecycle.epochs == 0 and not lifecycle.param_count:
            # Conditional hyperparameters exist only once the model is built.
            params = {name: value for name, value in trial.hyperparameters.values.items()
                      if not name.startswith("tuner/")}
            lifecycle.model_built(model, params, self._builder.compiled_by)

    def on_epoch_end(self, trial: Any, model: keras.Model, epoch: int, logs: Any = None):
        super().on_epoch_end(trial, model, epoch, logs)
        try:
            self._trials[trial.trial_id].epoch_ended(model, epoch, logs)
        except NonFiniteLoss as exc:
            # keras-tuner's way to fail a trial without retrying it.
            raise kt.errors.FailedTrialError(str(exc)) from None

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        # Tracking hears first, keras-tuner persists second: a kill in between leaves the
        # trial "ongoing" in keras-tuner's state, so --resume runs it again and marks this
        # run superseded, rather than keeping a finished trial without its run.
        if trial.status != kt.engine.trial.TrialStatus.COMPLETED and interrupts.requested():
            # Ctrl-C/SIGTERM surfaced inside Keras or TensorFlow as another exception, which
            # keras-tuner's per-trial except caught: still an interruption (its run KILLED,
            # the trial left running for --resume to run again), not a failure.
            raise SweepInterrupted("interrupted")
        objective = self.oracle.objective.name
        score = (trial.metrics.get_best_value(objective)
                 if trial.metrics.exists(objective) else None)  # what the oracle will score
        completed = (trial.status == kt.engine.trial.TrialStatus.COMPLETED
                     and score is not None and not math.isnan(score))
        lifecycle = self._trials.pop(trial.trial_id, None)
        fitted = self._fitted.pop(trial.trial_id, None)
        self._fits.pop(trial.trial_id, None)
        if completed and fitted is not None:
            self._kept.offer(trial.trial_id, score, fitted.model, fitted.best_weights)
        if lifecycle is not None:
            lifecycle.ended(
                TrialStatus.COMPLETED if completed else TrialStatus.FAILED,
                objective=score if completed else None,
                message=None if completed else (trial.message or "the objective is NaN").strip())
        super().on_trial_end(trial)
        snapshot(Path(self.project_dir), trial.trial_id)


_PROJECT = "keras_tuner"  # the project folder keras-tuner keeps under the sweep's state
_TUNERS = {
    TunerKind.HYPERBAND: kt.Hyperband,
    TunerKind.RANDOM: kt.RandomSearch,
    TunerKind.BAYESIAN: kt.BayesianOptimization,
    TunerKind.GRID: kt.GridSearch,
}


class KerasTunerEngine(Engine):
    name = "keras_tuner"

    def __init__(self, spec: SweepSpec, builder: Builder, declared: DeclaredSpace,
                 observer: SweepObserver, work_dir: Path, *, resume: bool = False) -> None:
        super().__init__(spec, builder, declared, observer, work_dir)
        # keras-tuner prints every failed trial's traceback while DEBUG is on (its default);
        # the traceback reaches the trial's MLflow run as error.txt instead. (Process-wide:
        # put back when the sweep's runtime scope ends.)
        runtime.on_exit(compat.set_debug, compat.get_debug())
        compat.set_debug(False)
        kind = spec.tuner.kind
        options = spec.tuner.options
        kwargs: dict[str, Any] = {}
        if kind is TunerKind.HYPERBAND:
            kwargs.update(max_epochs=spec.training.max_epochs, factor=options["factor"],
                          hyperband_iterations=options["iterations"])
        else:
            kwargs["max_trials"] = spec.tuner.max_trials
        executions = spec.validation.folds * spec.training.executions_per_trial
        if executions > 1:
            kwargs["executions_per_trial"] = executions
        if kind is TunerKind.BAYESIAN:
            kwargs.update(num_initial_points=options["num_initial_points"],
                          alpha=options["alpha"], beta=options["beta"])
        tuner_cls = type(f"Reporting{_TUNERS[kind].__name__}", (_ReportingTuner, _TUNERS[kind]), {})
        project = work_dir / _PROJECT
        self.recovery_note = recover(project) if resume else None
        self.tuner = tuner_cls(
            hypermodel=_HyperModel(builder, self.trainer),
            objective=kt.Objective(spec.objective.metric, direction=spec.objective.direction.value),
            # The spec's narrowing of a builder's own space: keras-tuner's way to tailor one.
            hyperparameters=declared.kt_hyperparameters,
            tune_new_entries=True,
            seed=spec.seed,
            directory=str(work_dir),
            project_name=_PROJECT,
            overwrite=not resume,
            spec=spec,
            observer=observer,
            builder=builder,
            kept=self.kept,
            **kwargs,
        )
        # A reloaded oracle (resume) has its state from oracle.json but max_trials from the
        # arguments above, so a larger budget extends the search: the base Oracle creates
        # trials until len(trials) reaches max_trials, and a "STOPPED" is never stored.
        if kind is TunerKind.HYPERBAND:
            # HyperbandOracle takes no max_trials argument, but the base Oracle honours the
            # attribute: the search stops once that many trials were created.
            self.tuner.oracle.max_trials = spec.tuner.max_trials
            # Its set_state restores the iterations it was created with; the spec's may have
            # grown. An oracle that stopped at the end of its last iteration then starts the
            # next one (HyperbandOracle.populate_space).
            self.tuner.oracle.hyperband_iterations = options["iterations"]
        if kind is TunerKind.GRID and resume:
            compat.restore_grid_order(self.tuner.oracle)

    def start_with(self, values: Mapping[str, Any]) -> None:
        kind = self.spec.tuner.kind
        oracle = self.tuner.oracle
        if kind not in (TunerKind.RANDOM, TunerKind.BAYESIAN) or oracle.trials:
            return  # Grid starts from the defaults itself; Hyperband fills its brackets
        drawn = oracle.populate_space

        def populate_space(trial_id: str) -> dict[str, Any]:
            # populate_space is the oracle's documented hook for what a trial tries: the
            # first trial takes the given values, every later one the oracle's own.
            if oracle.trials:
                return drawn(trial_id)
            return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": dict(values)}

        oracle.populate_space = populate_space

    @property
    def planned_trials(self) -> int | None:
        oracle = self.tuner.oracle
        if self.spec.tuner.kind is TunerKind.GRID and not oracle.max_trials:
            return grid_size(self.declared.searched)
        if self.spec.tuner.kind is not TunerKind.HYPERBAND:
            return oracle.max_trials
        # The size of Hyperband's plan, from the oracle's own bracket arithmetic.
        per_iteration = sum(trials for _, _, trials, _, _ in compat.hyperband_rounds(oracle))
        planned = per_iteration * self.spec.tuner.options["iterations"]
        return min(planned, oracle.max_trials) if oracle.max_trials else planned

    def check_budget(self) -> None:
        oracle = self.tuner.oracle
        started = len(oracle.trials)  # an interrupted trial among them runs again
        if oracle.max_trials and started > oracle.max_trials:
            raise SweepsError(f"cannot shrink sweep {self.spec.name!r} to max_trials "
                              f"{oracle.max_trials}: {started} trials already ran")
        if self.spec.tuner.kind is TunerKind.HYPERBAND:
            # The oracle stops only when its last iteration's last bracket is done.
            current = compat.hyperband_iteration(oracle)
            if current > oracle.hyperband_iterations:
                raise SweepsError(f"cannot shrink sweep {self.spec.name!r} to "
                                  f"{oracle.hyperband_iterations} Hyperband iteration(s): "
                                  f"iteration {current} already started")

    def search(self, plan: ExecutionPlan) -> None:
        self.tuner.hypermodel.steps_per_epoch = plan.data.steps_per_epoch(
            self.spec.training.batch_size)
        self.tuner.execution_plan = plan
        try:
            self.tuner.search(**self.trainer.inputs(plan.data))
        except RuntimeError as exc:
            if "consecutive failures" in str(exc):
                raise SweepsError(f"the search stopped: {exc}".strip()) from None
            raise

    def load_checkpoint(self, trial_id: str) -> keras.Model:
        return self.tuner.load_model(self.tuner.oracle.get_trial(trial_id))

    def trial_hyperparameters(self, trial_id: str) -> kt.HyperParameters:
        # With the tuner/* entries: builders ignore them, and a builder's own fit may read them.
        return self.tuner.oracle.get_trial(trial_id).hyperparameters.copy()

    def epochs_to_best(self, trial_id: str) -> int:
        epochs = 0
        current: str | None = trial_id
        while current is not None:
            trial = self.tuner.oracle.get_trial(current)
            # keras-tuner's best step is the best epoch's index in the trial's own fit (its
            # History, counted from the fit's first epoch, not from tuner/initial_epoch), and
            # its checkpoint holds that epoch's weights; a later Hyperband round starts from
            # its parent's checkpoint (tuner/trial_id), so the parent's epochs count too.
            epochs += int(trial.best_step or 0) + 1
            current = trial.hyperparameters.values.get("tuner/trial_id")
        return epochs

    def interrupted_trial_ids(self) -> list[str]:
        """Trials a killed or interrupted run left RUNNING: keras-tuner runs them again."""
        return [t.trial_id for t in self.tuner.oracle.trials.values()
                if t.status == kt.engine.trial.TrialStatus.RUNNING]


def grid_size(space: Mapping[str, Param]) -> int | None:
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
