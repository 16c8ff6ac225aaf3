"""A fake Koji REST API: ``GET /api/v1/interviews/{id}`` with a Bearer key, on loopback.

Answers ``{"data": <interview>}`` (the shape of Koji's headless API), or exactly the bytes
given for an id when they are bytes (answers ``json.dumps`` would not write, or would write
differently: too deep, NaN); 401 for a missing or wrong key, 404 for an
unknown id; :meth:`FakeKojiApi.fail_next` injects statuses, :meth:`FakeKojiApi.redirect_next`
redirects to another server,
:attr:`FakeKojiApi.delay` makes every answer slow and :attr:`FakeKojiApi.drip` sends each
body a few bytes at a time, `drip` seconds apart (for timeout tests).
"""
from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from tests.fakes.loopback import LoopbackServer


class FakeKojiApi(LoopbackServer):
    def __init__(self, interviews: dict[str, dict | bytes] | None = None, api_key: str = "koji-test-key"):
        self.interviews = dict(interviews or {})
        self.api_key = api_key
        self.requests: list[dict] = []
        self.delay = 0.0
        self.drip = 0.0
        self._statuses: list[int] = []
        self._redirects: list[tuple[int, str]] = []

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        self._statuses.extend([status] * times)

    def redirect_next(self, status: int, to: str, times: int = 1) -> None:
        """The next answers are `status` with ``Location: {to}{path}``: the same path on `to`."""
        self._redirects.extend([(status, to)] * times)

    def answer(self, path: str, headers: dict) -> tuple[int, object, dict[str, str]]:
        self.requests.append({"path": path, "headers": headers})
        if self._redirects:
            status, to = self._redirects.pop(0)
            return status, {"error": "moved"}, {"Location": to + path}
        if self._statuses:
            return self._statuses.pop(0), {"error": "injected failure"}, {}
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, {"error": "unauthorized", "message": "Invalid API key"}, {}
        prefix = "/api/v1/interviews/"
        interview_id = unquote(path[len(prefix):]) if path.startswith(prefix) else None
        if interview_id not in self.interviews:
            return 404, {"error": "not_found", "message": "Interview not found"}, {}
        interview = self.interviews[interview_id]
        return 200, interview if isinstance(interview, bytes) else {"data": interview}, {}


def _handler(fake: FakeKojiApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(fake.delay)
            status, body, extra_headers = fake.answer(urlsplit(self.path).path, dict(self.headers))
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if fake.drip:
                    for start in range(0, len(data), 8):
                        time.sleep(fake.drip)
                        self.wfile.write(data[start:start + 8])
                        self.wfile.flush()
                else:
                    self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout tests): nobody to answer

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler
