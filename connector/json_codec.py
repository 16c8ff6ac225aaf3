"""JSON in and out with orjson: parsing the webhook and writing the (several-kB) answer
are a measurable share of the verify path (docs/benchmarks.md), and orjson does both
about ten times faster than the standard library, with the same strictness
(no NaN/Infinity, no number beyond a double's range, UTF-8 only, no byte-order mark).

A lone UTF-16 surrogate escape (`"\\ud83d"`: what JavaScript's JSON.stringify writes for a
text cut in the middle of an emoji) is read as U+FFFD, the replacement character, in keys
and values alike: orjson refuses such a body whole, and a webhook that loses its interview
over half an emoji in a quote is worse than one replacement character. A pair of escapes
(`"\\ud83d\\ude00"`) still reads as its one character; bytes that are not UTF-8 (an encoded
surrogate included) stay refused. Only a body orjson refused for a lone surrogate pays for
this: the escapes are rewritten in place, six characters for six, and orjson reads the body
again, so every other refusal and its position stay orjson's.

orjson handles integers only within 64 bits ([-2**63, 2**64 - 1]). It reads a longer one
as a float without a word (a 30-digit external id in a payload's metadata would come out
rounded), and refuses to write one. So the standard library takes over for exactly those
integers: `loads` parses again when the body may hold one, `dumps` writes the answer
when orjson refuses an integer. Every other value keeps orjson's result.
"""
from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import orjson
from flask import Flask, Response
from flask.json.provider import JSONProvider

# An integer outside orjson's range is at least 2**64 (20 digits) or at most -2**63 - 1 (a
# minus sign and 19 digits): either way a run of 20 characters that are digits or minus
# signs, which a body without one cannot hold. Mapping those characters to "0" and looking
# for 20 zeros costs about 2 µs on a 2 KB webhook; a regex such as [0-9]{19} costs about
# 20 µs (re tries a match at every digit), ten times the check's worth.
_DIGITS_AND_MINUS_AS_ZERO = bytes.maketrans(b"-123456789", b"0000000000")
_SHORTEST_OUT_OF_RANGE_RUN = b"0" * 20
_ORJSON_INTEGER_LIMIT = "Integer exceeds 64-bit range"


def loads(raw: bytes | str) -> Any:
    """Raise ValueError (orjson.JSONDecodeError) for anything that is not strict JSON.

    Integers come back exact, even beyond 64 bits; everything else as orjson reads it.
    orjson runs first in every case, so what it refuses stays refused, lone surrogate escapes
    aside (read as U+FFFD)."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as refused:
        if refused.msg not in _LONE_SURROGATE_REFUSALS:
            raise
        raw = _lone_surrogates_replaced(raw, refused)
        parsed = orjson.loads(raw)  # anything else wrong with the body is refused here
    if not _may_hold_an_integer_beyond_64_bits(raw):
        return parsed
    return _loads_with_exact_integers(raw)


# orjson's words for a \uD800-\uDFFF escape that is not half of a pair: a high one not
# followed by a low one ("\ud83d", "\ud83d\u0041"), or a low one on its own ("\ude00").
_LONE_SURROGATE_REFUSALS = frozenset((
    "no low surrogate in string", "invalid low surrogate in string", "invalid high surrogate in string",
))
# Scanned from the start, each escape whole, so that an escaped backslash followed by "ud83d"
# ("\\ud83d", a backslash and five letters) is never taken for an escape. A backslash only
# ever stands inside a string in JSON that orjson reads; outside one the body stays refused.
_ESCAPE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a pair: kept
                     rb"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"  # a lone surrogate: replaced
                     rb"|\\.", re.DOTALL)  # any other escape: kept
_REPLACEMENT_ESCAPE = rb"\ufffd"  # as long as the escape it replaces: positions stay


def _lone_surrogates_replaced(raw: bytes | str, refused: orjson.JSONDecodeError) -> bytes:
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:  # a surrogate itself in the text, not an escape: refused
            raise refused from None
    return _ESCAPE.sub(_replace_lone_surrogate, raw)


def _replace_lone_surrogate(match: re.Match) -> bytes:
    return _REPLACEMENT_ESCAPE if match.group(1) else match.group(0)


def _may_hold_an_integer_beyond_64_bits(raw: bytes | str) -> bool:
    # A run inside a string (a phone number, an all-digit UUID), or a float's long mantissa,
    # also passes: that costs the second parse, never a different result.
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return _SHORTEST_OUT_OF_RANGE_RUN in data.translate(_DIGITS_AND_MINUS_AS_ZERO)


def _loads_with_exact_integers(raw: bytes | str) -> Any:
    """The standard library's reading of a body orjson has already accepted, so nothing
    orjson refuses gets this far (NaN, Infinity, 1e400, a BOM, invalid UTF-8, a lone
    surrogate escape: `loads` has already put U+FFFD in its place); parse_constant refuses NaN
    and Infinity here again all the same."""
    text = raw if isinstance(raw, str) else str(raw, "utf-8")  # strict: no replacement characters
    try:
        # Floats go through orjson so that they keep the very value the fast path gives.
        return json.loads(text, parse_float=orjson.loads, parse_constant=_refuse_constant)
    except RecursionError:
        # orjson accepts 1024 levels; the standard library stops at Python's recursion limit.
        raise ValueError("depth limit exceeded (nested too deeply to read exact integers)") from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def dumps(obj: Any) -> bytes:
    """orjson's bytes, or the standard library's when an integer is beyond 64 bits.

    Only orjson's 64-bit error leads to the standard library: any other refusal orjson meets
    first (a non-str key, a type it cannot write) is raised as before. Where orjson would
    write NaN or Infinity as null, the standard library refuses them (allow_nan=False); no
    answer holds one, as `loads` refuses them and 1e400."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError as exc:
        if str(exc) != _ORJSON_INTEGER_LIMIT:
            raise
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj).decode("utf-8")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dumps(obj), mimetype="application/json")


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
