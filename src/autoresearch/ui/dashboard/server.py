"""The live dashboard: a read-only web view of one or several studies while they run.

Standard library only on the server side (http.server), plotly.js served from the installed plotly
package (no CDN), and SQLite opened read-only next to the writer (WAL lets both proceed). Each study
is cached in memory and refreshed only when SQLite's `data_version` says another connection
committed, so a poll on an idle 10,000-experiment study costs one PRAGMA.
"""

from __future__ import annotations

import bisect
import contextlib
import hmac
import ipaddress
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from autoresearch.store.database import DB_NAME, FAILURES, MEASURED, Decision, decided_order, upgrade_store
from autoresearch.ui.dashboard.guard import (
    HoldoutScrubber,
    HostCheck,
    holdout_metric_names,
    holdout_verdict,
    new_secret,
)
from autoresearch.ui.dashboard.pages import experiment_page, index_page, study_page
from autoresearch.ui.report.summary import improvement, keep_rate, running_best_points

TOKEN_HEADER = "X-Autoresearch-Token"
TOKEN_COOKIE = "autoresearch_token"
MAX_PAGE = 500  # table rows per request: the browser never needs all 10,000 at once
TAIL_BYTES = 64 * 1024
PROMPT_BYTES = 200 * 1024
_TAIL_ROWS = 50  # on each change, re-read the newest rows too: holdout/metrics may be written after finish
_LIGHT_COLUMNS = (
    "id, parent_id, status, decision, reason, proposer, strategy, substr(rationale, 1, 240) AS rationale, "
    "params, metrics, objective, duration, started_at, finished_at, tokens_in, tokens_out, cost_usd, "
    # Whether a kept row became the global best (an island's keep may not have): incumbent_of's fact.
    "became_best, "
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
    Decision.PRUNED: "p",
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
            upgrade_store(self.study_dir)  # a study an older version wrote gains the columns read here
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
            page = (lambda: study_page(names[0])) if len(names) == 1 else (lambda: index_page(names))
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
            page = lambda: study_page(parts[1], multi=len(views) > 1)  # noqa: E731
        elif len(parts) == 4 and parts[0] == "study" and parts[2] == "experiment":
            experiment = self._experiment(parts[1], parts[3])
            if experiment is None:
                return
            page = lambda: experiment_page(parts[1], experiment)  # noqa: E731
        if page is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
            return
        self._send(HTTPStatus.OK, page().encode(), "text/html; charset=utf-8", cookie=cookie)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
