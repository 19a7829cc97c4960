"""The dashboard's data: one study's store, read-only, answered as the JSON its pages poll.

SQLite is opened read-only next to the writer (WAL lets both proceed). Each study is cached in memory
and refreshed only when SQLite's `data_version` says another connection committed, so a poll on an idle
10,000-experiment study costs one PRAGMA. No holdout value ever leaves here (guard.py's scrubber).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autoresearch.core.experiment import FAILURES, INCUMBENT, MEASURED, Decision, decided_order
from autoresearch.core.pareto import Front, hypervolume, reference_point
from autoresearch.store.database import DB_NAME, upgrade_store
from autoresearch.ui.dashboard.guard import HoldoutScrubber, holdout_metric_names, holdout_verdict
from autoresearch.ui.report.summary import improvement, keep_rate, running_best_points

MAX_PAGE = 500  # table rows per request: the browser never needs all 10,000 at once
TAIL_BYTES = 64 * 1024
PROMPT_BYTES = 200 * 1024
_TAIL_ROWS = 50  # on each change, re-read the newest rows too: holdout/metrics may be written after finish
_LIGHT_COLUMNS = (
    "id, parent_id, status, decision, reason, proposer, strategy, substr(rationale, 1, 240) AS rationale, "
    "params, metrics, objective, duration, started_at, finished_at, tokens_in, tokens_out, cost_usd, "
    # Whether a kept row became the global best (an island's keep may not have): incumbent_of's fact.
    "became_best, "
    # Several objectives: each one's values (NULL in a study with one objective).
    "objectives, "
    # Never the holdout's values: only whether it was evaluated or failed (guard.holdout_verdict).
    "CASE WHEN holdout IS NULL OR holdout = '' THEN NULL "
    "WHEN json_valid(holdout) AND json_type(holdout, '$.error') IS NULL THEN 'evaluated' ELSE 'failed' END AS holdout"
)
_DECISION_CODE = {
    Decision.BASELINE: "b",
    Decision.KEPT: "k",
    Decision.REVERTED: "r",
    Decision.FAILED: "f",
    Decision.REJECTED: "x",
    Decision.PRUNED: "p",
    None: "u",
}
_SORT_KEYS = {"id", "objective", "decision", "strategy", "duration", "cost_usd", "started_at", "status"}


@dataclass
class _Cache:
    generation: int
    rows: list[dict[str, Any]]
    ids: list[int]
    state: bytes | None = None
    lineage: bytes | None = None
    orders: dict[tuple[str, str, str], list[dict[str, Any]]] | None = None


class StudyView:
    """One study's store, read-only, cached by SQLite's data_version (changes on another's commit)."""

    def __init__(self, study_dir: Path, name: str, direction: str | None = None) -> None:
        self.study_dir = Path(study_dir)
        self.name = name
        self._direction = direction
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._cache = _Cache(0, [], [])
        self.scrubber = HoldoutScrubber(set())
        self._holdout_keys: set[str] = set()  # every key of a holdout result seen so far
        self._holdout_from = 0  # rows before this id were scanned for them and are final

    # A persistent read-only connection: `PRAGMA data_version` is only meaningful on one connection,
    # and autocommit mode means no read transaction stays open to hold back the writer's checkpoints.
    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            path = self.study_dir / DB_NAME
            if not path.exists():
                return None  # the study has not started yet; the page shows it empty
            upgrade_store(self.study_dir)  # a study an older version wrote gains the columns read here
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=5)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=5000")
        return self._db

    @property
    def objectives(self) -> dict[str, str]:
        """Several objectives (name -> direction) as the spec recorded with the study has them; {} for one."""
        db = self._connect()
        row = db.execute("SELECT value FROM meta WHERE key='spec_snapshot'").fetchone() if db is not None else None
        try:
            metric = json.loads(row[0])["normalised"]["metric"] if row is not None else {}
        except (ValueError, KeyError, TypeError):
            return {}
        objectives = metric.get("objectives") if isinstance(metric, dict) else None
        return {str(k): str(v) for k, v in objectives.items()} if isinstance(objectives, dict) else {}

    @property
    def direction(self) -> str:
        if self._direction is None:
            db = self._connect()
            if db is not None:
                row = db.execute("SELECT value FROM meta WHERE key='direction'").fetchone()
                if row is not None:
                    self._direction = str(row[0])
        return self._direction or "minimize"

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def refresh(self) -> _Cache:
        """The cache, brought up to date if the store changed since the last call."""
        with self._lock:
            db = self._connect()
            if db is None:
                return self._cache
            version = int(db.execute("PRAGMA data_version").fetchone()[0])
            if version == self._data_version:
                return self._cache
            cache = self._cache
            rows = self._load(db, cache)
            self.scrubber = HoldoutScrubber(self._holdout_names(db, rows))
            self._data_version = version
            self._cache = _Cache(cache.generation + 1, rows, [r["id"] for r in rows])
            return self._cache

    def _load(self, db: sqlite3.Connection, cache: _Cache) -> list[dict[str, Any]]:
        # Incremental: rows before the oldest cached `running` row (and before the newest few) are
        # final, so only the tail is re-read; a count mismatch (rows deleted, ids reused) reloads all.
        if cache.rows:
            running = [r["id"] for r in cache.rows if r["status"] == "running"]
            from_id = min([*running, cache.ids[-1] - _TAIL_ROWS + 1])
            keep = cache.rows[: bisect.bisect_left(cache.ids, from_id)]
            tail = db.execute(f"SELECT {_LIGHT_COLUMNS} FROM experiments WHERE id >= ? ORDER BY id", (from_id,))
            rows = keep + [_light(r) for r in tail]
            total = int(db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0])
            if total == len(rows):
                return rows
        return [_light(r) for r in db.execute(f"SELECT {_LIGHT_COLUMNS} FROM experiments ORDER BY id")]

    def _holdout_names(self, db: sqlite3.Connection, rows: list[dict[str, Any]]) -> set[str]:
        """The holdout's metric names, reading only rows that may have changed (as `_load` does)."""
        snapshot = db.execute("SELECT value FROM meta WHERE key='spec_snapshot'").fetchone()
        keys = db.execute(
            "SELECT DISTINCT key FROM experiments, json_each(experiments.holdout) WHERE experiments.id >= ? "
            "AND holdout IS NOT NULL AND json_valid(holdout) AND json_type(holdout) = 'object'",
            (self._holdout_from,),
        ).fetchall()
        self._holdout_keys |= {str(k[0]) for k in keys}  # names only grow: a stale one only hides more
        if rows:
            running = [r["id"] for r in rows if r["status"] == "running"]
            self._holdout_from = min([*running, rows[-1]["id"] - _TAIL_ROWS + 1])
        return holdout_metric_names(snapshot[0] if snapshot else None, sorted(self._holdout_keys))

    # -- JSON answers, cached per generation ---------------------------------------------------------

    def state(self) -> tuple[int, bytes]:
        cache = self.refresh()
        if cache.state is None:
            cache.state = json.dumps(self._state(cache), separators=(",", ":")).encode()
        return cache.generation, cache.state

    def _state(self, cache: _Cache) -> dict[str, Any]:
        direction = self.direction
        counts: dict[str, int] = {}
        xs, ys, codes = [], [], []
        incumbents: list[tuple[int, float]] = []
        baseline = best = None
        best_id = None
        incumbent: dict[str, Any] | None = None
        incumbent_key: tuple[float, int] = (-1.0, -1)
        cost = 0.0
        tokens = 0
        running = []
        holdouts = 0
        for r in cache.rows:
            holdouts += r["holdout"] is not None
            decision = r["decision"]
            counts[decision or "running"] = counts.get(decision or "running", 0) + 1
            cost += r["cost_usd"] or 0.0
            tokens += (r["tokens_in"] or 0) + (r["tokens_out"] or 0)
            if r["status"] == "running":
                running.append(r["id"])
            obj = r["objective"]
            if decision in MEASURED and obj is not None:
                xs.append(r["id"])
                ys.append(obj)
                codes.append(_DECISION_CODE[decision])
                if decision == Decision.BASELINE and baseline is None:
                    baseline = obj
                if decision != Decision.REVERTED:
                    incumbents.append((r["id"], obj))
                    if r["became_best"] and decided_order(r["finished_at"], r["id"]) >= incumbent_key:
                        incumbent, incumbent_key = r, decided_order(r["finished_at"], r["id"])
            elif decision in FAILURES or decision == Decision.PRUNED:  # no objective: on the failure axis
                xs.append(r["id"])
                ys.append(None)
                codes.append(_DECISION_CODE[decision])
        line_x, line_y = running_best_points(incumbents, cache.ids[-1], direction) if cache.ids else ([], [])
        if incumbent is not None:
            best, best_id = incumbent["objective"], incumbent["id"]
        return {
            "name": self.name,
            "generation": cache.generation,
            "direction": direction,
            "total": len(cache.rows),
            "counts": counts,
            "baseline": baseline,
            "best": best,
            "best_id": best_id,
            "improvement_pct": improvement(baseline, best, direction)[1],
            "keep_rate": keep_rate(counts),
            "cost_usd": cost,
            "tokens": tokens,
            "running": running,
            "holdout": holdouts,  # how many were evaluated on the holdout, never its values
            "points": {"x": xs, "y": ys, "d": codes},
            "best_line": {"x": line_x, "y": line_y},
            **self._front(cache),
        }

    def _front(self, cache: _Cache) -> dict[str, Any]:
        """Several objectives: the Pareto front (each member's id and values), its hypervolume and the
        reference point (a tenth of each range beyond the worst measured value); {} with one objective."""
        objectives = self.objectives
        if not objectives:
            return {}
        names, directions = list(objectives), list(objectives.values())
        grown: Front[int] = Front(directions)
        points = []
        for r in sorted(cache.rows, key=lambda r: decided_order(r["finished_at"], r["id"])):
            if r["decision"] not in MEASURED or not r["objectives"]:
                continue
            try:
                values = json.loads(r["objectives"])
                point = tuple(float(values[n]) for n in names)
            except (ValueError, KeyError, TypeError):
                continue
            points.append(point)
            if r["decision"] in INCUMBENT:
                grown.add(r["id"], point)
        if not points:
            return {"objectives": names, "front": [], "hypervolume": None}
        reference = reference_point(points, directions)
        return {
            "objectives": names,
            "front": [{"id": i, "values": list(p)} for i, p in zip(grown.members, grown.points, strict=True)],
            "hypervolume": hypervolume(grown.points, reference, directions),
            "reference": list(reference),
        }

    def lineage(self) -> tuple[int, bytes]:
        """Which experiment each was built on, for the lineage plot, and the search policy's lineage heads."""
        cache = self.refresh()
        if cache.lineage is None:
            cache.lineage = json.dumps(self._lineage(cache), separators=(",", ":")).encode()
        return cache.generation, cache.lineage

    def _lineage(self, cache: _Cache) -> dict[str, Any]:
        depth: dict[int, int] = {}
        xs, depths, parents, codes = [], [], [], []
        for r in cache.rows:  # id order: a parent is always recorded before its children
            parent = r["parent_id"] if r["parent_id"] in depth else None
            depth[r["id"]] = depth[parent] + 1 if parent is not None else 0
            xs.append(r["id"])
            depths.append(depth[r["id"]])
            parents.append(parent)
            codes.append(_DECISION_CODE.get(r["decision"], "u"))
        with self._lock:
            db = self._connect()
            meta = dict(db.execute("SELECT key, value FROM meta WHERE key LIKE 'search_%'").fetchall()) if db else {}
        by_id = {r["id"]: r for r in cache.rows}
        heads = []
        for name, experiment_id in json.loads(meta.get("search_heads") or "{}").items():
            row = by_id.get(experiment_id)
            if row is not None:
                heads.append({"name": name, "id": experiment_id, "objective": row["objective"]})
        policy = meta.get("search_policy") or "greedy"
        return {
            "generation": cache.generation,
            "policy": policy,
            "x": xs,
            "depth": depths,
            "p": parents,
            "d": codes,
            "heads": heads,
        }

    def table(
        self, *, offset: int = 0, limit: int = 50, sort: str = "id", order: str = "desc", decision: str = ""
    ) -> dict[str, Any]:
        cache = self.refresh()
        sort = sort if sort in _SORT_KEYS else "id"
        order = "asc" if order == "asc" else "desc"
        if cache.orders is None:
            cache.orders = {}
        key = (sort, order, decision)
        ordered = cache.orders.get(key)
        if ordered is None:
            rows = [r for r in cache.rows if not decision or (r["decision"] or "running") == decision]
            present = [r for r in rows if r[sort] is not None]
            missing = [r for r in rows if r[sort] is None]
            present.sort(key=lambda r: (r[sort], r["id"]), reverse=order == "desc")
            ordered = present + missing  # rows without a value sort last either way
            cache.orders[key] = ordered
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        return {
            "generation": cache.generation,
            "total": len(ordered),
            "offset": offset,
            "rows": [_decoded(r, self.scrubber) for r in ordered[offset : offset + limit]],
        }

    def experiment(self, experiment_id: int) -> dict[str, Any] | None:
        """One full row (diff included) with log tails and any prompt/response files; no holdout value."""
        self.refresh()  # the scrubber knows every holdout metric recorded so far
        with self._lock:
            db = self._connect()
            if db is None:
                return None
            row = db.execute("SELECT * FROM experiments WHERE id=?", (experiment_id,)).fetchone()
        if row is None:
            return None
        result = dict(row)
        result["holdout"] = holdout_verdict(result.get("holdout"))
        for column in ("proposal", "params", "metrics", "extra"):
            if result.get(column):
                with contextlib.suppress(ValueError):  # show it as text rather than fail the page
                    result[column] = json.loads(result[column])
                result[column] = self.scrubber.value(result[column])
        result["logs"] = _log_files(self._log_dir(result.get("log_dir")), self.scrubber)
        return result

    def _log_dir(self, value: str | None) -> Path | None:
        if not value:
            return None
        path = Path(value)
        if path.is_absolute():
            return path
        # Relative paths: to the study folder, or to the spec's folder (two levels up).
        for base in (self.study_dir, self.study_dir.parent.parent):
            if (base / path).is_dir():
                return base / path
        return None


