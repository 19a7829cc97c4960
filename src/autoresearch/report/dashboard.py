"""The live dashboard: a read-only web view of one or several studies while they run.

Standard library only on the server side (http.server), plotly.js served from the installed plotly
package (no CDN), and SQLite opened read-only next to the writer (WAL lets both proceed). Each study
is cached in memory and refreshed only when SQLite's `data_version` says another connection
committed, so a poll on an idle 10,000-experiment study costs one PRAGMA.
"""

# ruff: noqa: E501  (the page templates embed JavaScript and CSS whose lines are kept whole)

from __future__ import annotations

import bisect
import contextlib
import hmac
import html
import ipaddress
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from autoresearch.report.dashboard_guard import (
    HoldoutScrubber,
    HostCheck,
    holdout_metric_names,
    holdout_verdict,
    new_secret,
)
from autoresearch.report.summary import decided_last, improvement, keep_rate, running_best_points
from autoresearch.store import DB_NAME, FAILURES, GLOBAL_BEST_FLAG, MEASURED, Decision

TOKEN_HEADER = "X-Autoresearch-Token"
TOKEN_COOKIE = "autoresearch_token"
MAX_PAGE = 500  # table rows per request: the browser never needs all 10,000 at once
TAIL_BYTES = 64 * 1024
PROMPT_BYTES = 200 * 1024
_TAIL_ROWS = 50  # on each change, re-read the newest rows too: holdout/metrics may be written after finish
_LIGHT_COLUMNS = (
    "id, parent_id, status, decision, reason, proposer, strategy, substr(rationale, 1, 240) AS rationale, "
    "params, metrics, objective, duration, started_at, finished_at, tokens_in, tokens_out, cost_usd, "
    # Whether a kept row became the global best (an island's keep may not have): history.became_best.
    f"{GLOBAL_BEST_FLAG} AS global_best, "
    # Never the holdout's values: only whether it was evaluated or failed (dashboard_guard.holdout_verdict).
    "CASE WHEN holdout IS NULL OR holdout = '' THEN NULL "
    "WHEN json_valid(holdout) AND json_type(holdout, '$.error') IS NULL THEN 'evaluated' ELSE 'failed' END AS holdout"
)
_DECISION_CODE = {
    Decision.BASELINE: "b",
    Decision.KEPT: "k",
    Decision.REVERTED: "r",
    Decision.FAILED: "f",
    Decision.REJECTED: "x",
    None: "u",
}
_SORT_KEYS = {"id", "objective", "decision", "strategy", "duration", "cost_usd", "started_at", "status"}


