"""Which strings are usable web links: absolute http(s) URLs with a host and no whitespace.

A Salesforce URL field and a Slack button both take one, and a bad one costs more than a
missing one: Slack refuses the whole message (`invalid_blocks`) for one bad button URL.
`urlsplit` alone is not the check: it accepts spaces, and raises ValueError on some
malformed URLs (an unclosed IPv6 bracket, a port that is not a number) instead of
answering "not a URL"."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_WHITESPACE = re.compile(r"\s")


def web_url(value: Any) -> str | None:
    """`value` stripped, if it is an absolute http(s) URL with a host; otherwise None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or _WHITESPACE.search(text):
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- reading it raises ValueError for a port that is not 0-65535
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return text
