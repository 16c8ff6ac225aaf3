"""Thin views: authenticate, read, call the pure parts, answer. Contract: docs/design.md."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from gunicorn.http.errors import ParseException
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from werkzeug.routing import PathConverter

from connector import metrics, signatures
from connector.auth import require_api_key
from connector.envelope import open_envelope
from connector.errors import (
    ClaimSuperseded, InvalidSignature, MalformedRequest, NotConfigured, NotFound, PayloadTooLarge, RequestTimeout,
    TransferCodingNotImplemented, UnsupportedMediaType, UpstreamUnavailable, ValidationFailed,
)
from connector.events import NormalizedEvent
from connector.logs import shown_key, shown_type
from connector.salesforce import SalesforceError, SalesforceNotConfigured, check_fields, target_fields
from connector.services import Services
from connector.validation import check, json_pointer, parse_json_object

WEBHOOK_SCHEMA = "koji-webhook.schema.json"
INTERVIEW_SCHEMA = "koji-interview.schema.json"
PUBLIC_ENDPOINTS = {"connector.healthz", "connector.openapi"}

log = logging.getLogger(__name__)
bp = Blueprint("connector", __name__)


def services() -> Services:
    return current_app.extensions["connector"]


@bp.before_request
def _authenticate() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        require_api_key(request.headers, services().settings.connector_api_keys)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok", mode=services().settings.connector_mode.value)


@bp.get("/openapi.yaml")
def openapi() -> Response:
    return Response(services().openapi_text(), mimetype="application/yaml")


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    # Behind the API key like the rest: counts of refusals and decisions are the operator's.
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


@bp.post("/v1/koji/verify")
def verify() -> Response:
    return _verified(_raw_body(), request.headers.get(signatures.SIGNATURE_HEADER))


@bp.post("/v1/koji/verify-envelope")
def verify_envelope() -> Response:
    envelope = open_envelope(_json_body(what="envelope"))
    return _verified(envelope.raw, envelope.signature, what=envelope.body_name)


@bp.post("/v1/salesforce/map")
def map_payload() -> Response:
    payload = _json_body()
    _check_map_payload(payload)
    answer = services().pipeline.answer(payload, claim=False)
    _log_answer("mapped", answer)
    return jsonify(answer)


@bp.get("/v1/salesforce/fields")
def salesforce_fields() -> Response:
    current = services()
    return jsonify(sobject=current.profile.sobject, quality_threshold=current.pipeline.quality_threshold,
                   lookup_order=current.profile.lookup_order, fields=target_fields(current.profile))


@bp.post("/v1/salesforce/check-fields")
def salesforce_check_fields() -> Response:
    current = services()
    try:
        report = check_fields(current.profile, current.salesforce_client())
    except SalesforceNotConfigured as exc:
        raise NotConfigured(str(exc)) from None
    except SalesforceError as exc:
        raise UpstreamUnavailable(f"Salesforce could not be checked: {exc}") from None
    log.info("check-fields ok=%s fields=%d", report["ok"], len(report["fields"]))
    return jsonify(report)


@bp.get("/v1/events/<event_key:key>")
def event_state(key: str) -> Response:
    return jsonify(_record(services().ledger.get(key)))


@bp.post("/v1/events/<event_key:key>/complete")
def complete_event(key: str) -> Response:
    record = _record(services().ledger.complete(key))
    log.info("event completed key=%s attempts=%s", shown_key(key), record["attempts"])
    return jsonify(record)


@bp.post("/v1/events/<event_key:key>/release")
def release_event(key: str) -> Response:
    attempt = _attempt_parameter()
    # The ledger releases only a matching attempt; the record it returns tells why it did not.
    record = _record(services().ledger.release(key, attempt))
    if attempt is not None and attempt > record["attempts"]:
        raise ValidationFailed(
            f"This event has had {record['attempts']} attempt(s); there is no attempt {attempt} to release.",
            errors=[{"parameter": "attempt", "message": f"must be at most {record['attempts']}"}])
    if attempt is not None and record["attempts"] != attempt and record["state"] != "completed":
        holder = (f"attempt {record['attempts']} does" if record["state"] == "claimed"
                  else f"attempt {record['attempts']} took it over and has released it since")
        raise ClaimSuperseded(
            f"Attempt {attempt} no longer holds the claim: {holder} (its lease ran out and a newer "
            f"copy claimed the event). Nothing was changed.")
    log.info("event released key=%s state=%s", shown_key(key), record["state"])
    return jsonify(record)


def _attempt_parameter() -> int | None:
    """`?attempt=N` from `delivery.release_path`; absent for callers that build the path."""
    given = request.args.get("attempt")
    if given is None:
        return None
    if not (given.isascii() and given.isdigit() and 0 < len(given) <= 9 and int(given) > 0):
        raise ValidationFailed("The query parameter attempt must be a positive whole number "
                               "(the answer's delivery.attempt).",
                               errors=[{"parameter": "attempt", "message": "must be a positive integer"}])
    return int(given)


def _verified(raw: bytes, signature: str | None, what: str = "body") -> Response:
    current = services()
    try:
        signatures.verify(raw, signature, current.settings.koji_webhook_secret)
    except signatures.SignatureError as exc:
        raise InvalidSignature(str(exc)) from None
    payload = parse_json_object(raw, what=what)
    check(payload, WEBHOOK_SCHEMA)
    answer = current.pipeline.answer(payload, raw_body=raw, claim=True)
    _log_answer("verified", answer)
    return jsonify(answer)


def _raw_body() -> bytes:
    """The body exactly as sent, whole, or a problem saying why it cannot be had: over the limit
    (413) however it is framed, cut short or badly chunked (400), the sender gone silent (408),
    or coded in a way that changes its bytes (415, 501). A signature holds for these exact bytes only.

    Read from the WSGI stream itself: Werkzeug would cut a chunked body (no Content-Length;
    gunicorn marks such a stream `wsgi.input_terminated`) at the limit and hand on the first
    MiB as if it were the whole body, and it turns a read that fails into a bare 400."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge.over(limit)
    if length is None and "wsgi.input_terminated" not in request.environ:
        body = b""  # a server that does not end the stream: nothing can be read safely
    else:
        body = _read(limit + 1 if length is None else length)
    if len(body) > limit:
        raise PayloadTooLarge.over(limit)
    if length is not None and len(body) < length:
        raise MalformedRequest(f"The body ended after {len(body):,} of the {length:,} bytes its "
                               "Content-Length announced. Nothing was processed.")
    _check_codings()
    return body


