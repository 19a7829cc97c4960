"""LLMProposer end to end over real HTTP against the scripted fake server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal, ProposalError
from autoresearch.llm import make_backend
from autoresearch.propose.base import Context
from autoresearch.propose.llm import LLMProposer
from autoresearch.propose.strategies import Strategy, StrategyScheduler
from autoresearch.spec import Spec, spec_from_dict
from tests.fake_llm import FakeLLMServer, Reply, Request

SECRET = "sk-test-SECRET-abcdef123456"
HOLDOUT = 0.123456789  # a value that must never reach a prompt


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)


def make_spec(
    root: Path, server: FakeLLMServer, *, code: bool = False, use: str = "llm:openai/gpt-4.1-mini", **options: Any
) -> Spec:
    data: dict[str, Any] = {
        "study": {"name": "s", "goal": "Lower the validation loss.", "direction": "minimize"},
        "run": {"command": "python train.py"},
        "metric": {"name": "val_loss"},
        "proposer": {
            "use": use,
            "options": {
                "base_url": server.openai_url if "openai" in use else server.url,
                "backoff": 0.01,
                "backoff_max": 0.02,
                "timeout": 5,
                "seed": 1,
                **options,
            },
        },
    }
    if code:
        data["code"] = {"editable": ["train.py"]}
    else:
        data["params"] = {
            "lr": {"low": 1e-4, "high": 0.3, "log": True},
            "hidden": {"choices": [32, 64, 128]},
            "layers": {"low": 1, "high": 4},
        }
    return spec_from_dict(data, root=root)


def exp(
    i: int,
    decision: str = "reverted",
    objective: float | None = 1.0,
    strategy: str | None = None,
    params: dict[str, Any] | None = None,
    **kw: Any,
) -> Experiment:
    params = params if params is not None else {"lr": 0.01 + i * 1e-5, "hidden": 64, "layers": 2}
    return Experiment(
        id=i,
        status="done",
        proposal={"params": params},
        created_at=time.time(),
        decision=decision,
        objective=objective,
        params=params,
        strategy=strategy,
        holdout={"val_holdout": HOLDOUT},
        **kw,
    )


def answer(rationale: str = "smaller lr", **params: Any) -> str:
    return json.dumps({"rationale": rationale, "params": params or {"lr": 0.003, "hidden": 128, "layers": 3}})


def test_valid_proposal_records_prompt_tokens_and_cost(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(Reply(text="Sure! ```json\n" + answer() + "\n```", tokens_in=1000, tokens_out=100))
    spec = make_spec(tmp_path, fake_llm)
    best = exp(1, "baseline", 0.5)
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[best], best=best))
    assert proposal.rejected_reason is None
    assert proposal.params == {"lr": 0.003, "hidden": 128, "layers": 3}
    assert proposal.rationale == "smaller lr"
    assert proposal.strategy is not None and proposal.extra["llm"]["strategy_family"]
    assert (proposal.tokens_in, proposal.tokens_out) == (1000, 100)
    assert proposal.cost_usd == pytest.approx((1000 * 0.4 + 100 * 1.6) / 1e6)
    assert [m["role"] for m in proposal.extra["prompt"]] == ["system", "user"]
    assert proposal.extra["response"] == [fake_llm.requests[0].messages and proposal.extra["response"][0]]
    user = proposal.extra["prompt"][1]["content"]
    assert "Lower the validation loss." in user and "`lr`: float in [0.0001, 0.3] (log scale)" in user
    assert '"hidden": 64' in user  # the current best's params
    assert fake_llm.requests[0].body["response_format"]["json_schema"]["schema"]["properties"]["params"]


def test_malformed_json_is_repaired_in_a_follow_up_turn(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script('{"rationale": "oops", "params": {"lr": 0.01,', answer())
    spec = make_spec(tmp_path, fake_llm)
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    assert proposal.params == {"lr": 0.003, "hidden": 128, "layers": 3}
    second = fake_llm.requests[1].messages
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert "no valid JSON object" in second[-1]["content"]
    assert len(proposal.extra["response"]) == 2 and proposal.extra["llm"]["attempts"] == 2
    assert proposal.tokens_in == 22  # both calls counted


def test_out_of_range_params_rejected_after_max_attempts(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    bad = answer(lr=5.0, hidden=100, layers=9, momentum=0.9)
    fake_llm.script(bad, bad, bad, answer())
    spec = make_spec(tmp_path, fake_llm, max_attempts=3)
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    assert proposal.params is None and proposal.rejected_reason is not None
    reason = proposal.rejected_reason
    assert "3 attempt(s)" in reason
    for part in (
        'unknown parameter(s) "momentum"',
        "lr=5.0 is out of range",
        "hidden=100 is not one of",
        "layers=9 is out of range",
    ):
        assert part in reason
    assert len(fake_llm.requests) == 3
    assert "lr=5.0 is out of range" in fake_llm.requests[1].last_user


def test_wrong_types_and_coercions(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(answer(lr="fast", hidden=64, layers=2.5), answer(lr="0.02", hidden="128", layers=2.0))
    spec = make_spec(tmp_path, fake_llm)
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    assert proposal.params == {"lr": 0.02, "hidden": 128, "layers": 2}
    assert isinstance(proposal.params["layers"], int)
    assert 'lr="fast" must be a number' in fake_llm.requests[1].last_user
    assert "layers=2.5 must be an integer" in fake_llm.requests[1].last_user


def test_missing_params_come_from_the_best(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(json.dumps({"rationale": "only lr", "params": {"lr": 0.05}}))
    spec = make_spec(tmp_path, fake_llm)
    best = exp(3, "kept", 0.4, params={"lr": 0.01, "hidden": 32, "layers": 4})
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[best], best=best))
    assert proposal.params == {"lr": 0.05, "hidden": 32, "layers": 4}
    assert proposal.extra["filled_from_parent"] == ["hidden", "layers"]


def test_repeats_and_context_check_feed_repair_turns(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    tried = {"lr": 0.003, "hidden": 128, "layers": 3}
    fake_llm.script(answer(**tried), answer(lr=0.004, hidden=128, layers=3), answer(lr=0.005, hidden=32, layers=1))
    spec = make_spec(tmp_path, fake_llm)
    history = [exp(1, "reverted", 0.7, params=tried)]

    def check(proposal: Proposal) -> str | None:
        assert proposal.params is not None
        return "hidden=128 needs layers <= 2 (guard)" if proposal.params["hidden"] == 128 else None

    proposal = LLMProposer(spec).propose(Context(spec=spec, history=history, best=None, check=check))
    assert proposal.params == {"lr": 0.005, "hidden": 32, "layers": 1}
    assert "already tried in experiment #1" in fake_llm.requests[1].last_user
    # After a repeat the next answer must change one parameter, in the text and in the schema.
    assert "Change `hidden` this time." in fake_llm.requests[1].last_user
    schema = fake_llm.requests[1].body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["params"]["properties"]["hidden"] == {"enum": [32, 64]}
    assert fake_llm.requests[1].body["temperature"] > fake_llm.requests[0].body["temperature"]
    assert "needs layers <= 2 (guard)" in fake_llm.requests[2].last_user


def test_backend_outage_raises_proposal_error(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(*[Reply(status=500, error="down")] * 2)
    spec = make_spec(tmp_path, fake_llm, retries=1)
    with pytest.raises(ProposalError, match="failed after 2 attempts: HTTP 500: down"):
        LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))


def test_429_then_success_through_the_proposer(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(Reply(status=429), Reply(status=500), Reply(drop=True), answer())
    spec = make_spec(tmp_path, fake_llm)
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    assert proposal.params is not None and len(fake_llm.requests) == 4


def test_code_mode_passes_edits_and_shows_files(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    blocks = "train.py\n<<<<<<< SEARCH\nlr = 0.1\n=======\nlr = 0.05\n>>>>>>> REPLACE\n"
    fake_llm.script(json.dumps({"rationale": "halve lr", "edits": blocks}))
    spec = make_spec(tmp_path, fake_llm, code=True)
    files = {"train.py": "lr = 0.1\nprint('val_loss: 1')\n"}
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None, files=files))
    assert (proposal.edits, proposal.edit_format) == (blocks, "search_replace")
    assert proposal.rationale == "halve lr"
    user = fake_llm.requests[0].last_user
    assert "### train.py" in user and "lr = 0.1" in user and "<<<<<<< SEARCH" in user


def test_code_mode_bare_blocks_and_failing_check(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    bare = "I will halve it.\n\ntrain.py\n<<<<<<< SEARCH\nlr = 0.1\n=======\nlr = 0.05\n>>>>>>> REPLACE\n"
    fake_llm.script(bare, bare)
    spec = make_spec(tmp_path, fake_llm, code=True, max_attempts=2)
    calls: list[str] = []

    def check(proposal: Proposal) -> str | None:
        calls.append(proposal.edits or "")
        return None if len(calls) > 1 else "SEARCH block 1 not found in train.py: 'lr = 0.1'"

    proposal = LLMProposer(spec).propose(
        Context(spec=spec, history=[], best=None, check=check, files={"train.py": "lr = 0.1\n"})
    )
    assert proposal.edits is not None and proposal.edits.startswith("train.py\n<<<<<<< SEARCH")
    assert proposal.rationale == "I will halve it."
    assert "SEARCH block 1 not found" in fake_llm.requests[1].last_user


def test_prompt_bounded_with_1000_history_items_and_no_holdout(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(answer())
    spec = make_spec(tmp_path, fake_llm, lessons_every=0)
    history = []
    for i in range(1, 1001):
        decision = ["reverted", "kept", "failed", "rejected"][i % 4]
        history.append(
            exp(
                i,
                decision,
                None if decision in ("failed", "rejected") else 1.0 / i,
                strategy="hyperparameter_tweak",
                rationale="why " * 500,
                reason="Traceback ...\n" * 200 + f"ValueError: boom {i}",
                metrics={"val_loss": 1.0 / i, "holdout_acc": HOLDOUT},
            )
        )
    pending = [Proposal(params={"lr": 0.001 * k, "hidden": 32, "layers": 1}) for k in range(50)]
    context = Context(spec=spec, history=history, best=history[-3], pending=pending)
    proposal = LLMProposer(spec).propose(context)
    prompt = "\n".join(m["content"] for m in proposal.extra["prompt"])
    assert len(prompt) < 20_000
    assert str(HOLDOUT) not in fake_llm.requests[0].prompt_text and "holdout" not in prompt
    assert "ValueError: boom 999" in prompt or "ValueError: boom 998" in prompt  # failure reason tails
    assert "#1000" in prompt and "1000 experiments" in prompt


def test_prompt_cap_option_is_respected(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(answer())
    spec = make_spec(tmp_path, fake_llm, max_prompt_chars=4000, lessons_every=0)
    history = [exp(i, "reverted", 1.0, rationale="r" * 400) for i in range(1, 300)]
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=history, best=history[0]))
    assert len(proposal.extra["prompt"][1]["content"]) <= 4000


def test_key_not_in_prompt_records(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script("not json", answer())
    spec = make_spec(tmp_path, fake_llm)
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    assert SECRET not in json.dumps(proposal.extra) and SECRET not in repr(proposal)
    assert fake_llm.requests[0].headers["authorization"].endswith(SECRET)  # it was used, only not stored


def test_anthropic_proposer(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(Reply(text="Here you go:\n" + answer(), tokens_in=100, tokens_out=50))
    spec = make_spec(tmp_path, fake_llm, use="llm:anthropic/claude-sonnet-4-x")
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    assert proposal.params == {"lr": 0.003, "hidden": 128, "layers": 3}
    assert fake_llm.requests[0].path == "/v1/messages"
    assert "research engineer" in fake_llm.requests[0].body["system"]
    assert proposal.cost_usd == pytest.approx((100 * 3 + 50 * 15) / 1e6)


def test_scheduler_favours_winners_without_starving_others() -> None:
    strategies = [Strategy(n, n, n) for n in ("good", "bad1", "bad2", "bad3")]
    scheduler = StrategyScheduler(strategies, explore=0.15, seed=7)
    for _ in range(30):
        scheduler.record("good", True)
        scheduler.record("good", False)
        for bad in ("bad1", "bad2", "bad3"):
            scheduler.record(bad, False)
    picks = [scheduler.choose().name for _ in range(2000)]
    assert picks.count("good") > 0.8 * len(picks)
    for bad in ("bad1", "bad2", "bad3"):
        assert picks.count(bad) >= 0.15 / 4 * len(picks) * 0.6  # the exploration floor
    assert all(scheduler.choose(avoid_family="good").name != "good" for _ in range(100))


def test_proposer_learns_strategies_from_observe(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    spec = make_spec(tmp_path, fake_llm, strategies=["hyperparameter_tweak", "optimizer_switch"], explore=0.1)
    proposer = LLMProposer(spec)
    for i in range(40):
        proposer.observe(exp(i, "kept" if i % 2 else "reverted", strategy="optimizer_switch"))
        proposer.observe(exp(100 + i, "reverted", strategy="hyperparameter_tweak"))
    proposer.observe(exp(1, "kept", strategy="optimizer_switch"))  # already seen: ignored
    assert proposer.scheduler.rates() == {"hyperparameter_tweak": (0, 40), "optimizer_switch": (20, 40)}
    fake_llm.responder = lambda request: answer(lr=0.0001 + len(fake_llm.requests) * 1e-4)
    picks = [proposer.propose(Context(spec=spec, history=[], best=None)).strategy for _ in range(30)]
    assert picks.count("optimizer_switch") > 20
    assert picks.count("hyperparameter_tweak") >= 1  # the loser still gets tried
    for pick, request in zip(picks, fake_llm.requests, strict=True):
        assert f"Strategy: **{pick}**" in request.last_user


def test_stagnation_escalates(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(answer(), answer(lr=0.004))
    spec = make_spec(tmp_path, fake_llm, stagnation_patience=5, temperature=0.5, temperature_step=0.25, lessons_every=0)
    history = [exp(i, "reverted", 1.0 + i / 100, strategy="hyperparameter_tweak") for i in range(1, 12)]
    best = exp(20, "kept", 0.5, params={"lr": 0.02, "hidden": 32, "layers": 1})
    history.append(best)
    proposer = LLMProposer(spec)
    calm = proposer.propose(Context(spec=spec, history=history, best=best, stagnation=0))
    stuck = proposer.propose(Context(spec=spec, history=history, best=best, stagnation=11))
    assert calm.parent_id is None and fake_llm.requests[0].body["temperature"] == 0.5
    assert fake_llm.requests[1].body["temperature"] == pytest.approx(1.0)
    assert stuck.parent_id == 1 and stuck.extra["llm"]["parent_id"] == 1  # the best ancestor but the best
    assert stuck.extra["llm"]["avoided_family"] == "tune"  # the family that stalled is left
    assert stuck.strategy not in ("hyperparameter_tweak", "learning_rate_schedule")
    assert "The search has stalled" in fake_llm.requests[1].last_user
    assert "Start from experiment #1" in fake_llm.requests[1].last_user


def test_lessons_written_every_k_and_used(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    def respond(request: Request) -> str:
        if "Rewrite the lessons notes" in request.last_user:
            return "- lr above 0.1 diverges (#3, #7)\n- hidden=128 helps (#5)"
        return answer(lr=0.0001 + len(fake_llm.requests) * 1e-4)

    fake_llm.responder = respond
    spec = make_spec(tmp_path, fake_llm, lessons_every=5)
    proposer = LLMProposer(spec)
    history = [exp(i, "reverted", 1.0) for i in range(1, 5)]
    proposer.propose(Context(spec=spec, history=history, best=None))
    assert not (spec.study_dir / "lessons.md").exists() and len(fake_llm.requests) == 1
    history.append(exp(5, "kept", 0.9))
    proposal = proposer.propose(Context(spec=spec, history=history, best=history[-1]))
    notes = (spec.study_dir / "lessons.md").read_text()
    assert "lr above 0.1 diverges" in notes
    assert "Rewrite the lessons notes" in fake_llm.requests[1].last_user
    assert "lr above 0.1 diverges" in fake_llm.requests[2].last_user  # used in the proposal prompt
    assert proposal.extra["lessons"]["response"].startswith("- lr above")
    assert proposal.tokens_in == 22  # the lessons call is paid for too
    proposer.propose(Context(spec=spec, history=history, best=history[-1]))
    assert len(fake_llm.requests) == 4  # not due again until 10


def test_prompt_templates_overridable_from_study_folder(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "params.md").write_text("CUSTOM $goal\nSPACE\n$space\n$format\n")
    fake_llm.script(answer())
    spec = make_spec(tmp_path, fake_llm)
    LLMProposer(spec).propose(Context(spec=spec, history=[], best=None))
    user = fake_llm.requests[0].last_user
    assert user.startswith("CUSTOM Lower the validation loss.") and "`hidden`: one of [32, 64, 128]" in user


def test_injected_backend(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.script(answer())
    spec = make_spec(tmp_path, fake_llm)
    backend = make_backend("llm:vllm/qwen", {"base_url": fake_llm.openai_url})
    proposal = LLMProposer(spec, backend).propose(Context(spec=spec, history=[], best=None))
    assert proposal.params is not None and proposal.cost_usd == 0.0
    assert fake_llm.requests[0].body["model"] == "qwen"


def test_the_prompt_of_a_study_with_two_objectives_shows_its_pareto_front(
    fake_llm: FakeLLMServer, tmp_path: Path
) -> None:
    fake_llm.script(answer())
    single = make_spec(tmp_path, fake_llm)
    data = {**single.source.raw, "metric": {"objectives": {"val_loss": "minimize", "ms": "minimize"}}}  # type: ignore[union-attr]
    data["study"] = {k: v for k, v in data["study"].items() if k != "direction"}
    spec = spec_from_dict(data, root=tmp_path)

    def measured(i: int, decision: str, loss: float, ms: float, lr: float) -> Experiment:
        params = {"lr": lr, "hidden": 64, "layers": 2}
        return exp(i, decision, loss, params=params, objectives={"val_loss": loss, "ms": ms}, rationale=f"try lr {lr}")

    history = [
        measured(1, "baseline", 0.5, 10.0, 0.01),
        measured(2, "kept", 0.3, 30.0, 0.02),  # a trade-off: both stay
        measured(3, "reverted", 0.6, 40.0, 0.03),  # dominated: not on the front
        measured(4, "kept", 0.4, 5.0, 0.04),  # pushes #1 off
    ]
    proposal = LLMProposer(spec).propose(Context(spec=spec, history=history, best=history[-1]))
    user = proposal.extra["prompt"][1]["content"]
    assert "`val_loss` (**minimize**), `ms` (**minimize**)" in user and "Pareto front" in user
    front = user.split("## The Pareto front (2 members, none dominated by another)\n")[1].split("\n\n")[0]
    lines = front.splitlines()
    assert [line.split()[0] for line in lines] == ["#2", "#4"]  # the members, in the order they joined
    assert "val_loss=0.3 ms=30" in lines[0] and '"lr": 0.02' in lines[0] and "try lr 0.02" in lines[0]
    assert "Best so far" not in user and "No single best with several objectives" in user
    assert str(HOLDOUT) not in user
