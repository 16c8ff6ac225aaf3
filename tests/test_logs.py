import base64
import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import types
from datetime import timedelta

import pytest
from flask import Flask
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http.errors import InvalidHeader, InvalidHTTPVersion, ParseException

from connector import logs
from connector.logs import RedactingFilter
from connector.profile import load_profile
from connector.server import LOGGER_CLASS, GunicornLogger, _CheckedReloadArbiter, _Gunicorn


def record(message, *args):
    return logging.LogRecord("connector", logging.INFO, __file__, 1, message, args, None)


def test_emails_and_secrets_are_masked_should_a_message_carry_them():
    entry = record("lookup for %s with %s failed", "o'brien@northwind.example", "whsec_live_123")
    RedactingFilter(["whsec_live_123"]).filter(entry)
    assert entry.getMessage() == "lookup for [email] with [secret] failed"


def test_a_secret_too_short_to_mask_leaves_the_lines_alone():
    # Before: KOJI_API_KEY=k masked every "k", which garbled each line and spelled the key out.
    entry = record("request POST /v1/koji/verify took 3 ms")
    RedactingFilter(["k", "s3cret7", "k3y-k3y-k3y"]).filter(entry)
    assert entry.getMessage() == "request POST /v1/koji/verify took 3 ms"


def test_a_secret_that_holds_another_is_masked_whole():
    entry = record("saw %s", "whsec_current_0123456789")
    RedactingFilter(["whsec_current", "whsec_current_0123456789"]).filter(entry)
    assert entry.getMessage() == "saw [secret]"


def test_ordinary_lines_are_untouched():
    entry = record("verified event type=%s key=%s", "interview.completed", "abc:interview.completed")
    RedactingFilter(["s3cret"]).filter(entry)
    assert entry.getMessage() == "verified event type=interview.completed key=abc:interview.completed"


def test_a_line_break_from_a_request_cannot_forge_a_log_line():
    # An unauthenticated POST to /v1/events/x%0A…level=ERROR…/complete was logged with the
    # decoded path, so it wrote a second line of the sender's making.
    forged = "/v1/events/x\n2026-11-22 14:00:00,000 level=ERROR logger=connector.ledger FORGED\r\u2028/complete"
    entry = record("refused %s %s: %s", "POST", forged, "unauthorized")
    RedactingFilter([]).filter(entry)
    message = entry.getMessage()
    assert "\n" not in message and "\r" not in message and "\u2028" not in message
    assert "x\\n2026-11-22" in message and "FORGED\\r\\u2028/complete" in message



@pytest.mark.parametrize("address", ["jane@localhost", "jane@[127.0.0.1]", "jäne@exaämple.рф",
                                     "jane%40corp.example", "JANE%40CORP.EXAMPLE", "o'brien@northwind.example",
                                     '"jane.doe"@corp.example', "jane(work)%40corp.example",
                                     "jane%3Ddoe%40corp.example", "jane%2Fdoe%40corp.example", "jane=doe@corp.example"])
def test_every_shape_of_address_is_masked_with_all_that_surrounds_it(address):
    # Before: only dotted ASCII domains with a literal @; gunicorn's DEBUG request line kept a
    # path's %40, and a caller's path could carry jane@localhost into the request line. Then
    # the mask recognised the address's shape: "jane.doe" in quotes, a comment (work), or an
    # encoded = or / in the local part left it, or the name before it, standing.
    entry = record("request path=/v1/events/%s:interview.completed status=404", address)
    RedactingFilter([]).filter(entry)
    assert "jane" not in entry.getMessage().lower() and "brien" not in entry.getMessage()
    assert entry.getMessage() == "request [email] status=404"


@pytest.mark.parametrize("key", ["s1@2024-05-01T10:00:00Z:report.generated",
                                 "xyz789@2026-04-20T09:30:00.250+02:00:report.generated"])
def test_a_report_key_is_not_taken_for_an_address(key):
    # Before: "key=[email]:00:00Z:report.generated", a key no operator could find.
    entry = record("verified event type=report.generated key=%s action=notify", key)
    RedactingFilter([]).filter(entry)
    assert entry.getMessage() == f"verified event type=report.generated key={key} action=notify"


@pytest.mark.parametrize("key", ["int_7Hq2LmN4:interview.analysis_ready", "abc123:interview.completed",
                                 "f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready",
                                 "sha256-65d0022a464480ce734e756933b14c46:ping", "rep_55:report.generated",
                                 "xyz789@2026-04-20T09:30:00Z:report.generated", "xyz789:study.published"])
def test_a_key_of_a_keys_shape_is_shown_whole(key):
    assert logs.shown_key(key) == key


@pytest.mark.parametrize("key", ["Jane Doe hates the pricing", "i9:Jane Doe said LEAKQUOTE", "jane@corp.example:ping",
                                 "int/slash 1:interview.completed", "x\n2026:interview.completed", "x", "",
                                 "s1@Jane Doe:report.generated", "s1@2024-05-01T10:00:00Z:Jane", "a" * 129 + ":ping"])
