from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from autoresearch.core.experiment import Decision
from autoresearch.store.database import SCHEMA_VERSION, RunLock, Store, StoreError, StudyLocked


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
    from autoresearch.store import database as store_module

    old = sqlite3.connect(tmp_path / "study.db")
    old.executescript(store_module._SCHEMA.replace(", 'pruned'", ""))  # the schema-1 CHECK
    old.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    old.execute(
        "INSERT INTO experiments (id, status, decision, proposal, objective, created_at) "
        "VALUES (1, 'done', 'baseline', '{}', 0.5, 1.0)"
    )
    old.commit()
    with pytest.raises(sqlite3.IntegrityError):  # what schema 1 refuses
        old.execute(
            "INSERT INTO experiments (status, decision, proposal, created_at) VALUES ('done', 'pruned', '{}', 2)"
        )
    old.close()
    store = Store(tmp_path)
    kept = store.get(1)
    assert kept is not None and kept.decision == Decision.BASELINE and kept.objective == 0.5
    pruned = store.start_experiment(proposal={})
    store.finish_experiment(pruned.id, decision=Decision.PRUNED, reason="pruned at step 2")
    assert store.counts_by_decision() == {"baseline": 1, "pruned": 1}
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "2"
    store.close()
    Store(tmp_path).close()  # opening again migrates nothing
