"""The one interface every proposer implements, and what it is given to propose from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from autoresearch.core.proposal import Proposal
from autoresearch.store.history import History, proposer_view

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.spec import Spec


@dataclass
class Context:
    """What a proposer may know when it proposes: the spec, the history and what is pending.

    `history` is the loop's own `History`, shared, not copied, on every proposal: a read-only view
    whose experiments had their holdout values stripped once, when they were recorded. A plain list
    (tests, custom integrations) is turned into one here, holdout values stripped the same way.
    """

    spec: Spec
    history: History
    best: Experiment | None
    # Candidates running now (workers > 1, or proposing ahead), each with its experiment_id, strategy,
    # rationale and params or edits. A candidate rejected before it runs is never among them.
    pending: list[Proposal] = field(default_factory=list)
    stagnation: int = 0  # experiments since the last improvement
    # Validates a proposal without running it (params in the space, edits apply to the parent):
    # None when fine, else the precise reason, which an LLM proposer sends back in a repair turn.
    check: Callable[[Proposal], str | None] = lambda proposal: None
    # Files the proposer may read and change in code mode, with their content in the parent.
    files: dict[str, str] = field(default_factory=dict)
    # The experiment the search policy chose to build this candidate on (search/policy.py): its params
    # or code are the starting point, and `check` and `files` are about it. None: the best.
    parent: Experiment | None = None
    lineage: list[Experiment] = field(default_factory=list)  # the parent and its ancestors, oldest first
    task: str = "improve"  # what the policy asks for: improve, draft, debug, ...
    note: str = ""  # more from the policy, e.g. a debug task's error output

    def __post_init__(self) -> None:
        if not isinstance(self.history, History):
            self.history = History(self.spec.study.direction, self.history, objectives=self.spec.metric.objectives)
        # Each experiment a proposer is shown is the history's copy, or made the same way (proposer_view).
        metric = self.history.holdout_metric
        if self.best is not None:
            self.best = self.history.get(self.best.id) or proposer_view(self.best, metric)
        if self.parent is None:
            self.parent = self.best
        else:
            self.parent = self.history.get(self.parent.id) or proposer_view(self.parent, metric)
        self.lineage = [self.history.get(e.id) or proposer_view(e, metric) for e in self.lineage]


class Proposer(Protocol):
    name: str

    def propose(self, context: Context) -> Proposal:
        """The next candidate. Raises SearchExhausted when there is nothing left to try."""
        ...

    def observe(self, experiment: Experiment) -> None:
        """Learn from a finished experiment (its objective, decision and reason)."""
        ...
