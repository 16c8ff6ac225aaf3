"""Log lines: one per request plus one per decision, as key=value text on stderr.

Views log ids and decisions only. As a second line of defence the filter below masks
anything shaped like an e-mail address and any configured secret, should a message or an
exception text ever carry one, and escapes control characters, so one message is one line."""
from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request

from connector.settings import MIN_ISSUED_SECRET_CHARS

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
# Local parts may hold apostrophes (o'brien@…): only whitespace and delimiters (a path's
# slashes, a key=value's equals sign) end one. The
# domain needs no dot and may be any script (jane@localhost, jane@[127.0.0.1], an IDN), and
# the @ may be percent-encoded, as in a path gunicorn logs undecoded (jane%40corp.example).
_EMAIL = re.compile(r"[^\s@\"<>(),;:/=\[\]]+(?:@|%40)[^\s@'\"<>(),;:/]+")


class GunicornLineFilter(logging.Filter):
    """gunicorn's DEBUG lines quote raw request bytes ("No more data after: b'POST … X-API-Key:
    … {"quote": …}'"), headers and bodies a mask cannot recognise: with LOG_LEVEL=DEBUG the
    connector's own lines are written, gunicorn's are not. And a client whose headers stopped
    coming (the worker's read timeout, connector.server) is one line, not a traceback at ERROR:
    it is expected, not a fault of the connector's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return False
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            record.msg, record.args = "a client sent no whole request within the read timeout; connection closed", None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_GUNICORN_LINES = GunicornLineFilter()


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
        redacted = _EMAIL.sub("[email]", message)
        # A line break in a logged path or key would start a forged log line of the sender's
        # making ("…\n… level=ERROR …"): control characters are written as escapes.
        redacted = _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), redacted)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[secret]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def init_app(app: Flask, level: str, secrets: list[str]) -> None:
    redacting = RedactingFilter(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(
        "%(asctime)s level=%(levelname)s logger=%(name)s pid=%(process)d %(message)s"))
    handler.addFilter(redacting)
    # gunicorn's own lines quote what it refused ("Invalid HTTP request line: '…'") and, with
    # an access log, every request line with its query string.
    for name in ("gunicorn.error", "gunicorn.access"):
        gunicorn_logger = logging.getLogger(name)
        for old in [f for f in gunicorn_logger.filters if isinstance(f, RedactingFilter)]:
            gunicorn_logger.removeFilter(old)
        gunicorn_logger.addFilter(_GUNICORN_LINES)  # added once: the same object each time
        gunicorn_logger.addFilter(redacting)
    logger = logging.getLogger("connector")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    if not logger.isEnabledFor(logging.INFO):
        return  # the level is fixed at start-up: no request line will be written, so time nothing

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        logger.info("request method=%s path=%s status=%s ms=%.1f", request.method,
                    request.path, response.status_code, elapsed)
        return response
