"""Log lines: one per request plus one per decision, as key=value text on stderr.

Views log ids and decisions only, and of a request only what the connector chose: its route
rule (never the path, which any caller, even one without a key, fills with what it likes), an
event key when it has the shape of one (`shown_key`) and an event type when it is one Koji
documents (`shown_type`). As a second line of defence the filter below masks anything that
may be an e-mail address and any configured secret, should a message, an exception text or a
traceback ever carry one, and escapes control characters, so one message is one line.

gunicorn's own lines are rewritten from parts that are safe: a refused request by the class
of its error (not the text gunicorn quotes), an access line without query, user, Referer or
User-Agent."""
from __future__ import annotations

import hashlib
import logging
import re
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, Response, request

from connector.events import VERIFICATION_TYPES
from connector.profile import EVENT_TYPES
from connector.settings import MIN_ISSUED_SECRET_CHARS

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u0085\u2028\u2029]")
# Any whitespace-free run holding an @, or one percent-encoded as in a path gunicorn logs
# undecoded, is masked whole. Addresses take too many shapes to recognise one
# ("jane.doe"@corp.example, jane(work)%40corp.example, jane%3Ddoe%40…, jane@localhost, an IDN):
# masking only what looked like the address left "jane=" or "Doe" standing beside "[email]".
# Each run of non-space is tested for "@" or "%40" rather than matched by one pattern
# (\S*(?:@|%40)\S*): that pattern scans to the end of the run from each of its characters,
# seconds for 20 kB without a space (found by a security audit).
_RUN = re.compile(r"\S+")

# Event keys as connector.events builds them: an id, for a report of a study "@" and the
# webhook's timestamp, then ":" and the event type. A "key" of any other shape is a path a
# caller typed or a payload's free text, and is logged as a hash (`shown_key`).
KNOWN_EVENT_TYPES = frozenset(EVENT_TYPES) | VERIFICATION_TYPES
_ISO_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)"
# Longer than any id Koji issues (a UUID is 36, the body-hash subject 39): a longer "id" is
# more likely words run together than an id.
_ID_CHARS = r"[A-Za-z0-9_-]{1,128}"
_ID = re.compile(_ID_CHARS)
_KEY = re.compile(rf"{_ID_CHARS}(?:@{_ISO_TIME})?:(?P<type>[a-z._]{{1,64}})")
# A key on a line of the connector's own, `key=s1@2024-05-01T10:00:00Z:report.generated`, is
# not an address: the mask leaves it readable.
_LOGGED_KEY = re.compile(r"(?:[a-z_]+=)?(?P<key>\S+)")
SHOWN_HASH_CHARS = 12
NO_ROUTE = "(no route)"
# Werkzeug takes any token as a method, so a caller could write words there too.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
# Where the app leaves the route of a request for gunicorn's access line, which is written
# after the app answered, from the same WSGI environ (gunicorn's atom "{connector.route}e").
# Not Werkzeug's own "werkzeug.request": Flask sets it to None when the request ends.
ROUTE_ENVIRON_KEY = "connector.route"
# When the app took the request up (time.perf_counter()), for the request line's ms= and the
# duration connector.metrics observes: one clock for both.
STARTED_ENVIRON_KEY = "connector.started"
# One line's shape, for the connector's lines and, under `connector serve`, gunicorn's own
# (connector.server.GunicornLogger): one service, one format to read and to parse.
LINE_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s pid=%(process)d %(message)s"


def _has_key_shape(key: str) -> bool:
    match = _KEY.fullmatch(key)
    return match is not None and match["type"] in KNOWN_EVENT_TYPES


def _hashed(kind: str, text: str) -> str:
    """`kind#` and the first 12 hex digits of the text's UTF-8 sha256, which an operator can
    compute from the value an answer gave (`printf %s "$key" | sha256sum`) to find its lines."""
    return f"{kind}#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:SHOWN_HASH_CHARS]


def shown_key(key: str) -> str:
    """An event key as logged: whole when it has a key's shape (an id and a known type), else hashed."""
    return key if _has_key_shape(key) else _hashed("key", key)