class DashboardError(Exception):
    """The dashboard cannot start as asked; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the data side --------------------------------------------------------------------------------


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
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=5)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=5000")
        return self._db

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
                    if r["global_best"] and decided_last(r["finished_at"], r["id"]) >= incumbent_key:
                        incumbent, incumbent_key = r, decided_last(r["finished_at"], r["id"])
            elif decision in FAILURES:
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


# -- the HTTP side ---------------------------------------------------------------------------------


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, views: dict[str, StudyView], host: str, port: int, token: str) -> None:
        self.views = views
        self.token = token
        self.thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)
        self.host_check = HostCheck(host, int(self.server_address[1]))
        # Cookies are not kept apart by port: two dashboards on one host must not overwrite each other's.
        self.cookie_name = f"{TOKEN_COOKIE}_{self.server_address[1]}"

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/?token={quote(self.token)}"

    def start(self) -> DashboardServer:
        self.thread = threading.Thread(target=self.serve_forever, name="autoresearch-dashboard", daemon=True)
        self.thread.start()
        return self

    def wait(self) -> None:
        """Block until stopped (Ctrl-C in the CLI)."""
        try:
            while self.thread is not None and self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        for view in self.views.values():
            view.close()


def serve(
    study_dirs: Sequence[Path],
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    *,
    directions: dict[str, str] | None = None,
) -> DashboardServer:
    """Start the dashboard on STUDY_DIRS in a background thread; returns the running server.

    `server.url` is the address to open (the token included), `server.wait()` blocks until Ctrl-C,
    `server.stop()` ends it. Every request needs the TOKEN, carried as `?token=`, an
    `X-Autoresearch-Token` or `Authorization: Bearer` header, or the cookie the first visit sets;
    without one (loopback only) a random one is drawn for this process. Any host other than a
    loopback one needs a TOKEN given, since its users must know it beforehand.
    DIRECTIONS maps study names to minimize/maximize when the store does not record it.
    """
    if not is_loopback(host) and not token:
        raise DashboardError(
            f"refusing to serve the dashboard on {host!r} without a token: anyone who can reach that address "
            "could read the study's diffs, prompts and logs. Pass a token (e.g. --token \"$(openssl rand "
            '-hex 16)") or bind to 127.0.0.1 and use an SSH tunnel.'
        )
    if not study_dirs:
        raise DashboardError("no study to show: pass at least one study folder")
    views: dict[str, StudyView] = {}
    for study_dir in study_dirs:
        base = Path(study_dir).name or "study"
        name, k = base, 2
        while name in views:  # two studies with one name (different projects): keep both reachable
            name, k = f"{base}-{k}", k + 1
        views[name] = StudyView(Path(study_dir), name, (directions or {}).get(base))
    try:
        server = DashboardServer(views, host, port, token or new_secret())
    except OSError as exc:
        raise DashboardError(f"cannot listen on {host}:{port}: {exc}") from None
    return server.start()


_PLOTLY_JS: bytes | None = None
_PUBLIC = ("/favicon.ico", "/static/plotly.min.js")  # no study data: served without the token


def _plotly_js() -> bytes:
    global _PLOTLY_JS
    if _PLOTLY_JS is None:
        from plotly.offline import get_plotlyjs

        _PLOTLY_JS = get_plotlyjs().encode()
    return _PLOTLY_JS


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints the URL, not every poll
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self.server.host_check.allows(self.headers.get("Host")):
            # DNS rebinding: a page under another name that now resolves here. Refused before the token.
            self._send(
                HTTPStatus.MISDIRECTED_REQUEST,
                b"this dashboard answers only under the address it was started on (or localhost); "
                b"open the URL it printed",
                "text/plain; charset=utf-8",
            )
            return
        set_cookie = False if url.path in _PUBLIC else self._authorize(query)
        if set_cookie is None:
            self._send(
                HTTPStatus.UNAUTHORIZED,
                b"a valid token is required: open the URL the dashboard printed (it carries ?token=...)",
                "text/plain; charset=utf-8",
            )
            return
        try:
            self._route(url.path, query, set_cookie)
        except BrokenPipeError:
            pass  # the browser went away mid-answer
        except Exception as exc:  # one bad request must not take the server down
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"error: {exc}".encode(), "text/plain; charset=utf-8")

    def _authorize(self, query: dict[str, str]) -> bool | None:
        """None: refused; True: accepted through ?token= (so set the cookie); False: accepted otherwise."""
        expected = self.server.token
        given = [
            query.get("token"),
            self.headers.get(TOKEN_HEADER),
            (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or None,
        ]
        cookie = SimpleCookie(self.headers.get("Cookie") or "")
        if self.server.cookie_name in cookie:
            given.append(cookie[self.server.cookie_name].value)
        for i, value in enumerate(given):
            if value and hmac.compare_digest(value.encode(), expected.encode()):
                return i == 0
        return None

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, *, cookie: bool = False, cache: int = 0
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", f"max-age={cache}" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if cookie:
            name = self.server.cookie_name
            self.send_header("Set-Cookie", f"{name}={self.server.token}; Path=/; HttpOnly; SameSite=Strict")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, cookie: bool) -> None:
        self._send(HTTPStatus.OK, json.dumps(data, default=str).encode(), "application/json", cookie=cookie)

    def _view(self, name: str) -> StudyView | None:
        view = self.server.views.get(name)
        if view is None:
            self._send(HTTPStatus.NOT_FOUND, f"no study {name!r}".encode(), "text/plain; charset=utf-8")
        return view

    def _experiment(self, study: str, experiment_id: str) -> dict[str, Any] | None:
        """One experiment of STUDY, or None after answering 404 (no such study or experiment)."""
        view = self._view(study)
        if view is None:
            return None
        found = view.experiment(_int(experiment_id, -1))
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, b"no such experiment", "text/plain; charset=utf-8")
        return found

    def _route(self, path: str, query: dict[str, str], cookie: bool) -> None:
        parts = [p for p in path.split("/") if p]
        views = self.server.views
        page: Callable[[], str] | None = None
        if not parts:
            names = list(views)
            page = (lambda: _study_page(names[0])) if len(names) == 1 else (lambda: _index_page(names))
        elif parts == ["favicon.ico"]:
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", cache=86400)
            return
        elif parts == ["static", "plotly.min.js"]:
            self._send(HTTPStatus.OK, _plotly_js(), "application/javascript", cache=86400)
            return
        elif parts == ["api", "studies"]:
            self._json([json.loads(v.state()[1]) | {"points": None} for v in views.values()], cookie)
            return
        elif len(parts) == 3 and parts[0] == "api" and parts[2] == "state":
            view = self._view(parts[1])
            if view is None:
                return
            generation, body = view.state()
            if query.get("since") == str(generation):
                body = json.dumps({"generation": generation, "unchanged": True}).encode()
            self._send(HTTPStatus.OK, body, "application/json", cookie=cookie)
            return
        elif len(parts) == 3 and parts[0] == "api" and parts[2] == "lineage":
            view = self._view(parts[1])
            if view is None:
                return
            self._send(HTTPStatus.OK, view.lineage()[1], "application/json", cookie=cookie)
            return
        elif len(parts) == 3 and parts[0] == "api" and parts[2] == "experiments":
            view = self._view(parts[1])
            if view is None:
                return
            data = view.table(
                offset=_int(query.get("offset"), 0),
                limit=_int(query.get("limit"), 50),
                sort=query.get("sort", "id"),
                order=query.get("order", "desc"),
                decision=query.get("decision", ""),
            )
            self._json(data, cookie)
            return
        elif len(parts) == 4 and parts[0] == "api" and parts[2] == "experiment":
            found = self._experiment(parts[1], parts[3])
            if found is not None:
                self._json(found, cookie)
            return
        elif len(parts) == 2 and parts[0] == "study":
            if self._view(parts[1]) is None:
                return
            page = lambda: _study_page(parts[1], multi=len(views) > 1)  # noqa: E731
        elif len(parts) == 4 and parts[0] == "study" and parts[2] == "experiment":
            experiment = self._experiment(parts[1], parts[3])
            if experiment is None:
                return
            page = lambda: _experiment_page(parts[1], experiment)  # noqa: E731
        if page is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
            return
        self._send(HTTPStatus.OK, page().encode(), "text/html; charset=utf-8", cookie=cookie)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


# -- pages -------------------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:12px 20px;color:#202124}
a{color:#1967d2;text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:20px;margin:4px 0 8px}h2{font-size:16px;margin:20px 0 6px}
.stats span{display:inline-block;margin-right:18px}.stats b{font-size:16px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e8eaed;padding:3px 6px;text-align:left}
th{background:#f1f3f4;cursor:pointer;user-select:none;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.kept{color:#1e8e3e;font-weight:600}.baseline{color:#1a73e8;font-weight:600}.failed{color:#d93025}
.rejected{color:#e37400}.reverted{color:#5f6368}.running{color:#9334e6}
pre{background:#f8f9fa;padding:8px;overflow:auto;white-space:pre-wrap;max-height:480px;border:1px solid #e8eaed}
.diff .add{color:#137333}.diff .del{color:#a50e0e}.diff .hunk{color:#1967d2}
.pager{margin:6px 0}.muted{color:#5f6368}.card{border:1px solid #dadce0;border-radius:6px;padding:8px 12px;margin:8px 0}
"""

