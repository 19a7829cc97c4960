"""The hybrid proposer: a real Optuna sampler proposes, an LLM behind a real local HTTP server takes a share."""

from __future__ import annotations

import json
import math
import pickle
import re
import signal
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.engine.loop import Loop
from autoresearch.propose.hybrid import HybridProposer, llm_turn
from autoresearch.spec import Spec, SpecError, load_spec
from autoresearch.store.database import Store
from tests.conftest import BOWL, PYTHON, bowl_spec, cli, study_rows, wait_for, write_study
from tests.fake_llm import FakeLLMServer, Reply, Request


def hybrid_study(
    tmp_path: Path,
    server: FakeLLMServer,
    budget: int,
    name: str = "bowl",
    sampler: str = "tpe",
    share: float = 0.3,
    legacy: bool = False,
) -> Spec:
    """A hybrid study of the bowl; LEGACY: written as before the hybrid was a proposer, a search policy."""
    extra = f"""
    [proposer.options]
    base_url = "{server.openai_url}"
    lessons_every = 0
    retries = 0
    backoff = 0.01
    """
    if legacy:
        extra += f'[search]\npolicy = "hybrid"\n[search.hybrid]\nsampler = "{sampler}"\nllm_share = {share}\n'
        use = "llm:vllm/fake"
    else:
        extra += f"[proposer.hybrid]\nllm_share = {share}\n"
        use = f"hybrid:{sampler}+llm:vllm/fake"
    root = write_study(tmp_path / name, bowl_spec(budget, use, extra), {"bowl.py": BOWL})
    return load_spec(root)


def point_from_state(request: Request) -> Reply:
    """A deterministic answer that depends on what the prompt says of the sampler: how many trials its
    study holds picks the point, so two runs that reach the same state get the same answer."""
    trials = int(re.search(r"sampler's study holds (\d+) trial", request.last_user).group(1))  # type: ignore[union-attr]
    x, y = round(1.0 + 0.01 * trials, 4), round(-2.0 + 0.02 * trials, 4)
    return Reply(text=json.dumps({"rationale": f"near the bowl's floor ({trials})", "params": {"x": x, "y": y}}))


def run(spec: Spec) -> tuple[HybridProposer, list[Experiment]]:
    loop = Loop(spec)
    loop.run()
    assert isinstance(loop.proposer, HybridProposer)
    return loop.proposer, rows(spec)


def rows(spec: Spec) -> list[Experiment]:
    store = Store(spec.study_dir)
    try:
        return store.experiments()
    finally:
        store.close()


def test_llm_turns_spread_the_share_evenly() -> None:
    from fractions import Fraction

    for share in ("0", "0.1", "0.3", "0.5", "1"):
        turns = [k for k in range(100) if llm_turn(k, Fraction(share))]
        assert len(turns) == round(100 * float(share))
    assert [k for k in range(10) if llm_turn(k, Fraction("0.3"))] == [3, 6, 9]


