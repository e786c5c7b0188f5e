"""What the tuned model is compared with: the builder's defaults, and a linear model.

A tuner earns its keep only if the model it hands back beats what the user had. So, once the
search is over, two baselines are tested on the same test set as the final model:

- **defaults**: the builder's own hyperparameters (its ``default=`` values; where it gives
  none, the middle of the searched range, geometric for a log scale) trained exactly as a
  trial trains (same split, batch size, schedule, EarlyStopping, seed);
- **linear**, for a table of features: scikit-learn's ``RidgeCV`` (regression) or
  ``LogisticRegression`` (classification) on standardised features, fitted on training plus
  validation data (it picks its own regularisation; the validation slice is the tuned
  model's to choose with, so the linear model gets it too).

    found = train_baselines(spec, builder, declared, dataset, session.evaluate)
    found.metrics["default"]["test_mae"]                 # logged as baseline_default_test_mae

How the comparison reads ("tuned vs defaults: ...") is :mod:`sweeps.final.uplift`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sweeps.final.uplift import DEFAULTS, LINEAR, Baselines
from sweeps.task import TaskKind

if TYPE_CHECKING:
    import numpy as np

    from sweeps.builders import Builder
    from sweeps.data import Dataset
    from sweeps.declared import DeclaredSpace
    from sweeps.spec import ObjectiveSpec, SweepSpec
    from sweeps.trials import TrialRecord

__all__ = ["DefaultsRun", "DefaultsTrial", "default_values", "defaults_kept", "train_baselines",
           "linear_baseline"]



class DefaultsTrial:
    """What ``OptunaHyperParameters`` asks an Optuna trial, answered with defaults: the
    builder's ``default=`` where it gave one inside the (spec's) range, else the range's
    middle (rounded onto its step; geometric for a log scale), the middle of ordered
    numeric choices, the first of other choices."""

    def __init__(self) -> None:
        self.hp: Any = None  # the OptunaHyperParameters asking, for its declared defaults
        self.params: dict[str, Any] = {}

    def _given(self, name: str) -> Any:
        return self.hp.defaults.get(name) if self.hp is not None else None

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        given = self._given(name)
        if isinstance(given, int) and low <= given <= high:
            value = given
        elif log:
            value = round(math.sqrt(low * high))
        else:
            value = low + step * round((high - low) / step / 2)
        return self._keep(name, min(high, max(low, int(value))))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        given = self._given(name)
        if isinstance(given, (int, float)) and low <= given <= high and given != low:
            # keras-tuner fills a Float's missing default with its minimum: only another
            # value is the builder's own choice.
            value = float(given)
        elif log:
            value = math.sqrt(low * high)
        elif step:
            value = low + step * round((high - low) / step / 2)
        else:
            value = (low + high) / 2
        return self._keep(name, value)

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        given = self._given(name)
        if given is not None and given in choices:
            return self._keep(name, given)
        numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)
        if numeric and len(choices) > 2:
            return self._keep(name, sorted(choices)[(len(choices) - 1) // 2])
        return self._keep(name, choices[0])

    def _keep(self, name: str, value: Any) -> Any:
        self.params[name] = value
        return value


def defaults_hp(declared: DeclaredSpace) -> Any:
    """An ``hp`` that builds the builder's default configuration (see :class:`DefaultsTrial`),
    the spec's narrowing and fixed values applied."""
    from sweeps.engines.optuna_hp import OptunaHyperParameters

    trial = DefaultsTrial()
    hp = OptunaHyperParameters(trial, declared.narrowed)  # type: ignore[arg-type]
    trial.hp = hp
    return hp


def default_values(builder: Builder, declared: DeclaredSpace) -> dict[str, Any]:
    """The defaults as the hyperparameter values a trial takes: what the builder asks for
    when one model is built with :func:`defaults_hp` (the engines' first trial)."""
    import keras

    hp = defaults_hp(declared)
    keras.backend.clear_session()
    builder.build(hp)
    keras.backend.clear_session()
    return dict(hp.values)


@dataclass(frozen=True)
class DefaultsRun:
    """The search's own trial of the defaults (the engines' first, :meth:`Engine.start_with`),
    which the defaults baseline then is, trained as every trial was."""

    trial_id: str
    #: Its hyperparameter values (the defaults).
    values: Mapping[str, Any]
    #: Whether it is the best trial: the final model is then the defaults' too.
    best: bool
    engine: Any = field(repr=False)


def defaults_kept(best: TrialRecord, defaults: TrialRecord,
                  objective: ObjectiveSpec) -> str | None:
    """Why the defaults stay the final model although ``best`` scored better, or ``None``.

    With folds (or repeats) both trials were validated on the same k splits, so their
    difference has a standard error: a best trial that beats the defaults by no more than
    one standard error of the paired differences has not shown it is better (the "one
    standard error" rule of model selection), and choosing it would mostly choose noise."""
    import statistics

    labels = sorted(set(best.executions) & set(defaults.executions))
    if best.trial_id == defaults.trial_id or len(labels) < 2:
        return None
    diffs = [objective.direction.gain(best.executions[label], defaults.executions[label])
             for label in labels]
    gain = statistics.fmean(diffs)
    error = statistics.stdev(diffs) / math.sqrt(len(diffs))
    if gain > error:
        return None
    return (f"trial {best.number} beat the defaults (trial {defaults.number}) by {gain:.4g} "
            f"{objective.metric} over {len(diffs)} fits, within one standard error "
            f"({error:.4g}): the defaults are kept as the best configuration")


