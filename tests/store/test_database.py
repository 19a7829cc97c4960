from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from autoresearch.core.experiment import INCUMBENT, Decision, baseline_of, failed_baseline, incumbent_of
from autoresearch.store.database import SCHEMA_VERSION, RunLock, Store, StoreError, StudyLocked, upgrade_store
from autoresearch.store.history import Tally
from tests.store.conftest import SCHEMA_2_STORE, schema_2_study


def test_rows_are_written_before_and_after(tmp_path: Path) -> None:
    store = Store(tmp_path)
    experiment = store.start_experiment(proposal={"params": {"x": 1}}, params={"x": 1}, proposer="tpe")
    assert store.get(experiment.id).status == "running"
    store.finish_experiment(experiment.id, decision="kept", objective=0.5, metrics={"loss": 0.5}, tokens_in=3)
    done = store.get(experiment.id)
    assert (done.status, done.decision, done.objective, done.metrics, done.tokens_in) == (
        "done",
        "kept",
        0.5,
        {"loss": 0.5},
        3,
    )
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.counts_by_decision() == {"kept": 1}
    mode = sqlite3.connect(tmp_path / "study.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_decisions_are_stored_as_plain_strings_and_read_back_as_the_enum(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ids = [store.start_experiment(proposal={}).id for _ in Decision]
    for experiment_id, decision in zip(ids, Decision, strict=True):
        store.finish_experiment(experiment_id, decision=decision.value)  # a plain string is accepted too
    raw = sqlite3.connect(tmp_path / "study.db").execute("SELECT decision, typeof(decision) FROM experiments")
    assert raw.fetchall() == [(d.value, "text") for d in Decision]  # older readers see the same values
    read = [store.get(i).decision for i in ids]
    assert read == list(Decision) and all(type(d) is Decision for d in read)
    assert read[1] == "kept" and f"{read[1]}" == "kept"  # string comparisons and formatting are unchanged
    with pytest.raises(ValueError, match="unknown decision 'discarded'"):
        store.finish_experiment(ids[0], decision="discarded")


def test_schema_is_versioned_and_newer_store_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "study.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION + 1,))
    db.commit()
    with pytest.raises(StoreError, match="newer autoresearch"):
        Store(tmp_path)
    # refusing did not change the store
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION + 1)


def test_missing_study(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no study found"):
        Store(tmp_path / "none", create=False)


def test_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from autoresearch.store.database import RunLock; "
            f"RunLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StudyLocked, match=f"pid {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path):  # the kernel released the dead holder's lock
        pass


def test_a_schema_1_store_is_migrated_to_allow_pruned_keeping_its_rows(tmp_path: Path) -> None:
    # Schema 1 was schema 2 without 'pruned' in the decision CHECK.
    schema_1 = (
        SCHEMA_2_STORE.read_text().replace(", 'pruned'", "").replace("('schema_version','2')", "('schema_version','1')")
    )
    study_dir = schema_2_study(tmp_path, schema_sql=schema_1)
    old = sqlite3.connect(study_dir / "study.db")
    with pytest.raises(sqlite3.IntegrityError):  # what schema 1 refuses
        old.execute(
            "INSERT INTO experiments (status, decision, proposal, created_at) VALUES ('done', 'pruned', '{}', 2)"
        )
    old.close()
    store = Store(study_dir)
    assert [e.id for e in store.experiments()] == list(range(1, 11))
    assert store.get(2).decision == Decision.BASELINE and store.get(2).objective == 5.0
    assert store.incumbent() == store.get(5) and store.baseline() == store.get(2)  # schema 3's facts filled in too
    pruned = store.start_experiment(proposal={})
    store.finish_experiment(pruned.id, decision=Decision.PRUNED, reason="pruned at step 2")
    assert store.counts_by_decision()["pruned"] == 1
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    store.close()
    Store(study_dir).close()  # opening again migrates nothing


def _raw_rows(study_dir: Path) -> list[dict[str, object]]:
    db = sqlite3.connect(study_dir / "study.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT * FROM experiments ORDER BY id")]
    finally:
        db.close()


