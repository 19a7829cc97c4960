"""Small statistics for paired measurements: Student's t distribution and a paired t summary.

Written out (a continued fraction for the incomplete beta function) so that the paired rule needs
neither scipy nor anything beyond the standard library.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t with DOF degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(dof / 2.0, 0.5, dof / (dof + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_ppf(q: float, dof: float) -> float:
    """The t value with P(T <= t) = Q (bisection on t_sf; only called with a handful of pairs)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile {q} must be in (0, 1)")
    low, high = -1e6, 1e6
    for _ in range(200):
        middle = (low + high) / 2.0
        if 1.0 - t_sf(middle, dof) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


@dataclass(frozen=True)
class PairedSummary:
    """Paired differences (positive: the candidate is better), their mean and how sure we are of it."""

    n: int
    mean: float
    stderr: float
    p: float  # one-sided: the chance of a mean this high if the candidate were no better
    low: float  # two-sided confidence interval of the mean improvement at `confidence`
    high: float
    confidence: float


def paired_summary(differences: list[float], confidence: float = 0.95, trim: float = 0.2) -> PairedSummary:
    """Trimmed paired t (Yuen) on DIFFERENCES (one per pair, positive: the candidate is better).

    The lowest and highest TRIM fraction of the differences are trimmed from the mean and winsorised
    in its variance, so that a pair hit by a hiccup or a load change (a heavy-tailed difference)
    neither makes a no-op look better nor drowns a real gain; with TRIM = 0 it is the paired t-test.
    """
    n = len(differences)
    if n < 2:
        raise ValueError("a paired summary needs at least two pairs")
    ordered = sorted(differences)
    g = int(trim * n)
    if n - 2 * g < 2:
        g = (n - 2) // 2
    kept = ordered[g : n - g]
    mean = statistics.fmean(kept)
    winsorised = [kept[0]] * g + kept + [kept[-1]] * g
    stderr = statistics.stdev(winsorised) / ((len(kept) / n) * math.sqrt(n))
    dof = len(kept) - 1
    if stderr == 0.0:  # every pair differed by exactly the same amount
        p = 0.0 if mean > 0 else (0.5 if mean == 0 else 1.0)
        return PairedSummary(n, mean, 0.0, p, mean, mean, confidence)
    p = t_sf(mean / stderr, dof)
    half = t_ppf(0.5 + confidence / 2.0, dof) * stderr
    return PairedSummary(n, mean, stderr, p, mean - half, mean + half, confidence)


def looks(first: int, most: int) -> list[int]:
    """Pair counts at which a sequential comparison looks at its data: FIRST, doubling, MOST last."""
    points, n = [], first
    while n < most:
        points.append(n)
        n *= 2
    return [*points, most]
