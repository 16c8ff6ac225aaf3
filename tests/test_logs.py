import base64
import hashlib
import logging
import os
import re
import sys
import types
from datetime import timedelta

import pytest
from flask import Flask
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http.errors import InvalidHeader, InvalidHTTPVersion, ParseException
from werkzeug.test import EnvironBuilder

from connector import logs
from connector.logs import RedactingFilter
from connector.server import LOGGER_CLASS, GunicornLogger


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


# -- redaction: edges an operator relies on --------------------------------------------------

def test_a_secret_of_the_shortest_accepted_length_is_masked_and_a_longer_one_whole():
    # The longer secret holds the shorter and sorts after it by its text: masked longest first.
    shortest = "z" * logs.MIN_MASKED_CHARS
    holder = "a_" + shortest
    entry = record("saw %s and %s and %s", shortest, holder, shortest[1:])
    RedactingFilter([shortest, holder, shortest[1:]]).filter(entry)
    assert entry.getMessage() == f"saw [secret] and [secret] and {shortest[1:]}"


def test_a_stack_is_masked_like_the_message_and_keeps_its_lines():
    entry = record("where am I")
    entry.stack_info = "Stack (most recent call last):\n  lookup('jane@corp.example', 'whsec_live_0123456789')\x1b[2J"
    RedactingFilter(["whsec_live_0123456789"]).filter(entry)
    assert entry.stack_info == "Stack (most recent call last):\n  [email] '[secret]')\\x1b[2J"


def test_a_key_or_id_with_a_lone_surrogate_is_hashed_not_a_logging_error():
    # A JSON payload may carry "\ud800": str.encode("utf-8") alone refuses it.
    for shown, kind, text in ((logs.shown_key, "key", "\ud800:ping"), (logs.shown_id, "id", "int_\udcff")):
        assert shown(text) == f"{kind}#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@pytest.mark.parametrize("value, shown", [
    ("int_7Hq2LmN4", "int_7Hq2LmN4"), ("f8e7d6c5-b4a3-2109-8765-432109876543", "f8e7d6c5-b4a3-2109-8765-432109876543"),
    (42, "42"), ("jane@corp.example", None), ("Jane Doe hates the pricing", None), ("a" * 129, None), ("", None),
])
def test_an_interview_id_is_shown_whole_only_when_it_has_an_ids_shape(value, shown):
    expected = shown or "id#" + hashlib.sha256(str(value).encode()).hexdigest()[:12]
    assert logs.shown_id(value) == expected


# -- the connector's request lines -------------------------------------------------------------

@pytest.fixture
def connector_logger():
    """init_app configures the process-wide "connector" logger: put back after."""
    logger = logging.getLogger("connector")
    saved = logger.handlers[:], logger.propagate, logger.level
    yield logger
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


def logged_app(level: str, secrets: list[str]) -> Flask:
    app = Flask("t")
    logs.init_app(app, level, secrets)

    @app.post("/v1/events/<key>/complete")
    def complete(key):
        logging.getLogger("connector.ledger").warning("completed for jane.doe@corp.example with %s", "ck_live_0123456789")
        return "", 204

    return app


def test_each_request_is_one_line_naming_route_and_key_once(connector_logger, capsys, caplog):
    app = logged_app("INFO", ["ck_live_0123456789"])
    with caplog.at_level(logging.DEBUG):
        app.test_client().post("/v1/events/abc123:interview.completed/complete")
        app.test_client().post("/v1/events/jane@corp.example:ping/complete")
        app.test_client().open("/nowhere/jane", method="BREW")
    lines = capsys.readouterr().err.splitlines()
    written = [re.fullmatch(CONNECTOR_LINE % (r"(\w+)", r"([\w.]+)", os.getpid(), "(.*)"), line).groups()
               for line in lines]
    assert [(level, name) for level, name, _ in written] == [
        ("WARNING", "connector.ledger"), ("INFO", "connector"), ("WARNING", "connector.ledger"), ("INFO", "connector"),
        ("INFO", "connector")]
    assert written[0][2] == written[2][2] == "completed for [email] with [secret]"
    hashed = "key#" + hashlib.sha256(b"jane@corp.example:ping").hexdigest()[:12]
    assert re.search(r" request method=POST route=/v1/events/<key>/complete key=abc123:interview\.completed "
                     r"status=204 ms=\d+\.\d$", lines[1])
    assert re.search(rf" request method=POST route=/v1/events/<key>/complete key={hashed} status=204 ms=", lines[3])
    assert re.search(r" request method=other route=\(no route\) status=404 ms=", lines[4])
    assert not [r for r in caplog.records if r.name.startswith("connector")]  # written once, not again by the root's


def test_above_info_no_request_line_is_written(connector_logger, capsys):
    logged_app("WARNING", []).test_client().post("/v1/events/abc123:interview.completed/complete")
    [line] = capsys.readouterr().err.splitlines()
    assert "level=WARNING logger=connector.ledger" in line


def environ_after(app: Flask) -> dict:
    """The WSGI environ of a request once the app has answered it, as gunicorn's access line reads it."""
    environ = EnvironBuilder("/v1/events/abc123:ping/complete", method="POST").get_environ()
    b"".join(app(environ, lambda status, headers, exc_info=None: None))
    return environ


def test_the_route_is_left_for_gunicorns_access_line_only_under_an_access_log(connector_logger, gunicorn_loggers):
    assert logs.ROUTE_ENVIRON_KEY not in environ_after(logged_app("WARNING", []))
    logging.getLogger("gunicorn.access").addHandler(logging.NullHandler())
    assert environ_after(logged_app("WARNING", []))[logs.ROUTE_ENVIRON_KEY] == "/v1/events/<key>/complete"


