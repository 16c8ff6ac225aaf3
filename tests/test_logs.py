import logging

from connector.logs import RedactingFilter


def record(message, *args):
    return logging.LogRecord("connector", logging.INFO, __file__, 1, message, args, None)


def test_emails_and_secrets_are_masked_should_a_message_carry_them():
    entry = record("lookup for %s with %s failed", "o'brien@northwind.example", "whsec_live_123")
    RedactingFilter(["whsec_live_123"]).filter(entry)
    assert entry.getMessage() == "lookup for [email] with [secret] failed"


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

