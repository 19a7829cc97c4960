"""The live dashboard: a read-only web view of one or several studies while they run.

Standard library only on the server side (http.server), plotly.js served from the installed plotly
package (no CDN). This module is the HTTP side: the server, its token and host checks, and the routes;
what each route answers about a study comes from `study_view.StudyView`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from autoresearch.ui.dashboard.guard import (
    HostCheck,
    new_secret,
)
from autoresearch.ui.dashboard.pages import experiment_page, index_page, study_page
from autoresearch.ui.dashboard.study_view import StudyView

TOKEN_HEADER = "X-Autoresearch-Token"
TOKEN_COOKIE = "autoresearch_token"


class DashboardError(Exception):
    """The dashboard cannot start as asked; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        from plotly.offline import get_plotlyjs  # slow to import: only when a page first asks for it

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
