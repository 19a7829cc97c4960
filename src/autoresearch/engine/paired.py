"""Paired, interleaved measurement: two experiments run alternately, and only their differences count.

A slow phase of the machine (another job, thermal throttling, a noisy neighbour), a drifting clock or
a heavy-tailed hiccup moves both halves of a pair alike, so it cancels in the pair's difference
instead of landing on one side. Each pair's order (A then B, or B then A) is drawn at random from a
seed, so that under a no-op change a difference is as likely positive as negative whatever the noise
does over time: that is what makes the trimmed paired t-test's false-keep rate hold under drift and load
phases (benchmarks/noise.py measures it). Both halves of a pair get the same seed (`{seed}`).

Used by the `paired` keep rule (`Referee`) and by the study's final confirmation (`confirm`).
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import stats
from autoresearch.core.direction import sign
from autoresearch.core.experiment import Experiment
from autoresearch.execute.prune import MAX_INCUMBENT_CURVES

if TYPE_CHECKING:
    from autoresearch.execute.evaluate import Evaluator
    from autoresearch.spec import Spec
    from autoresearch.store.database import Store

CONFIRMATION_META = "confirmation"  # the store's meta key holding the latest confirmation (JSON)
_CONFIRM_SEEDS = 10_000_000  # seed offsets of confirmation runs start here, far from experiments' own


def order_rng(seed: int, *key: int) -> random.Random:
    """The random pair orders for one comparison: a hash of the study's seed and KEY."""
    import numpy as np  # here: `autoresearch status` imports this module and need not load numpy

    entropy = np.random.SeedSequence([seed & 0xFFFFFFFF, *key]).generate_state(2)
    return random.Random(int(entropy[0]) << 32 | int(entropy[1]))


@dataclass
class Interleaved:
    """Measures A (the candidate, or the best) and B (the incumbent, or the baseline) in pairs."""

    evaluator: Evaluator
    a: Experiment
    b: Experiment
    for_experiment: Experiment  # whose folder the logs go to (and whose slot the runs use)
    direction: str
    seed_offset: int  # pair i runs both sides with seed offset seed_offset + i
    rng: random.Random
    a_values: list[float] = field(default_factory=list)
    b_values: list[float] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # "AB" or "BA" per pair
    # Each side's curves of the [prune] metric, for the incumbent rule's spread of the incumbent's curves.
    a_curves: list[list[float]] = field(default_factory=list)
    b_curves: list[list[float]] = field(default_factory=list)
    logs: Path | None = None  # where the runs' folders go (default: for_experiment's recheck/)
    on_pair: Callable[[Interleaved], None] | None = None  # told after each pair (progress lines)

    def measure(self, pairs: int) -> str | None:
        """Add pairs until there are PAIRS; why one run failed, or None."""
        while len(self.order) < pairs:
            offset = self.seed_offset + len(self.order)
            first_a = self.rng.random() < 0.5
            sides = (self.a, self.b) if first_a else (self.b, self.a)
            values: dict[int, float] = {}
            for target in sides:
                again = self.evaluator.remeasure(
                    target, for_experiment=self.for_experiment, seed_offset=offset, repeats=1, logs=self.logs
                )
                if again.objective is None or again.error is not None or again.rejected is not None:
                    return f"re-measuring #{target.id} failed: {again.error or again.rejected or 'no objective'}"
                values[target.id] = again.objective
                curve, curves = again.extra.get("prune_curve"), self.a_curves if target is self.a else self.b_curves
                if isinstance(curve, list) and curve and len(curves) < MAX_INCUMBENT_CURVES:
                    curves.append(curve)
            self.a_values.append(values[self.a.id])
            self.b_values.append(values[self.b.id])
            self.order.append("AB" if first_a else "BA")
            if self.on_pair is not None:
                self.on_pair(self)
        return None

    @property
    def relative(self) -> bool:
        """Compare by ratios (logs) when every value is positive, as timings and losses are: a slow
        phase that scales both runs of a pair by the same factor then cancels exactly."""
        return all(v > 0 for v in (*self.a_values, *self.b_values))

    def differences(self) -> list[float]:
        """How much better A was than B in each pair (positive: A better), direction aware: the log of
        B/A (minimise) or A/B (maximise) when `relative`, else the plain difference."""
        s = sign(self.direction)
        if self.relative:
            return [s * (math.log(b) - math.log(a)) for a, b in zip(self.a_values, self.b_values, strict=True)]
        return [s * (b - a) for a, b in zip(self.a_values, self.b_values, strict=True)]

    def fraction(self, difference: float) -> float:
        """A mean difference as a fraction of B's value: 0.1 = A is 10% better (faster, lower, higher)."""
        if self.relative:
            return 1.0 - math.exp(-difference) if self.direction == "minimize" else math.exp(difference) - 1.0
        base = abs(statistics.fmean(self.b_values)) or 1.0
        return difference / base

    def record(self) -> dict[str, Any]:
        record = {"a_id": self.a.id, "b_id": self.b.id, "a": self.a_values, "b": self.b_values, "order": self.order}
        curves = {"a_curves": self.a_curves, "b_curves": self.b_curves}
        return record | {key: value for key, value in curves.items() if value}  # none without [prune]


