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
from gunicorn.http.errors import (
    ChunkMissingTerminator, ConfigurationProblem, ExpectationFailed, InvalidChunkExtension, InvalidChunkSize,
    InvalidH2CPreface, InvalidHeader, InvalidHeaderName, InvalidHTTPVersion, InvalidProxyLine, InvalidRequestLine,
    InvalidRequestMethod, InvalidResponseHeader, InvalidResponseHeaderName, InvalidSchemeHeaders, LimitRequestHeaders,
    LimitRequestLine, ObsoleteFolding, UnsupportedTransferCoding,
)
from gunicorn.http.message import DEFAULT_MAX_HEADERFIELD_SIZE, MAX_HEADERS, MAX_REQUEST_LINE
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
# the request line or a header, which may hold an address or a token (refusal_detail instead).
_GUNICORN_REFUSALS: dict[int, type[Problem]] = {
    400: MalformedRequest, 414: RequestLineTooLong, 417: ExpectationNotSupported, 431: HeadersTooLarge,
    501: TransferCodingNotImplemented, 500: Problem,
}
_write_html_error = util.write_error

# What each refusal of gunicorn's says instead of its message: what was wrong and what to send,
# in fixed words. gunicorn's own message is never used, as it quotes the request.
_FIXED_DETAILS: tuple[tuple[type[BaseException], str], ...] = (
    (InvalidRequestMethod, "The request method is not valid: send an upper-case method such as GET or POST."),
    (InvalidHTTPVersion, "The request line must end in HTTP/1.1 (or HTTP/1.0), the only versions served; a space "
                         "in the path must be sent as %20."),
    (InvalidRequestLine, "The request line is malformed: send the method, a path starting with / (printable ASCII, "
                         "anything else percent-encoded) and HTTP/1.1, separated by single spaces and ended by CRLF."),
    (InvalidHeaderName, "A header field name is not valid: use letters, digits and hyphens, with nothing between "
                        "the name and its colon."),
    (ObsoleteFolding, "A header field continues on a line that starts with a space or a tab (obsolete line "
                      "folding): send each header field on one line."),
    (ExpectationFailed, "Only the expectation Expect: 100-continue is supported: send the request without "
                        "any other Expect header."),
    (UnsupportedTransferCoding, "The Transfer-Encoding names a coding the server does not decode: only chunked is "
                                "taken. Send the body uncompressed, chunked or with a Content-Length."),
    (InvalidSchemeHeaders, "The headers from a trusted proxy that give the request's scheme (such as "
                           "X-Forwarded-Proto) contradict each other: send one scheme."),
    ((InvalidChunkSize, ChunkMissingTerminator, InvalidChunkExtension),
     "The chunked body is malformed: a chunk size that is not hexadecimal, a chunk not ended by CRLF or a "
     "malformed chunk extension."),
    (InvalidH2CPreface, "HTTP/2 is not served: send HTTP/1.1."),
    (InvalidProxyLine, "The PROXY protocol line is malformed."),
)
_CONTENT_LENGTH_DETAILS = {
    "repeated": "The request has more than one Content-Length header: send one.",
    "with chunked": "The request has both Content-Length and Transfer-Encoding: chunked, which can be read two "
                    "ways: send one of them.",
    "not a number": "The Content-Length is not a whole number of bytes: send the body's length in digits.",
}
_TRANSFER_ENCODING_DETAILS = {
    "HTTP/1.0": "Transfer-Encoding: chunked needs HTTP/1.1: an HTTP/1.0 request gives a Content-Length.",
    "not chunked last": "The Transfer-Encoding must end in chunked, and name it once (RFC 9112). Only chunked is "
                        "decoded, not gzip, deflate or compress: send the body uncompressed, chunked or with a "
                        "Content-Length.",
}
_REPEATED_HEADER_DETAILS = {
    "HOST": "The request has more than one Host header: send one.",
    "CONTENT-TYPE": "The request has more than one Content-Type header: send one.",
}
_BARE_LF = "bare LF as line terminator"  # gunicorn's text, for InvalidHeader and InvalidRequestLine alike
_BARE_LF_DETAIL = "A line of the request ends in a bare LF: end the request line and each header field with CRLF."
_MALFORMED_HEADER_DETAIL = ("A header field is malformed: send each as Name: value on its own line, with no "
                            "control characters in the value.")


