"""`tree`: AIDE-like search over a tree of solutions ([search.tree]).

1. Draft: the first `drafts` candidates are built on the baseline, each a different attempt.
2. Then each step, with probability `debug_probability`, debug a failed leaf: a failed experiment no
   candidate was built on yet, reached by fewer than `max_debug_depth` debug steps in a row. The
   proposer is shown that node's code or params and its error output (reason and log tail).
3. Otherwise improve the best node (or draft again while nothing has been measured).

Every candidate must beat the global best to be kept; the tree keeps every node, so a reverted draft
can still be debugged or improved later. With several workers, running candidates take different
parents: another failed leaf, or the next best node to improve.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autoresearch.core.choice import Choice
from autoresearch.core.experiment import Decision, Experiment
from autoresearch.execute import feedback
from autoresearch.search.archive import Archive, search_record
from autoresearch.search.policy import SearchPolicy
from autoresearch.spec import Spec

ERROR_CHARS = 3000  # of a failed node's reason and log tail shown in a debug task


class TreePolicy(SearchPolicy):
    name = "tree"

    def __init__(self, spec: Spec, archive: Archive) -> None:
        super().__init__(spec, archive)
        self.options = spec.search.tree
        self.drafted = 0  # decided drafts
        self._debug_depth: dict[int, int] = {}  # failed node -> debug steps in a row that led to it
        self._debuggable: dict[int, Experiment] = {}  # failed leaves still worth a debug step
        self._root: dict[int, int] = {}  # node -> the draft (or baseline) its subtree grows from
        self._subtree_best: dict[int, Experiment] = {}  # draft -> the best measured node under it

    # -- derived state: rebuilt by replaying decided experiments ---------------------------------------

    def observe(self, experiment: Experiment) -> None:
        task = search_record(experiment).get("task")
        parent = experiment.parent_id
        if parent is not None:
            self._debuggable.pop(parent, None)  # no longer a leaf
        if task == "draft":
            self.drafted += 1
        root = experiment.id if task == "draft" or parent is None else self._root.get(parent, parent)
        self._root[experiment.id] = root
        if experiment.decision == Decision.FAILED and not experiment.is_baseline:
            depth = self._debug_depth.get(parent, 0) + 1 if task == "debug" and parent is not None else 0
            self._debug_depth[experiment.id] = depth
            if depth < self.options.max_debug_depth and (self.spec.mode == "params" or experiment.commit_sha):
                self._debuggable[experiment.id] = experiment  # code mode: only a node with code to fix
        if experiment.ok and experiment.objective is not None:
            best = self._subtree_best.get(root)
            if best is None or experiment.score(self.archive.direction) < best.score(self.archive.direction):
                self._subtree_best[root] = experiment

    # -- choosing ----------------------------------------------------------------------------------------

    def choose(self, pending: Sequence[Experiment]) -> Choice:
        baseline = self.archive.baseline
        running = [search_record(e) | {"parent": e.parent_id} for e in pending]
        drafts = self.drafted + sum(1 for r in running if r.get("task") == "draft")
        if drafts < self.options.drafts or self.archive.best is None:
            return Choice(parent=baseline, task="draft")
        if self.rng.random() < self.options.debug_probability:
            being_debugged = {r["parent"] for r in running if r.get("task") == "debug"}
            failed = [node for node_id, node in sorted(self._debuggable.items()) if node_id not in being_debugged]
            if failed:
                node = self.rng.choice(failed)
                return Choice(parent=node, task="debug", note=self._error(node))
        return Choice(parent=self._to_improve({r["parent"] for r in running if r.get("task") == "improve"}))

    def _to_improve(self, taken: set[int | None]) -> Experiment | None:
        """The global best, or with it already being improved, the next best measured node."""
        best = self.archive.best
        if best is None or best.id not in taken:
            return best
        for node in self.archive.history.ranked()[: len(taken) + 1]:
            if node.id not in taken:
                return node
        return best

    def _error(self, node: Experiment) -> str:
        """What the failed NODE said: why it failed, then the end of its logs (holdout lines removed)."""
        text = f"why it failed: {node.reason or 'unknown'}"
        if node.log_dir:
            redactor = feedback.Redactor(self.archive.history.holdout_metric)
            tail = feedback.log_tail(Path(node.log_dir), self.spec.root, ERROR_CHARS, redactor)
            if tail:
                text += "\n" + tail
        return text

    # -- lineages ----------------------------------------------------------------------------------------

    def heads(self) -> dict[str, Experiment]:
        """The best node grown from each draft (and from the baseline): one lineage per draft."""
        baseline = self.archive.baseline.id if self.archive.baseline else None
        return {
            "baseline" if root == baseline else f"draft-{root}": node
            for root, node in sorted(self._subtree_best.items())
        }

    def state(self) -> dict[str, Any]:
        return super().state()  # the random generator; the tree itself is replayed from the store
