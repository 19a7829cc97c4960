from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal, ProposalError
from autoresearch.propose import make_proposer, registry
from autoresearch.propose.base import Context
from autoresearch.spec import Spec, SpecError, spec_from_dict

BASE = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}


def spec_using(use: str, **extra: object) -> Spec:
    return spec_from_dict({**BASE, "proposer": {"use": use}, **extra})


def spec_error(use: str, **extra: object) -> str:
    with pytest.raises(SpecError) as info:
        spec_using(use, **extra)
    return str(info.value)


def test_an_unknown_kind_is_refused_naming_every_known_kind() -> None:
    message = spec_error("llmm:openai/gpt-4.1-mini")
    assert "unknown proposer 'llmm:openai/gpt-4.1-mini'" in message
    for kind in registry.kinds():  # the list comes from the registry, so it cannot go stale
        assert kind.usage in message
    assert "random, tpe, cmaes, gp, llm:<provider>/<model>, agent:<command>, script:<command>" in message


def test_arguments_are_checked_against_the_kind() -> None:
    assert "proposer 'script:' is incomplete; write script:<command>" in spec_error("script:")
    assert "write llm:<provider>/<model> or llm:local" in spec_error("llm")
    assert "proposer 'tpe:fast': tpe takes no argument; write use = 'tpe'" in spec_error("tpe:fast")


def test_make_proposer_builds_the_kind_the_spec_accepted_and_checks_its_mode(tmp_path: Path) -> None:
    proposer = make_proposer(spec_using("random"), [])
    assert type(proposer).__name__ == "SamplerProposer"
    code = {"params": {}, "code": {"editable": ["a.py"]}}
    with pytest.raises(ProposalError, match="'tpe' searches parameters; code mode needs llm:, agent: or script:"):
        make_proposer(spec_from_dict({**BASE, **code, "proposer": {"use": "tpe"}}), [])
    with pytest.raises(ProposalError, match="'agent:claude -p' edits code; add a \\[code\\] section"):
        make_proposer(spec_using("agent:claude -p"), [])


class _Fixed:
    """A proposer registered by a plug-in: always proposes x = its argument."""

    name = "fixed"

    def __init__(self, value: float) -> None:
        self.value = value

    def propose(self, context: Context) -> Proposal:
        return Proposal(params={"x": self.value})

    def observe(self, experiment: Experiment) -> None:
        pass


@pytest.fixture
def fixed_kind() -> Iterator[registry.ProposerKind]:
    def build(spec: Spec, argument: str, history: Sequence[Experiment]) -> _Fixed:
        return _Fixed(float(argument))

    kind = registry.ProposerKind("fixed", "fixed:<x>", build, argument=True, modes=("params",))
    registry.register(kind)
    yield kind
    del registry._KINDS["fixed"]


def test_a_registered_kind_is_valid_in_the_spec_and_built_by_make_proposer(fixed_kind: registry.ProposerKind) -> None:
    spec = spec_using("fixed:0.25")  # the spec accepts it without knowing about it
    proposer = make_proposer(spec, [])
    assert isinstance(proposer, _Fixed) and proposer.value == 0.25
    assert "fixed:<x>" in spec_error("fixd")