def refusal_detail(exc: BaseException, cfg) -> str | None:
    """The detail of the problem the worker answers for one of gunicorn's refusals: fixed words
    for its class (and, where gunicorn raises one class for several faults, for the fault),
    with the limits taken from the worker's config as gunicorn takes them. Never the request's
    own text. None (the title) for what is not the client's fault."""
    if isinstance(exc, ScriptNameMismatch):
        return exc.detail
    if isinstance(exc, (InvalidResponseHeader, InvalidResponseHeaderName)):  # the app's fault: 500
        return None
    if isinstance(exc, LimitRequestLine):
        limit = _request_line_limit(cfg)
        over = f"is longer than {limit:,} bytes, the server's limit" if limit else "is too long"
        return f"The request line (method, path, query and version) {over}: shorten the path or the query."
    if isinstance(exc, LimitRequestHeaders):
        return _headers_too_large(str(exc), cfg)
    if isinstance(exc, InvalidHeader):
        return _invalid_header(exc)
    if isinstance(exc, InvalidRequestLine) and getattr(exc, "req", None) == _BARE_LF:
        return _BARE_LF_DETAIL
    return next((detail for classes, detail in _FIXED_DETAILS if isinstance(exc, classes)), None)


def _request_line_limit(cfg) -> int:
    """gunicorn.http.message.Request: a negative limit, or one over MAX_REQUEST_LINE, is
    MAX_REQUEST_LINE; 0 is none in gunicorn's parser (gunicorn_h1c, its optional C parser,
    then stops at 1 MiB): 0 here too."""
    limit = cfg.limit_request_line
    return MAX_REQUEST_LINE if limit < 0 or limit >= MAX_REQUEST_LINE else limit


def _headers_too_large(message: str, cfg) -> str:
    # gunicorn.http.message.Message: a limit of 0 or less, or fields over MAX_HEADERS, is the default.
    fields = cfg.limit_request_fields if 0 < cfg.limit_request_fields <= MAX_HEADERS else MAX_HEADERS
    size = cfg.limit_request_field_size if cfg.limit_request_field_size > 0 else DEFAULT_MAX_HEADERFIELD_SIZE
    if message == "limit request headers fields":
        return f"The request has more than {fields:,} header fields, the server's limit: send fewer."
    if message == "limit request headers fields size":
        return (f"A header field is longer than {size:,} bytes (name, value and line end), the server's limit: "
                "send a shorter one.")
    return (f"The request's header fields are too large: at most {fields:,} fields of at most {size:,} bytes "
            "each (name, value and line end).")


def _invalid_header(exc: InvalidHeader) -> str:
    """gunicorn raises InvalidHeader for several faults: those of the framing headers and of a
    repeated Host or Content-Type carry the request (`req`) and a fixed name; the others carry
    the request's own text (a header line, a name), which is never looked at beyond that."""
    req, name = getattr(exc, "req", None), getattr(exc, "hdr", None)
    if name == _BARE_LF:
        return _BARE_LF_DETAIL
    headers = getattr(req, "headers", None)
    if req is None or not isinstance(headers, list):
        return _MALFORMED_HEADER_DETAIL
    names = [header[0] for header in headers]
    if name == "CONTENT-LENGTH":
        if names.count("CONTENT-LENGTH") > 1:
            return _CONTENT_LENGTH_DETAILS["repeated"]
        if "TRANSFER-ENCODING" in names:
            return _CONTENT_LENGTH_DETAILS["with chunked"]
        return _CONTENT_LENGTH_DETAILS["not a number"]
    if name == "TRANSFER-ENCODING":
        if getattr(req, "version", (1, 1)) < (1, 1):
            return _TRANSFER_ENCODING_DETAILS["HTTP/1.0"]
        return _TRANSFER_ENCODING_DETAILS["not chunked last"]
    return _REPEATED_HEADER_DETAILS.get(name, _MALFORMED_HEADER_DETAIL)


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
      are problem+json like every other refusal, with a detail that says what was wrong and
      what to send (refusal_detail), never gunicorn's message, which quotes the request
      (connector.logs writes gunicorn's line for them without the text it quotes);
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
        # gunicorn's own message quotes the request: the detail is written from the class instead.
        util.write_error = partial(_write_problem, detail=refusal_detail(exc, self.cfg))
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
            # One line (a log record is one line): a profile's several mistakes are joined.
            self.log.error("reload refused, the workers go on as they were: %s", " | ".join(checked.splitlines()))
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
