from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch import Study, optimize


def test_optimize_a_number() -> None:
    best, score, history = optimize(lambda x: (x - 3.0) ** 2, 0.0, max_iterations=80)
    assert abs(best - 3.0) < 0.5 and score == pytest.approx((best - 3.0) ** 2)
    assert len(history) == 80 and history[0]["decision"] == "baseline" and history[0]["state"] == 0.0
    kept = [h["score"] for h in history if h["decision"] in ("baseline", "kept")]
    assert kept == sorted(kept, reverse=True)


def test_optimize_maximize_with_propose_fn_and_failures() -> None:
    def fitness(state: dict) -> float:
        if state["n"] == 3:
            raise ValueError("three is unlucky")
        return -1.0 if state["n"] == 5 else float(state["n"])

    def propose(best: dict, history: list[dict]) -> dict:
        return {"n": len(history)}

    best, score, history = optimize(fitness, {"n": 0}, propose, max_iterations=6, direction="maximize")
    assert [h["decision"] for h in history] == ["baseline", "kept", "kept", "failed", "kept", "reverted"]
    assert best == {"n": 4} and score == 4.0


def test_optimize_with_storage_resumes_and_study_opens(tmp_path: Path) -> None:
    calls: list[float] = []

    def fitness(x: float) -> float:
        calls.append(x)
        return abs(x - 1.0)

    optimize(fitness, 0.0, max_iterations=10, storage=tmp_path)
    assert len(calls) == 10
    _best, score, history = optimize(fitness, 0.0, max_iterations=15, storage=tmp_path)
    assert len(calls) == 15 and len(history) == 15  # 5 more, nothing re-run
    assert score == min(h["score"] for h in history if h["score"] is not None)


def test_bad_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        optimize(lambda x: x, 0.0, direction="up")


def test_study_open(bowl_study: Path) -> None:
    from autoresearch.engine.loop import Loop
    from autoresearch.spec import load_spec

    Loop(load_spec(bowl_study)).run()
    study = Study.open(bowl_study)
    assert study.name == "bowl" and len(study.experiments()) == 10
    assert study.best is not None and study.baseline is not None
    assert study.best.objective <= study.baseline.objective
