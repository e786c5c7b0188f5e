"""What a re-check works with and hands back: the candidates, their spread, the result."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweeps.events import TrialStatus
from sweeps.metrics import Direction

__all__ = ["Candidate", "Checked", "RecheckObserver", "RecheckResult", "Spread", "SEED_OFFSET",
           "format_result", "rank", "recheck_seeds", "spread", "top_configurations"]

#: Re-check seeds start above any trial's seed (spec seed + trial number).
SEED_OFFSET = 10_000


@dataclass(frozen=True)
class Candidate:
    """One of the sweep's configurations, as the sweep ranked it."""

    trial_number: int
    sweep_rank: int  # 1 = the sweep's best configuration
    params: Mapping[str, Any]
    sweep_value: float  # the objective the sweep measured for it
    #: Other trials of the same configuration (a Hyperband round continuing this one's
    #: parent, or continued by this one): not re-checked again.
    same_as: tuple[int, ...] = ()


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation and a 95 % Student-t interval of the mean."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    def metrics(self, metric: str) -> dict[str, float]:
        """As MLflow metrics (only the finite ones: one seed has no spread)."""
        values = {f"{metric}_mean": self.mean, f"{metric}_std": self.std,
                  f"{metric}_ci95_low": self.low, f"{metric}_ci95_high": self.high,
                  "seeds_finished": float(self.n)}
        return {key: value for key, value in values.items() if math.isfinite(value)}


def spread(values: Sequence[float], confidence: float = 0.95) -> Spread:
    """The spread of the finite ``values``; NaN where it is undefined (fewer than 2 values)."""
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return Spread(0, math.nan, math.nan, math.nan, math.nan)
    mean = statistics.fmean(finite)
    if n == 1:
        return Spread(1, mean, math.nan, math.nan, math.nan)
    from scipy.stats import t

    std = statistics.stdev(finite)
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Spread(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Checked:
    """A candidate's re-check: one objective value per seed (NaN where training failed)."""

    candidate: Candidate
    seeds: tuple[int, ...]
    values: tuple[float, ...]
    spread: Spread
    rank: int  # by mean, 1 = best


@dataclass(frozen=True)
class RecheckResult:
    sweep: str
    sweep_run_id: str
    recheck_run_id: str | None
    metric: str
    direction: Direction
    checked: list[Checked]  # ranked by mean

    @property
    def reordered(self) -> bool:
        """Whether the means rank the candidates otherwise than the sweep did."""
        return [c.candidate.sweep_rank for c in self.checked] != sorted(
            c.candidate.sweep_rank for c in self.checked)


class RecheckObserver:
    """Receives a re-check's progress; every method is a no-op here."""

    def started(self, candidates: Sequence[Candidate], seeds: Sequence[int]) -> None: ...

    def seed_started(self, candidate: Candidate, seed: int) -> None: ...

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None: ...

    def seed_ended(self, value: float, epochs: int, status: TrialStatus) -> None: ...

    def candidate_ended(self, checked: Checked) -> None: ...

    def ended(self, result: RecheckResult) -> None: ...

    def aborted(self, status: TrialStatus) -> None:
        """The re-check stopped (interrupted or failed): end whatever is open."""


def recheck_seeds(spec_seed: int, count: int) -> tuple[int, ...]:
    return tuple(spec_seed + SEED_OFFSET + k for k in range(1, count + 1))


def top_configurations(ranked: Sequence[Candidate], top: int) -> list[Candidate]:
    """The ``top`` best distinct configurations of the sweep's ``ranked`` trials (best first),
    each at its best trial and ranked among configurations.

    Hyperband's later rounds continue an earlier trial's weights under the same values: two
    trials, one configuration, which retraining from scratch would train twice alike.
    """
    best: dict[tuple[tuple[str, str], ...], Candidate] = {}
    for candidate in ranked:
        key = tuple(sorted((name, repr(value)) for name, value in candidate.params.items()))
        if key in best:
            kept = best[key]
            best[key] = dataclasses.replace(
                kept, same_as=(*kept.same_as, candidate.trial_number))
        else:
            best[key] = candidate
    return [dataclasses.replace(c, sweep_rank=rank)
            for rank, c in enumerate(list(best.values())[:top], start=1)]


def rank(checked: list[Checked], direction: Direction) -> list[Checked]:
    """By mean, best first; a candidate with no finished seed last; ties by the sweep's rank."""
    def key(c: Checked) -> tuple[bool, float, int]:
        mean = c.spread.mean
        return (not math.isfinite(mean), direction.sort_key(mean) if math.isfinite(mean)
                else 0.0, c.candidate.sweep_rank)

    return [Checked(c.candidate, c.seeds, c.values, c.spread, rank=i)
            for i, c in enumerate(sorted(checked, key=key), start=1)]


def format_result(result: RecheckResult) -> str:
    """The table ranked by mean, and where that ranking differs from the sweep's."""
    metric = result.metric
    seeds = result.checked[0].seeds if result.checked else ()
    lines = [f"re-check of sweep {result.sweep!r}: {len(result.checked)} configuration(s) x "
             f"{len(seeds)} seed(s) {list(seeds)}, {metric} ({result.direction.value})",
             f"{'rank':>4} {'sweep':>5} {'trial':>5} {'sweep value':>11} {'mean':>8} "
             f"{'std':>7} {'95% interval':>19}  values"]

    def number(value: float, width: int, digits: int = 4) -> str:
        return f"{value:>{width}.{digits}f}" if math.isfinite(value) else f"{'n/a':>{width}}"

    for c in result.checked:
        s = c.spread
        interval = (f"[{s.low:.4f}, {s.high:.4f}]" if math.isfinite(s.low) else "n/a")
        values = " ".join(f"{v:.4f}" if math.isfinite(v) else "failed" for v in c.values)
        lines.append(f"{c.rank:>4} {'#' + str(c.candidate.sweep_rank):>5} "
                     f"{c.candidate.trial_number:>5} {number(c.candidate.sweep_value, 11)} "
                     f"{number(s.mean, 8)} {number(s.std, 7)} {interval:>19}  {values}")
    for c in result.checked:
        if c.candidate.same_as:
            lines.append(f"  trial {c.candidate.trial_number} also stands for trial(s) "
                         f"{', '.join(map(str, c.candidate.same_as))}: the same values")
    moved = [c for c in result.checked if c.rank != c.candidate.sweep_rank]
    if not moved:
        lines.append("the ranking by mean is the sweep's")
    else:
        lines.append("the ranking differs from the sweep's: " + "; ".join(
            f"trial {c.candidate.trial_number} is #{c.rank} (sweep #{c.candidate.sweep_rank})"
            for c in moved))
    if result.recheck_run_id:
        lines.append(f"MLflow: recheck run {result.recheck_run_id} under sweep run "
                     f"{result.sweep_run_id}")
    return "\n".join(lines)
