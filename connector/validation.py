"""Inbound payloads: strict JSON parsing and checks against the JSON Schemas in
`connector/schemas/` (the same files openapi.yaml references).

Error messages are built from the schema, never from the offending value, so a bad
e-mail or quote is never echoed back or logged.
"""
from __future__ import annotations

import json
from functools import cache
from itertools import islice
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from connector import json_codec
from connector.errors import MalformedJson, ValidationFailed

MAX_REPORTED_ERRORS = 50
# Koji's payloads nest five levels; a limit far above that keeps every later step
# (schema check, models, the JSON answer) clear of recursion limits.
MAX_DEPTH = 32


def parse_json_object(raw: bytes, *, what: str = "body") -> dict[str, Any]:
    try:
        payload = json_codec.loads(raw)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        if isinstance(exc, RecursionError) or "depth" in str(exc) or "recursion" in str(exc):
            raise MalformedJson(f"The {what} is nested more than {MAX_DEPTH} levels deep.") from None
        raise MalformedJson(_not_json(raw, exc, what)) from None
    if not isinstance(payload, dict):
        raise MalformedJson(f"The {what} must be a JSON object, not {_json_type(payload)}.")
    # Nesting needs an opening bracket per level: with few of them (any webhook Koji sends)
    # the walk through the parsed object can be skipped.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth_exceeds(payload, MAX_DEPTH):
        raise MalformedJson(f"The {what} is nested more than {MAX_DEPTH} levels deep.")
    return payload


# orjson's reasons (yyjson's fixed texts, and its own), as the detail gives them: in words
# that need no quoting of JSON's punctuation. A reason not listed here (a later orjson's) is
# left out, the position kept: the detail never carries text it cannot vouch for, so nothing
# of the body (an e-mail, a quote) can come back in it.
_REASONS = {
    "unexpected character, expected a string key": "expected a key in double quotes",
    "unexpected character, expected ':' after key": "expected a colon after the key",
    "unexpected character, expected ',' or '}'": "expected a comma or the end of the object",
    "unexpected character, expected ',' or ']'": "expected a comma or the end of the array",
    "unexpected character, expected a JSON value": "expected a JSON value",
    "invalid literal, expected 'true'": "invalid literal, expected true",
    "invalid literal, expected 'false'": "invalid literal, expected false",
    "invalid literal, expected 'null'": "invalid literal, expected null",
    "unexpected content after document": "unexpected content after the JSON value",
    "unexpected end of data": "unexpected end of data",
    "trailing comma is not allowed": "trailing comma is not allowed",
    "unexpected control character in string": "a control character, such as a tab or a line break, "
                                              "unescaped in a string",
    "invalid escaped sequence in string": "invalid escape sequence in a string",
    "invalid escape in string": "invalid escape sequence in a string",
    "no digit after sign": "no digit after a minus sign",
    "no digit after decimal point": "no digit after the decimal point",
    "no digit after exponent sign": "no digit in the exponent",
    "number with leading zero is not allowed": "number with a leading zero",
    "number is infinity when parsed as double": "a number beyond what a double can hold (about 1.8e308)",
    "invalid UTF-8 encoding in string": "invalid UTF-8 in a string",
    "invalid utf-8 encoding in string": "invalid UTF-8 in a string",
}
_EMPTY = ("Input is a zero-length, empty document", "input data is empty", "input length is 0")
_BOM = "UTF-8 byte order mark (BOM) is not supported"
_NOT_UTF8 = "str is not valid UTF-8: surrogates not allowed"


def _not_json(raw: bytes, refused: ValueError, what: str) -> str:
    """What is wrong with a body the parser refused, and where: orjson's reason in fixed words
    and its line and column (counted in characters), or the offset of the first byte that is
    not UTF-8. Never a fragment of the body: it may hold an e-mail or a quote.

    Only a refused body comes here: the valid path pays nothing for it."""
    reason = getattr(refused, "msg", None)
    if reason in _EMPTY:
        return f"The {what} is empty: send a JSON object."
    if reason == _BOM:
        return f"The {what} starts with a byte-order mark (BOM), which JSON does not allow: send it without one."
    if reason == _NOT_UTF8 and isinstance(raw, (bytes, bytearray)):
        return _not_utf8(bytes(raw), what)
    position = _position(refused)
    if reason is None or position is None:
        return f"The {what} is not valid JSON."
    if _is_nan_or_infinity(raw, reason, getattr(refused, "pos", 0)):
        reason = "NaN or Infinity, which JSON does not allow"
    else:
        reason = _REASONS.get(reason)
    return f"The {what} is not valid JSON: {reason} {position}." if reason else \
        f"The {what} is not valid JSON {position}."


def _position(refused: ValueError) -> str | None:
    line, column = getattr(refused, "lineno", None), getattr(refused, "colno", None)
    if not (isinstance(line, int) and isinstance(column, int)):
        return None
    return f"(line {line:,}, column {column:,})"