def test_any_other_key_is_shown_as_a_hash_an_operator_can_compute(key):
    expected = "key#" + hashlib.sha256(key.encode()).hexdigest()[:12]
    assert logs.shown_key(key) == expected


def test_only_documented_event_types_are_shown():
    assert logs.shown_type("interview.completed") == "interview.completed"
    assert logs.shown_type("ping") == "ping"
    assert logs.shown_type("Jane Doe said LEAKQUOTE") == "other"
    assert logs.shown_type({"not": "a string"}) == "other"


def test_a_traceback_is_masked_like_the_message():
    # Before: only record.msg was rewritten; the formatter appended the traceback, exception
    # text and all, after the filter had run (errors.py logs one when app.debug is on).
    try:
        raise ValueError("no Contact for jane.doe@corp.example with whsec_live_0123456789\rFORGED")
    except ValueError:
        entry = logging.LogRecord("connector", logging.ERROR, __file__, 1, "unexpected", None, sys.exc_info())
    RedactingFilter(["whsec_live_0123456789"]).filter(entry)
    written = logging.Formatter("%(message)s").format(entry)
    assert written.startswith("unexpected\nTraceback (most recent call last):\n")
    assert "ValueError: no Contact for [email] with [secret]\\rFORGED" in written
    assert "jane" not in written and "whsec_live" not in written


def test_gunicorns_line_for_a_request_it_refused_names_the_error_not_the_request(caplog):
    # gunicorn (workers/base.py, handle_error) quotes the bytes it refused, while it handles
    # the error: a request line with a name and a quote in its query, a header with no colon.
    logs.init_app(Flask("t"), "INFO", [])
    gunicorn = logging.getLogger("gunicorn.error")
    for error in (InvalidHTTPVersion("Doe&quote=The onboarding was awful HTTP/1.1"),
                  InvalidHeader("X-Koji-Signature sha256=0123456789abcdef")):
        try:
            raise error
        except ParseException as exc:
            with caplog.at_level(logging.INFO, logger="gunicorn.error"):
                gunicorn.warning("Invalid request from ip={ip}: {error}".format(ip="127.0.0.1", error=str(exc)))
    assert [line.getMessage() for line in caplog.records] == [
        f"Invalid request from ip=127.0.0.1: {name} (refused before the app; the request's text is not logged)"
        for name in ("InvalidHTTPVersion", "InvalidHeader")]


class Sent:  # what gunicorn's Logger.access reads of a response
    status, headers, sent = "401 UNAUTHORIZED", [("Content-Type", "application/problem+json")], 280


@pytest.fixture
def gunicorn_loggers():
    """gunicorn's Logger sets up the process-wide gunicorn.* loggers: they are put back after."""
    loggers = [logging.getLogger(name) for name in ("gunicorn.error", "gunicorn.access")]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    yield
    for logger, (handlers, propagate, level) in zip(loggers, saved):
        for handler in set(logger.handlers) - set(handlers):
            handler.close()
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(level)


@pytest.mark.parametrize("logger_class", [Logger, GunicornLogger])  # plain gunicorn's; `connector serve`'s
def test_gunicorns_access_line_is_rebuilt_from_safe_parts_only(tmp_path, gunicorn_loggers, logger_class):
    # Before: with --access-logfile, the query string, the Basic-auth user, the Referer and the
    # User-Agent were written, masked only where an address or a configured secret showed.
    logs.init_app(Flask("t"), "INFO", [])
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", '%(h)s %(u)s %(r)s %(q)s %(f)s %(a)s %({authorization}i)s')  # an operator's own
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/v1/events/x/release?attempt=1&name=Jane+Doe&sig=sha256%3D0123",
               "PATH_INFO": "/v1/events/x/release", "QUERY_STRING": "attempt=1&name=Jane+Doe&sig=sha256%3D0123",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"Jane Doe:pw").decode(),
               "HTTP_REFERER": "https://crm.example/contact/Jane-Doe?note=hates+pricing",
               "HTTP_USER_AGENT": "Jane's laptop", logs.ROUTE_ENVIRON_KEY: "/v1/events/<event_key:key>/release"}
    headers = [("AUTHORIZATION", environ["HTTP_AUTHORIZATION"]), ("REFERER", environ["HTTP_REFERER"])]
    log = logger_class(config)
    log.access(Sent(), types.SimpleNamespace(headers=headers), environ, timedelta(microseconds=1500))
    log.access(Sent(), types.SimpleNamespace(headers=headers), {**environ, logs.ROUTE_ENVIRON_KEY: "-",
                                                                "REQUEST_METHOD": "JANEDOE"}, timedelta(0))
    logging.getLogger("gunicorn.access").handlers[0].flush()
    written = (tmp_path / "access.log").read_text()
    assert "Jane" not in written and "hates" not in written and "sig=" not in written and "Basic" not in written
    first, second = written.splitlines()
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "POST /v1/events/<event_key:key>/release HTTP/1\.1" '
                        r'401 280 "-" "-" 1\.5ms', first), first
    assert '"other (no route) HTTP/1.1" 401 280' in second


