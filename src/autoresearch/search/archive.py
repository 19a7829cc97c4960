"""The archive: every finished experiment as a node of a tree (each has a parent), kept by the loop.

It holds what the loop and every policy need, updated one experiment at a time so that nothing is
rescanned (flat cost): the baseline, the global best (the incumbent the study branch, `best` and
`apply` follow), the stagnation count, and each node's depth and number of children. The loop adds
experiments in the order they were decided, live and when it replays the store on resume, so the
archive after a resume is the archive before it.

Whether an experiment became the global best is recorded in its row (`became_best`), decided when it
was judged; replaying reads that column rather than deciding again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from autoresearch.core.direction import improvement
from autoresearch.core.experiment import Decision, Experiment, failed_baseline
from autoresearch.store.history import History


def search_record(experiment: Experiment) -> dict[str, Any]:
    """What the search recorded with EXPERIMENT (`extra.search`): task, tags, incumbent."""
    record = experiment.extra.get("search")
    return record if isinstance(record, dict) else {}


class Archive:
    """The experiment tree and its global best; the loop's single record of search progress."""

    def __init__(self, history: History) -> None:
        self.history = history  # finished experiments in the order decided, holdout values stripped
        self.direction = history.direction
        self.baseline: Experiment | None = None  # as recorded (holdout included), like `best`
        self.best: Experiment | None = None  # the global incumbent, as recorded (holdout included)
        self.since_improvement = 0  # experiments decided since the global best last changed
        self.failed_baselines = 0  # failed baselines are retried and use no budget
        self.proposer_failures = 0  # nor do rows where the proposer produced no proposal (propose/failures.py)
        self._children: dict[int, int] = {}
        self._depth: dict[int, int] = {}

    # -- growing -----------------------------------------------------------------------------------

    def add(self, experiment: Experiment) -> Experiment:
        """Record a decided EXPERIMENT; returns the copy proposers see (no holdout values)."""
        view = self.history.add(experiment)
        parent = view.parent_id
        self._depth[view.id] = self._depth.get(parent, -1) + 1 if parent is not None else 0
        if parent is not None:
            self._children[parent] = self._children.get(parent, 0) + 1
        if failed_baseline(view):
            self.failed_baselines += 1
        elif view.extra.get("proposer_failed"):
            self.proposer_failures += 1  # not a candidate: neither progress nor stagnation
        elif view.became_best:
            # As recorded, holdout values included: the judge compares holdouts with the best's.
            # Proposers get the holdout-free view (Context takes it from the history).
            self.best = experiment
            self.since_improvement = 0
            if view.decision == Decision.BASELINE:
                self.baseline = experiment
        else:
            self.since_improvement += 1
        return view

    def beats_best(self, objective: float | None, judged_against: Experiment | None) -> bool:
        """Whether a candidate just kept against JUDGED_AGAINST becomes the global best: always when
        it was judged against the global best (one chain), else only when strictly better than it."""
        if self.best is None or judged_against is None or judged_against.id == self.best.id:
            return True
        if objective is None or self.best.objective is None:
            return False
        return improvement(objective, self.best.objective, self.direction) > 0

    # -- asking ------------------------------------------------------------------------------------

    def get(self, experiment_id: int | None) -> Experiment | None:
        return None if experiment_id is None else self.history.get(experiment_id)

    def children(self, experiment_id: int) -> int:
        """How many decided experiments were built on EXPERIMENT_ID."""
        return self._children.get(experiment_id, 0)

    def depth(self, experiment_id: int) -> int:
        """Edges from the root of its tree (the baseline, or an experiment with no recorded parent)."""
        return self._depth.get(experiment_id, 0)

    def ancestors(self, experiment: Experiment | None) -> Iterator[Experiment]:
        """EXPERIMENT's parent, its parent, ... up to the root (nearest first)."""
        seen: set[int] = set()
        node = self.get(experiment.parent_id) if experiment is not None else None
        while node is not None and node.id not in seen:  # a cycle cannot be recorded, but never loop
            seen.add(node.id)
            yield node
            node = self.get(node.parent_id)

    def lineage(self, experiment: Experiment | None, limit: int = 8) -> list[Experiment]:
        """EXPERIMENT and up to LIMIT - 1 of its ancestors, oldest first: the path a proposer is shown."""
        if experiment is None:
            return []
        path = [experiment]
        for node in self.ancestors(experiment):
            if len(path) >= limit:
                break
            path.append(node)
        return path[::-1]

    def __len__(self) -> int:
        return len(self.history)
