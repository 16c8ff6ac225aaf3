import logging

import pytest
from flask import Flask

from connector import logs
from connector.logs import RedactingFilter


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
                                     "jane%40corp.example", "JANE%40CORP.EXAMPLE", "o'brien@northwind.example"])
def test_every_shape_of_address_is_masked(address):
    # Before: only dotted ASCII domains with a literal @; gunicorn's DEBUG request line kept a
    # path's %40, and a caller's path could carry jane@localhost into the request line.
    entry = record("request path=/v1/events/%s:interview.completed status=404", address)
    RedactingFilter([]).filter(entry)
    assert entry.getMessage() == "request path=/v1/events/[email]:interview.completed status=404"


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
