"""A stored experiment gives back the proposal it ran (resume, re-measuring)."""

from __future__ import annotations

from pathlib import Path

from autoresearch.core.proposal import Proposal, proposal_of
from autoresearch.store.database import Store


def test_a_stored_proposal_comes_back_as_it_was_recorded(tmp_path: Path) -> None:
    store = Store(tmp_path / "study")
    try:
        made = [
            Proposal(params={"x": 0.5, "kind": "a"}, rationale="r1", strategy="explore", extra={"sampler_attrs": {}}),
            Proposal(edits="--- a/m.py\n+++ b/m.py\n", edit_format="diff", rationale="r2", strategy="fix"),
        ]
        parent = None
        for proposal in made:
            row = store.start_experiment(
                proposal=proposal.to_record(),
                parent_id=parent,
                strategy=proposal.strategy,
                rationale=proposal.rationale,
                params=proposal.params,
                extra=proposal.extra,
            )
            again = proposal_of(store.get(row.id))
            assert again.to_record() == proposal.to_record()
            assert (again.rationale, again.strategy, again.extra) == (
                proposal.rationale,
                proposal.strategy,
                proposal.extra,
            )
            assert again.parent_id == parent
            parent = row.id
    finally:
        store.close()
