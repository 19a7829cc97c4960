"""The study store: one SQLite database (WAL) per study, the single source of truth.

An experiment row is inserted as `running` before the experiment starts and completed after it
ends, so a crash at any moment leaves either nothing or a `running` row that resume re-runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autoresearch.core.experiment import DECISIONS, INCUMBENT, Decision, Experiment, baseline_of, incumbent_of

SCHEMA_VERSION = 4  # 2: the 'pruned' decision; 3: the is_baseline and became_best columns; 4: objectives
DB_NAME = "study.db"
LOCK_NAME = "run.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiments (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER REFERENCES experiments(id),
    status      TEXT NOT NULL CHECK (status IN ('running', 'done')),
    decision    TEXT CHECK (decision IN ('baseline', 'kept', 'reverted', 'failed', 'rejected', 'pruned')),
    reason      TEXT,
    proposer    TEXT,
    strategy    TEXT,
    rationale   TEXT,
    proposal    TEXT NOT NULL,     -- JSON: {"params": {...}} or {"edits": ..., "format": ...}
    params      TEXT,              -- JSON, params mode
    diff        TEXT,              -- unified diff against the parent, code mode
    commit_sha  TEXT,
    metrics     TEXT,              -- JSON: every metric read
    objective   REAL,
    holdout     TEXT,              -- JSON, never shown to a proposer
    exit_code   INTEGER,
    duration    REAL,
    attempts    INTEGER NOT NULL DEFAULT 1,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    log_dir     TEXT,
    tokens_in   INTEGER,
    tokens_out  INTEGER,
    cost_usd    REAL,
    extra       TEXT,              -- JSON: sampler state, flags, repeat values, ...
    is_baseline INTEGER NOT NULL DEFAULT 0,  -- it runs the unchanged system (a failed one is retried in a new row)
    became_best INTEGER NOT NULL DEFAULT 0,  -- it became the global best when decided (see incumbent_of)
    objectives  TEXT               -- JSON: name -> value, a study with several objectives only
);
CREATE INDEX IF NOT EXISTS experiments_status ON experiments(status);
CREATE INDEX IF NOT EXISTS experiments_best ON experiments(id) WHERE became_best;
CREATE INDEX IF NOT EXISTS experiments_baseline ON experiments(id) WHERE is_baseline;
"""
# The columns of schema 2, in order: what the rebuild from schema 1 copies.
_SCHEMA_2_COLUMNS = (
    "id, parent_id, status, decision, reason, proposer, strategy, rationale, proposal, params, diff, commit_sha, "
    "metrics, objective, holdout, exit_code, duration, attempts, created_at, started_at, finished_at, log_dir, "
    "tokens_in, tokens_out, cost_usd, extra"
)

# Ablation runs (`autoresearch writeup`): the best re-measured without one kept change. A table of its
# own, created by the first ablation, so that nothing which counts experiments (status, log, the
# report, proposers, resume) ever sees them, and a store from before it opens unchanged.
_ABLATIONS = """
CREATE TABLE IF NOT EXISTS ablations (
    id          INTEGER PRIMARY KEY,
    best_id     INTEGER NOT NULL REFERENCES experiments(id),
    change_id   INTEGER NOT NULL REFERENCES experiments(id),
    rule        TEXT NOT NULL,     -- the noise rule it was measured with (a changed rule measures again)
    status      TEXT NOT NULL CHECK (status IN ('running', 'done')),
    outcome     TEXT,              -- carrier, passenger, harmful, superseded, conflict, failed
    reason      TEXT,
    variant     TEXT,              -- JSON: the params or the commit and diff that were measured
    record      TEXT,              -- JSON: the measured values, pairs and interval
    created_at  REAL NOT NULL,
    finished_at REAL
)
"""


class StoreError(Exception):
    """The store cannot be used as it is; the message says why and what to do."""


class StudyLocked(StoreError):
    pass


_JSON_COLUMNS = {"proposal", "params", "metrics", "holdout", "extra", "objectives"}
_COLUMNS = [*_SCHEMA_2_COLUMNS.split(", "), "is_baseline", "became_best", "objectives"]