# Shared client code: carry ?token= along (the cookie usually does it), poll, and draw with Plotly.react
# so zoom and hover survive updates (uirevision).
_CLIENT_JS = r"""
const TOKEN = new URLSearchParams(location.search).get('token');
function withToken(u){ if(!TOKEN) return u; return u + (u.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(TOKEN); }
async function getJSON(u){ const r = await fetch(withToken(u), {credentials:'same-origin'}); if(!r.ok) throw new Error(r.status); return r.json(); }
function fmt(v, d){ if(v===null||v===undefined) return '—'; if(typeof v==='number') return Number(v.toPrecision(d||6)).toString(); return String(v); }
function esc(s){ return String(s===null||s===undefined?'':s).replace(/[&<>"']/g, c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c])); }
const COLORS={b:'#1a73e8',k:'#1e8e3e',r:'#9aa0a6',f:'#d93025',x:'#f29900'};
const NAMES={b:'baseline',k:'kept',r:'reverted',f:'failed',x:'rejected'};
function drawProgress(div, st, height){
  const n = st.points.x.length, type = n > 5000 ? 'scattergl' : 'scatter';
  const groups = {}; for (const c of Object.keys(NAMES)) groups[c] = {x:[], y:[]};
  for (let i=0;i<n;i++){ const c=st.points.d[i]; if(!groups[c]) continue; groups[c].x.push(st.points.x[i]); groups[c].y.push(st.points.y[i]===null ? 0.97 : st.points.y[i]); }
  const traces = [];
  for (const c of ['r','b','k']) if (groups[c].x.length) traces.push({type, mode:'markers', name:NAMES[c]+' ('+groups[c].x.length+')', x:groups[c].x, y:groups[c].y,
      marker:{color:COLORS[c], size: c==='r' ? (n>2000?3:6) : 10, opacity: c==='r'?0.5:1}});
  if (st.best_line.x.length) traces.push({type:'scatter', mode:'lines', name:'running best', x:st.best_line.x, y:st.best_line.y, line:{shape:'hv', color:COLORS.k}});
  for (const c of ['f','x']) if (groups[c].x.length) traces.push({type, mode:'markers', name:NAMES[c]+' ('+groups[c].x.length+')', x:groups[c].x, y:groups[c].y, yaxis:'y2',
      marker:{symbol:'x', color:COLORS[c], size:6}});
  const shapes = st.baseline===null ? [] : [{type:'line', xref:'paper', x0:0, x1:1, y0:st.baseline, y1:st.baseline, line:{dash:'dash', color:COLORS.b, width:1}}];
  Plotly.react(div, traces, {height: height||420, margin:{l:60,r:10,t:10,b:40}, uirevision:'keep', shapes,
      xaxis:{title:{text:'experiment #'}}, yaxis:{title:{text:'objective ('+(st.direction==='minimize'?'lower':'higher')+' is better)'}},
      yaxis2:{overlaying:'y', range:[0,1], visible:false, fixedrange:true}, legend:{orientation:'h'}},
      {displaylogo:false, responsive:true});
}
function drawLineage(div, ln){
  const n = ln.x.length, type = n > 5000 ? 'scattergl' : 'scatter', at = new Map();
  for (let i=0;i<n;i++) at.set(ln.x[i], i);
  const ex = [], ey = [];
  for (let i=0;i<n;i++){ const p = ln.p[i]; if (p===null || !at.has(p)) continue; const j = at.get(p); ex.push(ln.x[j], ln.x[i], null); ey.push(ln.depth[j], ln.depth[i], null); }
  const traces = [{type, mode:'lines', name:'built on', x:ex, y:ey, line:{color:'#bdc1c6', width:1}, hoverinfo:'skip'}];
  const names = Object.assign({u:'running'}, NAMES), colors = Object.assign({u:'#9334e6'}, COLORS);
  for (const c of ['r','f','x','u','b','k']){
    const xs = [], ys = [], text = [];
    for (let i=0;i<n;i++) if (ln.d[i]===c){ xs.push(ln.x[i]); ys.push(ln.depth[i]); text.push('#'+ln.x[i]+' '+names[c]+(ln.p[i]===null?'':', built on #'+ln.p[i])); }
    if (xs.length) traces.push({type, mode:'markers', name:names[c]+' ('+xs.length+')', x:xs, y:ys, hovertext:text, hoverinfo:'text',
      marker:{color:colors[c], size:(c==='k'||c==='b')?9:6, symbol:(c==='f'||c==='x')?'x':'circle'}});
  }
  Plotly.react(div, traces, {height:320, margin:{l:60,r:10,t:10,b:40}, uirevision:'keep', xaxis:{title:{text:'experiment #'}},
      yaxis:{title:{text:'depth'}}, legend:{orientation:'h'}}, {displaylogo:false, responsive:true});
}
function headsHTML(ln){
  const heads = ln.heads.map(h => '<span>'+esc(h.name)+' <b>#'+h.id+' '+esc(fmt(h.objective))+'</b></span>').join('');
  return 'search policy <b>'+esc(ln.policy)+'</b>' + (heads ? ' · best per lineage: ' + heads : '');
}
function statsHTML(st){
  const c = st.counts, parts = [['experiments', st.total], ['kept', c.kept||0], ['reverted', c.reverted||0], ['failed', c.failed||0],
    ['rejected', c.rejected||0], ['running', c.running||0], ['baseline', fmt(st.baseline)], ['best', fmt(st.best) + (st.best_id!==null?' (#'+st.best_id+')':'')],
    ['improvement', st.improvement_pct===null?'—':st.improvement_pct.toFixed(1)+'%'], ['keep rate', st.keep_rate===null?'—':(100*st.keep_rate).toFixed(1)+'%'],
    ...(st.holdout ? [['holdout', st.holdout+' evaluated (values hidden)']] : []),
    ...(st.cost_usd || st.tokens ? [['LLM spend', '$'+st.cost_usd.toFixed(4)]] : [])];
  return parts.map(([k,v]) => '<span>'+k+' <b'+(k==='experiments'?' id="count"':'')+'>'+esc(v)+'</b></span>').join('');
}
"""


