"""Which strings are usable web links: absolute http(s) URLs with a host and no whitespace
or control characters.

A Salesforce URL field and a Slack button both take one, and a bad one costs more than a
missing one: Slack refuses the whole message (`invalid_blocks`) for one bad button URL.
`urlsplit` alone is not the check: it accepts spaces and control characters, and raises
ValueError on some malformed URLs (an unclosed IPv6 bracket, a port that is not a number)
instead of answering "not a URL"."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# `\s` misses NUL, DEL and most other control characters. A URL holds one only percent-encoded
# (%00, RFC 3986); raw, Slack refuses the message and Salesforce may refuse the whole PATCH.
# So C0, DEL and C1 (U+0080-U+009F) are refused anywhere, as whitespace is.
_NOT_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def web_url(value: Any) -> str | None:
    """`value` stripped, if it is an absolute http(s) URL with a host; otherwise None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or _NOT_IN_A_URL.search(text):
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- reading it raises ValueError for a port that is not 0-65535
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return text
