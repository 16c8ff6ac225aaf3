"""One error tree, rendered as RFC 9457 problem+json (https://www.rfc-editor.org/rfc/rfc9457).

    Problem (status, slug, title)
    ├── InvalidSignature        400  the webhook signature is missing, malformed or wrong
    ├── MalformedJson           400  the body is not a JSON object
    ├── MalformedEnvelope       400  the verify-envelope fields are missing or not base64
    ├── Unauthorized            401  the caller's connector API key is missing or wrong
    ├── NotFound                404  no such route (the detail points to /openapi.yaml), or no such event
    ├── MethodNotAllowed        405  the route takes other methods (the detail and Allow name them)
    ├── EventInProgress         409  another copy of the event holds a live claim
    ├── ClaimSuperseded         409  a release for an attempt whose claim a newer copy took
    ├── RequestTimeout          408  the body stopped arriving (the worker's read timeout) before it was whole
    ├── PayloadTooLarge         413
    ├── UnsupportedMediaType    415  not application/json, or a Content-Encoding (send the bytes Koji sent)
    ├── ValidationFailed        422  schema violations, each as {pointer, message}
    ├── UpstreamUnavailable     502  Koji's or Salesforce's API failed or timed out
    ├── NotConfigured           503  the feature needs settings that are not set
    ├── LedgerBusy              503  the ledger's database stayed locked (a backup, a sqlite3 shell)
    ├── LedgerUnavailable       503  the ledger's database cannot be written (read-only, disk full, damaged)
    │   the HTTP layer (gunicorn and connector.server, or the body's reading in routes):
    ├── MalformedRequest        400  not parseable HTTP (request line, headers, the body's framing)
    ├── HeadersTooLarge         431  more or longer header fields than gunicorn's limits
    └── TransferCodingNotImplemented 501  a Transfer-Encoding coding before chunked, or one gunicorn does not know

Messages are written for the caller and never carry secrets, e-mails or quote text.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from connector import metrics
from connector.logs import described_request, shown_key, where_it_failed
from connector.text_limits import truncate

PROBLEM_BASE = "https://github.com/koji-connector/connector/blob/main/docs/problems.md#"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger(__name__)


class Problem(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status,
                                "detail": self.detail}
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class InvalidSignature(Problem):
    # 400, not 401/403: those mean the caller's API key is wrong, and Zapier turns
    # them into a re-authentication prompt.
    status, slug, title = 400, "invalid-signature", "Webhook signature did not verify"


class MalformedJson(Problem):
    status, slug, title = 400, "malformed-json", "Body is not a JSON object"


class MalformedEnvelope(Problem):
    status, slug, title = 400, "malformed-envelope", "Verify envelope is incomplete"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Connector API key missing or not accepted"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="connector"'})


# A path is repeated in a detail only when it is made of what ids and route names are made of:
# an event key in it is an id, but a caller may have put anything there (an e-mail, a name).
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._~:-]*")
_SHOWN_PATH_CHARS = 120
_METHOD = re.compile(r"[A-Z]{1,10}")  # werkzeug takes any token as a method


def _instance() -> str | None:
    """The request's path as the problem's `instance`, under the detail's rule, and whole or
    not at all (a cut path names no resource)."""
    if request and _PLAIN_PATH.fullmatch(request.path) and len(request.path) <= _SHOWN_PATH_CHARS:
        return request.path
    return None


def _shown_path(path: str) -> str:
    return truncate(path, _SHOWN_PATH_CHARS)[0] if _PLAIN_PATH.fullmatch(path) else "this path"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"

    @classmethod
    def no_route(cls, path: str) -> "NotFound":
        return cls(f"No route matches {_shown_path(path)}. The routes of this service are listed at /openapi.yaml.")


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"

    @classmethod
    def allowing(cls, methods: list[str], path: str, method: str) -> "MethodNotAllowed":
        sent = method if _METHOD.fullmatch(method) else "This method"
        allowed = ", ".join(sorted(methods))  # werkzeug's order changes from one process to the next
        return cls(f"{sent} is not allowed on {_shown_path(path)}; it takes {allowed}.",
                   headers={"Allow": allowed})


class EventInProgress(Problem):
    status, slug, title = 409, "event-in-progress", "Another copy of this event is being processed"

    @classmethod
    def held(cls, key: str, attempt: int, seconds_left: float) -> "EventInProgress":
        # The key as the logs show it, and when the claim runs out: a failed n8n or Zapier run
        # then says which claim blocks it and when it frees, without a second call.
        # Retry-After: at the lease's end at the latest, the next copy takes the event over.
        wait = max(1, math.ceil(seconds_left))
        return cls(
            f"Another copy of this event ({shown_key(key)}, attempt {attempt}) is being processed; answer "
            f"non-2xx so the sender retries. The claim ends when the chain completes or releases it, or when "
            f"its lease runs out, in {wait} s at most.", headers={"Retry-After": str(wait)})


class ClaimSuperseded(Problem):
    status, slug, title = 409, "claim-superseded", "A newer copy of this event holds the claim"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Body too large"

    @classmethod
    def over(cls, limit: int) -> "PayloadTooLarge":
        return cls(f"The body is larger than the {limit:,} bytes this service takes (MAX_BODY_BYTES). "
                   "For /v1/koji/verify-envelope the limit counts the whole envelope, and base64 "
                   "makes a body about a third larger.")


class RequestTimeout(Problem):
    status, slug, title = 408, "request-timeout", "The request did not arrive in time"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"

    @classmethod
    def encoded(cls) -> "UnsupportedMediaType":
        # RFC 9110, section 15.5.16: Accept-Encoding names the codings that would have been taken.
        return cls("Send the body uncompressed (no Content-Encoding): the signature is over the exact "
                   "bytes Koji sent.", headers={"Accept-Encoding": "identity"})


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-failed", "Payload does not match the schema"


class UpstreamUnavailable(Problem):
    status, slug, title = 502, "upstream-unavailable", "An upstream API did not answer usably"


class LedgerBusy(Problem):
    status, slug, title = 503, "ledger-busy", "Event ledger busy"

    def __init__(self, waited_seconds: float | None = None) -> None:
        # Retry-After: Koji retries on its own schedule; other callers learn when to come back.
        waited = f" for {waited_seconds:g} s" if waited_seconds is not None else ""
        super().__init__(f"The event ledger's database stayed locked{waited} (another process holds it: a "
                         "backup, a sqlite3 shell?); nothing was changed. Try again later.",
                         headers={"Retry-After": "30"})


class LedgerUnavailable(Problem):
    status, slug, title = 503, "ledger-unavailable", "Event ledger unavailable"

    def __init__(self, reason: str | None = None) -> None:
        # `reason` is SQLite's own message ("attempt to write a readonly database", "database
        # or disk is full"): it names the condition, never a value. Not a 500: the operator can
        # fix it, and the claim was not made, so Koji's retry is processed afterwards.
        said = f" ({reason})" if reason else ""
        super().__init__(f"The event ledger's database cannot be used now{said}; nothing was changed. "
                         "Try again later.", headers={"Retry-After": "30"})


class NotConfigured(Problem):
    status, slug, title = 503, "not-configured", "This feature is not configured"


class MalformedRequest(Problem):
    status, slug, title = 400, "malformed-request", "The HTTP request could not be parsed"


class RequestLineTooLong(Problem):
    status, slug, title = 414, "request-line-too-long", "Request line too long"


class ExpectationNotSupported(Problem):
    status, slug, title = 417, "expectation-not-supported", "Expectation not supported"


class HeadersTooLarge(Problem):
    status, slug, title = 431, "headers-too-large", "Request header fields too large"


class TransferCodingNotImplemented(Problem):
    status, slug, title = 501, "unsupported-transfer-coding", "Transfer coding not supported"


_HTTP_EXCEPTIONS: dict[int, type[Problem]] = {
    404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def problem_response(problem: Problem) -> Response:
    metrics.count_problem(problem.slug)  # every refusal the app answers passes here
    body = json.dumps(problem.to_dict(instance=_instance()))
    response = Response(body, status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        if log.isEnabledFor(logging.INFO):  # the request is described only for a line that is written
            log.info("refused problem=%s %s", problem.slug, described_request())
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        cls = _HTTP_EXCEPTIONS.get(exc.code or 500)
        if cls is None:
            problem = Problem(exc.description)
            problem.status, problem.title = exc.code or 500, exc.name
            problem.slug = exc.name.lower().replace(" ", "-")
        elif cls is PayloadTooLarge:
            problem = PayloadTooLarge.over(current_app.config["MAX_CONTENT_LENGTH"])
        elif cls is NotFound:
            problem = NotFound.no_route(request.path)
        elif cls is MethodNotAllowed and getattr(exc, "valid_methods", None):
            problem = MethodNotAllowed.allowing(exc.valid_methods, request.path, request.method)
        else:
            problem = cls()
        return problem_response(problem)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The exception text may hold payload data: the type and where it was raised only (the
        # whole traceback in debug mode, masked by the log filter).
        log.error("unexpected error=%s %s at=%s", type(exc).__name__, described_request(), where_it_failed(exc),
                  exc_info=app.debug)
        return problem_response(Problem("The connector failed unexpectedly; nothing was changed."))