def _shell(title: str, body: str, *, plotly: bool = True) -> str:
    script = "<script src='/static/plotly.min.js'></script>" if plotly else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style>{script}<script>{_CLIENT_JS}</script></head><body>{body}</body></html>"
    )


def _study_page(name: str, *, multi: bool = False) -> str:
    back = "<a href='/' onclick=\"this.href=withToken('/')\">← all studies</a>" if multi else ""
    body = f"""{back}<h1>{html.escape(name)} <span class='muted' id='live'>live</span></h1>
<div class='stats' id='stats'>loading…</div>
<div id='plot'></div>
<h2>Lineage <span class='muted'>which experiment each was built on</span></h2>
<div class='stats' id='heads'></div>
<div id='lineage'></div>
<h2>Experiments</h2>
<div class='pager'><button id='prev'>◀</button> <span id='range'></span> <button id='next'>▶</button>
 decision <select id='decision'><option value=''>all</option><option>baseline</option><option>kept</option>
 <option>reverted</option><option>failed</option><option>rejected</option><option>running</option></select></div>
<table id='table'><thead><tr>
<th data-k='id'>#</th><th data-k='status'>status</th><th data-k='decision'>decision</th>
<th data-k='objective'>objective</th><th data-k='strategy'>strategy</th><th>rationale / reason</th>
<th data-k='duration'>duration</th><th data-k='cost_usd'>cost</th></tr></thead><tbody></tbody></table>
<script>
const STUDY = {json.dumps(name)};
const S = encodeURIComponent(STUDY);
let gen = null, sort = 'id', order = 'desc', offset = 0, total = 0;
const LIMIT = 50;
async function loadTable(){{
  const d = document.getElementById('decision').value;
  const t = await getJSON(`/api/${{S}}/experiments?offset=${{offset}}&limit=${{LIMIT}}&sort=${{sort}}&order=${{order}}&decision=${{d}}`);
  total = t.total;
  document.getElementById('range').textContent = total ? `${{offset+1}}–${{Math.min(offset+LIMIT,total)}} of ${{total}}` : 'none';
  document.querySelector('#table tbody').innerHTML = t.rows.map(r => {{
    const cls = r.decision || 'running', link = withToken(`/study/${{S}}/experiment/${{r.id}}`);
    const text = r.decision==='failed'||r.decision==='rejected' ? (r.reason||'') : (r.rationale||'');
    return `<tr class='row'><td class='num'><a href='${{link}}'>${{r.id}}</a></td><td>${{esc(r.status)}}</td><td class='${{cls}}'>${{esc(r.decision||'')}}</td>`+
      `<td class='num'>${{fmt(r.objective)}}</td><td>${{esc(r.strategy||'')}}</td><td>${{esc(text.slice(0,160))}}</td>`+
      `<td class='num'>${{r.duration===null?'':r.duration.toFixed(1)+'s'}}</td><td class='num'>${{r.cost_usd===null?'':'$'+r.cost_usd.toFixed(4)}}</td></tr>`;
  }}).join('');
}}
async function poll(){{
  try {{
    const st = await getJSON(`/api/${{S}}/state` + (gen===null ? '' : `?since=${{gen}}`));
    document.getElementById('live').textContent = 'live · updated ' + new Date().toLocaleTimeString();
    if (!st.unchanged) {{
      gen = st.generation;
      document.getElementById('stats').innerHTML = statsHTML(st);
      drawProgress('plot', st);
      const ln = await getJSON(`/api/${{S}}/lineage`);
      document.getElementById('heads').innerHTML = headsHTML(ln);
      drawLineage('lineage', ln);
      await loadTable();
    }}
  }} catch (e) {{ document.getElementById('live').textContent = 'disconnected (' + e.message + '), retrying'; }}
  setTimeout(poll, 1500);
}}
document.querySelectorAll('#table th[data-k]').forEach(th => th.onclick = () => {{
  const k = th.dataset.k; order = (sort === k && order === 'desc') ? 'asc' : 'desc'; sort = k; offset = 0; loadTable();
}});
document.getElementById('prev').onclick = () => {{ offset = Math.max(0, offset - LIMIT); loadTable(); }};
document.getElementById('next').onclick = () => {{ if (offset + LIMIT < total) {{ offset += LIMIT; loadTable(); }} }};
document.getElementById('decision').onchange = () => {{ offset = 0; loadTable(); }};
poll();
</script>"""
    return _shell(f"autoresearch: {name}", body)