def test_gunicorns_debug_lines_are_not_written_even_at_debug(caplog):
    # gunicorn at DEBUG quotes raw request bytes: headers, keys that are not configured, bodies.
    logs.init_app(Flask("t"), "DEBUG", ["ck_configured"])
    gunicorn = logging.getLogger("gunicorn.error")
    with caplog.at_level(logging.DEBUG, logger="gunicorn.error"):
        gunicorn.debug("Ignored premature client disconnection. No more data after: %r",
                       b'POST / HTTP/1.1\nX-API-Key: ck_old_rotated\n\n{"quote": "our CFO hates the price"}')
        gunicorn.info("Booting worker with pid: 7")
    assert "ck_old_rotated" not in caplog.text and "CFO" not in caplog.text
    assert "Booting worker" in caplog.text
    assert sum(isinstance(f, logs.GunicornLineFilter) for f in gunicorn.filters) == 1
    logs.init_app(Flask("t"), "DEBUG", [])  # again, as each worker's app does: still one
    assert sum(isinstance(f, logs.GunicornLineFilter) for f in gunicorn.filters) == 1


def test_a_client_whose_headers_stopped_coming_is_one_line_not_a_traceback(caplog):
    logs.init_app(Flask("t"), "INFO", [])
    try:
        raise TimeoutError("timed out")
    except TimeoutError:
        with caplog.at_level(logging.INFO, logger="gunicorn.error"):
            logging.getLogger("gunicorn.error").exception("Socket error processing request.")
    [line] = caplog.records
    assert (line.levelname, line.getMessage()) == (
        "INFO", "a client sent no whole request within the read timeout; connection closed")
    assert line.exc_info is None


# connector.logs.LINE_FORMAT, as written: logging's time, then key=value.
CONNECTOR_LINE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} level=%s logger=%s pid=%d %s"


def written_lines(path) -> list[str]:
    for handler in logging.getLogger("gunicorn.error").handlers:
        handler.flush()
    return path.read_text().splitlines()


def test_gunicorns_own_lines_are_written_as_the_connectors_are(tmp_path, gunicorn_loggers):
    # Before: "[2026-11-23 00:37:23 +0000] [3478] [INFO] Starting gunicorn 23.0.0" among lines
    # like "2026-11-23 00:37:23,824 level=INFO logger=connector pid=3489 request method=GET …".
    config = Config()
    config.set("logger_class", LOGGER_CLASS)  # as `connector serve` sets it
    config.set("errorlog", str(tmp_path / "error.log"))
    log = config.logger_class(config)
    log.info("Starting gunicorn %s", "23.0.0")
    log.error("Worker (pid:%s) exited with code %s.", 7, 1)
    starting, exited = written_lines(tmp_path / "error.log")
    assert re.fullmatch(CONNECTOR_LINE % ("INFO", r"gunicorn\.error", os.getpid(), r"Starting gunicorn 23\.0\.0"),
                        starting), starting
    assert re.fullmatch(CONNECTOR_LINE % ("ERROR", r"gunicorn\.error", os.getpid(),
                                          r"Worker \(pid:7\) exited with code 1\."), exited), exited


@pytest.mark.parametrize("loglevel, stopped_line", [("info", "INFO"), ("warning", None)])
def test_a_worker_the_master_stopped_is_no_error_one_killed_by_another_is(tmp_path, gunicorn_loggers,
                                                                           monkeypatch, loglevel, stopped_line):
    # Before: a reload's old worker that died of the master's SIGTERM was written
    # "[ERROR] Worker (pid:…) was sent SIGTERM!", as one killed by anyone else is.
    monkeypatch.setenv("SERVER_SOFTWARE", "")  # the arbiter sets it: put back after
    arbiter = _CheckedReloadArbiter(_Gunicorn({
        "bind": "127.0.0.1:0", "logger_class": LOGGER_CLASS, "loglevel": loglevel,
        "errorlog": str(tmp_path / "error.log"),
    }, load_profile(None), lambda: "not asked"))
    stopped, killed = children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
                                  for _ in range(2)]
    try:
        arbiter.WORKERS = {child.pid: types.SimpleNamespace(tmp=types.SimpleNamespace(close=lambda: None))
                           for child in children}
        arbiter.kill_worker(stopped.pid, signal.SIGTERM)  # as it retires an old worker after a reload
        os.kill(killed.pid, signal.SIGTERM)  # not the master
        for child in children:  # dead, not yet reaped: the arbiter reaps them
            os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        arbiter.reap_workers()
    finally:
        for child in children:
            child.kill()
            child.wait()
    written = [re.fullmatch(CONNECTOR_LINE % ("([A-Z]+)", r"gunicorn\.error", os.getpid(), "(.*)"), line).groups()
               for line in written_lines(tmp_path / "error.log")]
    assert sorted(line for line in written if "was sent" in line[1]) == sorted(
        [("ERROR", f"Worker (pid:{killed.pid}) was sent SIGTERM!")]
        + ([(stopped_line, f"Worker (pid:{stopped.pid}) was sent SIGTERM!")] if stopped_line else []))
    assert arbiter.WORKERS == {}
    assert arbiter.log.stopped_by_master == set()  # reaped: its pid may be another process's next