def shown_id(value: object) -> str:
    """An interview id from a payload as logged: whole when it has an id's shape, else hashed."""
    text = str(value)
    return text if _ID.fullmatch(text) else _hashed("id", text)


def shown_type(event_type: object) -> str:
    """An event type as logged: a payload's `event` or `type` is the sender's text."""
    return event_type if isinstance(event_type, str) and event_type in KNOWN_EVENT_TYPES else "other"


def shown_method(method: object) -> str:
    return method if isinstance(method, str) and method in _METHODS else "other"


def route_rule() -> str:
    """The request's Flask rule, or "(no route)": what log lines and metrics (connector.metrics) name."""
    return request.url_rule.rule if request.url_rule is not None else NO_ROUTE


def described_request() -> str:
    """The current request as log lines name it: method, route rule, and an event route's key."""
    described = f"method={shown_method(request.method)} route={route_rule()}"
    key = (request.view_args or {}).get("key")
    return described if key is None else f"{described} key={shown_key(key)}"


# How many of the innermost frames a 500's line names: enough to find the place, short enough
# to stay one line.
SHOWN_FRAMES = 6


def where_it_failed(exc: BaseException) -> str:
    """The innermost frames of an exception's traceback, innermost first, as one word of
    `file:line:function`
    (`connector/mapping.py:508:map_to_salesforce,connector/pipeline.py:76:render,…`): where a
    500 happened, for an operator, without the exception's text or the source lines, which may
    quote the payload. When the innermost frames are all a library's, the innermost of the
    connector's own follows them. Paths are cut to the package (`connector/…`, or a library's
    own), so no home directory or user name is shown."""
    frames = traceback.extract_tb(exc.__traceback__)
    shown = frames[-SHOWN_FRAMES:]
    own = [frame for frame in frames if _is_own(frame.filename)]
    if own and not any(_is_own(frame.filename) for frame in shown):
        shown = [own[-1], *shown]
    return ",".join(f"{_package_path(frame.filename)}:{frame.lineno}:{frame.name}" for frame in reversed(shown))


# The directory that holds the connector package: a path below it is shown from there on.
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def _is_own(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(_PACKAGE_PARENT / "connector")


def _package_path(filename: str) -> str:
    path = Path(filename).resolve()
    if path.is_relative_to(_PACKAGE_PARENT):
        return path.relative_to(_PACKAGE_PARENT).as_posix()  # connector/…, or tests/… in a checkout
    text = path.as_posix()
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in text:
            return text[text.rindex(marker) + len(marker):]
    return path.name


def _masked_run(run: re.Match) -> str:
    text = run.group()
    if "@" not in text and "%40" not in text:
        return text
    key = _LOGGED_KEY.fullmatch(text)
    return text if key and _has_key_shape(key["key"]) else "[email]"


class GunicornLineFilter(logging.Filter):
    """gunicorn's DEBUG lines quote raw request bytes ("No more data after: b'POST … X-API-Key:
    … {"quote": …}'"), headers and bodies a mask cannot recognise: with LOG_LEVEL=DEBUG the
    connector's own lines are written, gunicorn's are not. Its warning about a request it
    refused quotes the request line or the header it choked on (a name, a signature, a bearer
    token without its colon): it is written with the error's class instead. And a client whose
    headers stopped coming (the worker's read timeout, connector.server) is one line, not a
    traceback at ERROR: it is expected, not a fault of the connector's."""

    _INVALID_REQUEST = re.compile(r"Invalid request from ip=(\S*): ")  # workers/base.py, handle_error

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return False
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            record.msg, record.args = "a client sent no whole request within the read timeout; connection closed", None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif isinstance(record.msg, str) and (refused := self._INVALID_REQUEST.match(record.msg)):
            # gunicorn formats the line itself, but logs it while it handles the error: the
            # exception being handled is the one it refused.
            error = sys.exc_info()[1]
            record.msg = "Invalid request from ip=%s: %s (refused before the app; the request's text is not logged)"
            record.args = (refused[1], type(error).__name__ if error is not None else "unknown error")
        elif record.msg == "Error handling request %s":  # its argument is the URI, query and all
            record.msg, record.args = "Error handling request (the URI is not logged)", None
        return True


class AccessLineFilter(logging.Filter):
    """gunicorn's access line (--access-logfile, with any --access-logformat) may quote the
    query string, the Basic-auth user name, the Referer, the User-Agent, any header: it is
    rebuilt from safe parts (address, time, method, route rule, protocol, status, length,
    duration), in the combined format's shape with "-" for what is left out, so that tools
    reading that format still can."""

    _PROTOCOL = re.compile(r"HTTP/\d\.\d")
    _ROUTE = "{%s}e" % ROUTE_ENVIRON_KEY  # gunicorn's atoms name environ values so, lower-cased

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.args, Mapping):  # not gunicorn's access call: the redacting filter's business
            return True
        # gunicorn's atoms: address, time, method, protocol, status, length, µs ("-" when missing)
        h, t, m, protocol, s, b, micros, route = (record.args.get(name, "-") for name in (*"htmHsbD", self._ROUTE))
        record.msg = '%s - - %s "%s %s %s" %s %s "-" "-" %s'
        record.args = (h, t, shown_method(m), route if route != "-" else NO_ROUTE,
                       protocol if self._PROTOCOL.fullmatch(str(protocol)) else "-", s, b,
                       f"{micros / 1000:.1f}ms" if isinstance(micros, int) else "-")
        return True