def _index_page(names: list[str]) -> str:
    cards = "".join(
        f"<div class='card'><h2><a class='study' data-s='{html.escape(n)}' href='/study/{quote(n)}'>"
        f"{html.escape(n)}</a></h2><div class='stats' id='stats-{i}'>loading…</div><div id='plot-{i}'></div></div>"
        for i, n in enumerate(names)
    )
    body = f"""<h1>autoresearch studies <span class='muted' id='live'>live</span></h1>{cards}
<script>
const STUDIES = {json.dumps(names)};
const GEN = {{}};
document.querySelectorAll('a.study').forEach(a => a.href = withToken(a.getAttribute('href')));
async function poll(){{
  for (let i = 0; i < STUDIES.length; i++) {{
    const S = encodeURIComponent(STUDIES[i]);
    try {{
      const st = await getJSON(`/api/${{S}}/state` + (GEN[i]===undefined ? '' : `?since=${{GEN[i]}}`));
      if (!st.unchanged) {{ GEN[i] = st.generation; document.getElementById('stats-'+i).innerHTML = statsHTML(st);
        drawProgress('plot-'+i, st, 260); }}
    }} catch (e) {{ document.getElementById('live').textContent = 'disconnected, retrying'; }}
  }}
  setTimeout(poll, 2000);
}}
poll();
</script>"""
    return _shell("autoresearch studies", body)