def train_baselines(spec: SweepSpec, builder: Builder, declared: DeclaredSpace,
                    data: Dataset, evaluate: Any, *, retrained: bool,
                    run: DefaultsRun | None = None,
                    tuned: Mapping[str, float] | None = None) -> Baselines:
    """Test both baselines; ``evaluate(model)`` gives a Keras model's test metrics (the
    session's, so that they are measured as the final model's are). ``retrained``: the final
    model was trained again on training plus validation data, so the defaults are too.

    With ``run``, the defaults were a trial of the search: their model is that trial's, made
    final as the best trial's is (retrained the same way, else its own weights), and when
    they won the search it is the final model itself (``tuned``, its metrics). Without (a
    Hyperband sweep, a resumed one), they train once here on the training data, validated as
    a trial is, for as many epochs again on all of it when ``retrained``."""
    from sweeps.data import no_test_set

    if not data.has_test:
        note = no_test_set(data)
        return Baselines(notes={DEFAULTS: note, LINEAR: note})
    metrics: dict[str, dict[str, float]] = {}
    what: dict[str, str] = {}
    notes: dict[str, str] = {}
    values: Mapping[str, Any]
    if run is not None and run.best and tuned is not None:
        found: dict[str, float] | None = dict(tuned)
        values = run.values
    elif run is not None:
        found, values = _defaults_trial(spec, data, evaluate, run, retrained=retrained), run.values
    else:
        found, values = _train_defaults(spec, builder, declared, data, evaluate,
                                        retrained=retrained)
    what[DEFAULTS] = " ".join(f"{k}={v}" for k, v in values.items()
                              if not str(k).startswith("tuner/"))
    if found is not None:
        metrics[DEFAULTS] = found
    else:
        notes[DEFAULTS] = "its training loss diverged"
    linear = linear_baseline(data)
    if linear is None:
        notes[LINEAR] = (f"the data is a {data.x_train.kind}, read batch by batch"
                         if data.streamed else "the inputs are not a table of features")
    else:
        what[LINEAR], metrics[LINEAR] = linear
    return Baselines(metrics=metrics, what=what, notes=notes)


def _defaults_trial(spec: SweepSpec, data: Dataset, evaluate: Any, run: DefaultsRun, *,
                    retrained: bool) -> dict[str, float] | None:
    import keras

    from sweeps.final.fit import retrain

    if retrained:
        fit = retrain(spec, data, run.engine, run.trial_id)
        model = fit.model
    else:
        model = run.engine.load_checkpoint(run.trial_id)
    found = evaluate(model) if model is not None else None
    keras.backend.clear_session()
    return found


def _train_defaults(spec: SweepSpec, builder: Builder, declared: DeclaredSpace,
                    data: Dataset, evaluate: Any, *,
                    retrained: bool) -> tuple[dict[str, float] | None, Mapping[str, Any]]:
    import keras

    from sweeps.final.fit import fit_on_all
    from sweeps.training import Trainer, checkpoint_monitor

    hp = defaults_hp(declared)
    trainer = Trainer(spec, builder)
    trained = trainer.train(hp, trainer.inputs(data), seed=spec.seed, run_label="defaults")
    model = trained.model
    diverged = trained.outcome.failure is not None
    if not diverged and retrained:
        fit = fit_on_all(spec, data, hp,
                         trained.outcome.epochs_to_best(*checkpoint_monitor(spec.objective)),
                         run_label="defaults/final")
        model, diverged = fit.model, fit.failure is not None
    found = evaluate(model) if not diverged and model is not None else None
    keras.backend.clear_session()
    return found, dict(hp.values)


def linear_baseline(data: Dataset) -> tuple[str, dict[str, float]] | None:
    """A linear model's test metrics on a table of features (None for images and the like):
    ``test_mae``/``test_rmse``/``test_mse`` for regression, ``test_accuracy`` (and, for a
    binary task, ``test_auc``) for classification."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if (data.streamed or data.x_train.ndim != 2 or data.x_test is None
            or data.y_test is None):
        return None
    x = np.concatenate([data.x_train, data.x_val]).astype(np.float64)
    y = np.concatenate([data.y_train, data.y_val])
    x_test = data.x_test.astype(np.float64)
    kind = data.task.kind
    if kind is TaskKind.REGRESSION:
        ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        ridge.fit(x, y.reshape(len(y), -1).squeeze(-1) if y.ndim > 1 and y.shape[1] == 1 else y)
        alpha = ridge[-1].alpha_
        return f"RidgeCV(alpha={alpha:g})", _regression_metrics(data.y_test,
                                                                ridge.predict(x_test))
    labels = _class_indices(y)
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    logistic.fit(x, labels)
    proba = logistic.predict_proba(x_test)
    return "LogisticRegression", _classification_metrics(_class_indices(data.y_test), proba,
                                                         logistic[-1].classes_, kind)


def _class_indices(y: np.ndarray) -> np.ndarray:
    """Class indices from sparse labels, a (n, 1) column, or one-hot rows."""
    import numpy as np

    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    return y.reshape(-1).astype(np.int64)


def _regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    import numpy as np

    error = y_pred.reshape(len(y_pred), -1) - y_true.reshape(len(y_true), -1)
    mse = float(np.mean(error ** 2))
    return {"test_mae": float(np.mean(np.abs(error))), "test_rmse": math.sqrt(mse),
            "test_mse": mse}


def _classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray,
                            kind: TaskKind) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    predicted = classes[np.argmax(proba, axis=1)]
    found = {"test_accuracy": float(np.mean(predicted == y_true))}
    if kind is TaskKind.BINARY and len(np.unique(y_true)) == 2:
        found["test_auc"] = float(roc_auc_score(y_true, proba[:, 1]))
    return found