_GUNICORN_LINES = GunicornLineFilter()
_ACCESS_LINES = AccessLineFilter()


# A secret shorter than the shortest production accepts is not masked: masking "s" garbles
# every line, and where the "[secret]"s fall spells the secret out. Development may run with
# one, and no log line carries a secret in the first place.
MIN_MASKED_CHARS = MIN_ISSUED_SECRET_CHARS


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        # Longest first: a secret that holds another is masked whole.
        self.secrets = sorted((s for s in secrets if len(s) >= MIN_MASKED_CHARS), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # A line break in a logged path or key would start a forged log line of the sender's
        # making ("…\n… level=ERROR …"): control characters are written as escapes.
        redacted = self._redact(message, _CONTROL)
        if redacted != message:
            record.msg, record.args = redacted, None
        # The formatter appends the traceback after this filter has run, formatting it itself
        # unless exc_text is set: set, masked, it is written instead. A traceback is lines.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text, _CONTROL_BUT_LINE_BREAKS)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info, _CONTROL_BUT_LINE_BREAKS)
        return True

    def _redact(self, text: str, control: re.Pattern) -> str:
        redacted = _RUN.sub(_masked_run, text) if "@" in text or "%40" in text else text
        redacted = control.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), redacted)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[secret]")
        return redacted


def init_app(app: Flask, level: str, secrets: list[str]) -> None:
    redacting = RedactingFilter(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LINE_FORMAT))
    handler.addFilter(redacting)
    # Each before the redacting filter, which would otherwise format the line gunicorn gave.
    for name, lines in (("gunicorn.error", _GUNICORN_LINES), ("gunicorn.access", _ACCESS_LINES)):
        gunicorn_logger = logging.getLogger(name)
        for old in [f for f in gunicorn_logger.filters if isinstance(f, RedactingFilter)]:
            gunicorn_logger.removeFilter(old)
        gunicorn_logger.addFilter(lines)  # added once: the same object each time
        gunicorn_logger.addFilter(redacting)
    if logging.getLogger("gunicorn.access").handlers:
        # Only under an access log (gunicorn's --access-logfile has configured it before the
        # workers load the app): elsewhere no line reads it, and verify is measured per µs.
        @app.after_request
        def _note_route(response: Response) -> Response:
            request.environ[ROUTE_ENVIRON_KEY] = route_rule()
            return response

    logger = logging.getLogger("connector")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False

    @app.before_request
    def _start_timer() -> None:  # metrics times every request, whatever the level
        request.environ[STARTED_ENVIRON_KEY] = time.perf_counter()

    if not logger.isEnabledFor(logging.INFO):
        return  # the level is fixed at start-up: no request line will be written

    @app.after_request
    def _log_request(response: Response) -> Response:
        now = time.perf_counter()
        elapsed = (now - request.environ.get(STARTED_ENVIRON_KEY, now)) * 1000
        logger.info("request %s status=%s ms=%.1f", described_request(), response.status_code, elapsed)
        return response
