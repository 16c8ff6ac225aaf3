"""Schemathesis hooks: sign generated webhook bodies like Koji would.

Without a valid signature every generated verify request stops at the HMAC check and the
normalizer, decision and mapping behind it would never be fuzzed. requests serializes a
JSON body as `json.dumps(body, allow_nan=False)`; these hooks sign exactly those bytes.
Loaded through SCHEMATHESIS_HOOKS=signing_hooks (tests/test_openapi.py)."""
import base64
import binascii
import hashlib
import hmac
import json
import os
import re

import schemathesis

SECRET = os.environ["KOJI_WEBHOOK_SECRET_FOR_FUZZING"].encode()


def _sign(raw: bytes) -> str:
    return "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if path == "/v1/koji/verify" and isinstance(case.body, dict) and _valid_signature_shape(case.headers):
        # Only a case that carries a well-formed header gets the right value: cases that
        # omit it or malform it on purpose (negative testing) must stay as generated.
        case.headers = {**case.headers,
                        "X-Koji-Signature": _sign(json.dumps(case.body, allow_nan=False).encode("utf-8"))}
    elif path == "/v1/koji/verify-envelope" and isinstance(case.body, dict):
        raw = _envelope_bytes(case.body)
        if raw is not None and isinstance(case.body.get("signature"), str):
            case.body = {**case.body, "signature": _sign(raw)}


def _valid_signature_shape(headers) -> bool:
    value = (headers or {}).get("X-Koji-Signature")
    return isinstance(value, str) and re.fullmatch(r"sha256=[0-9a-fA-F]{64}", value) is not None


def _envelope_bytes(envelope: dict):
    if isinstance(envelope.get("raw_body"), str):
        try:
            return envelope["raw_body"].encode("utf-8")
        except UnicodeEncodeError:
            return None
    if isinstance(envelope.get("raw_body_base64"), str):
        compact = "".join(envelope["raw_body_base64"].split())
        try:
            return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    return None
