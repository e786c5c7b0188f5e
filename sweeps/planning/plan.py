"""``python -m sweeps plan``: what a sweep will run and about how long it takes, before it runs.

The trial schedule (Hyperband's brackets and rounds from keras-tuner's own arithmetic, else
``max_trials`` trials of at most ``max_epochs`` epochs), the range of model sizes the search
space spans and an estimate of the wall time, from timing the smallest and largest model on
the real training data (:mod:`sweeps.planning.sizing`). Nothing is logged or written: no MLflow run,
no tracking store, no state folder::

    from sweeps.planning.plan import format_plan, plan_sweep
    print(format_plan(plan_sweep(load_spec("mnist_mlp", ["data.subset=600"]))))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweeps import runtime
from sweeps.backend import load_backend
from sweeps.planning.sizing import TYPICAL_DRAWS, Sized, measure_models
from sweeps.spec import SweepSpec, TunerKind

if TYPE_CHECKING:
    from sweeps.builders import Builder
    from sweeps.data import Dataset
    from sweeps.declared import DeclaredSpace

__all__ = ["Stage", "SweepPlan", "format_plan", "hyperband_schedule", "plan_sweep", "prepare"]


@dataclass(frozen=True)
class Stage:
    """``trials`` trials that each train from epoch ``initial_epoch`` to ``epochs``."""

    trials: int
    epochs: int
    initial_epoch: int = 0
    first_trial: int = 1
    #: Hyperband only: where in its plan these trials sit.
    iteration: int | None = None
    bracket: int | None = None
    round: int | None = None

    @property
    def trained(self) -> int:
        """Epochs each trial trains (Hyperband's later rounds continue earlier trials)."""
        return self.epochs - self.initial_epoch


@dataclass(frozen=True)
class SweepPlan:
    spec: SweepSpec
    data_sizes: dict[str, int]
    #: Empty when the number of trials is open-ended (a grid over a continuous range).
    stages: tuple[Stage, ...]
    sized: Sized

    @property
    def trials(self) -> int:
        return sum(s.trials for s in self.stages)

    @property
    def epochs(self) -> int:
        return sum(s.trials * s.trained for s in self.stages)

    def seconds(self) -> dict[str, float]:
        """The trials' wall time if every trial were each measured model (by its label),
        and a model of the typical size."""
        typical = self.sized.typical()
        models = [*self.sized.models, *([typical] if typical else [])]
        return {m.label: sum(s.trials * m.trial_s(s.trained) for s in self.stages)
                for m in models}


def hyperband_schedule(max_epochs: int, factor: int, iterations: int,
                       max_trials: int | None = None) -> list[Stage]:
    """Hyperband's plan in the order keras-tuner runs it, cut at ``max_trials``."""
    import keras_tuner as kt

    # keras-tuner's own arithmetic (no public API exposes the plan). An oracle without a
    # tuner has no project folder and writes nothing.
    from sweeps.engines._keras_tuner_compat import hyperband_rounds

    oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("val_loss", "min"),
                                        max_epochs=max_epochs, factor=factor,
                                        hyperband_iterations=iterations)
    stages: list[Stage] = []
    left = max_trials if max_trials else float("inf")
    number = 1
    for iteration in range(1, iterations + 1):
        for bracket, round_num, size, epochs, initial in hyperband_rounds(oracle):
            trials = int(min(size, left))
            if trials <= 0:
                return stages
            stages.append(Stage(trials=trials, epochs=epochs, initial_epoch=initial,
                                first_trial=number, iteration=iteration, bracket=bracket,
                                round=round_num))
            number += trials
            left -= trials
    return stages


def _schedule(spec: SweepSpec, declared: DeclaredSpace) -> list[Stage]:
    kind, max_epochs = spec.tuner.kind, spec.training.max_epochs
    if kind is TunerKind.HYPERBAND:
        options = spec.tuner.options
        return hyperband_schedule(max_epochs, options["factor"], options["iterations"],
                                  spec.tuner.max_trials)
    trials = spec.tuner.max_trials
    if kind is TunerKind.GRID and not trials:
        from sweeps.engines.keras_tuner import grid_size

        trials = grid_size(declared.searched)
    return [Stage(trials=1, epochs=max_epochs, first_trial=n) for n in range(1, (trials or 0) + 1)]


def prepare(spec: SweepSpec, *, quiet: bool = True) -> tuple[Dataset, Builder, DeclaredSpace,
                                                              bool]:
    """What a sweep's first build gives, without a tracking store: the data, the builder,
    its checked space, and whether it is a sweeps Hypermodel (a known space)."""
    from sweeps.data import load_dataset

    data = load_dataset(spec.data, task=spec.task, metrics=spec.metrics, seed=spec.seed)
    load_backend(quiet=quiet)
    from sweeps.builders import make_builder
    from sweeps.declared import declare_space
    from sweeps.training import build_context

    builder, space = make_builder(spec, build_context(spec, data))
    declared = declare_space(builder, spec, data, space)
    return data, builder, declared, space is not None