def _encode(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS:
        return None if value is None else json.dumps(value, sort_keys=True)
    return value


def _row_to_experiment(row: sqlite3.Row) -> Experiment:
    values = {}
    for column in _COLUMNS:
        value = row[column]
        if column in _JSON_COLUMNS and value is not None:
            value = json.loads(value)
        values[column] = value
    values["metrics"] = values["metrics"] or {}
    values["extra"] = values["extra"] or {}
    values["is_baseline"] = bool(values["is_baseline"])
    values["became_best"] = bool(values["became_best"])
    if values["decision"] is not None:
        values["decision"] = Decision(values["decision"])
    return Experiment(**values)


class Store:
    """A study's SQLite database. Safe to open read-only while `run` writes (WAL)."""

    def __init__(self, study_dir: Path, *, create: bool = True) -> None:
        self.study_dir = Path(study_dir)
        self.path = self.study_dir / DB_NAME
        if not self.path.exists() and not create:
            raise StoreError(f"no study found at {self.study_dir} (run `autoresearch run` first)")
        self.study_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def _migrate(self) -> None:
        with self._transaction():
            has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
            version = None
            if has_meta:
                row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = int(row["value"]) if row else None
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer autoresearch (schema {version}, this version "
                    f"reads up to {SCHEMA_VERSION}); upgrade autoresearch to open it"
                )
            if version is None:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                return
            if version < 2:
                self._allow_pruned()
            if version < 3:
                self._facts_as_columns()
            if version < 4:
                self._objectives_column()
            # Future migrations: `if version < 5: ...` here, each in this transaction.
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))

    def _allow_pruned(self) -> None:
        """Schema 1 -> 2: the decision CHECK gains 'pruned'. SQLite cannot alter a CHECK, so the table is
        rebuilt (same rows and ids, and this schema's columns) in the migration's transaction."""
        create = next(s for s in _SCHEMA.split(";") if "TABLE IF NOT EXISTS experiments" in s)
        self._db.execute(create.replace("TABLE IF NOT EXISTS experiments", "TABLE experiments_v2"))
        self._db.execute(
            f"INSERT INTO experiments_v2 ({_SCHEMA_2_COLUMNS}) SELECT {_SCHEMA_2_COLUMNS} FROM experiments"
        )
        self._db.execute("DROP TABLE experiments")
        self._db.execute("ALTER TABLE experiments_v2 RENAME TO experiments")
        self._db.execute("CREATE INDEX IF NOT EXISTS experiments_status ON experiments(status)")

    def _facts_as_columns(self) -> None:
        """Schema 2 -> 3: whether a row is the baseline (`extra.baseline`) and whether it became the global
        best (`extra.search.best`, absent in a single chain's rows) move out of `extra` into columns,
        decided for each row exactly as schema 2's readers decided them."""
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(experiments)")}
        for column in ("is_baseline", "became_best"):
            if column not in present:  # a table rebuilt from schema 1 has them already
                self._db.execute(f"ALTER TABLE experiments ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            if "INDEX" in statement:  # the two partial indexes that make baseline() and incumbent() fast
                self._db.execute(statement)
        updates = []
        for row in self._db.execute("SELECT id, decision, extra FROM experiments").fetchall():
            text, is_baseline, flag = row["extra"], False, True
            try:
                extra = json.loads(text) if text else None
            except ValueError:
                extra = None  # unreadable: left as it is, judged by its decision alone
            if isinstance(extra, dict):
                search = extra.get("search")
                is_baseline = bool(extra.pop("baseline", False))
                flag = search.pop("best", True) if isinstance(search, dict) else True
                text = _encode("extra", extra)
            is_baseline = is_baseline or row["decision"] == Decision.BASELINE
            became_best = row["decision"] in INCUMBENT and bool(flag)
            updates.append((is_baseline, became_best, text, row["id"]))
        self._db.executemany("UPDATE experiments SET is_baseline=?, became_best=?, extra=? WHERE id=?", updates)

    def _objectives_column(self) -> None:
        """Schema 3 -> 4: each experiment's objective values (several objectives); NULL in every older row,
        which a study with one objective never reads."""
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(experiments)")}
        if "objectives" not in present:  # a table rebuilt from schema 1 has it already
            self._db.execute("ALTER TABLE experiments ADD COLUMN objectives TEXT")

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: Any, *_: Any) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self._db)

    def close(self) -> None:
        self._db.close()

    def writer_fingerprint(self) -> tuple[int, int]:
        """(SQLite's data_version, the database file's inode): both stay put while only this connection
        writes, so a change means another process wrote (or replaced) the store."""
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            inode = -1
        return version, inode

    # -- meta --------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- experiments -------------------------------------------------------------------------------

    def start_experiment(
        self, *, proposal: dict[str, Any], meta: dict[str, str] | None = None, **fields: Any
    ) -> Experiment:
        """Insert a `running` row before the experiment runs; returns it with its id.

        META entries are written in the same transaction (the search policy's state), so a crash never
        leaves one without the other."""
        now = time.time()
        values = {"status": "running", "proposal": proposal, "created_at": now, "started_at": now, **fields}
        columns = list(values)
        with self._transaction() as db:
            cursor = db.execute(
                f"INSERT INTO experiments ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [_encode(c, values[c]) for c in columns],
            )
            experiment_id = cursor.lastrowid
            for key, value in (meta or {}).items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        assert experiment_id is not None
        return self.get(experiment_id)

    def update(self, experiment_id: int, **fields: Any) -> None:
        if not fields:
            return
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown experiment columns: {sorted(unknown)}")
        assignments = ", ".join(f"{c}=?" for c in fields)
        self._db.execute(
            f"UPDATE experiments SET {assignments} WHERE id=?",
            [*(_encode(c, v) for c, v in fields.items()), experiment_id],
        )

    def finish_experiment(
        self, experiment_id: int, *, decision: Decision | str, became_best: bool | None = None, **fields: Any
    ) -> None:
        """Record how the experiment ended. BECAME_BEST: whether it became the global best (incumbent_of);
        left out, a baseline or kept experiment did, as in a single chain. A measured baseline row is
        the baseline whatever it was started as."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {str(decision)!r}")
        decision = Decision(decision)
        if became_best is None:
            became_best = decision in INCUMBENT
        elif became_best and decision not in INCUMBENT:
            raise ValueError(f"a {decision} experiment cannot become the best; only a baseline or kept one can")
        if decision == Decision.BASELINE:
            fields["is_baseline"] = True
        self.update(
            experiment_id, status="done", decision=decision, became_best=became_best, finished_at=time.time(), **fields
        )

    def get(self, experiment_id: int) -> Experiment:
        row = self._db.execute("SELECT * FROM experiments WHERE id=?", (experiment_id,)).fetchone()
        if row is None:
            raise KeyError(experiment_id)
        return _row_to_experiment(row)

    def experiments(self, *, status: str | None = None) -> list[Experiment]:
        if status is None:
            rows = self._db.execute("SELECT * FROM experiments ORDER BY id").fetchall()
        else:
            rows = self._db.execute("SELECT * FROM experiments WHERE status=? ORDER BY id", (status,)).fetchall()
        return [_row_to_experiment(r) for r in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0])

    def counts_by_decision(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT COALESCE(decision, 'running') AS d, COUNT(*) AS n FROM experiments GROUP BY d"
        ).fetchall()
        return {r["d"]: r["n"] for r in rows}

    def total_cost(self) -> float:
        return float(self._db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM experiments").fetchone()[0])

    # Aggregates for `status`: SQLite counts in C, and only the rows named are decoded, so `status`
    # stays fast on a 10,000-experiment study where decoding every row would take most of a second.

    def baseline(self) -> Experiment | None:
        """The study's baseline (baseline_of), read from the baseline rows alone (an index)."""
        rows = self._db.execute("SELECT * FROM experiments WHERE is_baseline").fetchall()
        return baseline_of(_row_to_experiment(r) for r in rows)

    def incumbent(self) -> Experiment | None:
        """The incumbent now (incumbent_of), read from the rows that became the global best alone (an index)."""
        rows = self._db.execute("SELECT * FROM experiments WHERE became_best").fetchall()
        return incumbent_of(_row_to_experiment(r) for r in rows)

    def count_done_after(self, experiment_id: int) -> int:
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM experiments WHERE status='done' AND id > ?", (experiment_id,)
            ).fetchone()[0]
        )

    def strict_keep_counts(self) -> tuple[int, int]:
        """(experiments with a recorded strict-rule verdict, how many the strict rule keeps)."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(json_extract(extra, '$.strict_keep')), 0) FROM experiments "
            "WHERE json_type(extra, '$.strict_keep') IS NOT NULL"
        ).fetchone()
        return int(row[0]), int(row[1])

    def count_marked(self, key: str) -> int:
        """Experiments whose extra[KEY] is true (e.g. `proposer_failed`, `unusable_answer`)."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM experiments WHERE json_extract(extra, ?) = 1", (f"$.{key}",)
            ).fetchone()[0]
        )

    def count_failed_baselines(self) -> int:
        """Baselines that failed: each is retried on the next run and uses no experiment budget."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM experiments WHERE is_baseline AND decision = ?",  # failed_baseline
                (Decision.FAILED,),
            ).fetchone()[0]
        )

    def count_flagged(self) -> int:
        """Experiments with integrity flags."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM experiments WHERE json_array_length(extra, '$.flags') > 0"
            ).fetchone()[0]
        )

    def stage_rejections(self) -> dict[str, int]:
        """Candidates rejected at a [[stage]] (run/stages.py), per stage name."""
        rows = self._db.execute(
            "SELECT json_extract(extra, '$.stage_rejected'), COUNT(*) FROM experiments "
            "WHERE decision = ? AND json_extract(extra, '$.stage_rejected') IS NOT NULL GROUP BY 1",
            (Decision.REJECTED,),
        ).fetchall()
        return {str(name): int(count) for name, count in rows}

    def count_holdout_decisions(self) -> int:
        """Candidates the holdout decided (the baseline's holdout value is not a decision)."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM experiments WHERE holdout IS NOT NULL AND decision IS NOT 'baseline'"
            ).fetchone()[0]
        )


def upgrade_store(study_dir: Path) -> None:
    """Migrate the store in STUDY_DIR to this schema if an older version wrote it. For readers that open
    it read-only (the dashboard): they never write, unless the store is older than the columns they read."""
    uri = f"file:{quote(str((Path(study_dir) / DB_NAME).resolve()))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.OperationalError:
        return  # no tables yet: the run creating it writes this schema
    finally:
        db.close()
    if row is not None and int(row[0]) < SCHEMA_VERSION:
        Store(study_dir, create=False).close()


@dataclass
class Ablation:
    """The best (BEST_ID) measured against itself without one kept change (CHANGE_ID)."""

    id: int
    best_id: int
    change_id: int
    rule: str
    status: str
    created_at: float
    outcome: str | None = None
    reason: str | None = None
    variant: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None


def _has_ablations(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='ablations'").fetchone() is not None


def _row_to_ablation(row: sqlite3.Row) -> Ablation:
    values = dict(row)
    for column in ("variant", "record"):
        values[column] = json.loads(values[column]) if values[column] else {}
    return Ablation(**values)


class AblationStore:
    """The ablations table of a study's store (see `_ABLATIONS`)."""

    def __init__(self, store: Store) -> None:
        self._db = store._db

    def all(self) -> list[Ablation]:
        if not _has_ablations(self._db):
            return []
        return [_row_to_ablation(r) for r in self._db.execute("SELECT * FROM ablations ORDER BY id").fetchall()]

    def start(self, best_id: int, change_id: int, rule: str) -> Ablation:
        """A `running` row written before any run, so a crash leaves a trace that the next writeup redoes."""
        with Store._Tx(self._db) as db:
            db.execute(_ABLATIONS)
            cursor = db.execute(
                "INSERT INTO ablations (best_id, change_id, rule, status, created_at) VALUES (?, ?, ?, 'running', ?)",
                (best_id, change_id, rule, time.time()),
            )
            ablation_id = cursor.lastrowid
        assert ablation_id is not None
        row = self._db.execute("SELECT * FROM ablations WHERE id=?", (ablation_id,)).fetchone()
        return _row_to_ablation(row)

    def finish(
        self, ablation_id: int, *, outcome: str, reason: str, variant: dict[str, Any], record: dict[str, Any]
    ) -> None:
        self._db.execute(
            "UPDATE ablations SET status='done', outcome=?, reason=?, variant=?, record=?, finished_at=? WHERE id=?",
            (
                outcome,
                reason,
                json.dumps(variant, sort_keys=True),
                json.dumps(record, sort_keys=True),
                time.time(),
                ablation_id,
            ),
        )


class RunLock:
    """An exclusive lock on a study, so two `run`s never write the same study at once.

    flock is released by the kernel when the holder dies, so a `kill -9` never leaves it stale.
    """

    def __init__(self, study_dir: Path) -> None:
        self.path = Path(study_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StudyLocked(f"study is already running ({holder}); wait for it to finish or stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()
