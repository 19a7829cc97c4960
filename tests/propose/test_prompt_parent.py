"""Proposer prompts show the parent the search policy chose, its lineage and the task, not only the best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoresearch.propose.agent import agent_prompt
from autoresearch.propose.base import Context
from autoresearch.propose.llm import LLMProposer
from tests.fake_llm import FakeLLMServer
from tests.propose.test_llm_proposer import HOLDOUT, exp, make_spec


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_llm_prompt_shows_the_parent_its_lineage_and_the_task(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(json.dumps({"rationale": "fix it", "params": {"lr": 0.002}}))  # hidden, layers left out
    spec = make_spec(tmp_path, fake_llm)
    baseline = exp(1, "baseline", 0.5)
    draft = exp(2, "kept", 0.45, parent_id=1)
    parent = exp(3, "failed", None, params={"lr": 0.2, "hidden": 32, "layers": 4}, parent_id=2, reason="diverged")
    best = exp(4, "kept", 0.3, params={"lr": 0.01, "hidden": 128, "layers": 1}, parent_id=2)
    context = Context(
        spec=spec,
        history=[baseline, draft, parent, best],
        best=best,
        parent=parent,
        lineage=[baseline, draft, parent],
        task="debug",
        note="why it failed: diverged\nFloatingPointError: loss is nan",
    )
    proposal = LLMProposer(spec).propose(context)
    user = fake_llm.requests[0].last_user
    section = user.split("# The version you build on", 1)[1].split("# History", 1)[0]
    assert '#3 (failed, objective None) with params {"lr": 0.2, "hidden": 32, "layers": 4}' in section
    assert "Its lineage (oldest first): #1 baseline 0.5 -> #2 kept 0.45 -> #3 failed None" in section
    assert "Task: **debug**" in section and "FloatingPointError: loss is nan" in section
    assert str(HOLDOUT) not in user
    # Parameters the answer leaves out come from the parent, not from the best.
    assert proposal.params == {"lr": 0.002, "hidden": 32, "layers": 4}


def test_agent_prompt_names_the_parent_in_its_worktree(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    spec = make_spec(tmp_path, fake_llm, code=True)
    baseline = exp(1, "baseline", 0.5, params={})
    parent = exp(2, "reverted", 0.6, params={}, parent_id=1)
    context = Context(
        spec=spec, history=[baseline, parent], best=baseline, parent=parent, lineage=[baseline, parent], task="draft"
    )
    prompt = agent_prompt(context)
    section = prompt.split("## The version in your worktree", 1)[1]
    assert "#2 (reverted, objective 0.6)." in section and "#1 baseline 0.5 -> #2 reverted 0.6" in section
    assert "Task: **draft**" in section
