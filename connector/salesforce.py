"""The Salesforce REST edge: OAuth 2.0 client credentials, describe, Test Fields.

Follows salesforce-rest.md (REST API developer guide, "OAuth 2.0 Client Credentials
Flow"): the token comes from ``POST {My Domain}/services/oauth2/token``, has no expiry
in its answer, so it is cached until a call answers 401 INVALID_SESSION_ID and then
fetched again once. Every call has a timeout.

    SalesforceError                 anything this module refuses to hide
    ├── SalesforceNotConfigured     a SALESFORCE_* setting is missing
    ├── SalesforceAuthError         the token endpoint refused the client (400 invalid_client …)
    ├── SalesforceUnavailable         timeout, connection error, 5xx, 403 REQUEST_LIMIT_EXCEEDED,
    │                                 a redirect (any 3xx, never followed)
    └── SalesforceRequestError      any other refusal; ``codes`` holds Salesforce's errorCodes

Messages carry status codes, Salesforce error codes and JSON pointers only: never a
secret, a token, or Salesforce's own message (it can quote the value that was refused).
Answers are read with the strict JSON reader of the inbound bodies (connector.json_codec), and
a describe is checked for the shape Test Fields reads: anything else is SalesforceUnavailable
(502 from the route), never a 500 (a lone surrogate escape is read as U+FFFD).
"""
from __future__ import annotations

import re
import threading
from typing import Any

import requests

from connector import json_codec
from connector.bounded_http import Answer, AnswerIsRedirect, AnswerTooLarge, fetch
from connector.profile import FieldSpec, Profile

# The profile type → the describe types a value of that kind can be written to.
TYPE_FITS = {"text": {"string", "textarea", "phone"}, "textarea": {"textarea", "string"}, "url": {"url", "string"},
             "email": {"email", "string"}, "picklist": {"picklist"}, "multipicklist": {"multipicklist"},
             "number": {"double", "int", "percent", "currency"}, "checkbox": {"boolean"},
             "datetime": {"datetime"}, "date": {"date"}}
TEXT_TYPES = {"text", "textarea", "url", "email", "picklist"}
# What Test Fields reads of a describe field, and the JSON type Salesforce always gives it.
DESCRIBED_TYPES = {"name": str, "type": str, "updateable": bool, "length": int, "precision": int, "scale": int,
                   "digits": int, "filterable": bool, "restrictedPicklist": bool, "picklistValues": list}
# The largest answer read: a Contact describe of an org with many fields is a few MB.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class SalesforceError(Exception):
    """Base of every error of the Salesforce edge."""


class SalesforceNotConfigured(SalesforceError):
    pass


class SalesforceAuthError(SalesforceError):
    pass


class SalesforceUnavailable(SalesforceError):
    """Salesforce could not answer now; ``timeout`` tells a 504 from a 502."""

    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class SalesforceRequestError(SalesforceError):
    def __init__(self, status: int, codes: list[str]):
        super().__init__(f"Salesforce refused the request ({status} {', '.join(codes) or 'no error code'})")
        self.status, self.codes = status, codes


def _json(response: Answer) -> Any:
    """The answer's JSON, or None where the strict reader of the inbound bodies refuses it: no
    NaN gets into a report orjson has to write (a lone surrogate escape is read as U+FFFD), and
    an answer nested deeper than Python's recursion limit is refused rather than raising
    RecursionError."""
    try:
        return json_codec.loads(response.content)
    except ValueError:
        return None


# Salesforce's codes are fixed words (INVALID_FIELD, invalid_client). Anything else came from
# something that is not Salesforce (a proxy, a wrong SALESFORCE_DOMAIN_URL) and may quote the
# request, its secret included: it is not repeated in errors or logs.
_ERROR_CODE = re.compile(r"[A-Za-z0-9_]{1,64}")
_MAX_ERROR_CODES = 5


def _error_codes(response: Answer) -> list[str]:
    body = _json(response)
    if isinstance(body, dict):  # the token endpoint: {"error", "error_description"}
        codes = [body["error"]] if "error" in body else []
    elif isinstance(body, list):
        codes = [item.get("errorCode") for item in body if isinstance(item, dict) and item.get("errorCode")]
    else:
        return []
    words = [code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "(not a Salesforce error code)"
             for code in codes]
    return list(dict.fromkeys(words))[:_MAX_ERROR_CODES]


def _json_object(response: Answer, *keys: str) -> dict:
    """The answer's JSON object, holding `keys`; an HTML page (a login page behind a wrong
    SALESFORCE_DOMAIN_URL, say) is a clear error, not a traceback or a 500."""
    body = _json(response)
    if not isinstance(body, dict) or any(key not in body for key in keys):
        raise SalesforceUnavailable(f"Salesforce answered {response.status_code} with something that is not the "
                                    "expected JSON; check SALESFORCE_DOMAIN_URL (your My Domain URL)")
    return body


