"""The study's budget ([budget]): what it has used so far, and why it must stop starting experiments.

The counts are kept up to date as experiments start and are decided, never asked of the store, so the
check the loop makes before each experiment costs the same at any size of study. A failed baseline is
retried on the next run and costs nothing, nor does a row where the proposer produced no proposal
(propose/failures.py): fixing either must not use the budget up.
"""

from __future__ import annotations

import time

from autoresearch.core.direction import reached
from autoresearch.search.archive import Archive
from autoresearch.spec import Spec
from autoresearch.store.database import Store

ELAPSED = "elapsed_seconds"  # meta key: the time earlier runs of the study took


class Budget:
    """The limits of SPEC's [budget] against what the study has used, the archive's figures included."""

    def __init__(self, spec: Spec, archive: Archive) -> None:
        self.limits = spec.budget
        self.direction = spec.study.direction
        self.archive = archive  # the global best, the stagnation count and the rows that cost nothing
        self.rows = 0  # experiments in the store, all decisions and running ones
        self.spent = 0.0  # their cost in USD
        self.started_at = time.time()
        self._elapsed_before = 0.0

    def resume(self, store: Store, rows: int, spent: float) -> None:
        """Go on from what the store holds: ROWS experiments costing SPENT, and earlier runs' time."""
        self._elapsed_before = float(store.get_meta(ELAPSED, "0") or 0)
        self.rows, self.spent = rows, spent

    def started(self, cost_usd: float | None) -> None:
        """A row was written for a new candidate (run or not); proposing it cost COST_USD."""
        self.rows += 1
        self.spent += cost_usd or 0.0

    @property
    def elapsed(self) -> float:
        return self._elapsed_before + (time.time() - self.started_at)

    def save(self, store: Store) -> None:
        """Record the time used so far, so that a crash loses at most the time since the last save."""
        store.set_meta(ELAPSED, f"{self.elapsed:.3f}")
        self._elapsed_before, self.started_at = self.elapsed, time.time()

    def exhausted(self) -> str:
        """Why the study must stop starting experiments, or "" while budget remains."""
        limits, archive = self.limits, self.archive
        free = archive.failed_baselines + archive.proposer_failures
        if limits.experiments is not None and self.rows - free >= limits.experiments:
            return f"experiment budget reached ({limits.experiments})"
        if limits.hours is not None and self.elapsed >= limits.hours * 3600:
            return f"time budget reached ({limits.hours:g} h)"
        if (
            limits.target is not None
            and archive.best is not None
            and reached(archive.best.objective, limits.target, self.direction)
        ):
            return f"target {limits.target:g} reached"
        if limits.patience is not None and archive.since_improvement >= limits.patience:
            return f"no improvement in {limits.patience} experiments (patience)"
        if limits.usd is not None and self.spent >= limits.usd:
            return f"spending budget reached (${limits.usd:g})"
        return ""