def test_the_llm_takes_its_share_sees_the_best_points_and_is_told_to_the_sampler(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    fake_llm.responder = point_from_state
    proposer, experiments = run(hybrid_study(tmp_path, fake_llm, budget=11))
    candidates = experiments[1:]
    by_llm = [e for e in candidates if e.strategy and e.strategy.startswith("llm:")]
    assert [e.extra["hybrid"]["turn"] for e in by_llm] == [3, 6, 9]  # 30% of 10, evenly spread
    assert all(e.strategy == "tpe" for e in candidates if e not in by_llm)
    assert len(fake_llm.requests) == 3
    assert all(e.proposer == "hybrid:tpe+llm:vllm/fake" for e in candidates)

    # Each prompt shows the sampler's best points so far: the best objective measured before it.
    for request, e in zip(fake_llm.requests, by_llm, strict=True):
        before = [x for x in experiments if x.id < e.id and x.objective is not None]
        best = min(before, key=lambda x: x.objective or math.inf)
        section = request.last_user.split("# The optimiser's state")[1]
        assert "Its best points so far:" in section
        first = section.split("Its best points so far:")[1].strip().splitlines()[0]
        assert first.startswith(f"- objective {best.objective:.6g}:"), (first, best.objective)

    # The LLM's points are trials of the sampler's own study, told their results.
    trials = {json.dumps(t.params, sort_keys=True): t for t in proposer.sampler.study.get_trials(deepcopy=False)}
    for e in by_llm:
        trial = trials[json.dumps(e.params, sort_keys=True)]
        assert trial.state.name == "COMPLETE" and trial.value == pytest.approx(e.objective)
    assert len(trials) == len(experiments)  # baseline, sampler's points and LLM's points: all told


def test_cmaes_state_in_the_prompt_is_its_mean_and_sigma(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.responder = point_from_state
    proposer, experiments = run(hybrid_study(tmp_path, fake_llm, budget=21, sampler="cmaes", share=0.2))
    prompts = [r.last_user for r in fake_llm.requests]
    assert len(prompts) == 4
    assert "has not completed its first generation" in prompts[0]  # 4 of the 6 points of generation 0 told
    last = prompts[-1]
    match = re.search(r"CMA-ES generation (\d+) \(population (\d+)\): sigma ([0-9.e-]+)", last)
    assert match, last
    generation, sigma = int(match.group(1)), float(match.group(3))
    assert generation >= 1
    # Read CMA-ES's own state, as Optuna stored it on the trials, independently of the prompt code.
    study = proposer.sampler.study
    told_before = [
        t for t in study.get_trials(deepcopy=False) if t.number < len(experiments) - 1 and t.state.name == "COMPLETE"
    ]
    chunks = next(
        t.system_attrs for t in reversed(told_before) if any(k.startswith("cma:optimizer") for k in t.system_attrs)
    )
    blob = "".join(chunks[f"cma:optimizer:{i}"] for i in range(sum(k.startswith("cma:optimizer") for k in chunks)))
    optimizer = pickle.loads(bytes.fromhex(blob))
    assert optimizer.generation == generation and optimizer._sigma == pytest.approx(sigma, rel=1e-2)
    mean = optimizer.mean * 10.0 - 5.0  # x and y both span [-5, 5]
    shown = {n: float(v) for n, v in re.findall(r"(\w) ≈ (-?[0-9.e-]+) ±", last)}
    assert shown == pytest.approx({"x": mean[0], "y": mean[1]}, rel=1e-4, abs=1e-4)
    spread = optimizer._sigma * np.sqrt(np.diag(optimizer._C)) * 10.0
    widths = [float(w) for w in re.findall(r"± ([0-9.e-]+)", last)]
    assert widths == pytest.approx(list(spread), rel=1e-2)

    # CMA-ES counts the LLM's points in its generations: they carry its generation tag.
    by_llm = [e for e in experiments if e.strategy and e.strategy.startswith("llm:")]
    assert len(by_llm) == 4
    assert all("cma:generation" in e.extra["sampler_attrs"] for e in by_llm), [e.extra["sampler_attrs"] for e in by_llm]


def test_garbage_and_an_unreachable_llm_fall_back_to_the_sampler(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    spec = hybrid_study(tmp_path, fake_llm, budget=5, share=0.5)
    spec.proposer.options["max_attempts"] = 2
    # Turn 1 (share 0.5): two unusable answers. Turn 3: the server fails (no retries).
    fake_llm.script("I would try x = 2", '{"params": {"x": 99, "y": "left"}}', Reply(status=500))
    _, experiments = run(spec)
    candidates = experiments[1:]
    assert [e.strategy for e in candidates] == ["tpe", "tpe:fallback", "tpe", "tpe:fallback"]
    garbage, outage = candidates[1], candidates[3]
    assert garbage.decision in ("kept", "reverted") and outage.decision in ("kept", "reverted")  # they ran
    assert "no usable proposal in 2 attempt(s)" in garbage.extra["hybrid"]["llm_failed"]
    assert "out of range" in garbage.rationale or "outside" in garbage.rationale
    assert garbage.tokens_in == 22  # what the two answers cost stays on record
    assert "could not be asked" in outage.extra["hybrid"]["llm_failed"]
    assert len(fake_llm.requests) == 3


def test_resume_splits_and_samples_exactly_as_an_uninterrupted_study(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.responder = point_from_state
    _, straight = run(hybrid_study(tmp_path, fake_llm, budget=14, name="straight"))
    first = hybrid_study(tmp_path, fake_llm, budget=6, name="resumed")
    run(first)
    root = first.root
    (root / "autoresearch.toml").write_text((root / "autoresearch.toml").read_text().replace("= 6", "= 14"))
    _, resumed = run(load_spec(root))

    def trace(experiments: list[Experiment]) -> list[tuple[str, object]]:
        return [((e.strategy or "").partition(":")[0], e.params) for e in experiments]

    assert len(resumed) == 14
    assert trace(resumed) == trace(straight)
    assert sum(1 for e in straight if e.strategy and e.strategy.startswith("llm:")) == 3  # turns 3, 6, 9


def test_with_no_llm_share_it_is_the_sampler_alone(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    _, hybrid = run(hybrid_study(tmp_path, fake_llm, budget=8, name="hybrid", sampler="cmaes", share=0.0))
    alone = load_spec(write_study(tmp_path / "alone", bowl_spec(8, "cmaes"), {"bowl.py": BOWL}))
    Loop(alone).run()
    sampler = rows(alone)
    assert [e.params for e in hybrid] == [e.params for e in sampler]
    assert not fake_llm.requests


def test_kill_9_at_an_llm_turn_and_between_experiments_then_resume(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    """`autoresearch run` killed while the LLM answers and while experiments run, resumed each time:
    the same split and the same points as a study never interrupted."""
    budget = 16
    fake_llm.responder = point_from_state
    straight = hybrid_study(tmp_path, fake_llm, budget=budget, name="straight")
    assert cli("run", str(straight.root), timeout=600).returncode == 0
    asked = threading.Event()
    release = threading.Event()

    def held(request: Request) -> Reply:  # the LLM's answer waits until the run has been killed
        asked.set()
        release.wait(timeout=120)
        return point_from_state(request)

    killed = hybrid_study(tmp_path, fake_llm, budget=budget, name="killed")
    moments = ["llm", "rows:8", "llm", "rows:13"]
    for moment in moments:
        fake_llm.responder = held if moment == "llm" else point_from_state
        asked.clear()
        release.clear()
        proc = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(killed.root)], stdout=subprocess.DEVNULL)
        try:
            if moment == "llm":
                wait_for(asked.is_set, "an LLM request", timeout=300)
            else:
                count = int(moment.removeprefix("rows:"))
                wait_for(lambda n=count: len(study_rows(killed.study_dir)) >= n, moment, timeout=300)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
            release.set()
    fake_llm.responder = point_from_state
    final = cli("run", str(killed.root), timeout=600)
    assert final.returncode == 0, final.stderr

    def trace(experiments: list[Experiment]) -> list[tuple[str, object]]:
        return [((e.strategy or "").partition(":")[0], e.params) for e in experiments]

    resumed = rows(killed)
    assert len(resumed) == budget and all(e.status == "done" for e in resumed)
    assert trace(resumed) == trace(rows(straight))
    assert [e.extra["hybrid"]["turn"] for e in resumed if e.strategy and e.strategy.startswith("llm:")] == [3, 6, 9, 13]


def spec_error(tmp_path: Path, use: str, extra: str = "", code: bool = False) -> str:
    spec = bowl_spec(5, use, extra)
    if code:  # the same study in code mode: editable files instead of a search space
        spec = re.sub(r"\[params\]\n.*\n.*\n", '[code]\neditable = ["bowl.py"]\n', spec)
    root = write_study(tmp_path / f"s{len(list(tmp_path.iterdir()))}", spec, {"bowl.py": BOWL})
    with pytest.raises(SpecError) as error:
        load_spec(root)
    return str(error.value)


def test_the_spec_says_what_the_hybrid_proposer_needs(tmp_path: Path) -> None:
    assert "write hybrid:<sampler>+llm:<provider>/<model>, e.g." in spec_error(tmp_path, "hybrid")
    assert "write hybrid:<sampler>+llm:<provider>/<model>, e.g." in spec_error(tmp_path, "hybrid:tpe")
    assert "after the + comes an LLM, llm:<provider>/<model>, not 'tpe'" in spec_error(tmp_path, "hybrid:tpe+tpe")
    assert "the sampler 'tp' is not one of random, tpe, cmaes, gp" in spec_error(tmp_path, "hybrid:tp+llm:local")
    assert "unknown LLM provider 'vlm' (did you mean 'vllm'?)" in spec_error(tmp_path, "hybrid:tpe+llm:vlm/x")
    message = spec_error(tmp_path, "hybrid:tpe+llm:local", "[proposer.hybrid]\nllm_share = 1.5\n")
    assert "proposer.hybrid.llm_share" in message
    message = spec_error(tmp_path, "tpe", "[proposer.hybrid]\nllm_share = 0.5\n")
    assert "[proposer.hybrid] is for use = \"hybrid:<sampler>+llm:<provider>/<model>\", not 'tpe'" in message
    assert "the hybrid proposer searches parameters" in spec_error(tmp_path, "hybrid:tpe+llm:local", code=True)


def test_the_old_policy_spelling_reads_as_the_new_form_with_a_note(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.responder = point_from_state
    legacy = hybrid_study(tmp_path, fake_llm, budget=8, name="legacy", sampler="cmaes", share=0.5, legacy=True)
    assert legacy.proposer.use == "hybrid:cmaes+llm:vllm/fake" and legacy.search.policy == "greedy"
    assert legacy.proposer.hybrid is not None and legacy.proposer.hybrid.llm_share == 0.5
    assert legacy.notes == [
        '[search] policy = "hybrid" is a proposer now: this spec runs as [proposer] use = '
        '"hybrid:cmaes+llm:vllm/fake" and [proposer.hybrid] llm_share = 0.5; write it so'
    ]
    new = hybrid_study(tmp_path, fake_llm, budget=8, name="new", sampler="cmaes", share=0.5)
    assert new.notes == []
    _, old_rows = run(legacy)
    _, new_rows = run(new)
    assert [(e.proposer, e.strategy, e.params) for e in old_rows] == [
        (e.proposer, e.strategy, e.params) for e in new_rows
    ]
    # `autoresearch run` says it once, at the start.
    result = cli("run", str(legacy.root), "--experiments", "9", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('[search] policy = "hybrid" is a proposer now') == 1

    hybrid = '[search]\npolicy = "hybrid"\n'
    message = spec_error(tmp_path, "tpe", hybrid)
    assert 'search policy "hybrid" needs an LLM in [proposer] use (e.g. "llm:local"), not \'tpe\'' in message
    assert 'write [proposer] use = "hybrid:tpe+llm:<provider>/<model>"' in message
    assert "proposer.hybrid.llm_share" in spec_error(
        tmp_path, "llm:local", hybrid + "[search.hybrid]\nllm_share = 1.5\n"
    )


def trace(experiments: list[Experiment]) -> list[tuple[str, object]]:
    return [((e.strategy or "").partition(":")[0], e.params) for e in experiments]


def test_a_study_recorded_while_hybrid_was_a_policy_resumes_without_a_spec_change(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    """The store keeps the spec a study ran with; one recorded in the old layout ([search.hybrid] in every
    spec, the hybrid a policy) is compared in the new one, written either way."""
    fake_llm.responder = point_from_state
    _, straight = run(hybrid_study(tmp_path, fake_llm, budget=10, name="straight", legacy=True))
    for form in ("legacy", "new"):
        first = hybrid_study(tmp_path, fake_llm, budget=6, name=form, legacy=True)
        run(first)
        store = Store(first.study_dir)
        snapshot = json.loads(store.get_meta("spec_snapshot") or "{}")
        normalised = snapshot["normalised"]
        # As autoresearch recorded it before: the LLM in use, the hybrid a policy with its section.
        section = normalised["proposer"].pop("hybrid")
        normalised["proposer"]["use"] = "llm:vllm/fake"
        normalised["search"] |= {"policy": "hybrid", "hybrid": {"sampler": "tpe", **section}}
        store.set_meta("spec_snapshot", json.dumps(snapshot))
        store.set_meta("spec_hash", "recorded-before")
        store.set_meta("search_policy", "hybrid")
        store.close()
        resumed = hybrid_study(tmp_path, fake_llm, budget=10, name=form, legacy=form == "legacy")
        loop = Loop(resumed)
        loop.run()  # SpecChanged would stop it here
        assert loop.notes == ["the budget changed: budget.experiments: 6 -> 10"]
        # Who proposed each (the LLM's strategy names aside, as on any resume) and what: as never stopped.
        assert trace(rows(resumed)) == trace(straight)
