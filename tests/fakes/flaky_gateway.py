"""A reverse proxy in front of the connector that fails chosen calls, like a load balancer
restarting or a network blip between n8n and the connector.

``fail_next("/complete", status=503)`` answers the next call whose path holds "/complete"
with a 503 problem body (without passing it on); ``rewrite_next("/verify", edit)`` passes the
next such call on and hands its JSON answer to ``edit`` before returning it, like a newer
connector answering something this workflow was not written for; ``redirect_next("/verify",
other_url, status=307)`` answers the next such call with a redirect to the same path on
``other_url``, like a misconfigured proxy or a hijacked host. Every other call goes to the
upstream unchanged (GET, POST and PATCH: the gateway also stands in front of Salesforce), and
what came back goes back unchanged.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import requests

from tests.fakes.loopback import LoopbackServer

# Not passed on: framing is redone here, and requests has already undone any compression.
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host", "content-encoding"}


class FlakyGateway(LoopbackServer):
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self._failures: list[dict] = []
        self._rewrites: list[tuple[str, Callable[[dict], None]]] = []
        self._lock = threading.Lock()

    def fail_next(self, path_contains: str, status: int = 503, times: int = 1) -> None:
        with self._lock:
            self._failures.append({"path": path_contains, "status": status, "times": times})

    def redirect_next(self, path_contains: str, to: str, status: int = 307, times: int = 1) -> None:
        with self._lock:
            self._failures.append({"path": path_contains, "status": status, "times": times, "location": to})

    def rewrite_next(self, path_contains: str, edit: Callable[[dict], None]) -> None:
        with self._lock:
            self._rewrites.append((path_contains, edit))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()
            self._rewrites.clear()

    def take_rewrite(self, path: str) -> Callable[[dict], None] | None:
        with self._lock:
            for rule in self._rewrites:
                if rule[0] in path:
                    self._rewrites.remove(rule)
                    return rule[1]
        return None

    def take_failure(self, path: str) -> dict | None:
        with self._lock:
            for rule in self._failures:
                if rule["path"] in path:
                    rule["times"] -= 1
                    if rule["times"] == 0:
                        self._failures.remove(rule)
                    return rule
        return None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

            def do_PATCH(self) -> None:
                self._relay()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                failure = gateway.take_failure(self.path)
                if failure is not None and "location" in failure:
                    status, headers, content = failure["status"], {"Location": failure["location"] + self.path}, b""
                elif failure is not None:
                    status, headers = failure["status"], {"Content-Type": "application/problem+json"}
                    content = json.dumps({"type": "about:blank", "title": "Service Unavailable",
                                          "status": status, "detail": "injected by the test"}).encode()
                else:
                    answer = requests.request(
                        self.command, gateway.upstream + self.path, data=body, timeout=30,
                        headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP})
                    status, content = answer.status_code, answer.content
                    edit = gateway.take_rewrite(self.path)
                    if edit is not None:
                        rewritten = answer.json()
                        edit(rewritten)
                        content = json.dumps(rewritten).encode()
                    headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
                gateway.calls.append((self.command, self.path, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args) -> None:
                pass

        return Handler