def plan_sweep(spec: SweepSpec, *, quiet: bool = True) -> SweepPlan:
    """The schedule, model sizes and timings of ``spec``'s sweep; trains only the timing
    epochs, logs and writes nothing."""
    with runtime.scope():
        data, builder, declared, known_space = prepare(spec, quiet=quiet)
        runtime.freeze_what_lives_on()  # the sizing builds dozens of models
        stages = _schedule(spec, declared)
        sized = measure_models(spec, builder, declared, data, hypermodel_space=known_space)
    return SweepPlan(spec=spec, data_sizes=data.sizes, stages=tuple(stages), sized=sized)


# -- the table ----------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _values(values: dict[str, Any]) -> str:
    from sweeps.console import format_value

    return " ".join(f"{k}={format_value(v)}" for k, v in values.items()
                    if not k.startswith("tuner/"))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    return ["  " + "  ".join(str(c).rjust(w) for c, w in zip(row, widths))
            for row in (header, *rows)]


def format_plan(plan: SweepPlan) -> str:
    spec = plan.spec
    kind = spec.tuner.kind
    sizes = ", ".join(f"{n} {k}" for k, n in plan.data_sizes.items())
    lines = [f"plan {spec.name}: {kind.value} on {spec.data.name} [{sizes}]; "
             f"max epochs {spec.training.max_epochs}, batch size {spec.training.batch_size}"]
    if kind is TunerKind.HYPERBAND:
        options = spec.tuner.options
        cap = f", capped at {spec.tuner.max_trials} trials" if spec.tuner.max_trials else ""
        lines.append(f"Hyperband: factor {options['factor']}, {options['iterations']} "
                     f"iteration(s){cap}")
        rows = [[str(s.iteration), str(s.bracket), str(s.round), str(s.trials),
                 f"{s.initial_epoch}->{s.epochs}", str(s.trained), str(s.trials * s.trained)]
                for s in plan.stages]
        lines += _table(["iteration", "bracket", "round", "trials", "epochs", "each trains",
                         "epochs in all"], rows)
    elif plan.stages:
        rows = [[str(s.first_trial), f"<= {s.epochs}"] for s in plan.stages]
        lines += _table(["trial", "epochs"], rows)
    if plan.stages:
        sooner = "EarlyStopping may stop a trial sooner"
        if kind is TunerKind.OPTUNA and spec.tuner.options["pruner"] != "none":
            sooner += f", and the {spec.tuner.options['pruner']} pruner prunes trials"
        lines.append(f"total: {plan.trials} trials, {plan.epochs} epochs at most ({sooner})")
    else:
        lines.append("trials: open-ended (a grid over a continuous range: give "
                     "--max-trials or a step)")
    lines.append("")
    sized = plan.sized
    if sized.built:
        cut = f"; stopped after {sized.built} builds" if sized.truncated else ""
        lines.append(f"model size: {sized.models[0].param_count:,} to "
                     f"{sized.models[-1].param_count:,} parameters")
        lines.append(f"  (the smallest and largest of {sized.built} configurations at the "
                     f"extremes of the space{cut})")
    else:
        lines.append(f"model size: {sized.models[0].param_count:,} parameters with default "
                     "values")
        lines.append("  (a builder of your own: only its default values were built)")
    for m in sized.models:
        lines.append(f"  {m.label:<9} {m.param_count:>11,} params  {m.epoch_s:.2f} s/epoch "
                     f"+ {m.overhead_s:.1f} s per trial")
        lines.append(f"    {_values(dict(m.values))}")
    seconds = plan.seconds()
    if not plan.stages:
        return "\n".join(lines)
    if len(seconds) == 1:
        estimate = f"about {_duration(next(iter(seconds.values())))}"
    else:
        low, high = sorted((seconds["smallest"], seconds["largest"]))  # noise may swap them
        typical = plan.sized.typical()
        assert typical is not None
        estimate = (f"about {_duration(seconds['typical'])}, from {_duration(low)} to "
                    f"{_duration(high)}\n  (every trial of the typical size, "
                    f"{typical.param_count:,} params: the mean of {TYPICAL_DRAWS} random "
                    "configurations;\n  every trial the smallest; every trial the largest)")
    lines.append(f"estimated wall time of the trials: {estimate}")
    lines.append("  training only, timed on 3 epochs here and scaled to the data; at most, as "
                 "the epochs are.\n  Not counted: start-up, each trial's MLflow logging and "
                 "checkpoints, the test evaluation.")
    return "\n".join(lines)
