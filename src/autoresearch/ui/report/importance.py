"""Parameter importance without scikit-learn: each parameter's main effect on the objective's ranks.

Optuna's evaluators all live in `optuna.importance`, whose package import loads fANOVA and with it
scikit-learn (about half of `autoresearch report`'s time on a small study). This is the plain
statistic instead: a one-way ANOVA of the objective's ranks grouped by the parameter's value
(a categorical's choices; a number's equal-count bins by rank), reported as epsilon squared, the
share of rank variance it explains beyond what as many random groups would. Ranks make one diverged
run count no more than any other bad run; the chance correction keeps a parameter with many values
from looking important by splitting the data finely. Shares are normalised to sum to 1, as Optuna's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Hashable, Sequence
from typing import Any

METHOD = "rank ANOVA"
_MAX_BINS = 5  # numeric parameters: about sqrt(n) equal-count bins, 2 to 5 (3 show a U-shaped effect)


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _groups(values: Sequence[Any], categorical: bool) -> list[Hashable]:
    """The group of each row: its value for a categorical, its rank bin for a number."""
    if categorical:
        return [repr(v) for v in values]
    bins = max(2, min(_MAX_BINS, round(math.sqrt(len(values)))))
    ranks = average_ranks([float(v) for v in values])  # equal values share a bin
    return [min(bins - 1, int((rank - 1) * bins / len(values))) for rank in ranks]


def epsilon_squared(groups: Sequence[Hashable], scores: Sequence[float]) -> float:
    """Share of the variance of SCORES explained by GROUPS, corrected for chance, floored at 0."""
    n = len(scores)
    members: dict[Hashable, list[float]] = defaultdict(list)
    for group, score in zip(groups, scores, strict=True):
        members[group].append(score)
    k = len(members)
    if k < 2 or n - k < 1:
        return 0.0  # one value only, or no rows left to estimate the noise
    mean = sum(scores) / n
    total = sum((s - mean) ** 2 for s in scores)
    if total == 0:
        return 0.0
    between = sum(len(m) * (sum(m) / len(m) - mean) ** 2 for m in members.values())
    within_mean_square = (total - between) / (n - k)
    return max(0.0, (between - (k - 1) * within_mean_square) / total)


def rank_anova_importances(
    rows: Sequence[tuple[dict[str, Any], float]], categorical: Collection[str]
) -> dict[str, float]:
    """Importance of each parameter named in ROWS ((params, objective) pairs), most important first.

    Raises ValueError when no parameter explains the objective beyond chance.
    """
    names = sorted({name for params, _ in rows for name in params})
    raw: dict[str, float] = {}
    for name in names:
        having = [(params[name], objective) for params, objective in rows if name in params]
        if len(having) < 3:
            raw[name] = 0.0
            continue
        values = [v for v, _ in having]
        scores = average_ranks([o for _, o in having])
        raw[name] = epsilon_squared(_groups(values, name in categorical), scores)
    total = sum(raw.values())
    if total <= 0:
        raise ValueError(f"no parameter explains the objective beyond chance over {len(rows)} trials")
    return dict(sorted(((k, v / total) for k, v in raw.items()), key=lambda kv: -kv[1]))
