"""The proposer kinds `[proposer] use` may name: entry points, this project's and other packages' alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.core import plugins
from autoresearch.propose import ProposalError, kinds, make_proposer, samplers
from autoresearch.spec import Spec, SpecError, spec_from_dict
from tests.outside import install, on_path

BASE = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}
OURS = (
    "agent:<command>, cmaes, gp, hybrid:<sampler>+llm:<provider>/<model>, llm:<provider>/<model>, nsga2, random, "
    "script:<command>, tpe"
)


def spec_using(use: str, **extra: object) -> Spec:
    return spec_from_dict({**BASE, "proposer": {"use": use}, **extra})


def spec_error(use: str, **extra: object) -> str:
    with pytest.raises(SpecError) as info:
        spec_using(use, **extra)
    return str(info.value)


def test_an_unknown_kind_is_refused_naming_every_registered_kind() -> None:
    message = spec_error("llmm:openai/gpt-4.1-mini")
    assert "unknown proposer 'llmm:openai/gpt-4.1-mini' (did you mean 'llm'?); registered: " in message
    for usage in plugins.proposer_usage():  # the list comes from the installed metadata, so it cannot go stale
        assert usage in message
    assert OURS in message
    assert set(plugins.names("proposers")) == {
        "agent",
        "cmaes",
        "gp",
        "hybrid",
        "llm",
        "nsga2",
        "random",
        "script",
        "tpe",
    }


def test_arguments_are_checked_against_the_kind() -> None:
    assert "proposer 'script:' is incomplete; write script:<command>" in spec_error("script:")
    assert "write llm:<provider>/<model> or llm:local" in spec_error("llm")
    assert "proposer 'tpe:fast': tpe takes no argument; write use = 'tpe'" in spec_error("tpe:fast")


def test_the_llm_provider_is_checked_when_the_spec_is_loaded() -> None:
    message = spec_error("llm:opena/gpt-4.1-mini")
    assert "[proposer] use = 'llm:opena/gpt-4.1-mini': unknown LLM provider 'opena' (did you mean 'openai'?)" in message
    for provider in ("anthropic", "llamacpp", "lmstudio", "local", "ollama", "openai", "openrouter", "vllm"):
        assert provider in message
    assert "or give base_url in [proposer.options] for any OpenAI-compatible server" in message
    # Any OpenAI-compatible server by its address; the registered ones by name.
    gateway = {"use": "llm:gateway/some/model", "options": {"base_url": "http://127.0.0.1:9/v1"}}
    assert spec_from_dict({**BASE, "proposer": gateway}).proposer.use == "llm:gateway/some/model"
    assert spec_using("llm:local").proposer.use == "llm:local"


def test_make_proposer_builds_the_kind_the_spec_accepted_and_checks_its_mode() -> None:
    proposer = make_proposer(spec_using("random"), [])
    assert type(proposer).__name__ == "SamplerProposer"
    code = {"params": {}, "code": {"editable": ["a.py"]}}
    with pytest.raises(ProposalError, match="'tpe' searches parameters; code mode needs llm:, agent: or script:"):
        make_proposer(spec_from_dict({**BASE, **code, "proposer": {"use": "tpe"}}), [])
    with pytest.raises(ProposalError, match="'agent:claude -p' edits code; add a \\[code\\] section"):
        make_proposer(spec_using("agent:claude -p"), [])


def test_the_hybrid_samplers_are_the_sampler_kinds() -> None:
    assert kinds.SAMPLERS == samplers.SAMPLERS
    assert all(plugins.load("proposers", name).modes == ("params",) for name in kinds.SAMPLERS)
    assert kinds.llm_of("hybrid:cmaes+llm:openai/gpt-4.1-mini") == "llm:openai/gpt-4.1-mini"
    assert kinds.llm_of("llm:local") == "llm:local" and kinds.llm_of("tpe") is None


FIXED = """
from autoresearch.core.plugins import ProposerKind
from autoresearch.propose import Proposal


class Fixed:
    name = "fixed"

    def __init__(self, spec, argument, history):
        self.value = float(argument)

    def propose(self, context):
        return Proposal(params={"x": self.value})

    def observe(self, experiment):
        pass


def check(spec, argument):
    float(argument)  # a ValueError names the problem


FIXED = ProposerKind(Fixed, "fixed:<x>", argument=True, modes=("params",), check=check)
"""


@pytest.fixture
def fixed_kind(tmp_path: Path) -> Iterator[Path]:
    """A package outside this repository that registers the kind `fixed:<x>` (always proposes x)."""
    install(
        tmp_path, "outside_fixed", "[autoresearch.proposers]\nfixed = outside_fixed:FIXED\n", "outside_fixed", FIXED
    )
    with on_path(tmp_path):
        yield tmp_path


def test_a_registered_kind_is_valid_in_the_spec_and_built_by_make_proposer(fixed_kind: Path) -> None:
    spec = spec_using("fixed:0.25")  # the spec accepts it without knowing about it
    proposer = make_proposer(spec, [])
    assert type(proposer).__name__ == "Fixed" and proposer.value == 0.25  # type: ignore[attr-defined]
    assert "fixed:<x>" in spec_error("fixd")
    assert "could not convert string to float: 'half'" in spec_error("fixed:half")  # its own check ran
