"""Re-check: a sweep's top configurations trained again under other seeds.

- :mod:`~sweeps.rechecking.run`: :func:`recheck`, reading the sweep back and ranking by mean.
- :mod:`~sweeps.rechecking.train`: each configuration trained again, through the one training
  path, from its stored values.
- :mod:`~sweeps.rechecking.records`: the candidates, their spread, the result and its table.

Its MLflow side (reading the sweep, logging the re-check's runs) is :mod:`tracking.recheck`.
"""

from __future__ import annotations

from sweeps.rechecking.records import (
    SEED_OFFSET,
    Candidate,
    Checked,
    RecheckResult,
    Spread,
    format_result,
    spread,
    top_configurations,
)
from sweeps.rechecking.run import recheck

__all__ = ["SEED_OFFSET", "Candidate", "Checked", "RecheckResult", "Spread", "format_result",
           "recheck", "spread", "top_configurations"]