def _light(row: sqlite3.Row) -> dict[str, Any]:
    # params and metrics stay JSON text here and are decoded only for the rows a table page shows:
    # decoding them for every row is half the cost of a cold load of a 10,000-experiment study.
    return dict(row)


def _decoded(row: dict[str, Any], scrubber: HoldoutScrubber) -> dict[str, Any]:
    r = dict(row)
    for column in ("params", "metrics"):
        try:
            r[column] = scrubber.value(json.loads(r[column])) if r[column] else None
        except ValueError:
            r[column] = None
    return r


def _tail(path: Path, limit: int) -> str:
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - limit))
        data = f.read()
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        text = f"... ({size - limit} bytes before)\n" + text.split("\n", 1)[-1]
    return text


def _log_files(log_dir: Path | None, scrubber: HoldoutScrubber) -> dict[str, Any]:
    found: dict[str, Any] = {"dir": str(log_dir) if log_dir else None, "tails": {}, "llm": {}, "other": []}
    if log_dir is None or not log_dir.is_dir():
        return found
    for entry in sorted(log_dir.iterdir()):
        if not entry.is_file():
            continue
        name = entry.name
        try:
            if name in ("stdout.log", "stderr.log"):
                found["tails"][name] = scrubber.text(_tail(entry, TAIL_BYTES))
            elif name.startswith(("prompt", "response", "messages")):
                found["llm"][name] = scrubber.text(_tail(entry, PROMPT_BYTES))
            else:
                found["other"].append(name)
        except OSError as exc:
            found["tails"][name] = f"(cannot read: {exc})"
    return found
