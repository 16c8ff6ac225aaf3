"""Fitting text into Salesforce field lengths.

Salesforce counts lengths in Unicode characters (code points), which is what ``len``
counts on a Python ``str``. A value that is too long is refused whole
(STRING_TOO_LONG), so the connector shortens it first, visibly: an ellipsis marks the
cut, and the cut falls between words so no word is half shown, when a word ends near the
limit; otherwise between whole characters.
"""
from __future__ import annotations

import unicodedata

ELLIPSIS = "\u2026"
# The cut moves back to the end of a word only this far (a fifth of the room, at least 20
# characters): "a " followed by 10,000 letters must not become "a…" in a 4,000-character field.
# A longer run without spaces (a URL, a name in a script that has none) is cut hard.
WORD_SEARCH_FRACTION, WORD_SEARCH_MIN = 5, 20


def _word_boundary(text: str, end: int) -> int:
    """The largest i <= end, within the search window, where text[:i] ends a word (the next
    character is a space); 0 when there is none."""
    lowest = max(0, end - max(end // WORD_SEARCH_FRACTION, WORD_SEARCH_MIN))
    for i in range(end, lowest, -1):
        if text[i].isspace() and not text[i - 1].isspace():
            return i
    return 0


def _attached(char: str) -> bool:
    """Marks that belong to the character before them: an accent, a variation selector, a
    skin tone, a zero-width joiner (what follows a joiner is handled by _whole_characters)."""
    return (unicodedata.combining(char) != 0 or char == "\u200d" or "\ufe00" <= char <= "\ufe0f"
            or "\U0001f3fb" <= char <= "\U0001f3ff")


def _whole_characters(text: str, cut: int) -> int:
    """Move a hard cut back so that it splits no accented letter or emoji sequence."""
    moved = cut
    while moved > 0 and (_attached(text[moved]) or text[moved - 1] == "\u200d"):
        moved -= 1
    return moved or cut


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Return (text fitted into ``limit`` characters, whether it was cut).

    A cut result is a prefix of ``text`` followed by one ellipsis, at most ``limit``
    characters long, ending at a word boundary when one is near the limit, otherwise at a
    whole character (an accent or an emoji sequence is not split).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(text) <= limit:
        return text, False
    room = limit - len(ELLIPSIS)
    cut = _word_boundary(text, room) or _whole_characters(text, room)
    return text[:cut] + ELLIPSIS, True


def join_within(items: list[str], separator: str, limit: int, *, ranked: bool = False) -> tuple[str, list[str]]:
    """Join ``items`` in order, leaving out whole items that would pass ``limit``.

    Returns the joined text and the items left out: an item is never cut, because half
    a theme in a comma-separated field reads as a different theme. In a ``ranked`` list the
    first item that does not fit ends it: keeping a later one would move it up a rank.
    """
    kept: list[str] = []
    dropped: list[str] = []
    length = 0
    for item in items:
        extra = len(item) + (len(separator) if kept else 0)
        if length + extra <= limit and not (ranked and dropped):
            kept.append(item)
            length += extra
        else:
            dropped.append(item)
    return separator.join(kept), dropped
