"""Proposers: where candidates come from. `make_proposer` picks one from `[proposer] use`."""

from __future__ import annotations

from collections.abc import Sequence

from autoresearch.propose.base import Context, Proposal, ProposalError, Proposer, SearchExhausted
from autoresearch.spec import Spec
from autoresearch.store import Experiment

__all__ = ["Context", "Proposal", "ProposalError", "Proposer", "SearchExhausted", "make_proposer"]


def make_proposer(spec: Spec, history: Sequence[Experiment]) -> Proposer:
    """The proposer named by `spec.proposer.use`, primed with the study's HISTORY."""
    use = spec.proposer.use
    kind, _, arg = use.partition(":")
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
    if kind in ("random", "tpe", "cmaes", "gp"):
        if spec.mode != "params":
            raise ProposalError(f"proposer {use!r} searches parameters; code mode needs llm:, agent: or script:")
        from autoresearch.propose.samplers import SamplerProposer

        return SamplerProposer(spec, kind, history)
    if kind == "llm":
        from autoresearch.llm import LLMError
        from autoresearch.propose.llm import LLMProposer

        try:
            return LLMProposer(spec)
        except LLMError as exc:  # a bad provider, a missing key or package: say so, no traceback
            raise ProposalError(str(exc)) from None
    if kind == "agent":
        if spec.mode != "code":
            raise ProposalError(f"proposer {use!r} edits code; add a [code] section with the editable files")
        from autoresearch.propose.agent import AgentProposer

        return AgentProposer(spec, arg)
    if kind == "script":
        from autoresearch.propose.script import ScriptProposer

        return ScriptProposer(spec, arg)
    raise ProposalError(f"proposer {use!r} is not available in this version")
