"""Run the app under gunicorn from `connector serve`, and the worker class that serves it
(plain gunicorn: `-k connector.server.ProblemJsonWorker`): gunicorn's own refusals are
problem+json, and a client that stalls holds a worker for CLIENT_TIMEOUT_SECONDS at most."""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.sync import SyncWorker

from connector.errors import (
    PROBLEM_MEDIA_TYPE, HeadersTooLarge, MalformedRequest, Problem, TransferCodingNotImplemented,
)

WORKER_CLASS = "connector.server.ProblemJsonWorker"
# How long a read from a client may wait. Koji sends its whole webhook at once. A sync worker
# serves one connection at a time, so a client that stops half-way holds it this long (before,
# until gunicorn's 30 s worker timeout killed the worker and answered 500). Where clients you do
# not control can reach the connector, put it behind a proxy that buffers whole requests
# (README, "Deploying"), as gunicorn's deployment guide asks for sync workers. Reading requests
# ahead inside the worker was tried: it cost about 130 µs a request (docs/benchmarks.md).
CLIENT_TIMEOUT_SECONDS = 10.0

# What gunicorn refuses itself, by the status it picks. Its message is left out: it quotes
# the request line or a header, which may hold an address or a token.
_GUNICORN_REFUSALS: dict[int, type[Problem]] = {
    400: MalformedRequest, 431: HeadersTooLarge, 501: TransferCodingNotImplemented, 500: Problem,
}
_write_html_error = util.write_error


def _write_problem(sock, status: int, reason: str, message: str) -> None:
    problem = _GUNICORN_REFUSALS.get(status)
    if problem is None:  # 403 for a PROXY line or TLS, neither of which serve turns on
        _write_html_error(sock, status, reason, message)
        return
    body = json.dumps(problem().to_dict()).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ProblemJsonWorker(SyncWorker):
    """gunicorn's sync worker, except that

    - a read from a client gives up after CLIENT_TIMEOUT_SECONDS: a request whose headers stop
      coming is closed (connector.logs writes one line for it), one whose body stops coming is
      answered 408 by the app;
    - its own refusals (a request line or headers over its limits, bytes that are not HTTP)
      are problem+json like every other refusal."""

    def handle(self, listener, client, addr) -> None:
        client.settimeout(CLIENT_TIMEOUT_SECONDS)
        super().handle(listener, client, addr)

    def handle_error(self, req, client, addr, exc) -> None:
        # gunicorn writes these through util.write_error. A sync worker handles one request
        # at a time, so swapping it for the length of this call affects nothing else.
        util.write_error = _write_problem
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = _write_html_error


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from connector import create_app
        return create_app()


def bind_address(host: str, port: int) -> str:
    """gunicorn's `bind`: an IPv6 address goes in brackets, or its colons read as the port's."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def run_gunicorn(host: str, port: int, workers: int, log_level: str = "INFO") -> None:
    _Gunicorn({
        "bind": bind_address(host, port),
        "workers": workers,
        "loglevel": log_level.lower(),  # LOG_LEVEL quiets gunicorn's own lines too
        "worker_class": WORKER_CLASS,
        # Koji waits 10 s for an answer; a request that takes longer is already lost.
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
    }).run()
