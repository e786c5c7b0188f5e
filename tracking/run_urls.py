"""Keeping MLflow's "View run" and "View experiment" links out of the sweep's output.

On an http(s) store, ``MlflowClient.set_terminated`` prints both links for every run it
ends; the tracker ends one per trial::

    with run_urls_unprinted():
        run_sweep(...)          # no "🏃 View run ..." lines between the sweep's own
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT

from sweeps import runtime

__all__ = ["run_urls_unprinted"]


@contextlib.contextmanager
def run_urls_unprinted() -> Iterator[None]:
    """Keep MLflow from printing "🏃 View run ..." and "🧪 View experiment ..." to stdout.

    On an http(s) store, ``MlflowClient.set_terminated`` prints both lines for every run
    it ends (``TrackingServiceClient._log_url``): dozens of lines through the sweep's own
    output. MLflow's documented switch, $MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT, is read
    at each run's end; it is set for the duration (:func:`sweeps.runtime.environment`) and
    then put back as it was, so the caller's process (a notebook, say) is left unchanged.
    """
    with runtime.environment({MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name: "true"}):
        yield
