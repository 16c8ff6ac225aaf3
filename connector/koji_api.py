"""Enrichment from Koji's REST API: the full interview when a webhook carries too little.

``GET {KOJI_API_BASE_URL}/api/v1/interviews/{id}`` with ``Authorization: Bearer <key>``
(https://www.koji.so/docs/webhook-setup, "fetch full results"), always with a timeout.
The answer is read and checked as strictly as an interview POSTed to /v1/salesforce/map:
the strict JSON reader of the inbound bodies, then koji-interview.schema.json.

    KojiApiError                anything this module refuses to hide
    ├── KojiNotConfigured       KOJI_API_KEY is not set
    ├── KojiUnavailable         timeout, connection error, 5xx, 408, 429, an answer that is not
    │                           a JSON object: may pass, so asking again later is right
    └── KojiRefused             any other 4xx (`status`): Koji's final answer, asking again
        │                       gives the same one
        ├── KojiAuthError       401/403: the API key is wrong or lacks the right
        ├── InterviewNotFound   404: no interview with that id (or not in this project)
        ├── KojiRedirected      any 3xx, not followed: KOJI_API_BASE_URL names another place
        │                       than the API, and will on every retry until someone changes it
        ├── UnfetchableId       an id that would not stay one segment of the path ("", ".",
        │                       ".."): nothing is asked (`status` None)
        ├── KojiAnswerUnusable  200 with a JSON object the connector refuses (nested too deep,
        │                       NaN, against the schema, over MAX_ANSWER_BYTES):
        │                       the same bytes on every retry, so as final as a 404
        └── AnotherInterview    200 with an interview whose id is not the one asked for (a
                                proxy's cache, a rewritten path): another person's answers

Messages never carry the API key, nor a value of Koji's answer (an e-mail, a quote): they
name JSON pointers and the schema's rules only.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import requests

from connector.bounded_http import Answer, AnswerIsRedirect, AnswerTooLarge, fetch
from connector.errors import MalformedJson, ValidationFailed
from connector.validation import check, parse_json_object

INTERVIEW_SCHEMA = "koji-interview.schema.json"
# A full interview with a long transcript is a few hundred kB; the webhook itself may hold 1 MiB.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# Violations named in a message; the rest are counted.
_SHOWN_VIOLATIONS = 3


class KojiApiError(Exception):
    pass


class KojiNotConfigured(KojiApiError):
    pass


class KojiUnavailable(KojiApiError):
    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class KojiRefused(KojiApiError):
    """`reason`, when set, says why without any value from the answer, for the answer's
    `not enriched` warning; without it, the status says enough."""

    def __init__(self, message: str, *, status: int | None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class KojiAuthError(KojiRefused):
    pass


class InterviewNotFound(KojiRefused):
    pass


class KojiRedirected(KojiRefused):
    """Final, like a wrong key (401/403), rather than 502: the redirect comes from the configured
    base URL (http for https, another host name, a moved API) and comes back on every retry
    until KOJI_API_BASE_URL is changed, which may be after Koji's last retry (about 2.5 h)
    has given the event up. Answered from the webhook's data, the event is kept, and the
    warning and the log line say what to check."""

    def __init__(self, status: int):
        reason = (f"Koji's API answered {status}, a redirect, which the connector does not follow "
                  "(check KOJI_API_BASE_URL)")
        super().__init__(reason, status=status, reason=reason)


class UnfetchableId(KojiRefused):
    def __init__(self):
        # The id is not quoted: it is whatever the webhook held.
        reason = "the interview id cannot be one segment of Koji's API path and was not asked for"
        super().__init__(reason, status=None, reason=reason)


class KojiAnswerUnusable(KojiRefused):
    def __init__(self, why: str):
        reason = f"Koji's API answered this interview in a shape the connector cannot use ({why})"
        super().__init__(reason, status=200, reason=reason)


class AnotherInterview(KojiRefused):
    """Raised by the caller, which reads the answer's id as it reads a webhook's."""

    def __init__(self):
        reason = "Koji's API answered with another interview than the one asked for"
        super().__init__(reason, status=200, reason=reason)


# 4xx answers that say "not now" rather than "no".
_TRANSIENT_4XX = {408, 429}
# Ids a URL path resolves instead of carrying. quote() leaves dots alone, and urllib3 turned
# `.../interviews/..` into `/api/v1/`, asked with the Bearer key; %2E would be no safer, as
# servers and proxies may decode it to a dot before resolving. No interview of Koji's has such an id.
_DOT_SEGMENTS = {"", ".", ".."}


def _get(url: str, api_key: str, timeout: float) -> Answer:
    try:
        with requests.Session() as session:
            return fetch(session, "GET", url, timeout=timeout, max_bytes=MAX_ANSWER_BYTES,
                         headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
    except requests.Timeout:
        raise KojiUnavailable(f"Koji's API did not answer within {timeout:g} s", timeout=True) from None
    except (requests.RequestException, ValueError) as exc:
        # ValueError: urllib3's LocationParseError for a host like a..b, which is no RequestException
        raise KojiUnavailable(f"Koji's API could not be reached ({type(exc).__name__})") from None
    except AnswerTooLarge as exc:
        # Koji's stored interview: the same size on every retry, so as final as a 404.
        raise KojiAnswerUnusable(str(exc)) from None
    except AnswerIsRedirect as exc:
        raise KojiRedirected(exc.status) from None


def fetch_interview(interview_id: str, settings) -> dict:
    """The full interview as Koji's API returns it: a JSON object that the inbound bodies'
    strict reader and koji-interview.schema.json accept."""
    if settings.koji_api_key is None:
        raise KojiNotConfigured("KOJI_API_KEY is not set, so the interview cannot be fetched")
    if str(interview_id) in _DOT_SEGMENTS:
        raise UnfetchableId()
    # The id comes from a webhook: quoted, and no dot segment, it cannot climb to another path.
    url = f"{settings.koji_api_base_url.rstrip('/')}/api/v1/interviews/{quote(str(interview_id), safe='')}"
    response = _get(url, settings.koji_api_key.get_secret_value(), settings.http_timeout_seconds)
    _raise_for(response.status_code)
    return _interview(response.content)


def _interview(raw: bytes) -> dict:
    """Checked like a payload of /v1/salesforce/map, so nothing the connector refuses from a
    caller (a quality score "1", true or NaN past the threshold; a depth the JSON answer
    cannot be written with) comes in through enrichment. A lone surrogate escape is read as
    U+FFFD, as in a webhook (connector.json_codec)."""
    try:
        interview = parse_json_object(raw, what="interview")
    except MalformedJson as refused:
        if not _is_json_object(raw):
            raise KojiUnavailable("Koji's API answered something that is not a JSON object") from None
        why = refused.detail.rstrip(".")  # "The interview is nested more than 32 levels deep."
        raise KojiAnswerUnusable(why[:1].lower() + why[1:]) from None
    try:
        check(interview, INTERVIEW_SCHEMA)
    except ValidationFailed as refused:
        raise KojiAnswerUnusable(_violations(refused.errors or [])) from None
    return interview


def _is_json_object(raw: bytes) -> bool:
    """Whether the standard library reads an object, as it does past what the strict reader
    takes (NaN, any depth): then the answer is Koji's stored data, the same
    on every retry. Anything else (a proxy's HTML page, an array) is the design's "not a JSON
    object", which may pass."""
    try:
        return isinstance(json.loads(raw), dict)
    except RecursionError:  # deeper than Python's recursion limit: nested, so JSON, not a page
        return raw.lstrip()[:1] == b"{"
    except ValueError:
        return False


def _violations(errors: list[dict[str, str]]) -> str:
    # Pointers and messages come from the schema, never from the offending value.
    shown = "; ".join(f"{error['pointer'] or '/'} {error['message']}" for error in errors[:_SHOWN_VIOLATIONS])
    more = len(errors) - _SHOWN_VIOLATIONS
    return f"{INTERVIEW_SCHEMA}: {shown}" + (f"; {more} more" if more > 0 else "")


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
