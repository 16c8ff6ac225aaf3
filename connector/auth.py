"""The connector's own API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
from __future__ import annotations

import hmac
from collections.abc import Iterable

from pydantic import SecretStr

from connector.errors import Unauthorized


def require_api_key(headers, keys: Iterable[SecretStr]) -> None:
    presented, where = _presented_key(headers)
    if presented is None:
        raise Unauthorized("Send the connector API key as 'Authorization: Bearer <key>' or 'X-API-Key'.")
    matched = False
    for key in keys:  # no early exit: timing does not reveal which key matched
        matched |= hmac.compare_digest(key.get_secret_value().encode(), presented.encode())
    if not matched:
        # Which header was read: with both sent (a credential next to an old hand-added header),
        # the caller checked the Bearer key, which was right, and not the X-API-Key that decided.
        also = (" (when both X-API-Key and Authorization are sent, X-API-Key is the one checked)"
                if where == "X-API-Key" and headers.get("Authorization") else "")
        raise Unauthorized(f"The connector API key in {where} is not accepted{also}.")


def _presented_key(headers) -> tuple[str | None, str | None]:
    """(the key, the header it came from), or (None, None)."""
    explicit = headers.get("X-API-Key")
    if explicit and explicit.strip():
        return explicit.strip(), "X-API-Key"
    scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), "Authorization"
    return None, None
