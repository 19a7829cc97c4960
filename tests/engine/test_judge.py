"""Judging with several objectives: a candidate is kept when it joins the Pareto front, guards first."""

from __future__ import annotations

import json
from pathlib import Path

from autoresearch.core.experiment import Decision, Experiment
from autoresearch.core.pareto import Front, dominates, front
from autoresearch.engine.judge import front_verdict, objective_values
from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import TRADE, cli, study_rows, trade_spec, write_study
from tests.execute.test_code_mode import edit, git, make_repo, target

NAMES = ("time_ms", "accuracy")
DIRECTIONS = ("minimize", "maximize")


def member(experiment_id: int, time_ms: float, accuracy: float) -> Experiment:
    return Experiment(
        id=experiment_id,
        status="done",
        proposal={},
        created_at=0.0,
        decision=Decision.KEPT,
        objective=time_ms,
        objectives={"time_ms": time_ms, "accuracy": accuracy},
    )


def test_front_verdict_keeps_trade_offs_and_refuses_ties_and_dominated_points() -> None:
    grown: Front[Experiment] = Front(DIRECTIONS)
    for experiment in (member(1, 5.0, 0.5), member(2, 2.0, 0.2)):
        grown.add(experiment, experiment.point(NAMES) or ())
    dominated = front_verdict((6.0, 0.4), grown, NAMES)
    assert not dominated.keep and dominated.reason.startswith("dominated by #1 on the Pareto front (time_ms 5")
    tie = front_verdict((2.0, 0.2), grown, NAMES)
    assert not tie.keep and tie.reason.startswith("equal to #2")
    trade = front_verdict((3.0, 0.3), grown, NAMES)
    assert trade.keep and "beside 2 member(s)" in trade.reason
    both = front_verdict((1.0, 0.6), grown, NAMES)
    assert both.keep and both.reason == "joins the Pareto front, pushing off #1, #2"


def test_objective_values_name_what_is_missing() -> None:
    assert objective_values({"time_ms": 2.0, "accuracy": 0.5, "other": 1.0}, NAMES) == {"time_ms": 2.0, "accuracy": 0.5}
    missing = objective_values({"time_ms": 2.0}, NAMES)
    assert isinstance(missing, str) and missing.startswith(
        "objective accuracy not found in the output (found: time_ms)"
    )
    assert objective_values({"time_ms": 2.0, "accuracy": float("nan")}, NAMES) == "objective accuracy is nan"


def rows_of(root: Path) -> list[Experiment]:
    store = Store(root / ".autoresearch" / "trade", create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def test_a_study_with_two_objectives_keeps_exactly_its_pareto_front(tmp_path: Path) -> None:
    # A guard on accuracy rejects what the front would otherwise take; one candidate misses an objective.
    guarded = TRADE.replace('print("accuracy:"', 'if p["x"] < 0.8: print("accuracy:"')
    root = write_study(
        tmp_path,
        trade_spec(14, extra='[[guard]]\nname = "fast enough"\nmetric = "time_ms"\nmax = 10.0'),
        {"trade.py": guarded},
    )
    Loop(load_spec(root)).run()
    rows = rows_of(root)
    assert rows[0].decision == Decision.BASELINE and rows[0].objectives == {"time_ms": 7.0, "accuracy": 0.75}
    measured = [r for r in rows if r.objectives is not None]
    assert all(r.decision in (Decision.BASELINE, Decision.KEPT, Decision.REVERTED) for r in measured)
    assert all(r.objective == r.objectives["time_ms"] for r in measured)  # the first objective stands for them
    for row in rows:
        if row.decision == Decision.REJECTED:  # the guard: judged before the front is asked
            assert "fast enough" in (row.reason or "") and row.metrics["time_ms"] > 10.0
        if row.decision == Decision.FAILED:
            assert row.params is not None and row.params["x"] >= 0.8
            assert (row.reason or "").startswith("objective accuracy not found in the output")
    assert_kept_is_the_front(rows)
    decisions = [r.decision for r in rows]
    assert {Decision.KEPT, Decision.REVERTED, Decision.REJECTED, Decision.FAILED} <= set(decisions)


def assert_kept_is_the_front(rows: list[Experiment]) -> None:
    """Kept means: joined the front of what was kept before it, pushing off what it dominates; a measured
    candidate that was not kept was dominated by (or equal to) a member."""
    rows = sorted(rows, key=lambda e: (e.finished_at or 0.0, e.id))  # the order decided
    kept = [r for r in rows if r.decision in (Decision.BASELINE, Decision.KEPT)]
    for i, row in enumerate(kept):
        point = row.point(NAMES)
        assert point is not None and row.became_best
        earlier = front(kept[:i], DIRECTIONS, key=lambda e: e.point(NAMES))
        assert not any(dominates(e.point(NAMES) or (), point, DIRECTIONS) for e in earlier)
        pushed = [e.id for e in earlier if dominates(point, e.point(NAMES) or (), DIRECTIONS)]
        assert row.decision == Decision.BASELINE or row.extra["front"]["pushed_off"] == pushed
    for row in rows:
        if row.decision == Decision.REVERTED:
            assert "on the Pareto front" in (row.reason or "") and not row.became_best


def test_code_mode_follows_the_latest_member_and_applies_any_member(tmp_path: Path) -> None:
    # Each edit builds on the latest member (the study branch); the values: (cost, size), both minimised.
    steps = [((10, 10), (5, 20)), ((5, 20), (5, 15)), ((5, 15), (12, 12)), ((5, 15), (3, 30))]
    edits = [
        edit(f"COST = {a}\nSIZE = {b}", f"COST = {c}\nSIZE = {d}", f"cost {c}, size {d}") for (a, b), (c, d) in steps
    ]
    root = make_repo(tmp_path, edits, budget=5)
    (root / "target.py").write_text(target(10, extra="").replace("COST = 10\n", "COST = 10\nSIZE = 10\n"))
    (root / "measure.py").write_text("from target import COST, SIZE\nprint('cost:', COST)\nprint('size:', SIZE)\n")
    spec = (
        (root / "autoresearch.toml")
        .read_text()
        .replace('name = "cost"', 'objectives = { cost = "minimize", size = "minimize" }')
    )
    (root / "autoresearch.toml").write_text(spec)
    git(root, "add", "-A")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "two objectives")
    assert cli("run", str(root)).returncode == 0
    rows = {r.id: r for r in study_rows(root / ".autoresearch" / "cm")}
    assert [rows[i].decision for i in range(1, 6)] == ["baseline", "kept", "kept", "reverted", "kept"]
    assert rows[3].extra["front"]["pushed_off"] == [2] and rows[5].extra["front"]["pushed_off"] == []
    assert (rows[4].reason or "").startswith("dominated by #1 on the Pareto front")
    assert [m["id"] for m in json.loads(cli("best", str(root)).stdout)] == [1, 3, 5]
    # The study branch follows the most recent member; every member keeps its own commit.
    assert git(root, "rev-parse", "autoresearch/cm").strip() == rows[5].commit_sha
    assert cli("apply", "4", str(root)).returncode == 1  # reverted: not on the front
    applied = cli("apply", "3", str(root))
    assert applied.returncode == 0, applied.stderr
    assert "COST = 5\nSIZE = 15\n" in (root / "target.py").read_text()
