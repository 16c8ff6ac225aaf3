"""The verify envelope for tools that cannot forward raw bytes (docs/design.md):
`{"raw_body": "<exact body>", "signature": "sha256=…"}` or `{"raw_body_base64": "…", "signature": "…"}`.
base64 is the safe choice: no templating engine can alter it on the way."""
from __future__ import annotations

import base64
import binascii
from typing import Any, NamedTuple

from connector.errors import InvalidSignature, MalformedEnvelope

_ALLOWED = {"raw_body", "raw_body_base64", "signature"}


class Envelope(NamedTuple):
    raw: bytes
    signature: str
    body_name: str  # what a problem with the body calls it: "raw_body", "body in raw_body_base64"


def open_envelope(envelope: dict[str, Any]) -> Envelope:
    """Return the raw body bytes and the signature, or raise a problem saying what is wrong."""
    unknown = sorted(set(envelope) - _ALLOWED)
    if unknown:
        raise MalformedEnvelope("The envelope allows only raw_body or raw_body_base64, and signature; "
                                f"remove {len(unknown)} other propert{'y' if len(unknown) == 1 else 'ies'}.")
    signature = envelope.get("signature")
    if signature is not None and not isinstance(signature, str):
        raise InvalidSignature("The envelope's 'signature' must be a string: the X-Koji-Signature value.")
    if signature is None or not signature.strip():
        raise InvalidSignature("The envelope's 'signature' (the X-Koji-Signature value) is missing.")
    has_text, has_b64 = "raw_body" in envelope, "raw_body_base64" in envelope
    if has_text == has_b64:
        raise MalformedEnvelope("Send exactly one of 'raw_body' (text) or 'raw_body_base64'.")
    if has_text:
        return Envelope(_text(envelope["raw_body"]), signature, "raw_body")
    return Envelope(_base64(envelope["raw_body_base64"]), signature, "body in raw_body_base64")


def _text(value: Any) -> bytes:
    if not isinstance(value, str):
        raise MalformedEnvelope("'raw_body' must be a string holding the exact body Koji sent.")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from a \ud800 escape
        raise MalformedEnvelope("'raw_body' is not valid Unicode text; send raw_body_base64.") from None


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise MalformedEnvelope("'raw_body_base64' must be a base64 string.")
    compact = "".join(value.split())  # tolerate line-wrapped base64
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEnvelope("'raw_body_base64' is not valid base64 (standard alphabet).") from None
