"""Resume: a study's state replayed from its store, including a store an older version wrote."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from autoresearch.core.experiment import Decision
from autoresearch.core.space import params_key
from autoresearch.engine import resume
from autoresearch.engine.loop import Loop
from autoresearch.search import make_policy
from autoresearch.search.archive import Archive
from autoresearch.search.islands import IslandsPolicy
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.store.history import History
from tests.store.conftest import schema_2_study


def test_the_store_is_replayed_into_the_archive_the_policy_and_the_counts(tmp_path: Path) -> None:
    study_dir = schema_2_study(tmp_path)
    spec = load_spec(tmp_path)
    store = Store(study_dir)
    archive = Archive(History("minimize"))
    policy = make_policy(spec, archive)
    replayed = resume.replay(store, archive, policy)
    assert (replayed.rows, replayed.spent, replayed.holdout_decisions) == (10, 0.0, 0)
    # The failed baseline's parameters were not tried: its retry (#2) ran them.
    assert replayed.tried[params_key({"x": 0.0, "y": 0.0})] == 2 and len(replayed.tried) == 9
    assert archive.best == store.get(5) and archive.baseline == store.get(2)
    assert (archive.failed_baselines, archive.since_improvement) == (1, 4)  # #6 to #9 were decided after #5
    # Each island's own incumbent: island 1's (#8) was kept there but never became the global best.
    assert isinstance(policy, IslandsPolicy) and [best.id for best in policy.best if best] == [5, 8]
    assert [[e.id for e in members] for members in policy.members] == [[2, 3, 5, 7, 9], [2, 4, 6, 8]]
    assert policy.state()["turn"] == 8  # the state saved with the last row started (#10), restored
    [(left, proposal)] = resume.left_running(store)
    assert left.id == 10 and left.status == "running"
    assert (proposal.params, proposal.parent_id, proposal.rationale) == ({"x": 1.5, "y": -2}, 6, "point 9")
    assert proposal.extra == {"search": {"island": 1, "task": "improve"}}
    store.close()


def test_a_row_that_died_with_the_run_twice_is_failed_not_run_a_third_time(tmp_path: Path) -> None:
    study_dir = schema_2_study(tmp_path)
    db = sqlite3.connect(study_dir / "study.db")
    db.execute("UPDATE experiments SET attempts = 2 WHERE id = 10")
    db.commit()
    db.close()
    store = Store(study_dir)
    spec = load_spec(tmp_path)
    archive = Archive(History("minimize"))
    resume.replay(store, archive, make_policy(spec, archive))
    gave_up = store.get(10)
    assert (gave_up.status, gave_up.decision) == ("done", Decision.FAILED)
    assert gave_up.reason == "interrupted 2 times while running; not retried again"
    assert resume.left_running(store) == []
    store.close()


def test_a_study_written_by_schema_2_resumes_as_the_version_that_wrote_it_did(tmp_path: Path) -> None:
    schema_2_study(tmp_path, budget=12)
    outcome = Loop(load_spec(tmp_path)).run()
    store = Store(tmp_path / ".autoresearch" / "bowl")
    rows = store.experiments()
    store.close()
    # What autoresearch at c15c534 (schema 2) did with the same store and spec, row by row: #10 re-run
    # under its id, then three candidates (12 experiments, the failed baseline free), none a new best.
    expected = [
        (10, 6, Decision.REVERTED, 0.25, {"x": 1.5, "y": -2}, 2, 8),
        (11, 3, Decision.REVERTED, 0.5, {"x": 0.5, "y": -1.5}, 1, 5),
        (12, 8, Decision.REVERTED, 1.0, {"x": 1, "y": -3}, 1, 8),
        (13, 5, Decision.REVERTED, 5.0, {"x": 0, "y": 0}, 1, 5),
    ]
    assert [
        (e.id, e.parent_id, e.decision, e.objective, e.params, e.attempts, e.extra["search"]["incumbent"])
        for e in rows[9:]
    ] == expected
    assert not any(e.became_best or e.is_baseline for e in rows[9:])
    assert outcome.best is not None and outcome.best.id == 5 and outcome.baseline is not None
    assert outcome.baseline.id == 2 and outcome.experiments == 13
    assert outcome.stopped == "experiment budget reached (12)"