def _read(size: int) -> bytes:
    try:
        return request.environ["wsgi.input"].read(size)
    except TimeoutError:  # the worker's read timeout (connector.server)
        raise RequestTimeout("The body stopped arriving before it was complete. "
                             "Send the whole request at once.") from None
    except (OSError, ParseException):  # gunicorn: InvalidChunkSize, NoMoreData, … (OSErrors), a bad trailer
        raise MalformedRequest("The chunked body is malformed or ended before its last (0) chunk. "
                               "Nothing was processed.") from None


def _check_codings() -> None:
    """gunicorn decodes no coding but chunked: it passes a gzip body on as it came, which would
    be read as if it were the body itself."""
    content = _codings("Content-Encoding")
    if content - {"identity"}:
        raise UnsupportedMediaType.encoded()
    transfer = _codings("Transfer-Encoding")
    if transfer - {"chunked", "identity"}:
        raise TransferCodingNotImplemented("Only the chunked transfer coding is taken; send the body "
                                           "uncompressed, as Koji sent it.")


def _codings(header: str) -> set[str]:
    # From the environ, not request.headers: its getlist walks every header each call (7 µs of
    # a warm verify's 300), and the server has already joined repeated headers with ",".
    value = request.environ.get("HTTP_" + header.upper().replace("-", "_"))
    if not value:
        return set()
    return {coding.strip().lower() for coding in value.split(",") if coding.strip()}


