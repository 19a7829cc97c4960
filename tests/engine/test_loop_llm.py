"""The loop with an LLM proposer over real HTTP: transcripts, secrets, spend budget and pipelining."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, write_study
from tests.fake_llm import FakeLLMServer, Reply, Request

SECRET = "sk-test-0123456789abcdef"

EXPERIMENT = """
import json, os, sys, time
p = json.load(open(sys.argv[1]))
time.sleep(float(os.environ.get("EXP_SLEEP", "0")))
print("key:", "present" if os.environ.get("OPENAI_API_KEY") else "absent")
print("loss:", abs(p["x"] - 3.0))
"""


def study(tmp_path: Path, url: str, extra: str = "", budget: int = 6) -> Path:
    return write_study(
        tmp_path / "llm",
        f"""
    [study]
    name = "llm"
    goal = "Find x that lowers the loss."
    [run]
    command = "{PYTHON} exp.py {{params_file}}"
    [metric]
    name = "loss"
    [params]
    x = {{ low = 0.0, high = 10.0, default = 9.0 }}
    [proposer]
    use = "llm:openai/gpt-4.1-mini"
    [proposer.options]
    base_url = "{url}"
    lessons_every = 0
    backoff = 0.01
    {extra}
    [budget]
    experiments = {budget}
    """,
        {"exp.py": EXPERIMENT},
    )


def counting_responder(delay: float = 0.0):  # type: ignore[no-untyped-def]
    values = iter([5.0, 4.0, 2.5, 3.5, 3.1, 1.0, 7.0, 6.0, 8.0, 0.5])

    def answer(request: Request) -> Reply:
        x = next(values)
        return Reply(
            text=json.dumps({"rationale": f"move x to {x}", "params": {"x": x}}),
            delay=delay,
            tokens_in=100_000,
            tokens_out=10_000,
        )

    return answer


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


def test_llm_study_saves_transcripts_and_never_leaks_the_key(
    tmp_path: Path, fake_llm: FakeLLMServer, api_key: str
) -> None:
    fake_llm.script(Reply(text="not json at all"))  # the first answer needs a repair turn
    fake_llm.responder = counting_responder()
    root = study(tmp_path, fake_llm.openai_url)
    result = cli("run", str(root))
    assert result.returncode == 0, result.stderr
    store = Store(root / ".autoresearch" / "llm", create=False)
    rows = store.experiments()
    store.close()
    assert [r.params["x"] for r in rows] == [9.0, 5.0, 4.0, 2.5, 3.5, 3.1]
    assert [r.decision for r in rows] == ["baseline", "kept", "kept", "kept", "reverted", "kept"]
    assert all(r.proposer == "llm:openai/gpt-4.1-mini" and r.cost_usd for r in rows[1:])
    first = Path(rows[1].log_dir)
    transcript = (first / "prompt.json").read_text() + (first / "response.json").read_text()
    assert "not json at all" in transcript and "Find x that lowers the loss." in transcript
    # the key reached the server, but no experiment, log, store or artifact
    assert fake_llm.requests[0].headers.get("authorization") == f"Bearer {SECRET}"
    for path in (root / ".autoresearch").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert all("key: absent" in (Path(r.log_dir) / "stdout.log").read_text() for r in rows)
    status = cli("status", str(root))
    assert "cost $" in status.stdout and "$0.0000" not in status.stdout


def test_spend_budget_stops_the_study(tmp_path: Path, fake_llm: FakeLLMServer, api_key: str) -> None:
    fake_llm.responder = counting_responder()
    # gpt-4.1-mini: 100k tokens in, 10k out = $0.056 per proposal
    root = study(tmp_path, fake_llm.openai_url, budget=50)
    spec_text = (root / "autoresearch.toml").read_text().replace("experiments = 50", "experiments = 50\nusd = 0.15")
    (root / "autoresearch.toml").write_text(spec_text)
    outcome = Loop(load_spec(root)).run()
    assert outcome.stopped == "spending budget reached ($0.15)"
    assert outcome.experiments == 4  # baseline + 3 proposals: 0.168 >= 0.15


def test_pipelining_proposes_while_the_experiment_runs(tmp_path: Path, fake_llm: FakeLLMServer, api_key: str) -> None:
    answer = counting_responder(delay=0.8)
    asked_at: list[float] = []

    def timed(request: Request) -> Reply:
        asked_at.append(time.time())
        return answer(request)

    fake_llm.responder = timed
    root = study(tmp_path, fake_llm.openai_url, budget=5)
    os.environ["EXP_SLEEP"] = "1.0"
    try:
        Loop(load_spec(root)).run()
    finally:
        del os.environ["EXP_SLEEP"]
    store = Store(root / ".autoresearch" / "llm", create=False)
    rows = store.experiments()
    store.close()
    # Overlap shown by events, not by wall time: every proposal was asked for while an experiment ran
    # (sequentially, each would fall between one experiment's end and the next one's start).
    assert len(asked_at) == 4
    for t in asked_at:
        assert any((r.started_at or 0) <= t <= (r.finished_at or 0) for r in rows), (t, rows)
    assert len(rows) == 5 and len({r.params["x"] for r in rows}) == 5


def test_unusable_answers_are_counted_in_the_budget_and_said(
    tmp_path: Path, fake_llm: FakeLLMServer, api_key: str
) -> None:
    # The first proposal gets garbage on each of its 3 attempts (an unusable answer); the rest are fine.
    fake_llm.script(*[Reply(text="I think x should be smaller")] * 3)
    fake_llm.responder = counting_responder()
    root = study(tmp_path, fake_llm.openai_url, budget=4)
    run = cli("run", str(root), env_extra={"OPENAI_API_KEY": SECRET})
    assert run.returncode == 0, run.stdout + run.stderr
    said = "1 of 4 experiments were unusable LLM answers (rejected after the repair turns), counted in the budget"
    assert said in run.stdout
    assert said in cli("status", str(root)).stdout
    store = Store(root / ".autoresearch" / "llm", create=False)
    try:
        decisions = [e.decision for e in store.experiments()]
    finally:
        store.close()
    assert decisions[:2] == ["baseline", "rejected"] and len(decisions) == 4  # the budget included it
