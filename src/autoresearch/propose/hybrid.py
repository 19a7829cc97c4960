"""The hybrid proposer (params mode): an Optuna sampler proposes, an LLM takes a share of the candidates.

`[proposer] use = "hybrid:<sampler>+llm:<provider>/<model>"`, with `[proposer.hybrid] llm_share` and
`sampler_options`; `[proposer.options]` are the LLM's. (Before it was a proposer it was written as
`[search] policy = "hybrid"`, which the spec still reads as this.)

arXiv 2603.24647 finds that in a fixed search space CMA-ES and TPE beat LLM agents, and that a hybrid
does best: the sampler drives, and the LLM proposes a share of the trials while it sees the sampler's
state. Here:

- Whose turn candidate k is (k counted over the study's hybrid candidates) is a pure function of k and
  the share: the LLM takes candidate k when floor((k + 1) * share) > floor(k * share), an even spread
  (share 0.3: three of every ten). k is counted from what the store holds (finished experiments and
  the running ones a resume re-runs), so a resumed study splits its candidates exactly as before.
- The LLM's prompt carries the sampler's state (`SamplerProposer.state`): its best points and, for
  CMA-ES, the mean and spread it samples from.
- The LLM's point becomes one of the sampler's own trials (`SamplerProposer.adopt`, Optuna's
  enqueue_trial), so the sampler learns from its result as from a point it drew; CMA-ES counts it in
  its generation.
- An LLM answer still unusable after its repair turns, or an LLM that cannot be reached, hands that
  candidate to the sampler, with the reason in the rationale and in `extra["hybrid"]`: never a crash,
  never a lost candidate.
- The strategy column says who proposed each candidate: `llm:<strategy>`, the sampler's name, or
  `<sampler>:fallback` for the LLM's turns the sampler took over.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from autoresearch.core.proposal import Proposal, ProposalError
from autoresearch.propose.base import Context
from autoresearch.propose.llm import LLMProposer
from autoresearch.propose.samplers import SamplerProposer

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.spec import Spec

LLM_PREFIX = "llm:"  # strategy prefix of the LLM's candidates
FALLBACK_SUFFIX = ":fallback"  # strategy suffix of the LLM's turns the sampler took over
# What an unusable LLM answer leaves on the fallback candidate: the transcript, the errors and attempts.
_LLM_RECORD = ("prompt", "response", "llm")


def llm_turn(k: int, share: Fraction) -> bool:
    """Whether hybrid candidate K (0-based) is the LLM's: an even spread of SHARE over the candidates."""
    return math.floor((k + 1) * share) > math.floor(k * share)


class HybridProposer:
    # The sampler proposes with the latest result in hand, as it does on its own (no proposing ahead).
    slow = False

    def __init__(
        self,
        spec: Spec,
        history: Sequence[Experiment],
        *,
        sampler: str = "tpe",
        llm_use: str | None = None,
        llm_share: float = 0.3,
        sampler_options: dict[str, Any] | None = None,
        llm: LLMProposer | None = None,
    ) -> None:
        if spec.mode != "params":
            raise ProposalError("the hybrid proposer searches parameters; code mode needs llm:, agent: or script:")
        if isinstance(llm_share, bool) or not isinstance(llm_share, int | float) or not 0 <= llm_share <= 1:
            raise ProposalError(f"[proposer.hybrid] llm_share = {llm_share!r} must be a number from 0 to 1, e.g. 0.3")
        self.share = Fraction(str(llm_share))  # exact: 10 * 0.3 must be 3, not 3.0000000000000004
        self.sampler = SamplerProposer(spec, sampler, history, options=sampler_options or {})
        # LLM_USE: "llm:<provider>/<model>", the part of `use = "hybrid:<sampler>+llm:..."` after the +.
        self.llm = llm or LLMProposer(spec, use=llm_use)
        self.llm.advisor = self.sampler.state
        self.name = f"hybrid:{sampler}+{self.llm.name}"
        self._counted: set[int] = set()  # ids of finished hybrid candidates
        for experiment in history:
            self._count(experiment)
        # The LLM learns its strategies' success from the history here (prefix stripped), not by itself.
        self.llm._warmed = True
        for experiment in history:
            self._observe_llm(experiment)

    def __repr__(self) -> str:
        return f"HybridProposer({self.name!r})"

    def _count(self, experiment: Experiment) -> None:
        if "hybrid" in experiment.extra:
            self._counted.add(experiment.id)

    def _observe_llm(self, experiment: Experiment) -> None:
        strategy = experiment.strategy or ""
        if strategy.startswith(LLM_PREFIX):
            self.llm.observe(dataclasses.replace(experiment, strategy=strategy.removeprefix(LLM_PREFIX)))

    # -- the Proposer interface ---------------------------------------------------------------------

    def propose(self, context: Context) -> Proposal:
        # Running candidates count too: a resume re-runs them before it asks for a new one.
        turn = len(self._counted) + sum(1 for p in context.pending if "hybrid" in p.extra)
        if not llm_turn(turn, self.share):
            proposal = self.sampler.propose(context)
            proposal.extra["hybrid"] = {"turn": turn, "by": self.sampler.kind}
            return proposal
        try:
            answer = self.llm.propose(context)
        except ProposalError as exc:  # unreachable after its retries: this candidate is the sampler's
            return self._fallback(context, turn, f"the LLM could not be asked: {exc}", None)
        if answer.rejected_reason is not None or answer.params is None:
            return self._fallback(context, turn, answer.rejected_reason or "the LLM gave no parameters", answer)
        answer.extra.update(self.sampler.adopt(answer.params))
        answer.extra["hybrid"] = {"turn": turn, "by": "llm"}
        answer.strategy = LLM_PREFIX + (answer.strategy or "llm")
        return answer

    def _fallback(self, context: Context, turn: int, why: str, answer: Proposal | None) -> Proposal:
        proposal = self.sampler.propose(context)
        proposal.strategy = self.sampler.kind + FALLBACK_SUFFIX
        proposal.rationale = f"{proposal.rationale} (the LLM's turn, taken by {self.sampler.kind}: {why})"
        proposal.extra["hybrid"] = {"turn": turn, "by": self.sampler.kind, "llm_failed": why}
        if answer is not None:  # what the unusable answer cost, and its transcript, stay on record
            proposal.tokens_in, proposal.tokens_out, proposal.cost_usd = (
                answer.tokens_in,
                answer.tokens_out,
                answer.cost_usd,
            )
            for key in _LLM_RECORD:
                if key in answer.extra:
                    proposal.extra[key] = answer.extra[key]
        return proposal

    def observe(self, experiment: Experiment) -> None:
        self._count(experiment)
        self.sampler.observe(experiment)
        self._observe_llm(experiment)
