"""The proposer kinds `[proposer] use = ...` may name: one table for the spec's validation and `make_proposer`.

A kind is the part of `use` before the colon (`tpe`, `llm:openai/gpt-4.1-mini`); it says whether it
takes an argument, which modes it serves, and how it is built. Building imports lazily, so that the spec
can validate `use` without loading Optuna or an LLM client. Nothing here imports the spec at run time:
`spec.py` imports this module while it is itself being loaded.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.propose.base import Proposer
    from autoresearch.spec import Spec

Build = Callable[["Spec", str, Sequence["Experiment"]], "Proposer"]


@dataclass(frozen=True)
class ProposerKind:
    name: str
    usage: str  # how to write it, e.g. "llm:<provider>/<model>"
    build: Build  # (spec, the text after the colon, the study's history) -> a proposer
    argument: bool = False  # True: the text after the colon is required; False: there must be none
    modes: tuple[str, ...] = ("params", "code")
    wrong_mode: str = ""  # why it does not serve the study's mode, and what to do
    complete: str = ""  # how to complete a missing argument (default: the usage)


class UnknownProposer(ValueError):
    """`use` names no registered kind, or writes one wrongly; the message names the known kinds."""


_KINDS: dict[str, ProposerKind] = {}


def register(kind: ProposerKind) -> None:
    """Add (or replace) a kind; `use = "<name>..."` then validates and builds through it."""
    _KINDS[kind.name] = kind


def kinds() -> list[ProposerKind]:
    return list(_KINDS.values())


def usage() -> str:
    """Every kind as it is written: 'random, tpe, ..., script:<command>'."""
    return ", ".join(kind.usage for kind in _KINDS.values())


def parse(use: str) -> tuple[ProposerKind, str]:
    """The kind USE names and its argument; UnknownProposer says what is wrong and how to write it."""
    name, colon, argument = use.partition(":")
    kind = _KINDS.get(name)
    if kind is None:
        close = difflib.get_close_matches(use, sorted(_KINDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownProposer(f"unknown proposer {use!r}{hint}; use one of {usage()}")
    if kind.argument and not argument.strip():
        raise UnknownProposer(f"proposer {use!r} is incomplete; write {kind.complete or kind.usage}")
    if not kind.argument and colon:
        raise UnknownProposer(f"proposer {use!r}: {kind.name} takes no argument; write use = {kind.name!r}")
    return kind, argument


def _sampler(name: str) -> Build:
    def build(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
        from autoresearch.propose.samplers import SamplerProposer

        return SamplerProposer(spec, name, history)

    return build


def _llm(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
    from autoresearch.core.proposal import ProposalError
    from autoresearch.llm import LLMError
    from autoresearch.propose.llm import LLMProposer

    try:
        return LLMProposer(spec)
    except LLMError as exc:  # a bad provider, a missing key or package: say so, no traceback
        raise ProposalError(str(exc)) from None


def _agent(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
    from autoresearch.propose.agent import AgentProposer

    return AgentProposer(spec, argument)


def _script(spec: Spec, argument: str, history: Sequence[Experiment]) -> Proposer:
    from autoresearch.propose.script import ScriptProposer

    return ScriptProposer(spec, argument)


_SAMPLER_MODE = "searches parameters; code mode needs llm:, agent: or script:"
for _name in ("random", "tpe", "cmaes", "gp"):  # Optuna's samplers (propose/samplers.py)
    register(ProposerKind(_name, _name, _sampler(_name), modes=("params",), wrong_mode=_SAMPLER_MODE))
register(
    ProposerKind("llm", "llm:<provider>/<model>", _llm, argument=True, complete="llm:<provider>/<model> or llm:local")
)
register(
    ProposerKind(
        "agent",
        "agent:<command>",
        _agent,
        argument=True,
        modes=("code",),
        wrong_mode="edits code; add a [code] section with the editable files",
    )
)
register(ProposerKind("script", "script:<command>", _script, argument=True))
