"""An experiment as the loop, the store and every reader see it, and the decisions that end it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from autoresearch.core.direction import score


class Decision(StrEnum):
    """How an experiment ended. A StrEnum: the store holds its value, and it equals the plain string."""

    BASELINE = "baseline"
    KEPT = "kept"
    REVERTED = "reverted"
    FAILED = "failed"  # crash, timeout, unparsable metric
    REJECTED = "rejected"  # guard, integrity or validation failure
    PRUNED = "pruned"  # stopped early by a [prune] rule: its curve was losing (never kept)


DECISIONS = tuple(Decision)
INCUMBENT = (Decision.BASELINE, Decision.KEPT)  # the decisions that make an experiment the best
MEASURED = (Decision.BASELINE, Decision.KEPT, Decision.REVERTED)  # finished with a usable objective
FAILURES = (Decision.FAILED, Decision.REJECTED)
# Candidates, not the baseline.
JUDGED = (Decision.KEPT, Decision.REVERTED, Decision.FAILED, Decision.REJECTED, Decision.PRUNED)


@dataclass
class Experiment:
    id: int
    status: str
    proposal: dict[str, Any]
    created_at: float
    parent_id: int | None = None
    decision: Decision | None = None
    reason: str | None = None
    proposer: str | None = None
    strategy: str | None = None
    rationale: str | None = None
    params: dict[str, Any] | None = None
    diff: str | None = None
    commit_sha: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    objective: float | None = None
    holdout: dict[str, Any] | None = None
    exit_code: int | None = None
    duration: float | None = None
    attempts: int = 1
    started_at: float | None = None
    finished_at: float | None = None
    log_dir: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    is_baseline: bool = False  # it runs the unchanged system as the study's baseline
    became_best: bool = False  # it became the global best when it was decided (several objectives: joined the front)
    objectives: dict[str, float] | None = None  # several objectives: each one's value (measured experiments)

    @property
    def ok(self) -> bool:
        """Finished with a usable objective (baseline, kept or reverted)."""
        return self.status == "done" and self.decision in MEASURED

    def point(self, names: Iterable[str]) -> tuple[float, ...] | None:
        """Its value of each objective NAMES, in order; None unless measured with all of them."""
        if not self.ok or not self.objectives:
            return None
        values = tuple(self.objectives.get(name) for name in names)
        return None if any(v is None for v in values) else tuple(float(v) for v in values if v is not None)

    def score(self, direction: str) -> float:
        """The objective as a number to minimise; failures and rejections are infinitely bad."""
        return score(self.objective, direction) if self.ok else math.inf


# The store's facts about the baseline and the global best, each answered here and only here.


def failed_baseline(experiment: Experiment) -> bool:
    """A baseline run that failed: the next run retries it (in a new row), and it uses no budget."""
    return experiment.is_baseline and experiment.decision == Decision.FAILED


def baseline_of(experiments: Iterable[Experiment]) -> Experiment | None:
    """The study's baseline: the first baseline run that was measured (after any failed ones)."""
    return min((e for e in experiments if e.decision == Decision.BASELINE), key=lambda e: e.id, default=None)


def decided_order(finished_at: float | None, experiment_id: int) -> tuple[float, int]:
    """Sort key for the order experiments were decided in (parallel ones finish out of id order)."""
    return (finished_at or 0.0, experiment_id)


def incumbent_of(experiments: Iterable[Experiment]) -> Experiment | None:
    """The incumbent now (what the study branch, `best` and `apply` follow): of EXPERIMENTS, the one
    that became the global best last, in the order decided."""
    bests = (e for e in experiments if e.became_best)
    return max(bests, key=lambda e: decided_order(e.finished_at, e.id), default=None)
