"""What every proposer returns and the one interface they all implement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from autoresearch.store.history import History, proposer_view

if TYPE_CHECKING:
    from autoresearch.spec import Spec
    from autoresearch.store.database import Experiment


class ProposalError(Exception):
    """A proposer could not produce a usable proposal; the message says why."""


class SearchExhausted(Exception):
    """The proposer has nothing new to try (every point of a finite space was tried)."""


class WaitForResults(Exception):
    """The proposer has nothing to propose until a running experiment finishes (e.g. its next idea
    builds on one still running); the loop waits for one to end and asks again."""


@dataclass
class Proposal:
    """A candidate: a parameter set (params mode) or edits to files (code mode)."""

    params: dict[str, Any] | None = None
    edits: str | None = None  # SEARCH/REPLACE blocks, a unified diff, or whole files (see `edit_format`)
    edit_format: str | None = None
    rationale: str = ""
    strategy: str | None = None
    parent_id: int | None = None  # the experiment this one builds on; None: the context's parent
    experiment_id: int | None = None  # set by the loop once the proposal is recorded (Context.pending)
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    # Proposer-private state saved with the experiment (e.g. Optuna trial attributes, prompt files).
    extra: dict[str, Any] = field(default_factory=dict)
    # A proposal that was invalid from the start (unparsable LLM output, edits that do not apply):
    # recorded as `rejected` with this reason instead of being run.
    rejected_reason: str | None = None
    # The proposer itself failed (its command crashed, timed out or printed no proposal): the row uses
    # no budget, and the same failure again and again stops the study (propose/failures.py).
    proposer_failed: bool = False

    def to_record(self) -> dict[str, Any]:
        """What the store keeps to re-run this proposal after a crash."""
        record: dict[str, Any] = {}
        if self.params is not None:
            record["params"] = self.params
        if self.edits is not None:
            record["edits"] = self.edits
            record["edit_format"] = self.edit_format
        return record


@dataclass(frozen=True)
class Stop:
    """No proposal: the study starts no more experiments (running ones finish), for REASON, in words."""

    reason: str


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
            self.history = History(self.spec.study.direction, self.history)
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
