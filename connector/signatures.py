"""Koji webhook signatures: `X-Koji-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

Spec: https://www.koji.so/docs/webhook-setup ("Verifying Webhook Signatures"). The HMAC is
computed over the exact bytes received, before any JSON parsing, and compared in constant
time against every active secret (several are active while a secret is rotated).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from pydantic import SecretStr

SIGNATURE_HEADER = "X-Koji-Signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


class SignatureError(Exception):
    """The signature is missing, malformed or wrong. The message never reveals the expected value."""


def sign(body: bytes, secret: str) -> str:
    """The header value Koji would send for `body`; shared by tests and `send-test-event`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, secrets: Iterable[SecretStr | str]) -> None:
    """Raise SignatureError unless `signature` is a valid HMAC of `body` under one of `secrets`."""
    if signature is None or not signature.strip():
        raise SignatureError(f"The {SIGNATURE_HEADER} signature is missing.")
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise SignatureError(
            f"The {SIGNATURE_HEADER} signature is malformed: expected 'sha256=' and 64 hex digits.")
    received = match.group(1).lower().encode("ascii")
    matched = False
    # Check every secret (no early exit) so timing does not tell which secret matched.
    for secret in secrets:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        expected = hmac.digest(value.encode("utf-8"), body, "sha256").hex().encode("ascii")
        matched |= hmac.compare_digest(expected, received)
    if not matched:
        raise SignatureError(
            "The signature did not match the body. Forward the exact bytes Koji sent "
            "(re-serialized JSON does not verify) and check the webhook secret.")
