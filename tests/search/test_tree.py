"""The `tree` policy end to end: drafts from the baseline, debug of a failed leaf with its error shown to
the proposer, improvement of the best node; real git, real subprocesses, the real store."""

from __future__ import annotations

from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.engine.study import Study
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.search.conftest import calls, git, tree_study


def test_drafts_then_debug_with_the_error_then_improve_the_best(tmp_path: Path) -> None:
    root = tree_study(tmp_path / "repo", budget=8, drafts=3, debug_probability=1.0, max_debug_depth=2)
    outcome = Loop(load_spec(root)).run()
    seen = calls(root)
    store = Store(root / ".autoresearch" / "t", create=False)
    rows = {e.id: e for e in store.experiments()}
    store.close()
    baseline = next(e for e in rows.values() if e.decision == "baseline")
    # 3 drafts; the crashed draft is debugged, and its (still crashing) first fix once more; the second
    # fix runs (max_debug_depth = 2 would stop there anyway); then the best node is improved.
    assert [c["task"] for c in seen] == ["draft", "draft", "draft", "debug", "debug", "improve", "improve"]
    assert [c["parent"] for c in seen[:3]] == [baseline.id] * 3
    drafts = sorted(i for i, e in rows.items() if e.extra.get("search", {}).get("task") == "draft")
    crashed = drafts[1]
    assert rows[crashed].decision == "failed"
    # The debug step builds on the failed node and is shown its code and its error output.
    first_debug, second_debug = seen[3], seen[4]
    assert first_debug["parent"] == crashed
    assert first_debug["values"] == {"VALUE": 2, "CRASH": True, "ATTEMPT": 0}  # the failed node's file
    assert "boom: VALUE=2 attempt=0" in str(first_debug["note"])
    debug_node = next(i for i, e in rows.items() if e.parent_id == crashed)
    assert rows[debug_node].decision == "failed"
    assert second_debug["parent"] == debug_node and "attempt=1" in str(second_debug["note"])
    assert second_debug["lineage"] == [baseline.id, crashed, debug_node]
    # Improve: the best node (draft 3, VALUE 3), then the improvement that beat it.
    best_draft = drafts[2]
    assert seen[5]["parent"] == best_draft and seen[5]["values"]["VALUE"] == 3
    assert rows[seen[5]["parent"]].decision == "kept"
    improved = next(i for i, e in rows.items() if e.parent_id == best_draft)
    assert seen[6]["parent"] == improved and rows[improved].decision == "kept"
    assert outcome.best is not None and outcome.best.objective == 5.0
    # The study branch follows the global best; each draft's lineage has a head ref.
    assert git(root, "rev-parse", "autoresearch/t") == outcome.best.commit_sha
    assert git(root, "rev-parse", f"refs/autoresearch/t/heads/draft-{best_draft}") == outcome.best.commit_sha
    assert git(root, "rev-parse", f"refs/autoresearch/t/heads/draft-{drafts[0]}") == rows[drafts[0]].commit_sha
    study = Study.open(root)
    try:
        assert study.best is not None and study.best.id == outcome.best.id
    finally:
        study.store.close()


def test_no_debug_without_failures_and_never_below_the_drafts(tmp_path: Path) -> None:
    """debug_probability = 1 with nothing failed debuggable improves instead; drafts = 1 drafts once."""
    root = tree_study(tmp_path / "repo", budget=4, drafts=1, debug_probability=1.0)
    Loop(load_spec(root)).run()
    assert [c["task"] for c in calls(root)] == ["draft", "improve", "improve"]
