"""Run the app under gunicorn from `connector serve`, and the worker class that serves it
(plain gunicorn: `-k connector.server.ProblemJsonWorker`): gunicorn's own refusals are
problem+json, and a client that stalls holds a worker for CLIENT_TIMEOUT_SECONDS at most.
`connector serve`'s master also refuses a reload (SIGHUP) its new workers would not survive, and
its workers take the mapping profile from it; gunicorn's own lines are in the connector's format."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from http import HTTPStatus

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.http.errors import ConfigurationProblem, InvalidHeader
from gunicorn.workers.sync import SyncWorker

from connector import metrics
from connector.errors import (
    PROBLEM_MEDIA_TYPE, ExpectationNotSupported, HeadersTooLarge, MalformedRequest, Problem,
    RequestLineTooLong, TransferCodingNotImplemented,
)
from connector.logs import LINE_FORMAT
from connector.profile import Profile

WORKER_CLASS = "connector.server.ProblemJsonWorker"
LOGGER_CLASS = "connector.server.GunicornLogger"
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
    400: MalformedRequest, 414: RequestLineTooLong, 417: ExpectationNotSupported, 431: HeadersTooLarge,
    501: TransferCodingNotImplemented, 500: Problem,
}
_write_html_error = util.write_error


def _write_problem(sock, status: int, reason: str, message: str, *, detail: str | None = None) -> None:
    problem = _GUNICORN_REFUSALS.get(status)
    if problem is None:  # 403 for a PROXY line or TLS, neither of which serve turns on
        _write_html_error(sock, status, reason, message)
        return
    # Counted as the app counts its own refusals: an operator's alert on a rise in malformed
    # requests (a broken proxy, a scanner) would otherwise see none of those gunicorn answers.
    metrics.count_problem(problem.slug)
    body = json.dumps(problem(detail).to_dict()).encode()
    # The status's own phrase: gunicorn gives "Bad Request" for its 501 and 431 too.
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ScriptNameMismatch(InvalidHeader):
    """A SCRIPT_NAME header (gunicorn takes it from forwarded_allow_ips, 127.0.0.1 by default)
    that the path does not start with. gunicorn raises ConfigurationProblem for it, answered
    "500 Bad Request" with its detail lost: it is the request's fault, so a 400 naming the
    header. InvalidHeader is what gunicorn answers 400 with."""

    detail = ("The path does not start with the SCRIPT_NAME prefix (a SCRIPT_NAME header from a trusted proxy, "
              "or gunicorn's SCRIPT_NAME environment variable). Send paths under that prefix, or leave it out.")

    def __init__(self, req) -> None:
        super().__init__("SCRIPT_NAME", req)


class ProblemJsonWorker(SyncWorker):
    """gunicorn's sync worker, except that

    - a read from a client gives up after CLIENT_TIMEOUT_SECONDS: a request whose headers stop
      coming is closed (connector.logs writes one line for it), one whose body stops coming is
      answered 408 by the app;
    - its own refusals (a request line or headers over its limits, bytes that are not HTTP)
      are problem+json like every other refusal (connector.logs writes gunicorn's line for
      them without the text it quotes);
    - a SCRIPT_NAME header the path does not start with is a 400 that says so."""

    def handle(self, listener, client, addr) -> None:
        client.settimeout(CLIENT_TIMEOUT_SECONDS)
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        try:
            return super().handle_request(listener, req, client, addr)
        except ConfigurationProblem:  # raised for nothing else (gunicorn.http.wsgi.create)
            raise ScriptNameMismatch(req) from None

    def handle_error(self, req, client, addr, exc) -> None:
        # gunicorn writes these through util.write_error. A sync worker handles one request
        # at a time, so swapping it for the length of this call affects nothing else.
        detail = exc.detail if isinstance(exc, ScriptNameMismatch) else None  # others quote the request
        util.write_error = partial(_write_problem, detail=detail)
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = _write_html_error


class GunicornLogger(glogging.Logger):
    """gunicorn's logger under `connector serve`: its own lines ("Starting gunicorn", "Booting
    worker", "Handling signal: hup", a worker's exit) are written as the connector's are
    (connector.logs.LINE_FORMAT), not in a second format of gunicorn's. Its access line keeps
    the combined format's shape (connector.logs.AccessLineFilter), for the tools that read it."""

    error_fmt = LINE_FORMAT
    datefmt = None  # logging's own, as the connector's lines have it


class _CheckedReloadArbiter(Arbiter):
    """gunicorn's master, except that a reload (SIGHUP) is carried out only if the new workers
    would start: gunicorn stops the old workers whatever the new ones do, and one that refused
    the mapping profile (exit APP_LOAD_ERROR) stopped the master with it."""

    def reload(self) -> None:
        checked = self.app.start_up_check()
        if isinstance(checked, str):
            self.log.error("reload refused, the workers go on as they were: %s", checked)
            return
        self.app.profile = checked
        super().reload()


class _Gunicorn(BaseApplication):
    """`profile`: the mapping profile the master accepted, at start or at the last reload.
    Workers take it from the master rather than reading the file: one gunicorn starts again
    (after a crash, a timeout) while the profile is being edited read the mistake, exited with
    APP_LOAD_ERROR and stopped the service."""

    def __init__(self, options: dict, profile: Profile, start_up_check: Callable[[], Profile | str]) -> None:
        self.options, self.profile, self.start_up_check = options, profile, start_up_check
        super().__init__()

    def run(self) -> None:
        # BaseApplication.run, with the master above.
        try:
            _CheckedReloadArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from connector import create_app
        return create_app(profile=self.profile)


def bind_address(host: str, port: int) -> str:
    """gunicorn's `bind`: an IPv6 address goes in brackets, or its colons read as the port's."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def run_gunicorn(host: str, port: int, workers: int, log_level: str, profile: Profile,
                 start_up_check: Callable[[], Profile | str]) -> None:
    """`start_up_check`: the profile new workers are to use, or what would stop them (a message);
    the master asks it before a reload.

    The workers are forked inside `multiprocess_directory`: they find PROMETHEUS_MULTIPROC_DIR
    set when they import prometheus_client (connector.metrics), so /metrics sums them all."""
    options = {
        "bind": bind_address(host, port),
        "workers": workers,
        "loglevel": log_level.lower(),  # LOG_LEVEL quiets gunicorn's own lines too
        "worker_class": WORKER_CLASS,
        "logger_class": LOGGER_CLASS,
        # gunicorn's control socket (gunicornc: scale, reload, stop) defaults to one path per
        # user, $XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl, so two services of one user take it
        # from each other, and a read-only home logs a warning at each start. Signals do the same.
        "control_socket_disable": True,
        # Koji waits 10 s for an answer; a request that takes longer is already lost.
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
    }
    with metrics.multiprocess_directory():
        _Gunicorn(options, profile, start_up_check).run()