class SalesforceClient:
    def __init__(self, domain_url: str, client_id: str, client_secret: str, *, api_version: str = "v59.0",
                 timeout: float = 5.0, session: requests.Session | None = None):
        self.domain_url = domain_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self._client_id, self._client_secret = client_id, client_secret
        self._session = session or requests.Session()
        self._token: str | None = None
        self._instance_url: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> "SalesforceClient":
        missing = [name for name, value in (("SALESFORCE_DOMAIN_URL", settings.salesforce_domain_url),
                                            ("SALESFORCE_CLIENT_ID", settings.salesforce_client_id),
                                            ("SALESFORCE_CLIENT_SECRET", settings.salesforce_client_secret))
                   if not value]
        if missing:
            raise SalesforceNotConfigured("Salesforce is not configured: set " + ", ".join(missing))
        return cls(settings.salesforce_domain_url, settings.salesforce_client_id,
                   settings.salesforce_client_secret.get_secret_value(), api_version=settings.salesforce_api_version,
                   timeout=settings.http_timeout_seconds)

    # -- transport --------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs) -> Answer:
        try:
            response = fetch(self._session, method, url, timeout=self.timeout, max_bytes=MAX_ANSWER_BYTES,
                             **kwargs)
        except AnswerTooLarge as exc:
            raise SalesforceUnavailable(f"Salesforce's answer was not read: {exc}") from None
        except AnswerIsRedirect as exc:
            # Refused as a wrong domain's login page is (a URL to check), not as refused credentials.
            # Followed, the token POST re-sent the client secret wherever it pointed.
            raise SalesforceUnavailable(f"Salesforce answered {exc.status}, a redirect, which the connector does "
                                        "not follow; check SALESFORCE_DOMAIN_URL (your My Domain URL)") from None
        except requests.Timeout:
            raise SalesforceUnavailable(f"Salesforce did not answer within {self.timeout:g} s", timeout=True) from None
        except (requests.RequestException, ValueError) as exc:
            # ValueError: urllib3's LocationParseError for a host like a..b, which is no RequestException
            raise SalesforceUnavailable(f"Salesforce could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 500 or "REQUEST_LIMIT_EXCEEDED" in _error_codes(response):
            raise SalesforceUnavailable(f"Salesforce answered {response.status_code} "
                                      f"{', '.join(_error_codes(response))}".rstrip())
        return response

    def _fetch_token(self) -> tuple[str, str]:
        response = self._send("POST", self.domain_url + "/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": self._client_id,
            "client_secret": self._client_secret})
        if response.status_code != 200:
            codes = _error_codes(response)
            raise SalesforceAuthError(f"Salesforce refused the client credentials ({response.status_code} "
                                      f"{', '.join(codes) or 'no error code'}); check SALESFORCE_CLIENT_ID, "
                                      "SALESFORCE_CLIENT_SECRET and SALESFORCE_DOMAIN_URL (My Domain)")
        body = _json_object(response, "access_token")
        return body["access_token"], body.get("instance_url") or self.domain_url

    def _credentials(self, stale: str | None = None) -> tuple[str, str]:
        # One refresh for many threads: whoever sees the stale token first replaces it.
        with self._lock:
            if self._token is None or self._token == stale:
                self._token, self._instance_url = self._fetch_token()
            return self._token, self._instance_url

    def request(self, method: str, path: str, **kwargs) -> Answer:
        """Call ``/services/data/<version><path>``; refresh the token once on 401."""
        token, instance = self._credentials()
        for attempt in (1, 2):
            url = f"{instance}/services/data/{self.api_version}{path}"
            response = self._send(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if response.status_code == 401 and attempt == 1:
                token, instance = self._credentials(stale=token)
                continue
            if response.status_code == 401:
                raise SalesforceAuthError("Salesforce refused a fresh token (401 INVALID_SESSION_ID)")
            if response.status_code >= 400:
                raise SalesforceRequestError(response.status_code, _error_codes(response))
            return response
        raise AssertionError("unreachable")

    # -- the calls the connector makes ----------------------------------------------------
    def describe_contact(self) -> dict:
        """The Contact's describe answer; its `fields` have the shape Test Fields reads."""
        body = _json_object(self.request("GET", "/sobjects/Contact/describe"), "fields")
        where = _unexpected_in_fields(body["fields"])
        if where is not None:
            raise SalesforceUnavailable(f"Salesforce's describe of the Contact is not the expected JSON (at {where})")
        return body


def _unexpected_in_fields(fields: Any) -> str | None:
    """The JSON pointer of the first part of a describe's `fields` that Test Fields cannot read,
    or None. A key Salesforce always sends may be missing (it reads as "not set"), not null."""
    if not isinstance(fields, list):
        return "/fields"
    for index, field in enumerate(fields):
        where = _unexpected_in_field(field)
        if where is not None:
            return f"/fields/{index}{where}"
    return None


def _unexpected_in_field(field: Any) -> str | None:
    if not isinstance(field, dict) or "name" not in field:
        return ""
    wrong = next((key for key, kind in DESCRIBED_TYPES.items() if key in field and not _is_a(field[key], kind)), None)
    if wrong is not None:
        return "/" + wrong
    return next((f"/picklistValues/{index}" for index, item in enumerate(field.get("picklistValues", []))
                 if not (isinstance(item, dict) and isinstance(item.get("value"), str)
                         and isinstance(item.get("active", False), bool))), None)


def _is_a(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


# -- Test Fields ("check-fields") ----------------------------------------------------------

def _length_fits(spec: FieldSpec, described: dict) -> bool | None:
    if spec.type in TEXT_TYPES:
        return (spec.max_length or 0) <= (described.get("length") or 0)
    if spec.type == "number" and described.get("type") == "int":
        # An integer field has no precision in describe: its size is `digits`, and it takes no decimals.
        return spec.scale == 0 and spec.precision <= (described.get("digits") or 0)
    if spec.type == "number":
        digits = spec.precision - spec.scale
        return (spec.scale <= (described.get("scale") or 0)
                and digits <= (described.get("precision") or 0) - (described.get("scale") or 0))
    return None


def _missing_values(spec: FieldSpec, described: dict) -> list[str]:
    active = {item["value"] for item in described.get("picklistValues", []) if item.get("active")}
    return [value for value in spec.values if value not in active]


def _row(name: str, profile_type: str, described: dict | None) -> dict[str, Any]:
    """A report row with nothing checked yet: every key is there, the checks fill them in."""
    return {"field": name, "profile_type": profile_type, "exists": described is not None,
            "salesforce_type": described.get("type") if described else None, "updateable": None,
            "type_fits": None, "length_fits": None, "picklist_fits": None, "missing_values": [], "problems": []}


def check_field(spec: FieldSpec, described: dict | None) -> dict:
    """One row of the Test Fields report: does the org's field take what the profile sends?"""
    row = _row(spec.name, spec.type, described)
    if described is None:
        row["problems"].append("the field does not exist on the Contact (or this user cannot see it)")
    else:
        row.update(updateable=bool(described.get("updateable")), type_fits=described.get("type") in TYPE_FITS[spec.type],
                   length_fits=_length_fits(spec, described))
        if spec.type in ("picklist", "multipicklist"):
            row["missing_values"] = _missing_values(spec, described)
            # An unrestricted picklist takes any value through the API: the missing ones are
            # listed (a user picking in Salesforce will not see them) but refuse nothing.
            row["picklist_fits"] = not row["missing_values"] or described.get("restrictedPicklist") is False
        row["problems"] += _problems(spec, described, row)
    row["ok"] = not row["problems"]
    return row


def _problems(spec: FieldSpec, described: dict, row: dict) -> list[str]:
    problems = []
    if not row["updateable"]:
        problems.append("the field is not updateable by this user (field-level security or a formula)")
    if not row["type_fits"]:
        problems.append(f"the profile sends {spec.type} but the field is {described.get('type')}")
    if row["length_fits"] is False:
        have = (f"{described.get('digits')} digits, no decimals" if described.get("type") == "int"
                else f"{described.get('precision')},{described.get('scale')}" if spec.type == "number"
                else str(described.get("length")))
        want = f"{spec.precision},{spec.scale}" if spec.type == "number" else str(spec.max_length)
        problems.append(f"the field is too small: Salesforce has {have}, the profile needs {want}")
    if not row["picklist_fits"] and row["missing_values"]:
        problems.append("picklist values missing or inactive: " + ", ".join(row["missing_values"]))
    return problems


def check_fields(profile: Profile, client: SalesforceClient) -> dict:
    """Describe the Contact and check every mapped field ("Test Fields" before saving)."""
    described = {field["name"].lower(): field for field in client.describe_contact()["fields"]}
    rows = [check_field(spec, described.get(spec.name.lower())) for spec in profile.all_fields]
    for name in profile.looked_up_fields.values():
        rows.append(_lookup_row(name, described.get(name.lower())))
    return {"ok": all(row["ok"] for row in rows), "sobject": profile.sobject, "fields": rows}


def _lookup_row(name: str, described: dict | None) -> dict:
    """A row for a field the lookups filter on: it must exist, and Salesforce must let a WHERE
    clause use it (a Long Text Area cannot be filtered on: the query would be refused)."""
    row = _row(name, "lookup", described)
    if described is None:
        row["problems"].append("the lookup field does not exist on the Contact")
    elif described.get("filterable") is False:
        row["problems"].append(f"Salesforce cannot filter on this field ({described.get('type')}), so a lookup "
                               "by it is refused: use a text, e-mail or External ID field")
    row["ok"] = not row["problems"]
    return row


def target_fields(profile: Profile) -> list[dict]:
    """The fields the active profile writes (GET /v1/salesforce/fields)."""
    return [{"name": spec.name, "label": spec.label, "type": spec.type, "length": spec.max_length,
             "precision": spec.precision if spec.type == "number" else None,
             "scale": spec.scale if spec.type == "number" else None,
             "values": list(spec.values), "source": _origin(spec)} for spec in profile.all_fields]


def _origin(spec: FieldSpec) -> str:
    if spec.question_id is not None:
        return f"structured answer {spec.question_id}"
    if spec.template is not None:
        return "template"
    return " or ".join([spec.source] if isinstance(spec.source, str) else spec.source)