@dataclass(frozen=True)
class PairedVerdict:
    keep: bool
    reason: str
    record: dict[str, Any]


def sequential(runs: Interleaved, first: int, most: int, alpha: float) -> PairedVerdict:
    """The `paired` rule: is A better than B? Look after FIRST pairs, then twice as many, up to MOST.

    At each look: kept when the one-sided trimmed paired t-test (stats.paired_summary) gives
    p < alpha / (number of looks) (a Bonferroni split, so that looking several times does not raise
    the false-keep rate above alpha); stopped as not better when the median difference is not
    positive; otherwise more pairs. Not kept when the last look is still not significant.
    """
    points = stats.looks(first, most)
    per_look = alpha / len(points)
    summary = None
    for n in points:
        failed = runs.measure(n)
        if failed is not None:
            return PairedVerdict(False, f"{failed}; not kept", runs.record())
        summary = stats.paired_summary(runs.differences())
        if summary.p < per_look or statistics.median(runs.differences()) <= 0:
            break
    assert summary is not None
    better, low, high = runs.fraction(summary.mean), runs.fraction(summary.low), runs.fraction(summary.high)
    record = runs.record() | {
        "pairs": summary.n,
        "improvement": better,
        "low": low,
        "high": high,
        "p": summary.p,
        "alpha_per_look": per_look,
    }
    words = f"{summary.n} interleaved pairs vs #{runs.b.id}: {better:+.2%} (95% CI {low:+.2%} to {high:+.2%})"
    if summary.p < per_look:
        return PairedVerdict(True, f"{words}, better: paired p = {summary.p:.2g} < {per_look:.2g}", record)
    if statistics.median(runs.differences()) <= 0:
        return PairedVerdict(False, f"{words}: not better", record)
    return PairedVerdict(False, f"{words}: not significant after max_pairs (p = {summary.p:.2g})", record)


