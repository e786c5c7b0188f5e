"""Optuna: its samplers and pruners over the same hypermodel and search space.

The builder is handed an :class:`~sweeps.engines.optuna_hp.OptunaHyperParameters`
(keras-tuner's ``hp`` API answered by ``trial.suggest_*``), trained with
the same callbacks as the keras-tuner engines plus optuna-integration's
``KerasPruningCallback``, and reported through the same events, so MLflow cannot tell the
engines apart except by the engine tag.

Trials interrupted by Ctrl-C, SIGTERM or a kill are run again on ``--resume`` (enqueued with
the same hyperparameters), as keras-tuner does with its interrupted trial.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import optuna
from optuna.trial import TrialState
from optuna_integration import KerasPruningCallback

from sweeps import interrupts
from sweeps.engines import _optuna_compat as compat
from sweeps.engines.base import Engine
from sweeps.engines.optuna_hp import OptunaHyperParameters
from sweeps.engines.optuna_study import (
    EPOCHS_TO_BEST,
    INTERRUPTED,
    RETRY_OF,
    SURPLUS,
    make_pruner,
    make_sampler,
    open_storage,
)
from sweeps.errors import SweepInterrupted, SweepsError
from sweeps.events import SweepObserver, TrialStatus
from sweeps.executions import ExecutionPlan
from sweeps.spec import SweepSpec
from sweeps.training import checkpoint_monitor
from sweeps.training.checkpoints import BestEpochWeights
from sweeps.training.lifecycle import NonFiniteLoss, TrialLifecycle

if TYPE_CHECKING:
    from sweeps.builders import Builder
    from sweeps.declared import DeclaredSpace

__all__ = ["OptunaEngine"]


class OptunaEngine(Engine):
    name = "optuna"

    def __init__(self, spec: SweepSpec, builder: Builder, declared: DeclaredSpace,
                 observer: SweepObserver, work_dir: Path, *, storage: str,
                 study_name: str, worker: str | None = None) -> None:
        super().__init__(spec, builder, declared, observer, work_dir)
        options = spec.tuner.options
        self.multi = len(spec.objectives) > 1
        sampler = options["sampler"]
        if self.multi and sampler == "tpe":
            sampler = "nsga2"  # the default sampler of a multi-objective sweep
        # Optuna prunes on one intermediate value; a Pareto search has several objectives.
        pruner = "none" if self.multi or spec.objective.metric == "params" else options["pruner"]
        # Each epoch's objective is reported to the study whenever Optuna takes one (a single
        # objective read per epoch), pruner or not: optuna-dashboard and Optuna's
        # intermediate-value plots read them, and Optuna's NopPruner never prunes.
        self.reporting = not self.multi and spec.objective.metric != "params"
        self.storage_url = storage
        #: This worker's label on its trial runs (``sweeps.worker``); None: not a worker.
        self.worker = worker
        storage_obj = open_storage(storage, heartbeat=worker is not None)
        sampler_obj = make_sampler(sampler, spec.seed)
        pruner_obj = make_pruner(pruner, spec.training.max_epochs)
        try:
            self.study = optuna.create_study(
                storage=storage_obj, study_name=study_name, sampler=sampler_obj,
                pruner=pruner_obj, directions=[
                    o.direction.optuna for o in spec.objectives])
            #: Whether this process created the study (creation is atomic in the storage, so
            #: exactly one of several workers starting together gets True).
            self.created = True
        except optuna.exceptions.DuplicatedStudyError:
            self.study = optuna.load_study(study_name=study_name, storage=storage_obj,
                                           sampler=sampler_obj, pruner=pruner_obj)
            self.created = False
            if started := len(self.study.get_trials(deepcopy=False)):
                # A sampler seeded as before would draw its random start-up trials again
                # (trial 4 of a resumed sweep = trial 1): seed it past the trials already run.
                self.study.sampler = make_sampler(sampler, spec.seed + started)
        self.models_dir = work_dir / "models"
        self.models_dir.mkdir(parents=True, exist_ok=True)

    @property
    def planned_trials(self) -> int | None:
        return self.spec.tuner.max_trials

    def start_with(self, values: Mapping[str, Any]) -> None:
        # Optuna's own way to try a known configuration first; a study that already has
        # trials (another worker's, a resumed one's) has had its first.
        if not self.study.get_trials(deepcopy=False):
            self.study.enqueue_trial(dict(values), skip_if_exists=True)

    # -- budget and re-runs --------------------------------------------------------------
    @staticmethod
    def _counts(trial: optuna.trial.FrozenTrial, retried: set[int]) -> bool:
        """Whether a trial uses up one of ``max_trials``: interrupted, re-run and surplus
        trials do not."""
        if trial.user_attrs.get(INTERRUPTED) or trial.user_attrs.get(SURPLUS):
            return False
        if trial.state is TrialState.FAIL and trial.number in retried:
            return False
        return trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL,
                               TrialState.RUNNING, TrialState.WAITING)

    def requeue_interrupted(self) -> list[int]:
        """Enqueue a re-run of every trial a previous run left interrupted; their numbers.

        Only for a single process resuming its own sweep: every RUNNING trial then belongs
        to a process that is gone (killed), so it is marked interrupted and failed first. A
        trial counts as re-queued once some trial carries its number in ``RETRY_OF``.
        """
        trials = self.study.get_trials(deepcopy=False)
        retried = self._retried(trials)
        requeued = []
        for trial in trials:
            if trial.state is TrialState.RUNNING:
                compat.fail_with_attr(self.study, trial, INTERRUPTED, True)
            elif not (trial.state is TrialState.FAIL and trial.user_attrs.get(INTERRUPTED)):
                continue
            if trial.number in retried:
                continue
            self.study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number},
                                     skip_if_exists=False)
            requeued.append(trial.number)
        return requeued

    @staticmethod
    def discard_study(storage: str, study_name: str) -> None:
        """Delete a study (for --overwrite); no error if it does not exist."""
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study_name, storage=open_storage(storage))

    def _retried(self, trials: list[optuna.trial.FrozenTrial]) -> set[int]:
        """Trials run again: an interrupted one (``RETRY_OF``), a dead worker's (Optuna's
        retry callback, before it ran)."""
        found = {t.user_attrs[RETRY_OF] for t in trials if RETRY_OF in t.user_attrs}
        return found | {n for t in trials if (n := compat.retried_trial_number(t)) is not None}

    def _used_trials(self) -> int:
        trials = self.study.get_trials(deepcopy=False)
        retried = self._retried(trials)
        return sum(self._counts(t, retried) for t in trials if t.state is not TrialState.WAITING)

    def remaining_trials(self) -> int:
        return max(0, (self.spec.tuner.max_trials or 0) - self._used_trials())

    def check_budget(self) -> None:
        used = self._used_trials()
        if used > (self.spec.tuner.max_trials or 0):
            raise SweepsError(f"cannot shrink sweep {self.spec.name!r} to max_trials "
                              f"{self.spec.tuner.max_trials}: {used} trials already ran")

    def _is_surplus(self, trial: optuna.Trial) -> bool:
        """Whether ``trial`` lies beyond the budget, given every trial numbered before it.

        Storages hand out trial numbers atomically, so of two workers asking at once the one
        with the higher number sees the other's trial here: together they never run more
        than ``max_trials``.
        """
        trials = self.study.get_trials(deepcopy=False)
        retried = self._retried(trials)
        earlier = sum(self._counts(t, retried) for t in trials if t.number < trial.number)
        return earlier >= (self.spec.tuner.max_trials or 0)

    def search_as_worker(self, plan: ExecutionPlan) -> None:
        """Run trials of a shared study until its budget is used, beside other workers.

        Unlike :meth:`search`, never fails RUNNING trials: they may be other workers'.
        Trials of a worker that died are failed by Optuna's heartbeat (RDB storages) and run
        again through the storage's failed-trial callback.
        """

        def objective(trial: optuna.Trial) -> Any:
            if self._is_surplus(trial):
                trial.set_user_attr(SURPLUS, True)
                self.study.stop()
                raise _Surplus(f"trial {trial.number} is beyond max_trials")
            return self._objective(trial, plan)

        def stop_when_spent(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
            if not self.remaining_trials():
                study.stop()  # rather than asking for a trial only to refuse it

        if self.remaining_trials():
            self.study.optimize(objective, catch=(Exception,), callbacks=[stop_when_spent])

    def running_trials(self) -> int:
        return len(self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))

    # -- the search ----------------------------------------------------------------------
    def interrupted_trial_ids(self) -> list[str]:
        return [str(number) for number in self.requeue_interrupted()]

    def search(self, plan: ExecutionPlan) -> None:
        remaining = self.remaining_trials()
        if remaining:
            self.study.optimize(lambda trial: self._objective(trial, plan), n_trials=remaining,
                                catch=(Exception,))

    def _objective(self, trial: optuna.Trial, plan: ExecutionPlan) -> Any:
        spec = self.spec
        trial_id = str(trial.number)
        retry_of = compat.retried_trial_number(trial)
        if retry_of is not None and RETRY_OF not in trial.user_attrs:
            trial.set_user_attr(RETRY_OF, retry_of)  # a dead worker's, re-run by Optuna
        lifecycle = TrialLifecycle(spec, self.observer, trial_id, number=trial.number + 1, tags={
            "optuna.trial_number": str(trial.number),
            **({"optuna.retry_of": str(trial.user_attrs[RETRY_OF] + 1)}
               if RETRY_OF in trial.user_attrs else {}),
            **({"sweeps.worker": self.worker} if self.worker is not None else {}),
        })
        try:
            hp = OptunaHyperParameters(trial, self.declared.narrowed)
            checkpoint = self._checkpoint(trial_id)  # the best epoch of every fit
            reporter = _EpochReporter(lifecycle, hp, self.builder.compiled_by)
            inputs = self.trainer.inputs(plan.data)
            for n in range(plan.count):
                if not plan.single:
                    lifecycle.execution_started(plan.label(n))
                pruning = ([KerasPruningCallback(trial, spec.objective.metric)]
                           if self.reporting and plan.single else [])
                self.trainer.train(hp, {**inputs, **plan.fit_data(n)}, before=[reporter],
                                   after=[checkpoint, *pruning],
                                   run_label=f"{trial_id}/execution{n}")
                if self.reporting and not plan.single:
                    # Several fits: pruned on the running mean of their best values, one
                    # step per fit (the pruners compare trials at equal steps).
                    trial.report(lifecycle.objective_values()[0], step=n)
                    if n + 1 < plan.count and trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after {n + 1} of {plan.count} fits")
        except optuna.TrialPruned:
            lifecycle.ended(TrialStatus.PRUNED)
            raise
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED, True)
            raise
        except Exception as exc:
            if interrupts.requested():
                # Ctrl-C/SIGTERM surfaced inside Keras or TensorFlow as another exception:
                # still an interruption (run KILLED, trial re-run on --resume), not a failure.
                trial.set_user_attr(INTERRUPTED, True)
                raise SweepInterrupted("interrupted") from exc
            lifecycle.ended(TrialStatus.FAILED, message=f"NonFiniteLoss: {exc}" if isinstance(
                exc, NonFiniteLoss) else traceback.format_exc())
            raise
        values = lifecycle.objective_values()
        trial.set_user_attr(EPOCHS_TO_BEST,
                            lifecycle.epochs_to_best(*checkpoint_monitor(spec.objective)))
        ended = lifecycle.ended(TrialStatus.COMPLETED)
        self.kept.offer(trial_id, ended.objective, checkpoint.model, checkpoint.best_weights)
        return tuple(values) if self.multi else values[0]

    def _checkpoint(self, trial_id: str) -> keras.callbacks.Callback:
        """Keep each trial's best epoch."""
        monitor, mode = checkpoint_monitor(self.spec.objective)
        return BestEpochWeights(self.models_dir / f"trial_{trial_id}.weights.h5", monitor, mode)

    # -- results -------------------------------------------------------------------------
    def load_checkpoint(self, trial_id: str) -> keras.Model:
        keras.backend.clear_session()
        model = self.builder.build(self.trial_hyperparameters(trial_id))
        model.load_weights(self.models_dir / f"trial_{trial_id}.weights.h5")
        return model

    def trial_hyperparameters(self, trial_id: str) -> OptunaHyperParameters:
        frozen = self.study.trials[int(trial_id)]
        return OptunaHyperParameters(optuna.trial.FixedTrial(frozen.params, frozen.number),
                                     self.declared.narrowed)

    def epochs_to_best(self, trial_id: str) -> int:
        attrs = self.study.trials[int(trial_id)].user_attrs
        # A trial run before sweeps recorded it (a resumed older study): the most it trained.
        return int(attrs.get(EPOCHS_TO_BEST, self.spec.training.max_epochs))

    def pareto_trial_ids(self) -> list[str]:
        if not self.multi:
            return []
        return [str(t.number) for t in self.study.best_trials]


class _Surplus(Exception):
    """A worker's trial beyond the budget: failed at once, never trained or logged."""


class _EpochReporter(keras.callbacks.Callback):
    """Reports the built model and each epoch through the trial's lifecycle; placed first so a
    pruned epoch is still logged."""

    def __init__(self, lifecycle: TrialLifecycle, hp: OptunaHyperParameters,
                 compiled_by: str) -> None:
        super().__init__()
        self.lifecycle = lifecycle
        self.hp = hp
        self.compiled_by = compiled_by
        self._reported = False

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        # Reported once training starts, as keras-tuner's engines do: a builder's own fit()
        # may declare hyperparameters too (its batch size, say).
        if not self._reported:
            self._reported = True
            self.lifecycle.model_built(self.model, self.hp.values, self.compiled_by)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.lifecycle.epoch_ended(self.model, epoch, logs)