def _json_body(what: str = "body") -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType(f"Send the {what} as application/json.")
    return parse_json_object(_raw_body(), what=what)


def _check_map_payload(payload: dict[str, Any]) -> None:
    """Route by shape, as openapi.yaml's if/then/else says: a normalized event (`event` is an
    object), a webhook (`event` or `type` present), otherwise an interview from Koji's API."""
    if isinstance(payload.get("event"), dict):
        _check_normalized(payload)
    elif "event" in payload or "type" in payload:
        check(payload, WEBHOOK_SCHEMA)
    else:
        check(payload, INTERVIEW_SCHEMA)


def _check_normalized(payload: dict[str, Any]) -> None:
    try:
        NormalizedEvent.model_validate({k: v for k, v in payload.items() if k in NormalizedEvent.model_fields})
    except ValidationError as exc:
        errors = [_normalized_error(error) for error in exc.errors(include_input=False, include_url=False)]
        raise ValidationFailed("The normalized event does not match its schema.",
                               errors=list({(e["pointer"], e["message"]): e for e in errors}.values())) from None


def _normalized_error(error: ErrorDetails) -> dict[str, str]:
    """{pointer, message} as validation.check gives them. A property the schema does not allow
    is pointed at by its parent, as jsonschema's additionalProperties is: its name is the
    caller's (an e-mail, a name), and one such entry says what is wrong."""
    loc = error["loc"][:-1] if error["type"] == "extra_forbidden" else error["loc"]
    message = "has properties the schema does not allow" if error["type"] == "extra_forbidden" else error["msg"]
    return {"pointer": json_pointer(loc), "message": message}


def _record(record) -> dict[str, Any]:
    if record is None:
        raise NotFound("No event with this key is in the ledger (keys expire after the retention window).")
    # lease_until: a claim whose lease has passed is one nobody is working on (its run died);
    # the next copy takes it over. Without it a client saw "claimed" forever.
    return {"key": record.key, "state": record.state, "attempts": record.attempts,
            "first_seen": _iso(record.first_seen), "updated": _iso(record.updated),
            "lease_until": _iso(record.lease_until) if record.state == "claimed" else None}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _log_answer(verb: str, answer: dict[str, Any]) -> None:
    metrics.count_answer(answer)  # whatever the log level
    # Ids and decisions only: never e-mails, names or quotes. The type and the key come from
    # the payload (an unsigned one, on /v1/salesforce/map), so they are shown by their shape.
    if not log.isEnabledFor(logging.INFO):
        return  # the hot path at WARNING: no hashing of keys that are not written
    # A field with nothing to say (no skip; no claim, on /v1/salesforce/map) is left out, as
    # described_request leaves out a key: "skip_reason=None" read like a reason named None.
    known = (("skip_reason", answer["skip_reason"]), ("delivery", (answer.get("delivery") or {}).get("status")))
    log.info("%s event type=%s key=%s action=%s%s", verb, shown_type(answer["event"]["type"]),
             shown_key(answer["event"]["key"]), answer["action"],
             "".join(f" {name}={value}" for name, value in known if value is not None))


class EventKeyConverter(PathConverter):
    """An event key in a path: any characters an interview id may hold, '/' (also leading, so
    the path has '//'), line breaks and all, but a key read with GET does not end in /complete
    or /release, so those paths belong to their POST routes only (and a 405 for GET on them lists
    POST alone)."""

    regex = r"[\s\S]+?(?<!/complete)(?<!/release)"


def init_app(app: Flask) -> None:
    # Werkzeug's default answers a path with '//' with a 308 redirect, an HTML page whose Location
    # is built from the Host header, before any authentication; and an event key may hold '//'.
    app.url_map.merge_slashes = False
    app.url_map.converters["event_key"] = EventKeyConverter
    app.register_blueprint(bp)
