"""Judging a measured candidate: is it better than the incumbent, and by enough to keep it?"""

from __future__ import annotations

import math
from dataclasses import dataclass

from autoresearch.store import Experiment


def score(objective: float | None, direction: str) -> float:
    """The objective as a number to minimise; a missing objective is infinitely bad."""
    if objective is None or not math.isfinite(objective):
        return math.inf
    return objective if direction == "minimize" else -objective


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str


def improvement(candidate: float, incumbent: float, direction: str) -> float:
    """How much better CANDIDATE is than INCUMBENT (positive = better), direction aware."""
    return score(incumbent, direction) - score(candidate, direction)


def judge(candidate: float, best: Experiment | None, direction: str) -> Verdict:
    """Keep CANDIDATE only if it beats the current best (the `strict` rule)."""
    if best is None or best.objective is None:
        return Verdict(True, "first measured candidate")
    delta = improvement(candidate, best.objective, direction)
    if delta > 0:
        return Verdict(True, f"better than #{best.id} by {delta:.6g}")
    if delta == 0:
        return Verdict(False, f"equal to #{best.id}")
    return Verdict(False, f"worse than #{best.id} by {-delta:.6g}")


def reached_target(objective: float | None, target: float, direction: str) -> bool:
    if objective is None:
        return False
    return objective <= target if direction == "minimize" else objective >= target
