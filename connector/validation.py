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
        raise MalformedJson(f"The {what} is not valid JSON (UTF-8, no NaN/Infinity).") from None
    if not isinstance(payload, dict):
        raise MalformedJson(f"The {what} must be a JSON object, not {_json_type(payload)}.")
    # Nesting needs an opening bracket per level: with few of them (any webhook Koji sends)
    # the walk through the parsed object can be skipped.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth_exceeds(payload, MAX_DEPTH):
        raise MalformedJson(f"The {what} is nested more than {MAX_DEPTH} levels deep.")
    return payload


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