def test_a_schema_2_store_moves_the_baseline_and_best_flags_out_of_extra_into_columns(tmp_path: Path) -> None:
    study_dir = schema_2_study(tmp_path)
    before = _raw_rows(study_dir)
    store = Store(study_dir)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    rows = store.experiments()
    assert [e.id for e in rows if e.is_baseline] == [1, 2]  # the failed baseline and its retry
    # #6 and #8 were kept on island 1 without beating the global best (their `search.best` was false).
    assert [e.id for e in rows if e.decision in INCUMBENT] == [2, 3, 4, 5, 6, 8]
    assert [e.id for e in rows if e.became_best] == [2, 3, 4, 5]
    assert store.incumbent() == store.get(5) and incumbent_of(rows) == store.get(5)
    assert store.baseline() == store.get(2) and baseline_of(rows) == store.get(2)
    assert [e.id for e in rows if failed_baseline(e)] == [1] and store.count_failed_baselines() == 1
    tally = Tally.of_store(store)
    assert (tally.best, tally.baseline, tally.failed_baselines) == (store.get(5), store.get(2), 1)
    # The flags left `extra`; everything else in it, and every other column, is as it was.
    assert store.get(1).extra == {} and store.get(10).extra == {"search": {"island": 1, "task": "improve"}}
    assert store.get(6).extra == {"search": {"incumbent": 4, "island": 1, "task": "improve"}, "strict_keep": True}
    after = _raw_rows(study_dir)
    for old, new in zip(before, after, strict=True):
        assert new["objectives"] is None  # schema 4's column, never set in a study with one objective
        assert {k: v for k, v in new.items() if k not in ("extra", "is_baseline", "became_best", "objectives")} == {
            k: v for k, v in old.items() if k != "extra"
        }
        old_extra = json.loads(str(old["extra"]))
        old_extra.pop("baseline", None)
        old_extra.get("search", {}).pop("best", None)
        assert json.loads(str(new["extra"])) == old_extra
    store.close()
    Store(study_dir).close()
    assert _raw_rows(study_dir) == after  # opening again migrates nothing


def test_only_a_baseline_or_kept_experiment_can_become_the_best(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ids = [store.start_experiment(proposal={}).id for _ in range(4)]
    store.finish_experiment(ids[0], decision=Decision.BASELINE, objective=1.0)  # left out: a single chain's rule
    store.finish_experiment(ids[1], decision=Decision.KEPT, objective=0.5, became_best=False)  # an island's keep
    store.finish_experiment(ids[2], decision=Decision.REVERTED, objective=2.0)
    with pytest.raises(ValueError, match="a failed experiment cannot become the best"):
        store.finish_experiment(ids[3], decision=Decision.FAILED, became_best=True)
    assert [store.get(i).became_best for i in ids[:3]] == [True, False, False]
    assert store.get(ids[0]).is_baseline  # a measured baseline is the baseline, however it was started
    assert store.incumbent() == store.get(ids[0]) == store.baseline()


def test_a_reader_that_opens_the_store_read_only_upgrades_only_an_older_one(tmp_path: Path) -> None:
    study_dir = schema_2_study(tmp_path)
    upgrade_store(study_dir)
    watcher = sqlite3.connect(study_dir / "study.db")
    assert watcher.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "4"
    written = watcher.execute("PRAGMA data_version").fetchone()[0]
    upgrade_store(study_dir)  # current already: nothing is written
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == written
    watcher.close()


def test_a_schema_3_store_gains_the_objectives_column_and_records_each_objective(tmp_path: Path) -> None:
    study_dir = schema_2_study(tmp_path)
    Store(study_dir).close()
    db = sqlite3.connect(study_dir / "study.db")  # back to schema 3: the same table without objectives
    db.execute("ALTER TABLE experiments DROP COLUMN objectives")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    before = _raw_rows(study_dir)
    store = Store(study_dir)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    assert [{k: v for k, v in row.items() if k != "objectives"} for row in _raw_rows(study_dir)] == before
    assert all(e.objectives is None for e in store.experiments())  # a one-objective study's rows stay as they were
    added = store.start_experiment(proposal={})
    store.finish_experiment(
        added.id, decision=Decision.KEPT, objective=3.0, objectives={"time_ms": 3.0, "accuracy": 0.9}
    )
    assert store.get(added.id).objectives == {"time_ms": 3.0, "accuracy": 0.9}
    assert store.get(added.id).point(["accuracy", "time_ms"]) == (0.9, 3.0)
    store.close()
