"""The connector's own API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
from __future__ import annotations

import hmac
from collections.abc import Iterable

from pydantic import SecretStr

from connector.errors import Unauthorized


def require_api_key(headers, keys: Iterable[SecretStr]) -> None:
    presented = _presented_key(headers)
    if presented is None:
        raise Unauthorized("Send the connector API key as 'Authorization: Bearer <key>' or 'X-API-Key'.")
    matched = False
    for key in keys:  # no early exit: timing does not reveal which key matched
        matched |= hmac.compare_digest(key.get_secret_value().encode(), presented.encode())
    if not matched:
        raise Unauthorized("The connector API key is not accepted.")


def _presented_key(headers) -> str | None:
    explicit = headers.get("X-API-Key")
    if explicit and explicit.strip():
        return explicit.strip()
    scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None
