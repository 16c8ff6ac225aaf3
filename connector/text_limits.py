"""Fitting text into Salesforce field lengths.

Salesforce counts lengths in Unicode characters (code points), which is what ``len``
counts on a Python ``str``. A value that is too long is refused whole
(STRING_TOO_LONG), so the connector shortens it first, visibly: an ellipsis marks the
cut, and the cut falls between words so no word is half shown.
"""
from __future__ import annotations

ELLIPSIS = "\u2026"


def _word_boundary(text: str, end: int) -> int:
    """The largest i <= end where text[:i] ends a word (the next character is a space)."""
    for i in range(end, 0, -1):
        if text[i].isspace() and not text[i - 1].isspace():
            return i
    return 0


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Return (text fitted into ``limit`` characters, whether it was cut).

    A cut result is a prefix of ``text`` followed by one ellipsis, at most ``limit``
    characters long, ending at a word boundary when one exists in range.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(text) <= limit:
        return text, False
    room = limit - len(ELLIPSIS)
    cut = _word_boundary(text, room) or room
    return text[:cut] + ELLIPSIS, True


def join_within(items: list[str], separator: str, limit: int) -> tuple[str, list[str]]:
    """Join ``items`` in order, leaving out whole items that would pass ``limit``.

    Returns the joined text and the items left out: an item is never cut, because half
    a theme in a comma-separated field reads as a different theme.
    """
    kept: list[str] = []
    dropped: list[str] = []
    length = 0
    for item in items:
        extra = len(item) + (len(separator) if kept else 0)
        if length + extra <= limit:
            kept.append(item)
            length += extra
        else:
            dropped.append(item)
    return separator.join(kept), dropped
