"""Paired, interleaved measurement: two experiments run alternately, and only their differences count.

A slow phase of the machine (another job, thermal throttling, a noisy neighbour), a drifting clock or
a heavy-tailed hiccup moves both halves of a pair alike, so it cancels in the pair's difference
instead of landing on one side. Each pair's order (A then B, or B then A) is drawn at random from a
seed, so that under a no-op change a difference is as likely positive as negative whatever the noise
does over time: that is what makes the paired t-test's false-keep rate hold under drift and load
phases (benchmarks/noise.py measures it). Both halves of a pair get the same seed (`{seed}`).

Used by the `paired` keep rule (`Referee`) and by the study's final confirmation (`confirm`).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from autoresearch import stats
from autoresearch.store import Experiment

if TYPE_CHECKING:
    from autoresearch.run.evaluate import Evaluator
    from autoresearch.spec import Spec
    from autoresearch.store import Store

CONFIRMATION_META = "confirmation"  # the store's meta key holding the latest confirmation (JSON)
_CONFIRM_SEEDS = 10_000_000  # seed offsets of confirmation runs start here, far from experiments' own


def order_rng(seed: int, *key: int) -> random.Random:
    """The random pair orders for one comparison: a hash of the study's seed and KEY."""
    import numpy as np  # here: `autoresearch status` imports this module and need not load numpy

    entropy = np.random.SeedSequence([seed & 0xFFFFFFFF, *key]).generate_state(2)
    return random.Random(int(entropy[0]) << 32 | int(entropy[1]))


def objective_score(value: float, direction: str) -> float:
    return value if direction == "minimize" else -value


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

    def measure(self, pairs: int) -> str | None:
        """Add pairs until there are PAIRS; why one run failed, or None."""
        while len(self.order) < pairs:
            offset = self.seed_offset + len(self.order)
            first_a = self.rng.random() < 0.5
            sides = (self.a, self.b) if first_a else (self.b, self.a)
            values: dict[int, float] = {}
            for target in sides:
                again = self.evaluator.remeasure(
                    target, for_experiment=self.for_experiment, seed_offset=offset, repeats=1
                )
                if again.objective is None or again.error is not None or again.rejected is not None:
                    return f"re-measuring #{target.id} failed: {again.error or again.rejected or 'no objective'}"
                values[target.id] = again.objective
            self.a_values.append(values[self.a.id])
            self.b_values.append(values[self.b.id])
            self.order.append("AB" if first_a else "BA")
        return None

    def differences(self) -> list[float]:
        """How much better A was than B in each pair (positive: A better), direction aware."""
        return [
            objective_score(b, self.direction) - objective_score(a, self.direction)
            for a, b in zip(self.a_values, self.b_values, strict=True)
        ]

    def record(self) -> dict[str, Any]:
        return {"a_id": self.a.id, "b_id": self.b.id, "a": self.a_values, "b": self.b_values, "order": self.order}


@dataclass(frozen=True)
class PairedVerdict:
    keep: bool
    reason: str
    record: dict[str, Any]


def sequential(runs: Interleaved, first: int, most: int, alpha: float) -> PairedVerdict:
    """The `paired` rule: is A better than B? Look after FIRST pairs, then twice as many, up to MOST.

    At each look: kept when the one-sided paired t-test gives p < alpha / (number of looks) (a
    Bonferroni split, so that looking several times does not raise the false-keep rate above alpha);
    stopped as not better when the mean difference is not positive; otherwise more pairs. Not kept
    when the last look is still not significant.
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
    record = runs.record() | {
        "pairs": summary.n,
        "improvement": summary.mean,
        "low": summary.low,
        "high": summary.high,
        "p": summary.p,
        "alpha_per_look": per_look,
    }
    words = (
        f"{summary.n} interleaved pairs vs #{runs.b.id}: better by {summary.mean:.6g} on average "
        f"(95% CI {summary.low:.6g} to {summary.high:.6g}), paired t p = {summary.p:.3g}"
    )
    if summary.p < per_look:
        return PairedVerdict(True, f"{words} < {per_look:.3g}", record)
    if summary.mean <= 0:
        ci = f"95% CI {summary.low:.6g} to {summary.high:.6g}"
        return PairedVerdict(
            False, f"{summary.n} interleaved pairs vs #{runs.b.id}: not better ({summary.mean:.6g}, {ci})", record
        )
    return PairedVerdict(False, f"{words}, not below {per_look:.3g} after {summary.n} pairs (max_pairs)", record)


# -- the study's final confirmation ----------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """Best vs baseline, re-measured on interleaved pairs: the improvement without the winner's curse."""

    best_id: int
    baseline_id: int
    pairs: int
    improvement: float  # mean paired difference, positive = the best is better (objective units)
    low: float  # 95% confidence interval of the improvement
    high: float
    p: float
    baseline_mean: float  # the baseline's mean over the pairs: the base of the relative figures
    best_mean: float
    selected: float  # the improvement the search itself reported (baseline objective vs best objective)
    baseline_objective: float  # the baseline's objective as the search measured it
    measured_at: float

    @property
    def relative(self) -> tuple[float, float, float]:
        """(improvement, low, high) as fractions of the baseline's value."""
        base = abs(self.baseline_mean) or 1.0
        return self.improvement / base, self.low / base, self.high / base

    def figure(self) -> str:
        """'+23.4% (95% CI +18.0% to +28.8%; 10 interleaved pairs, #12 vs #1)'."""
        rel, low, high = self.relative
        return (
            f"{rel:+.1%} (95% CI {low:+.1%} to {high:+.1%}; {self.pairs} interleaved pairs, "
            f"#{self.best_id} vs #{self.baseline_id})"
        )

    def text(self) -> str:
        rel, low, high = self.relative
        return (
            f"confirmed: best #{self.best_id} vs baseline #{self.baseline_id} over {self.pairs} interleaved pairs: "
            f"{rel:+.1%} (95% CI {low:+.1%} to {high:+.1%}); the search measured "
            f"{self.selected / (abs(self.baseline_objective) or 1.0):+.1%}"
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


def confirm(spec: Spec, store: Store, evaluator: Evaluator, pairs: int | None = None) -> Confirmation | str:
    """Re-measure the best against the baseline on interleaved pairs; store and return the result.

    Returns why it could not (no best yet, the best is the baseline, a run failed) as a string.
    """
    experiments = store.experiments(status="done")
    baseline = next((e for e in experiments if e.decision == "baseline"), None)
    kept = [e for e in experiments if e.decision in ("baseline", "kept")]
    best = kept[-1] if kept else None
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
        improvement=summary.mean,
        low=summary.low,
        high=summary.high,
        p=summary.p,
        baseline_mean=sum(runs.b_values) / len(runs.b_values),
        best_mean=sum(runs.a_values) / len(runs.a_values),
        selected=objective_score(baseline.objective, spec.study.direction)
        - objective_score(best.objective, spec.study.direction),
        baseline_objective=baseline.objective,
        measured_at=time.time(),
    )
    store.set_meta(CONFIRMATION_META, result.to_json())
    return result