def test_a_later_app_replaces_the_redaction_on_gunicorns_loggers(connector_logger, gunicorn_loggers, caplog):
    logs.init_app(Flask("t"), "INFO", ["whsec_old_0123456789"])
    logs.init_app(Flask("t"), "INFO", ["whsec_new_0123456789"])
    gunicorn = logging.getLogger("gunicorn.error")
    assert sum(isinstance(f, RedactingFilter) for f in gunicorn.filters) == 1
    with caplog.at_level(logging.INFO, logger="gunicorn.error"):
        gunicorn.info("saw %s", "whsec_new_0123456789")
    assert caplog.records[-1].getMessage() == "saw [secret]"


# -- gunicorn's lines ----------------------------------------------------------------------------

def test_gunicorns_lines_that_quote_the_request_are_rewritten_even_outside_an_exception(connector_logger, caplog):
    logs.init_app(Flask("t"), "INFO", [])
    gunicorn = logging.getLogger("gunicorn.error")
    with caplog.at_level(logging.INFO, logger="gunicorn.error"):
        gunicorn.warning("Invalid request from ip=10.0.0.7: Invalid HTTP Version 'Doe&quote=awful'")
        gunicorn.error("Error handling request %s", "/v1/events/x?name=Jane+Doe&sig=0123")
    refused, failed = (line.getMessage() for line in caplog.records)
    assert refused.startswith("Invalid request from ip=10.0.0.7: ") and "Doe" not in refused
    assert "NoneType" not in refused
    assert failed.startswith("Error handling request") and "Jane" not in failed and "sig" not in failed


def access_record(args: dict) -> logging.LogRecord:
    return logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s %(r)s", (args,), None)


def test_an_access_line_writes_dashes_for_what_it_lacks_or_cannot_trust():
    given = access_record({"h": "10.0.0.7", "m": "GET", "H": "HTTP/1.1 Jane's laptop", "s": "200", "D": "slow"})
    rounded = access_record({"h": "10.0.0.7", "t": "[t]", "m": "GET", "H": "HTTP/2.0", "s": "200", "b": "12",
                             "D": 1234567, "{connector.route}e": "/healthz"})
    for entry in (given, rounded):
        assert logs.AccessLineFilter().filter(entry)
    assert given.getMessage() == '10.0.0.7 - - - "GET (no route) -" 200 - "-" "-" -'
    assert rounded.getMessage() == '10.0.0.7 - - [t] "GET /healthz HTTP/2.0" 200 12 "-" "-" 1234.6ms'


def test_a_line_of_anothers_on_the_access_logger_is_kept_for_the_redaction(connector_logger, gunicorn_loggers, caplog):
    logs.init_app(Flask("t"), "INFO", [])
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logging.getLogger("gunicorn.access").info("note about %s", "jane@corp.example")
    assert [line.getMessage() for line in caplog.records] == ["note about [email]"]


# -- where a 500 happened ----------------------------------------------------------------------

def _code_at(filename: str, source: str) -> dict:
    """Functions whose frames carry `filename`, as a library's or the connector's would."""
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


OWN = _code_at(str(logs._PACKAGE_PARENT / "connector" / "own_part.py"),
               "def outer(call):\n    return middle(call)\n\n\ndef middle(call):\n    return inner(call)\n\n\n"
               "def inner(call):\n    return call()\n")
LIBRARY = _code_at("/home/jane/venv/lib/python3.11/site-packages/x/site-packages/lib/deep.py",
                   "def deep(n):\n    if n == 0:\n        raise ValueError('jane@corp.example')\n    return deep(n - 1)\n")
DIST = _code_at("/usr/lib/python3/dist-packages/other/mod.py", "def fail(call):\n    return call()\n")
ELSEWHERE = _code_at("/home/jane/scripts/tool.py", "def fail():\n    raise KeyError('Jane Doe')\n")


def failure(call) -> BaseException:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - whatever the call raises is the subject
        return exc
    raise AssertionError("did not fail")


def test_where_a_500_happened_names_the_innermost_frames_and_the_connectors_own_place():
    # Six library frames deep: the innermost of the connector's own (inner, not middle or outer) follows them.
    where = logs.where_it_failed(failure(lambda: OWN["outer"](lambda: LIBRARY["deep"](8))))
    assert where.split(",") == ["lib/deep.py:3:deep"] + ["lib/deep.py:4:deep"] * 5 + ["connector/own_part.py:10:inner"]
    assert "jane" not in where


def test_where_a_500_happened_when_the_connectors_frames_are_among_the_innermost():
    where = logs.where_it_failed(failure(lambda: DIST["fail"](lambda: OWN["outer"](ELSEWHERE["fail"]))))
    this = re.escape("tests/test_logs.py")
    # Six frames: the connector's own are among them, so none is added.
    assert re.fullmatch(r"tool\.py:2:fail,connector/own_part\.py:10:inner,connector/own_part\.py:6:middle,"
                        rf"connector/own_part\.py:2:outer,{this}:\d+:<lambda>,other/mod\.py:2:fail", where), where


def test_masking_a_long_run_without_spaces_reads_each_run_once(monkeypatch):
    # Found by a security audit: \S*(?:@|%40)\S* scanned to the end of a run from each of its
    # characters, seconds for 20 kB without a space. Counted, not timed: each run is read once.
    runs = []
    original = logs._masked_run
    monkeypatch.setattr(logs, "_masked_run", lambda run: runs.append(run.group()) or original(run))
    masked = RedactingFilter([])._redact("x" * 200_000 + "@corp.example tail", logs._CONTROL)
    assert masked == "[email] tail" and [len(run) for run in runs] == [200_013, 4]
