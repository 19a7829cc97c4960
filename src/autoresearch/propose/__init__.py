"""Proposers: where candidates come from. `make_proposer` builds the one `[proposer] use` names.

Each kind is an entry point (`autoresearch.proposers` in pyproject.toml, naming a `ProposerKind`:
kinds.py holds this project's); another package adds one the same way (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from autoresearch.core import plugins
from autoresearch.core.proposal import Proposal, ProposalError, SearchExhausted, Stop
from autoresearch.propose.base import Context, Proposer

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.spec import Spec

__all__ = ["Context", "Proposal", "ProposalError", "Proposer", "SearchExhausted", "Stop", "make_proposer"]


def make_proposer(spec: Spec, history: Sequence[Experiment]) -> Proposer:
    """The proposer named by `spec.proposer.use`, primed with the study's HISTORY."""
    try:
        _, kind, argument = plugins.proposer_kind(spec.proposer.use)
    except plugins.UnknownProposer as exc:  # a spec built without validation
        raise ProposalError(str(exc)) from None
    if spec.mode not in kind.modes:
        raise ProposalError(f"proposer {spec.proposer.use!r} {kind.wrong_mode}")
    proposer: Proposer = kind.build(spec, argument, history)
    return proposer
