"""Proposers: where candidates come from. `make_proposer` builds the one `[proposer] use` names (registry.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from autoresearch.core.proposal import ProposalError
from autoresearch.propose import registry

if TYPE_CHECKING:  # spec.py validates `use` through this package while it is itself being loaded
    from autoresearch.core.experiment import Experiment
    from autoresearch.propose.base import Proposer
    from autoresearch.spec import Spec

__all__ = ["make_proposer"]


def make_proposer(spec: Spec, history: Sequence[Experiment]) -> Proposer:
    """The proposer named by `spec.proposer.use`, primed with the study's HISTORY."""
    if spec.search.policy == "hybrid":  # a sampler proposing, with the LLM of `use` taking a share
        from autoresearch.llm import LLMError
        from autoresearch.propose.hybrid import HybridProposer

        section = spec.search.hybrid
        try:
            return HybridProposer(
                spec,
                history,
                sampler=section.sampler,
                llm_share=section.llm_share,
                sampler_options=section.sampler_options,
            )
        except LLMError as exc:
            raise ProposalError(str(exc)) from None
    try:
        kind, argument = registry.parse(spec.proposer.use)
    except registry.UnknownProposer as exc:  # a spec built without validation
        raise ProposalError(str(exc)) from None
    if spec.mode not in kind.modes:
        raise ProposalError(f"proposer {spec.proposer.use!r} {kind.wrong_mode}")
    return kind.build(spec, argument, history)