def _is_nan_or_infinity(raw: bytes | str, reason: str, pos: int) -> bool:
    """orjson says "expected a JSON value" at NaN or Infinity, and "no digit after sign" just
    after the minus of -Infinity; `pos` counts characters."""
    if reason not in ("unexpected character, expected a JSON value", "no digit after sign"):
        return False
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    if not isinstance(pos, int) or not 0 <= pos <= len(text):
        return False
    if reason == "no digit after sign":
        return pos > 0 and text[pos - 1] == "-" and text.startswith(("Infinity", "NaN"), pos)
    return text.startswith(("NaN", "Infinity"), pos)


def _not_utf8(raw: bytes, what: str) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        start = bad.start
    else:  # orjson's reason for a body that is UTF-8 after all: say no more than that
        return f"The {what} is not valid JSON."
    line_start = raw.rfind(b"\n", 0, start) + 1
    line, column = raw.count(b"\n", 0, start) + 1, len(raw[line_start:start].decode("utf-8")) + 1
    utf16 = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
    return (f"The {what} is not valid UTF-8{utf16}: the bytes at offset {start:,} (counting from 0; line {line:,}, "
            f"column {column:,}) are not a UTF-8 character. Send JSON encoded as UTF-8.")


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def check(payload: Any, schema_name: str) -> None:
    """Raise ValidationFailed listing the violations as {pointer, message}, at most
    MAX_REPORTED_ERRORS of them.

    jsonschema-rs (compiled Rust) answers the common case, a valid payload, in a few
    microseconds; only a payload it refuses goes through jsonschema, which lists the errors
    and has the final word (tests/test_validation.py checks that the two agree)."""
    if _fast_validator(schema_name).is_valid(payload):
        return
    # Only as many errors as are reported, plus one to know there are more: listing all of a
    # 1 MiB body's 350,000 bad items took a worker past gunicorn's 30 s timeout.
    errors = sorted(islice(_validator(schema_name).iter_errors(payload), MAX_REPORTED_ERRORS + 1),
                    key=lambda e: list(e.path))
    if errors:
        count = str(len(errors)) if len(errors) <= MAX_REPORTED_ERRORS else f"More than {MAX_REPORTED_ERRORS}"
        raise ValidationFailed(f"{count} field(s) do not match the schema {schema_name}.",
                               errors=[_describe(error) for error in errors[:MAX_REPORTED_ERRORS]])


def warm_up(*schema_names: str) -> None:
    """Compile the validators at start-up, so the first webhook does not pay for it."""
    for name in schema_names:
        _fast_validator(name)
        _validator(name)


@cache
def load_schema(schema_name: str) -> dict[str, Any]:
    text = resources.files("connector.schemas").joinpath(schema_name).read_text("utf-8")
    return json.loads(text)


@cache
def _fast_validator(schema_name: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(load_schema(schema_name))


def _items_within_max_items(validator, items, instance, schema):
    """Draft 2020-12's `items`, except that an array over its `maxItems` is not checked item by
    item: `maxItems` refuses it whole, in one error. Walked in Python, a 1 MiB body's 262,000
    items took seconds (only after jsonschema-rs has refused the body)."""
    if validator.is_type(instance, "array") and len(instance) > schema.get("maxItems", len(instance)):
        return
    yield from _DRAFT_ITEMS(validator, items, instance, schema)


_DRAFT_ITEMS = Draft202012Validator.VALIDATORS["items"]
_Validator = validators.extend(Draft202012Validator, {"items": _items_within_max_items})


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    return _Validator(load_schema(schema_name))


def json_pointer(parts) -> str:
    """An RFC 6901 JSON pointer to the value reached through `parts` (keys and indexes)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _describe(error: ValidationError) -> dict[str, str]:
    return {"pointer": json_pointer(error.path), "message": _message(error)}


def _message(error: ValidationError) -> str:
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        missing = [name for name in expected if isinstance(error.instance, dict) and name not in error.instance]
        return "missing required property " + ", ".join(repr(name) for name in missing)
    if kind == "type":
        return f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}"
    if kind in ("maxLength", "minLength"):
        return f"must be {'at most' if kind == 'maxLength' else 'at least'} {expected} characters"
    if kind in ("minimum", "maximum"):
        return f"must be {'at least' if kind == 'minimum' else 'at most'} {expected}"
    if kind in ("maxItems", "minItems"):
        return f"must have {'at most' if kind == 'maxItems' else 'at least'} {expected} items"
    if kind == "enum":
        return "must be one of " + ", ".join(json.dumps(value) for value in expected)
    if kind in ("anyOf", "oneOf"):
        return _shapes_message(error.instance, expected)
    if kind == "additionalProperties":
        return "has properties the schema does not allow"
    return f"violates '{kind}'"


def _shapes_message(instance: Any, shapes: list) -> str:
    """When the documented shapes are told apart by the properties they require (a webhook by
    `event` or `type`), name them: the caller learns what to send, not only that it is wrong.
    A shape that requires nothing (Koji's verification request, which has to lack an event's
    values) is left out of the message: the body failed it by carrying them."""
    required = [shape["required"] for shape in shapes if isinstance(shape, dict) and shape.get("required")]
    if (isinstance(instance, dict) and required
            and not any(all(name in instance for name in names) for names in required)):
        return ("needs " + " or ".join(" and ".join(repr(name) for name in names) for names in required)
                + " (see openapi.yaml)")
    return "does not match any documented shape (see openapi.yaml)"


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")
