"""The `islands` policy end to end: turns, per-island incumbents, migration every M, weighted parents,
novelty rejection before a run, and an exact resume; real git, real subprocesses, the real store."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.engine.loop import Loop
from autoresearch.search.islands import IslandsPolicy
from autoresearch.spec import load_spec
from tests.conftest import PYTHON, study_rows, wait_for, write_study
from tests.search.conftest import git

RUN = 'from solution import VALUE\nprint("score:", VALUE)\n'
# Adds STEPS[n % len(STEPS)] to the parent's VALUE, n being the experiments so far (so a resumed study
# proposes the same), and pads the line with n spaces: a step of 0 is the parent again, but for spaces.
PROPOSE = """
import json, re, sys
study = json.load(sys.stdin)
steps = json.load(open("steps.json"))
n = len(study["history"]) + len(study["pending"])
value = int(re.search(r"^VALUE = (-?\\d+)", study["files"]["solution.py"], re.M).group(1))
body = f"VALUE = {value + steps[n % len(steps)]}" + " " * n + "\\n"
print(json.dumps({"edits": {"solution.py": body}, "rationale": f"step {n}"}))
"""


def islands_study(root: Path, *, budget: int, steps: list[int], **islands: object) -> Path:
    options = "\n".join(f"{key} = {json.dumps(value)}" for key, value in islands.items())
    write_study(
        root,
        f"""
    [study]
    name = "t"
    direction = "maximize"
    [run]
    command = "{PYTHON} run.py"
    timeout = "30s"
    [metric]
    name = "score"
    [code]
    editable = ["solution.py"]
    [proposer]
    use = "script:{PYTHON} propose.py"
    [search]
    policy = "islands"
    [budget]
    experiments = {budget}
    """,
        {"solution.py": "VALUE = 0\n", "run.py": RUN, "propose.py": PROPOSE, "steps.json": json.dumps(steps)},
    )
    with (root / "autoresearch.toml").open("a") as spec:
        spec.write(f"[search.islands]\n{options}\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    return root


def search(e: Experiment) -> dict[str, object]:
    return e.extra.get("search", {})


def test_islands_take_turns_beat_their_own_incumbent_and_migrate_every_m(tmp_path: Path) -> None:
    root = islands_study(
        tmp_path / "repo", budget=14, steps=[1], count=3, migration_interval=4, migration_share=0.5, novelty=False
    )
    loop = Loop(load_spec(root))
    loop.run()
    policy = loop.policy
    assert isinstance(policy, IslandsPolicy)
    rows = study_rows(root / ".autoresearch" / "t")
    baseline, first, second, third, fourth, fifth = rows[:6]
    assert [search(e)["island"] for e in rows[1:]] == [0, 1, 2] * 4 + [0]
    # Each island climbs on its own: the second candidate (island 1) is judged against the baseline,
    # not against the first (island 0's), although that was the global best by then.
    assert first.decision == "kept" and first.became_best is True
    assert search(second)["incumbent"] == baseline.id and second.decision == "kept"
    assert second.became_best is False  # kept on its island, but no better than the global best (the first)
    assert search(third)["incumbent"] == baseline.id
    assert search(fourth)["incumbent"] == first.id  # island 0 again: its own best
    # After 4 decided experiments island 0's top half (the fourth and first) moved to island 1, whose
    # next candidate (the fifth) must beat the migrant.
    assert search(fifth)["island"] == 1 and search(fifth)["incumbent"] == fourth.id
    assert policy.migrations == 13 // 4
    island_of = {e.id: search(e).get("island") for e in rows}
    assert {island_of[m.id] for m in policy.members[1]} >= {0, 1}
    # Each island's best is a lineage head, kept as a git ref.
    for number, best in enumerate(policy.best):
        assert best is not None
        assert git(root, "rev-parse", f"refs/autoresearch/t/heads/island-{number}") == best.commit_sha


def test_weighted_parent_sampling_draws_from_several_parents(tmp_path: Path) -> None:
    root = islands_study(tmp_path / "repo", budget=16, steps=[3, -1, 2, -2, 1], count=1, novelty=False)
    loop = Loop(load_spec(root))
    loop.run()
    rows = study_rows(root / ".autoresearch" / "t")
    parents = [e.parent_id for e in rows[1:]]
    assert len(set(parents)) >= 4, parents  # not one chain: reverted members are parents too
    policy = loop.policy
    assert isinstance(policy, IslandsPolicy)
    pool = policy.members[0]
    weights = policy.weights(pool)
    # sigmoid(λ·(s − median)/MAD) / (1 + children): times (1 + children), it orders as the scores do.
    undone = sorted(
        ((w * (1 + loop.archive.children(e.id)), e.objective) for w, e in zip(weights, pool, strict=True)),
        key=lambda pair: pair[1] or 0,
    )
    assert [w for w, _ in undone] == sorted(w for w, _ in undone)
    assert all(w > 0 for w in weights)


def test_a_near_duplicate_is_rejected_before_any_process_runs_it(tmp_path: Path) -> None:
    """MiniLM (installed here) or text: a candidate that is its parent but for spaces never runs; after
    novelty_attempts rejections in a row, one runs anyway rather than stall the island."""
    root = islands_study(
        tmp_path / "repo", budget=8, steps=[0, 1, 0, 0, 0, 0, 5, 5], count=1, novelty_attempts=3, embedder="minilm"
    )
    Loop(load_spec(root)).run()
    rows = study_rows(root / ".autoresearch" / "t")
    decisions = [e.decision for e in rows]
    assert decisions[:6] == ["baseline", "kept", "rejected", "rejected", "rejected", "reverted"], decisions
    for duplicate in rows[2:5]:
        assert (duplicate.reason or "").startswith("near-duplicate of #"), duplicate.reason
        assert "minilm cosine similarity 1.0000 > 0.99" in (duplicate.reason or "")
        assert duplicate.metrics == {} and duplicate.objective is None
        assert not (Path(duplicate.log_dir or tmp_path / "none") / "stdout.log").exists()  # never run
        assert not duplicate.commit_sha
    forced = rows[5]
    assert search(forced)["novelty"]["forced"] is True  # type: ignore[index]
    assert (Path(forced.log_dir or "") / "stdout.log").read_text().startswith("score:")
    assert rows[6].decision == "kept" and rows[6].objective == 6


def test_sigkill_and_resume_restore_the_islands_exactly(tmp_path: Path) -> None:
    settings: dict[str, object] = {
        "budget": 26,
        "steps": [2, 0, -1, 3, 0, 1, -2, 0, 4],
        "count": 3,
        "migration_interval": 5,
        "migration_share": 0.3,
        "embedder": "text",
    }

    def choices(root: Path) -> list[tuple[object, ...]]:
        rows = study_rows(root / ".autoresearch" / "t")
        assert len(rows) == settings["budget"] and all(e.status == "done" for e in rows)
        return [
            (e.id, e.parent_id, e.decision, e.reason, search(e).get("island"), search(e).get("incumbent")) for e in rows
        ]

    def run(root: Path) -> None:
        done = subprocess.run([sys.executable, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    whole = islands_study(tmp_path / "whole", **settings)  # type: ignore[arg-type]
    run(whole)
    expected = choices(whole)
    assert any(str(reason).startswith("near-duplicate") for _, _, _, reason, _, _ in expected)
    assert len({parent for _, parent, *_ in expected}) > 4

    cut = islands_study(tmp_path / "cut", **settings)  # type: ignore[arg-type]
    study_dir = cut / ".autoresearch" / "t"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(cut)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: sum(e.status == "done" for e in study_rows(study_dir)) >= 9, "9 finished experiments")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(study_rows(study_dir)) < 26  # it really was cut short
    run(cut)
    assert choices(cut) == expected


def test_map_elites_cells_keep_one_parent_per_cell(tmp_path: Path) -> None:
    """features = ["code_size"]: the candidates' sizes (their padding grows) fall in 3 bins; only the best
    of each occupied cell may be a parent."""
    root = islands_study(
        tmp_path / "repo", budget=12, steps=[2, -1, 1], count=1, novelty=False, features=["code_size"], bins=3
    )
    loop = Loop(load_spec(root))
    loop.run()
    policy = loop.policy
    assert isinstance(policy, IslandsPolicy)
    rows = study_rows(root / ".autoresearch" / "t")
    sizes = {e.id: search(e).get("code_size") for e in rows[1:]}
    assert all(isinstance(size, int) for size in sizes.values()) and len(set(sizes.values())) > 3
    members = policy.members[0]
    elites = policy._elites(0)
    assert 1 < len(elites) <= 3 < len(members)
    low = min(float(sizes.get(m.id) or 0) for m in members if m.id in sizes)
    high = max(float(sizes.get(m.id) or 0) for m in members if m.id in sizes)
    for elite in elites:
        cell = policy.cell(elite, {"code_size": (low, high)})
        same = [m for m in members if policy.cell(m, {"code_size": (low, high)}) == cell]
        assert elite.objective == max(m.objective or 0 for m in same)
    # Only elites are drawn from: a choice now picks one of them.
    assert policy.choose([]).parent in elites


def test_an_island_keeps_at_most_archive_size_members_and_always_its_best(tmp_path: Path) -> None:
    root = islands_study(tmp_path / "repo", budget=9, steps=[2, -3, 1, -4], count=1, novelty=False, archive_size=3)
    loop = Loop(load_spec(root))
    loop.run()
    policy = loop.policy
    assert isinstance(policy, IslandsPolicy)
    rows = study_rows(root / ".autoresearch" / "t")
    members = policy.members[0]
    assert len(members) == 3 < sum(e.ok for e in rows)
    best = max((e for e in rows if e.ok), key=lambda e: e.objective or 0)
    assert policy.best[0] is not None and policy.best[0].id == best.id and best.id in {m.id for m in members}
    dropped = {e.id for e in rows if e.ok} - {m.id for m in members}
    kept_scores = sorted(m.objective or 0 for m in members)
    assert all((e.objective or 0) <= kept_scores[-1] for e in rows if e.id in dropped)
