"""SOQL string literals and the lookup queries built from them.

Implements the quoting rules of Salesforce's SOQL reference ("Quoted String Escape
Sequences"): a literal is single-quoted and the only escapes are
``\\n \\r \\t \\b \\f \\" \\' \\\\`` and ``\\uXXXX``. Building a query by concatenation
without this is an injection hole (an e-mail such as ``o'brien@x.com`` ends the string).
"""
from __future__ import annotations

import re
from urllib.parse import quote

# Salesforce refuses a WHERE clause whose string is longer than this.
MAX_WHERE_CHARS = 4000
# ...and answers 414 to a request URI longer than this. A lookup is a GET of
# /services/data/vNN.N/query?q=<the query, percent-encoded>: a character outside ASCII
# takes up to 12 bytes there, so 1,900 CJK characters fit the WHERE limit but not the URI.
MAX_URI_BYTES = 16384
_QUERY_PATH_BYTES = len("/services/data/v999.9/query?q=")
# A query this short fits whatever it holds (12 bytes a character at most): no need to encode it.
_ALWAYS_FITS_CHARS = (MAX_URI_BYTES - _QUERY_PATH_BYTES) // 12

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
# API names are identifiers: letters, digits, underscores (custom ones end in __c).
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # fullmatch: "$" lets a final newline in


# What _escape_char changes: quotes, backslash, and control characters.
_NEEDS_ESCAPE = re.compile(r"[\\'\"\x00-\x1f\x7f]")


class SoqlError(ValueError):
    """A value or name that cannot be put into a query; the message never holds the value."""


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    # Other control characters have no short escape; \uXXXX keeps the query printable.
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04x}"
    return char


def quote_literal(value: str) -> str:
    """Return ``value`` as a single-quoted SOQL string literal."""
    if not isinstance(value, str):
        raise SoqlError("a SOQL string literal needs a str")
    return "'" + _NEEDS_ESCAPE.sub(lambda match: _escape_char(match.group()), value) + "'"


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise SoqlError(f"not a Salesforce API name: {name!r}")
    return name


def lookup_query(sobject: str, field: str, value: str, select: tuple[str, ...] = ("Id",)) -> str:
    """``SELECT <select> FROM <sobject> WHERE <field> = '<value>' LIMIT 1``.

    Raises SoqlError when a name is not an API name, the WHERE clause would pass
    Salesforce's 4,000-character limit or the GET that runs the query its 16,384-byte
    request URI (the value itself is never in the message).
    """
    columns = ", ".join(_identifier(name) for name in select)
    where = f"{_identifier(field)} = {quote_literal(value)}"
    if len(where) > MAX_WHERE_CHARS:
        raise SoqlError(
            f"the WHERE clause on {field} would be {len(where)} characters; "
            f"Salesforce allows {MAX_WHERE_CHARS}"
        )
    query = f"SELECT {columns} FROM {_identifier(sobject)} WHERE {where} LIMIT 1"
    if len(query) > _ALWAYS_FITS_CHARS:
        uri_bytes = _QUERY_PATH_BYTES + len(quote(query, safe=""))
        if uri_bytes > MAX_URI_BYTES:
            raise SoqlError(f"the query on {field} would make a {uri_bytes}-byte request URI once "
                            f"percent-encoded; Salesforce allows {MAX_URI_BYTES}")
    return query
