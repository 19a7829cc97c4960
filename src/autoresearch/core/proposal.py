"""What a proposer returns: a candidate (`Proposal`), or the reasons it gives none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autoresearch.core.experiment import Experiment


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


def proposal_of(experiment: Experiment) -> Proposal:
    """The proposal a stored EXPERIMENT ran, enough to run it again (after a crash, or to re-measure it)."""
    record: dict[str, Any] = experiment.proposal or {}
    return Proposal(
        params=record.get("params", experiment.params),
        edits=record.get("edits"),
        edit_format=record.get("edit_format"),
        rationale=experiment.rationale or "",
        strategy=experiment.strategy,
        parent_id=experiment.parent_id,
        extra=experiment.extra,
    )
