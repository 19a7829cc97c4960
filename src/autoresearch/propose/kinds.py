"""The proposer kinds autoresearch itself registers (pyproject.toml, `autoresearch.proposers`).

Each is a `ProposerKind`: how `[proposer] use = "<name>[:<argument>]"` is written, checked when the spec
is loaded, and built. This module is loaded with every spec, so the Optuna-backed proposers (samplers,
hybrid) are imported only when one is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from autoresearch.core.plugins import ProposerKind
from autoresearch.core.proposal import ProposalError
from autoresearch.llm import LLMError, check_provider
from autoresearch.propose.agent import AgentProposer
from autoresearch.propose.llm import LLMProposer
from autoresearch.propose.script import ScriptProposer
from autoresearch.spec import HybridSection, Spec

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.propose.base import Proposer

SAMPLERS = ("random", "tpe", "cmaes", "gp", "nsga2")  # Optuna's samplers (propose/samplers.py)
HYBRID_USAGE = "hybrid:<sampler>+llm:<provider>/<model>"


def _sampler(name: str) -> ProposerKind:
    def build(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
        from autoresearch.propose.samplers import SamplerProposer  # Optuna: loaded only when a sampler is used

        return SamplerProposer(spec, name, history)

    return ProposerKind(
        build,
        modes=("params",),
        wrong_mode="searches parameters; code mode needs llm:, agent: or script:",
        check=lambda spec, argument: _check_objectives(spec, name),
    )


def _check_objectives(spec: Spec, sampler: str) -> None:
    """Optuna's CMA-ES optimises one objective; the other samplers take several."""
    if sampler == "cmaes" and spec.metric.objectives:
        raise ValueError(
            "CMA-ES optimises one objective, and [metric] names several; use nsga2 (NSGA-II) or tpe, "
            "which take several objectives"
        )


def _check_llm(spec: Spec, argument: str) -> None:
    try:
        check_provider(f"llm:{argument}", spec.proposer.options)
    except LLMError as exc:
        raise ValueError(str(exc)) from None


def _build_llm(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
    try:
        return LLMProposer(spec)
    except LLMError as exc:  # a missing key or package: say so, no traceback
        raise ProposalError(str(exc)) from None


def hybrid_parts(argument: str) -> tuple[str, str]:
    """("cmaes", "llm:local") from "cmaes+llm:local"; ValueError says how to write it."""
    sampler, plus, llm = (part.strip() for part in argument.partition("+"))
    example = "e.g. hybrid:tpe+llm:openai/gpt-4.1-mini"
    if not plus:
        raise ValueError(f"write {HYBRID_USAGE}, {example}")
    if sampler not in SAMPLERS:
        raise ValueError(f"the sampler {sampler!r} is not one of {', '.join(SAMPLERS)}; {example}")
    if not llm.startswith("llm:"):
        raise ValueError(f"after the + comes an LLM, llm:<provider>/<model>, not {llm!r}; {example}")
    return sampler, llm


def llm_of(use: str) -> str | None:
    """The `llm:<provider>/<model>` a proposer USE talks to (an llm: proposer's, or a hybrid's), or None."""
    if use.startswith("llm:"):
        return use
    if use.startswith("hybrid:") and "+llm:" in use:
        return use.partition("+")[2].strip()
    return None


def _check_hybrid(spec: Spec, argument: str) -> None:
    if spec.mode != "params":
        raise ValueError(
            "the hybrid proposer searches parameters: give a [params] space instead of [code], "
            "or use llm:, agent: or script: in code mode"
        )
    sampler, llm = hybrid_parts(argument)
    _check_objectives(spec, sampler)
    _check_llm(spec, llm.removeprefix("llm:"))


def _build_hybrid(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
    from autoresearch.propose.hybrid import HybridProposer  # Optuna: loaded only when a sampler is used

    sampler, llm = hybrid_parts(argument)
    section = spec.proposer.hybrid or HybridSection()
    try:
        return HybridProposer(
            spec,
            history,
            sampler=sampler,
            llm_use=llm,
            llm_share=section.llm_share,
            sampler_options=section.sampler_options,
        )
    except LLMError as exc:
        raise ProposalError(str(exc)) from None


RANDOM, TPE, CMAES, GP, NSGA2 = (_sampler(name) for name in SAMPLERS)
LLM = ProposerKind(
    _build_llm,
    "llm:<provider>/<model>",
    argument=True,
    complete="llm:<provider>/<model> or llm:local",
    check=_check_llm,
)
AGENT = ProposerKind(
    lambda spec, argument, history: AgentProposer(spec, argument),
    "agent:<command>",
    argument=True,
    modes=("code",),
    wrong_mode="edits code; add a [code] section with the editable files",
)
SCRIPT = ProposerKind(lambda spec, argument, history: ScriptProposer(spec, argument), "script:<command>", argument=True)
HYBRID = ProposerKind(
    _build_hybrid,
    HYBRID_USAGE,
    argument=True,
    modes=("params",),
    wrong_mode="searches parameters; code mode needs llm:, agent: or script:",
    complete=f"{HYBRID_USAGE}, e.g. hybrid:tpe+llm:openai/gpt-4.1-mini",
    check=_check_hybrid,
)
