"""What running several experiments at once adds to the loop (the rules are in docs/parallel.md).

- No duplicates: a proposal equal to one already tried or still running is not run again. The
  proposer is asked again (it now sees the running ones as `pending`); a proposer that keeps repeating
  itself makes the loop wait for a running experiment to finish, and stops the study when nothing runs.
  A duplicate that cost tokens (an LLM's) is recorded as `rejected` instead, so its cost is counted.
- Re-basing: in code mode a candidate kept while it was built on an older best is kept as measured,
  and its edits re-applied onto the best it displaced are queued as a new experiment (a follow-up),
  run before the next proposal, and kept only if it is better again.

All of this runs on the loop's main thread, the only one that writes to the store.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from typing import Any

from autoresearch.propose.base import Proposal
from autoresearch.run.evaluate import Evaluator
from autoresearch.store import Experiment
from autoresearch.workspace.params import params_key

# How often the proposer is asked again when it returns a duplicate, before the loop waits instead.
DUPLICATE_RETRIES = 10
# Marks a follow-up experiment; its value is the id of the kept experiment whose edits it re-applies.
REBASED_FROM = "rebased_from"


def candidate_key(record: dict[str, Any], parent_id: int | None) -> str | None:
    """Identity of a candidate: its params, or its edits on its parent (None: nothing to compare)."""
    if record.get("params") is not None:
        return "params:" + params_key(record["params"])
    if record.get("edits") is not None:
        text = f"{parent_id}\0{record.get('edit_format')}\0{record['edits']}"
        return "edits:" + hashlib.sha256(text.encode()).hexdigest()
    return None


class Parallel:
    """Duplicate detection and the follow-up queue, for one run of the loop."""

    def __init__(self, evaluator: Evaluator, mode: str) -> None:
        self.evaluator = evaluator
        self.mode = mode
        self.seen: dict[str, int] = {}  # candidate key -> id of the experiment that ran (or runs) it
        self.followups: deque[Proposal] = deque()

    def note(self, experiments: Iterable[Experiment]) -> None:
        """Remember these experiments (the store's rows on resume, each new one as it starts)."""
        for experiment in experiments:
            key = candidate_key(experiment.proposal, experiment.parent_id)
            if key is not None:
                self.seen.setdefault(key, experiment.id)

    def duplicate_of(self, proposal: Proposal, parent_id: int | None) -> int | None:
        """The experiment PROPOSAL repeats, or None when it is new (or invalid anyway)."""
        if proposal.rejected_reason is not None:
            return None
        key = candidate_key(proposal.to_record(), proposal.parent_id if proposal.parent_id is not None else parent_id)
        return self.seen.get(key) if key is not None else None

    def next_followup(self) -> Proposal | None:
        return self.followups.popleft() if self.followups else None

    def after_kept(self, experiment: Experiment, best: Experiment | None) -> str:
        """EXPERIMENT beat BEST and is kept; if it was built on an older best, queue the combination.

        Returns words to add to the decision's reason.
        """
        if self.mode != "code" or best is None or experiment.parent_id in (None, best.id):
            return ""
        if experiment.extra.get(REBASED_FROM) == best.id:
            return ""  # it already is the best's edits re-applied onto the best it displaced
        followup = self.evaluator.rebase(experiment, best)
        if isinstance(followup, str):
            return (
                f"; it was built on #{experiment.parent_id}, not on #{best.id}, and its edits do not re-apply "
                f"onto #{best.id} ({followup}), so the combination is not tried"
            )
        followup.extra[REBASED_FROM] = experiment.id
        self.followups.append(followup)
        return f"; it was built on #{experiment.parent_id}: its edits re-applied onto #{best.id} are queued"
