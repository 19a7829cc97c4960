"""A real HTTP server on 127.0.0.1 that speaks the OpenAI and Anthropic chat protocols from a script.

    server = FakeLLMServer()
    server.script(Reply(status=429), Reply(text='{"params": {...}}'))
    make_backend("llm:openai/gpt-x", {"base_url": server.openai_url})

Replies are served in order from the queue; when it is empty, `responder(request)` answers (a function
of the recorded request returning a Reply or a str), else a 418 that makes the test fail loudly.
Every request is recorded in `server.requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering
    raw: str | None = None  # body sent verbatim (malformed JSON and the like)
    headers: dict[str, str] = field(default_factory=dict)
    tokens_in: int = 11
    tokens_out: int = 7
    error: str = "scripted error"
    model: str | None = None


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def protocol(self) -> str:
        return "anthropic" if self.path.endswith("/messages") else "openai"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def prompt_text(self) -> str:
        """Every message's text (and Anthropic's system prompt) joined, for assertions."""
        parts = [str(self.body.get("system", ""))] + [str(m.get("content", "")) for m in self.messages]
        return "\n".join(parts)

    @property
    def last_user(self) -> str:
        return next((str(m["content"]) for m in reversed(self.messages) if m["role"] == "user"), "")


class FakeLLMServer:
    def __init__(self) -> None:
        self.queue: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.responder: Callable[[Request], Reply | str] | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # A short poll interval keeps shutdown (each test's teardown) fast.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def script(self, *replies: Reply | str) -> None:
        with self._lock:
            self.queue.extend(Reply(text=r) if isinstance(r, str) else r for r in replies)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.queue:
                return self.queue.popleft()
        if self.responder is not None:
            answer = self.responder(request)
            return Reply(text=answer) if isinstance(answer, str) else answer
        return Reply(status=418, error="fake server: no scripted reply left")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsable": raw.decode(errors="replace")}
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                reply = server._next(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                payload = reply.raw if reply.raw is not None else json.dumps(self._body(request, reply))
                data = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    self.close_connection = True

            def _body(self, request: Request, reply: Reply) -> dict[str, Any]:
                model = reply.model or str(request.body.get("model", "fake-model"))
                if request.protocol == "anthropic":
                    if reply.status != 200:
                        return {"type": "error", "error": {"type": "api_error", "message": reply.error}}
                    return {
                        "id": "msg_fake",
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [{"type": "text", "text": reply.text}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": reply.tokens_in, "output_tokens": reply.tokens_out},
                    }
                if reply.status != 200:
                    return {"error": {"message": reply.error, "type": "server_error", "code": None}}
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply.text}}
                    ],
                    "usage": {
                        "prompt_tokens": reply.tokens_in,
                        "completion_tokens": reply.tokens_out,
                        "total_tokens": reply.tokens_in + reply.tokens_out,
                    },
                }

        return Handler
