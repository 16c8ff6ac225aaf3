"""Enrichment from Koji's REST API: the full interview when a webhook carries too little.

``GET {KOJI_API_BASE_URL}/api/v1/interviews/{id}`` with ``Authorization: Bearer <key>``
(https://www.koji.so/docs/webhook-setup, "fetch full results"), always with a timeout.

    KojiApiError                anything this module refuses to hide
    ├── KojiNotConfigured       KOJI_API_KEY is not set
    ├── KojiUnavailable         timeout, connection error, 5xx, 408, 429, an answer that is not
    │                           JSON: may pass, so asking again later is right
    └── KojiRefused             any other 4xx (`status`): Koji's final answer, asking again
        │                       gives the same one
        ├── KojiAuthError       401/403: the API key is wrong or lacks the right
        └── InterviewNotFound   404: no interview with that id (or not in this project)

Messages never carry the API key.
"""
from __future__ import annotations

from urllib.parse import quote

import requests


class KojiApiError(Exception):
    pass


class KojiNotConfigured(KojiApiError):
    pass


class KojiUnavailable(KojiApiError):
    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class KojiRefused(KojiApiError):
    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class KojiAuthError(KojiRefused):
    pass


class InterviewNotFound(KojiRefused):
    pass


# 4xx answers that say "not now" rather than "no".
_TRANSIENT_4XX = {408, 429}


def _get(url: str, api_key: str, timeout: float) -> requests.Response:
    try:
        return requests.get(url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
                            timeout=timeout)
    except requests.Timeout:
        raise KojiUnavailable(f"Koji's API did not answer within {timeout:g} s", timeout=True) from None
    except requests.RequestException as exc:
        raise KojiUnavailable(f"Koji's API could not be reached ({type(exc).__name__})") from None


def fetch_interview(interview_id: str, settings) -> dict:
    """The full interview as Koji's API returns it (a JSON object)."""
    if settings.koji_api_key is None:
        raise KojiNotConfigured("KOJI_API_KEY is not set, so the interview cannot be fetched")
    # The id comes from a webhook: quoted, it cannot climb to another path.
    url = f"{settings.koji_api_base_url.rstrip('/')}/api/v1/interviews/{quote(str(interview_id), safe='')}"
    response = _get(url, settings.koji_api_key.get_secret_value(), settings.http_timeout_seconds)
    _raise_for(response.status_code)
    try:
        body = response.json()
    except ValueError:
        raise KojiUnavailable("Koji's API answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise KojiUnavailable("Koji's API answered JSON that is not an object")
    return body


def _raise_for(status: int) -> None:
    if status >= 500 or status in _TRANSIENT_4XX:
        raise KojiUnavailable(f"Koji's API answered {status}")
    if status == 404:
        raise InterviewNotFound("Koji's API has no interview with this id", status=status)
    if status in (401, 403):
        raise KojiAuthError(f"Koji's API refused the API key ({status}); check KOJI_API_KEY", status=status)
    if 400 <= status < 500:
        raise KojiRefused(f"Koji's API refused the request ({status})", status=status)
    if status != 200:
        raise KojiApiError(f"Koji's API answered {status}")
