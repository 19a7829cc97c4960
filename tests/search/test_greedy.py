"""`[search]` in the spec, and the default `greedy` policy: one chain, each candidate built on the best."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.engine.loop import Loop
from autoresearch.engine.study import Study
from autoresearch.spec import SpecError, load_spec
from autoresearch.store.database import Store
from tests.conftest import BOWL, bowl_spec, write_study


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'policy = "tre"',
            "search.policy: unknown search policy 'tre' (did you mean 'tree'?); registered: greedy, islands, tree",
        ),
        ('policy = "tree"\n[search.tree]\ndebug_probability = 1.5', "search.tree.debug_probability"),
        ('policy = "tree"\n[search.tree]\ndrafts = 0', "search.tree.drafts"),
        ('policy = "tree"\n[search.tree]\ndrafs = 3', "unknown key 'search.tree.drafs'; did you mean 'drafts'?"),
    ],
)
def test_bad_search_values_are_named(tmp_path: Path, section: str, message: str) -> None:
    root = write_study(tmp_path / "s", bowl_spec(extra=f"[search]\n{section}"), {"bowl.py": BOWL})
    with pytest.raises(SpecError) as error:
        load_spec(root)
    assert message in str(error.value)


def test_greedy_is_the_default_and_builds_every_candidate_on_the_best(bowl_study: Path) -> None:
    spec = load_spec(bowl_study)
    assert spec.search.policy == "greedy" and spec.search.tree.drafts == 5
    outcome = Loop(spec).run()
    store = Store(spec.study_dir, create=False)
    rows = store.experiments()
    store.close()
    best = None
    for row in sorted(rows, key=lambda e: (e.finished_at or 0.0, e.id)):
        if row.decision != "baseline":
            assert row.parent_id == best.id if best else None  # workers = 1: the best when it started
            assert row.extra["search"]["task"] == "improve"
            assert row.extra["search"]["incumbent"] == row.parent_id
        if row.decision in ("baseline", "kept"):
            best = row
    assert outcome.best is not None and best is not None and outcome.best.id == best.id
    study = Study.open(bowl_study)
    try:
        assert study.best is not None and study.best.id == best.id
    finally:
        study.store.close()
