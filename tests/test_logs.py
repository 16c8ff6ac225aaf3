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
