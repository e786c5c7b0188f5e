"""What the sweep run records of its final model: which model it is and, after a final fit
(``final.retrain``), how it was trained and the best trial's own test metrics beside it.

Tags: ``sweeps.final_model`` (``retrained`` or ``best_trial``), ``sweeps.final_fit_error`` if
the fit diverged. Metrics: ``final_fit_epochs``, ``final_fit_examples``, ``final_fit_time_s``
and ``best_trial_test_<metric>`` beside the final model's ``test_<metric>``; the baselines'
``baseline_default_test_<metric>`` and ``baseline_linear_test_<metric>``, with tags that say
what each baseline was.
"""

from __future__ import annotations

from typing import Any

from sweeps.events import SweepEnded
from sweeps.final.uplift import DEFAULTS, LINEAR, metric_key
from tracking import tags as T

__all__ = ["final_model_tags", "final_fit_metrics", "final_fit_params", "best_trial_test_metrics",
           "baseline_metrics", "baseline_tags"]


def _retrained(event: SweepEnded) -> Any:
    """The final fit, if it made the final model."""
    fit = event.final_fit
    return fit if fit is not None and fit.failure is None else None


def final_model_tags(event: SweepEnded) -> dict[str, str]:
    if event.best_model is None:
        return {}
    kind = T.FINAL_RETRAINED if _retrained(event) else T.FINAL_BEST_TRIAL
    tags = {T.FINAL_MODEL: kind}
    if event.final_fit is not None and event.final_fit.failure:
        tags[T.FINAL_FIT_ERROR] = event.final_fit.failure
    return tags


def final_fit_metrics(event: SweepEnded) -> dict[str, float]:
    """How the final model was trained, on the sweep run."""
    fit = _retrained(event)
    if fit is None:
        return {}
    return {T.FINAL_FIT_EPOCHS: float(fit.epochs), T.FINAL_FIT_EXAMPLES: float(fit.examples),
            T.FINAL_FIT_TIME: fit.wall_time_s}


def final_fit_params(event: SweepEnded) -> dict[str, str]:
    """How the final model was trained, beside its hyperparameters on the logged model."""
    fit = _retrained(event)
    if fit is None:
        return {}
    return {T.FINAL_FIT_EPOCHS: str(fit.epochs), T.FINAL_FIT_EXAMPLES: str(fit.examples)}


def best_trial_test_metrics(event: SweepEnded) -> dict[str, float]:
    return {f"{T.BEST_TRIAL_PREFIX}{key}": value
            for key, value in event.best_trial_test_metrics.items()}


def baseline_metrics(event: SweepEnded) -> dict[str, float]:
    """``baseline_<name>_test_<metric>`` for each baseline tested (sweeps.final.baselines)."""
    found = event.baselines
    if found is None:
        return {}
    return {metric_key(name, key): value
            for name, metrics in found.metrics.items() for key, value in metrics.items()}


def baseline_tags(event: SweepEnded) -> dict[str, str]:
    """What each baseline was: the default hyperparameters, the linear model."""
    found = event.baselines
    if found is None:
        return {}
    tags = {T.BASELINE_DEFAULT: found.what.get(DEFAULTS), T.BASELINE_LINEAR: found.what.get(LINEAR),
            T.DEFAULTS_KEPT: found.kept}
    return {key: value for key, value in tags.items() if value}
