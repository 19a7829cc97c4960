"""What running several experiments at once adds to the loop (the rules are in docs/parallel.md).

- No duplicates of running candidates: a proposal equal to one still running is not started. The
  proposer is asked again (it sees the running ones as `pending`); a proposer that keeps repeating
  them makes the loop wait for a running experiment to finish before asking again. A duplicate that
  cost tokens (an LLM's) is recorded as `rejected` instead, so its cost is counted. (Repeats of
  finished experiments are recorded as `rejected` by the loop itself.)
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

from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.core.space import params_key
from autoresearch.execute.evaluate import Evaluator

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
    """Duplicate detection among running candidates, and the follow-up queue, for one run of the loop."""

    def __init__(self, evaluator: Evaluator, mode: str) -> None:
        self.evaluator = evaluator
        self.mode = mode
        self.followups: deque[Proposal] = deque()

    def running_duplicate(
        self, proposal: Proposal, parent_id: int | None, running: Iterable[tuple[Experiment, Proposal]]
    ) -> int | None:
        """The running experiment PROPOSAL repeats, or None.

        Repeats of finished experiments are the loop's business (recorded as `rejected`); a repeat of
        a running one is only the proposer not knowing yet how it ends, so it is asked again.
        """
        if proposal.rejected_reason is not None:
            return None
        key = candidate_key(proposal.to_record(), proposal.parent_id if proposal.parent_id is not None else parent_id)
        if key is None:
            return None
        for experiment, pending in running:
            if candidate_key(pending.to_record(), experiment.parent_id) == key:
                return experiment.id
        return None

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
