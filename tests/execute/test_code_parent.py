"""Code mode takes the parent explicitly: `check`, `files` and `evaluate` are all about the parent the
search policy chose, not the global best (real git repository, real runs)."""

from __future__ import annotations

from pathlib import Path

from autoresearch.core.proposal import Proposal
from autoresearch.engine.loop import Loop
from autoresearch.execute.code import CodeEvaluator
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.search.conftest import git, tree_study


def test_check_files_and_commits_follow_the_given_parent(tmp_path: Path) -> None:
    root = tree_study(tmp_path / "repo", budget=5, drafts=3, debug_probability=1.0)
    spec = load_spec(root)
    outcome = Loop(spec).run()
    store = Store(spec.study_dir, create=False)
    rows = store.experiments()
    store.close()
    crashed = next(e for e in rows if e.decision == "failed" and e.extra["search"]["task"] == "draft")
    debug = next(e for e in rows if e.parent_id == crashed.id)
    best = outcome.best
    assert best is not None and best.id != crashed.id
    # evaluate built the debug candidate on the failed node's commit, not on the best's
    assert git(root, "rev-parse", f"{debug.commit_sha}^") == crashed.commit_sha

    evaluator = CodeEvaluator(spec)
    evaluator.prime(rows)
    assert "CRASH = True" in evaluator.files(crashed)["solution.py"]
    assert "VALUE = 3" in evaluator.files(best)["solution.py"]
    assert evaluator.files(None)["solution.py"] == "VALUE = 0\nCRASH = False\nATTEMPT = 0\n"  # the baseline
    fix = Proposal(edits="solution.py\n<<<<<<< SEARCH\nCRASH = True\n=======\nCRASH = False\n>>>>>>> REPLACE\n")
    assert evaluator.check(fix, crashed) is None
    problem = evaluator.check(fix, best)
    assert problem is not None and "SEARCH text was not found" in problem and "VALUE = 3" in problem