# -- the study's final confirmation ----------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """Best vs baseline, re-measured on interleaved pairs: the improvement without the winner's curse.

    Figures are fractions of the baseline's value (0.25: the best is 25% better: faster, lower or higher).
    """

    best_id: int
    baseline_id: int
    pairs: int
    improvement: float
    low: float  # its 95% confidence interval
    high: float
    p: float  # one-sided: the chance of so large an improvement if the best were no better
    selected: float  # the improvement the search reported (baseline's objective vs the best's)
    measured_at: float

    def figure(self) -> str:
        """'+23.4% (95% CI +18.0% to +28.8%; 10 interleaved pairs, #12 vs #1)'."""
        return (
            f"{self.improvement:+.1%} (95% CI {self.low:+.1%} to {self.high:+.1%}; {self.pairs} interleaved pairs, "
            f"#{self.best_id} vs #{self.baseline_id})"
        )

    def text(self) -> str:
        return (
            f"confirmed: best #{self.best_id} vs baseline #{self.baseline_id} over {self.pairs} interleaved pairs: "
            f"{self.improvement:+.1%} (95% CI {self.low:+.1%} to {self.high:+.1%}); the search measured "
            f"{self.selected:+.1%}"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_store(cls, store: Store) -> Confirmation | None:
        raw = store.get_meta(CONFIRMATION_META)
        if not raw:
            return None
        try:
            return cls(**json.loads(raw))
        except (TypeError, ValueError):
            return None


def selected_improvement(best: float, baseline: float, direction: str) -> float:
    """The search's own figure, as a fraction of the baseline (ratio-based like the pairs when positive)."""
    if best > 0 and baseline > 0:
        return 1.0 - best / baseline if direction == "minimize" else best / baseline - 1.0
    return sign(direction) * (baseline - best) / (abs(baseline) or 1.0)


def confirm(
    spec: Spec,
    store: Store,
    evaluator: Evaluator,
    pairs: int | None = None,
    *,
    force: bool = False,
    on_pair: Callable[[Interleaved], None] | None = None,
) -> Confirmation | str:
    """Re-measure the best against the baseline on interleaved pairs; store and return the result.

    The stored figure is the most precise one for this best and baseline: a result over fewer pairs than
    the one on record is returned but not stored, unless FORCE (`shown_text` says which one is shown).
    Returns why it could not (no best yet, the best is the baseline, a run failed) as a string.
    """
    baseline, best = store.baseline(), store.incumbent()
    if baseline is None or best is None or baseline.objective is None or best.objective is None:
        return "nothing to confirm yet: the study has no measured baseline"
    if best.id == baseline.id:
        return "nothing to confirm: no candidate was kept, the best is the baseline"
    count = pairs or spec.noise.confirm_pairs
    previous = int(store.get_meta("confirmations", "0") or 0)
    runs = Interleaved(
        evaluator,
        best,
        baseline,
        for_experiment=best,
        direction=spec.study.direction,
        seed_offset=_CONFIRM_SEEDS + 1000 * previous,
        rng=order_rng(spec.study.seed, best.id, baseline.id, previous),
        on_pair=on_pair,
    )
    failed = runs.measure(count)
    store.set_meta("confirmations", str(previous + 1))
    if failed is not None:
        return failed
    summary = stats.paired_summary(runs.differences())
    result = Confirmation(
        best_id=best.id,
        baseline_id=baseline.id,
        pairs=summary.n,
        improvement=runs.fraction(summary.mean),
        low=runs.fraction(summary.low),
        high=runs.fraction(summary.high),
        p=summary.p,
        selected=selected_improvement(best.objective, baseline.objective, spec.study.direction),
        measured_at=time.time(),
    )
    earlier = Confirmation.from_store(store)
    if force or not _more_precise(earlier, result):
        store.set_meta(CONFIRMATION_META, result.to_json())
    return result


def _more_precise(earlier: Confirmation | None, result: Confirmation) -> bool:
    """Whether EARLIER measured the same best and baseline on more pairs than RESULT."""
    return (
        earlier is not None
        and (earlier.best_id, earlier.baseline_id) == (result.best_id, result.baseline_id)
        and earlier.pairs > result.pairs
    )


def shown_text(result: Confirmation, store: Store) -> str:
    """RESULT in words, and which figure the study keeps showing when it kept a more precise one."""
    kept = Confirmation.from_store(store)
    if kept is None or kept == result or not _more_precise(kept, result):
        return result.text()
    return (
        f"{result.text()}. Not recorded: the earlier confirmation over {kept.pairs} pairs is more precise "
        f"and is the one status, the report and the export show ({kept.improvement:+.1%}, 95% CI "
        f"{kept.low:+.1%} to {kept.high:+.1%}); `autoresearch confirm --force` records this one instead"
    )