def _diff_html(diff: str) -> str:
    from autoresearch.report.html import highlight_diff

    return "<pre class='diff' id='diff'>" + highlight_diff(diff) + "</pre>"


def _kv_table(data: dict[str, Any] | None) -> str:
    if not data:
        return "<p class='muted'>none</p>"
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
        for k, v in data.items()
    )
    return f"<table style='width:auto'>{rows}</table>"


def _experiment_page(study: str, e: dict[str, Any]) -> str:
    esc = html.escape
    decision = e.get("decision") or "running"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["started_at"])) if e.get("started_at") else "—"
    facts = [
        ("status", e.get("status")),
        ("decision", decision),
        ("reason", e.get("reason")),
        ("objective", e.get("objective")),
        ("parent", e.get("parent_id")),
        ("proposer", e.get("proposer")),
        ("strategy", e.get("strategy")),
        ("started", when),
        ("duration", e.get("duration")),
        ("exit code", e.get("exit_code")),
        ("commit", e.get("commit_sha")),
        ("cost", e.get("cost_usd")),
        ("tokens in/out", f"{e.get('tokens_in') or 0} / {e.get('tokens_out') or 0}"),
    ]
    fact_rows = "".join(
        f"<tr><th>{esc(k)}</th><td class='{esc(decision) if k == 'decision' else ''}'>{esc(str(v))}</td></tr>"
        for k, v in facts
        if v is not None
    )
    logs = e.get("logs") or {}
    parts = [
        f"<a href='/study/{quote(study)}' onclick=\"this.href=withToken(this.getAttribute('href'))\">"
        f"← {esc(study)}</a>",
        f"<h1 id='title'>Experiment #{e['id']} <span class='{esc(decision)}'>{esc(decision)}</span></h1>",
        f"<table style='width:auto'>{fact_rows}</table>",
        f"<h2>Rationale</h2><pre id='rationale'>{esc(e.get('rationale') or '')}</pre>",
    ]
    if e.get("params"):
        parts.append(f"<h2>Parameters</h2>{_kv_table(e['params'])}")
    if e.get("diff"):
        parts.append(f"<h2>Diff</h2>{_diff_html(e['diff'])}")
    parts.append(f"<h2>Metrics</h2>{_kv_table(e.get('metrics'))}")
    if e.get("holdout"):  # the verdict only: the dashboard never shows a holdout value
        parts.append(f"<h2>Holdout</h2><p id='holdout'>{esc(str(e['holdout']))} (values are never shown here)</p>")
    for name, text in logs.get("tails", {}).items():
        parts.append(f"<h2>{esc(name)} (tail)</h2><pre class='log' id='{esc(name.split('.')[0])}'>{esc(text)}</pre>")
    for name, text in logs.get("llm", {}).items():
        parts.append(f"<h2>{esc(name)}</h2><pre class='llm'>{esc(text)}</pre>")
    if logs.get("other"):
        parts.append(
            f"<p class='muted'>other files in {esc(str(logs.get('dir')))}: {esc(', '.join(logs['other']))}</p>"
        )
    if e.get("extra"):
        parts.append(f"<h2>Extra</h2><pre>{esc(json.dumps(e['extra'], indent=2, default=str))}</pre>")
    return _shell(f"#{e['id']} — {study}", "\n".join(parts), plotly=False)
