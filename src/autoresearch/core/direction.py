"""Which way is better: the one place that knows what `minimize` and `maximize` mean.

Everything that compares objectives goes through these helpers, so a comparison cannot be written
the wrong way round in one module and right in another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

Direction = Literal["minimize", "maximize"]
DIRECTIONS: tuple[Direction, ...] = ("minimize", "maximize")

T = TypeVar("T")


def sign(direction: str) -> float:
    """+1 when lower is better, -1 when higher is: `sign * value` is a number to minimise."""
    if direction == "minimize":
        return 1.0
    if direction == "maximize":
        return -1.0
    raise ValueError(f"direction must be 'minimize' or 'maximize', not {direction!r}")


def score(objective: float | None, direction: str) -> float:
    """The objective as a number to minimise; a missing or non-finite objective is infinitely bad."""
    if objective is None or not math.isfinite(objective):
        return math.inf
    return sign(direction) * objective


def improvement(candidate: float | None, incumbent: float | None, direction: str) -> float:
    """How much better CANDIDATE is than INCUMBENT (positive = better), in the objective's units."""
    return score(incumbent, direction) - score(candidate, direction)


def better(a: float, b: float, direction: str) -> bool:
    """Is A strictly better than B?"""
    return sign(direction) * a < sign(direction) * b


def reached(objective: float | None, target: float, direction: str) -> bool:
    """Is OBJECTIVE at least as good as TARGET?"""
    return objective is not None and sign(direction) * objective <= sign(direction) * target


def best_of(items: Iterable[T], direction: str, key: Callable[[T], float | None]) -> T | None:
    """The item whose KEY is best (the first of equals); items without a finite value never win."""
    best: T | None = None
    best_score = math.inf
    for item in items:
        value = score(key(item), direction)
        if value < best_score:
            best, best_score = item, value
    return best
