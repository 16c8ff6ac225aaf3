"""A fake Salesforce REST API for the Contact object, on loopback.

It is only worth something if it refuses what Salesforce refuses (see
/work/shared/reference/salesforce-rest.md and the REST API developer guide,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm):

* ``POST /services/oauth2/token``: ``client_credentials`` (form or HTTP Basic) and
  ``refresh_token`` grants; wrong client → 400 ``invalid_client``; a refresh token the
  org does not hold (missing, unknown or revoked) → 400 ``invalid_grant``; the answer
  has no ``expires_in``, ``issued_at`` is a string of milliseconds;
* any ``/services/data`` call without a live token → 401 ``INVALID_SESSION_ID``; past
  the daily API limit → 403 ``REQUEST_LIMIT_EXCEEDED``, nothing applied;
* ``GET …/query?q=`` (and ``/query/``): ``SELECT f, … FROM Contact [WHERE F = 'lit' |
  WHERE F IN ('a', …)] [LIMIT n]`` with SOQL escapes decoded exactly; anything else,
  a bad escape or an open quote → 400 ``MALFORMED_QUERY``; a WHERE over 4,000
  characters is refused; a URI over 16,384 bytes → 414; text comparison ignores case;
  over 2,000 records (after LIMIT) come in pages: ``done: false`` and a
  ``nextRecordsUrl`` (``…/query/01g…-2000``) to GET for the next page;
* ``PATCH …/sobjects/Contact/{Id}`` (``contact`` too) → 204, all or nothing, with
  INVALID_FIELD, INVALID_FIELD_FOR_INSERT_UPDATE, STRING_TOO_LONG,
  INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, TOO_MANY_ENUM_VALUE, JSON_PARSER_ERROR,
  NUMBER_OUTSIDE_VALID_RANGE, INVALID_EMAIL_ADDRESS, MALFORMED_ID, NOT_FOUND;
  e-mail addresses are checked by the fake's own rules (``is_salesforce_email``), never
  the connector's;
* ``PATCH …/composite/sobjects`` (≤ 200 records, ``allOrNone``, ``statusCode``);
* ``GET …/sobjects/Contact/describe`` and ``GET …/sobjects/Contact/{Id}``;
* records are answered as Salesforce answers them: a date/time in UTC as
  ``2026-04-16T10:22:55.000+0000``.

Every answer carries ``Sforce-Limit-Info: api-usage=N/15000``.
"""
from __future__ import annotations

import base64
import itertools
import json
import math
import re
import secrets
import threading
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.loopback import LoopbackServer

DAILY_API_LIMIT = 15000
MAX_URI_BYTES = 16384
MAX_WHERE_CHARS = 4000
MAX_COLLECTION_RECORDS = 200
QUERY_PAGE_SIZE = 2000
# A multi-select picklist: describe gives every one ``length`` 4099 (as Salesforce's describe
# and UI API answers show it), and a record takes at most 100 selected values, else
# TOO_MANY_ENUM_VALUE: "You can select a maximum of 100 values for a multi-select picklist"
# (SOAP API Developer Guide, "Core Data Types Used in API Calls", StatusCode; the REST API
# answers with the same codes).
MULTIPICKLIST_LENGTH = 4099
MAX_MULTIPICKLIST_VALUES = 100
# Salesforce keeps 10 query cursors per user and releases the oldest for an 11th
# (SOAP API guide, queryMore()).
MAX_OPEN_CURSORS = 10
REFRESH_TOKEN = "5Aep-test-refresh"
ORG_ID = "00D5g000004SxQ2EAK"
USER_ID = "0055g000003WqEaAAK"
_TEXT_TYPES = {"string", "textarea", "url", "email", "phone", "picklist", "multipicklist", "id", "reference"}
_STATUS_ERRORS = {
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred."),
    503: ("SERVER_UNAVAILABLE", "Server unavailable"),
}


def describe_field(name: str, type: str, label: str | None = None, **overrides) -> dict:
    """A ``describe`` field entry with Salesforce's defaults for a custom, updateable field."""
    entry = {
        "name": name, "label": label or name.removesuffix("__c").replace("_", " "),
        "type": type, "length": 0, "precision": 0, "scale": 0, "updateable": True,
        "createable": True, "nillable": True, "custom": name.endswith("__c"),
        "externalId": False, "restrictedPicklist": False, "picklistValues": [],
        "visibleLines": None,
        # A Long Text Area (and a Rich Text Area) cannot be used in a WHERE clause.
        "filterable": type != "textarea" or (overrides.get("length") or 0) <= 255,
    }
    if type == "multipicklist":
        entry["length"] = MULTIPICKLIST_LENGTH
    entry.update(overrides)
    return entry


def picklist(*values: str) -> list[dict]:
    return [{"value": v, "label": v, "active": True, "defaultValue": False} for v in values]


STANDARD_FIELDS = [
    describe_field("Id", "id", "Contact ID", length=18, updateable=False, createable=False, nillable=False),
    describe_field("FirstName", "string", "First Name", length=40),
    describe_field("LastName", "string", "Last Name", length=80, nillable=False),
    describe_field("Name", "string", "Full Name", length=121, updateable=False, createable=False),
    describe_field("Email", "email", "Email", length=80),
    describe_field("Phone", "phone", "Business Phone", length=40),
    describe_field("Title", "string", "Title", length=128),
    describe_field("AccountId", "reference", "Account ID", length=18),
    describe_field("CreatedDate", "datetime", "Created Date", updateable=False, createable=False, nillable=False),
    describe_field("LastModifiedDate", "datetime", "Last Modified Date", updateable=False, createable=False,
                   nillable=False),
]
RECIPE_FIELDS = [
    describe_field("Latest_Customer_Quote__c", "textarea", length=4000, visibleLines=5),
    describe_field("Interview_Themes__c", "string", length=255),
    describe_field("Interview_Sentiment__c", "picklist", length=255, restrictedPicklist=True,
                   picklistValues=picklist("positive", "neutral", "negative")),
    describe_field("Interview_Quality_Score__c", "double", precision=1, scale=0),
    describe_field("Transcript_URL__c", "url", "Transcript URL", length=255),
    describe_field("Last_Koji_Interview_At__c", "datetime"),
]
SURVEY_FIELDS = [
    describe_field("NPS_Score__c", "double", "NPS Score", precision=2, scale=0),
    describe_field("CSAT_Score__c", "double", "CSAT Score", precision=1, scale=0),
    describe_field("Last_Survey_Date__c", "date"),
]


class SalesforceRefusal(Exception):
    """One answer Salesforce gives instead of doing the work."""

    def __init__(self, status: int, errors: list[dict]):
        super().__init__(errors[0]["message"] if errors else str(status))
        self.status, self.errors = status, errors


def _refusal(status: int, code: str, message: str, fields: list[str] | None = None) -> SalesforceRefusal:
    error = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return SalesforceRefusal(status, [error])


# -- record ids -------------------------------------------------------------------

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_SHAPE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Z0-5]{3})?$")


def id_suffix(id15: str) -> str:
    """Salesforce's case-safe suffix: one letter per 5 characters, a bit per capital."""
    letters = []
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start:start + 5]) if "A" <= char <= "Z")
        letters.append(_SUFFIX_ALPHABET[bits])
    return "".join(letters)


def contact_id(number: int) -> str:
    id15 = f"0035g00000{number:05d}"
    return id15 + id_suffix(id15)


def query_locator(number: int) -> str:
    """A query cursor id: key prefix 01g, as in Salesforce's ``nextRecordsUrl``."""
    id15 = f"01g5g00000{number:05d}"
    return id15 + id_suffix(id15)


def _canonical_id(value: str) -> str | None:
    """The 18-character Contact id for a 15/18-character one, or None when malformed."""
    if not isinstance(value, str) or not _ID_SHAPE.match(value) or not value.startswith("003"):
        return None
    if len(value) == 18 and value[15:] != id_suffix(value[:15]):
        return None
    return value[:15] + id_suffix(value[:15])


# -- SOQL --------------------------------------------------------------------------

_SOQL_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<number>\d+)|(?P<punct>[(),=])|(?P<quote>'))")
_SOQL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _malformed(detail: str) -> SalesforceRefusal:
    return _refusal(400, "MALFORMED_QUERY", detail)


def _read_literal(q: str, pos: int) -> tuple[str, int]:
    """Decode the string literal whose opening quote is just before ``pos``."""
    out = []
    while pos < len(q):
        char = q[pos]
        if char == "'":
            return "".join(out), pos + 1
        if char != "\\":
            out.append(char)
            pos += 1
            continue
        nxt = q[pos + 1:pos + 2]
        if nxt.lower() == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", q[pos + 2:pos + 6]):
            out.append(chr(int(q[pos + 2:pos + 6], 16)))
            pos += 6
        elif nxt and (nxt.lower() if nxt in "NRTBF" else nxt) in _SOQL_ESCAPES:
            out.append(_SOQL_ESCAPES[nxt.lower() if nxt in "NRTBF" else nxt])
            pos += 2
        else:
            raise _malformed("Invalid string literal: illegal escape sequence")
    raise _malformed("line 1:" + str(pos) + " mismatched character '<EOF>' expecting '''")


def _tokenize(q: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while q[pos:].strip():
        match = _SOQL_TOKEN.match(q, pos)
        if not match:
            raise _malformed(f"unexpected token: {q[pos:].split()[0][:20]}")
        kind = match.lastgroup
        if kind == "quote":
            value, pos = _read_literal(q, match.end())
            tokens.append(("string", value, match.start("quote")))
        else:
            tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
    return tokens


class _Query:
    def __init__(self, q: str):
        self.q, self.tokens, self.i = q, _tokenize(q), 0

    def peek(self, upper: bool = True) -> str | None:
        if self.i >= len(self.tokens):
            return None
        value = self.tokens[self.i][1]
        return value.upper() if upper and self.tokens[self.i][0] == "name" else value

    def take(self, kind: str, keyword: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise _malformed("unexpected end of query")
        token_kind, value, _ = self.tokens[self.i]
        if token_kind != kind or (keyword and value.upper() != keyword):
            raise _malformed(f"unexpected token: {value[:20]!r}")
        self.i += 1
        return value

    def parse(self) -> dict:
        self.take("name", "SELECT")
        fields = [self.take("name")]
        while self.peek() == ",":
            self.take("punct")
            fields.append(self.take("name"))
        self.take("name", "FROM")
        query = {"fields": fields, "sobject": self.take("name"), "where": None, "limit": None}
        if self.peek() == "WHERE":
            query["where"] = self.parse_where()
        if self.peek() == "LIMIT":
            self.take("name")
            query["limit"] = int(self.take("number"))
        if self.peek() is not None:
            raise _malformed(f"unexpected token: {str(self.peek(False))[:20]!r}")
        return query

    def parse_where(self) -> tuple[str, list[str]]:
        start = self.tokens[self.i][2] + len("WHERE")
        self.take("name", "WHERE")
        field = self.take("name")
        if self.peek() == "=":
            self.take("punct")
            values = [self.take("string")]
        else:
            self.take("name", "IN")
            self.take("punct")
            values = [self.take("string")]
            while self.peek() == ",":
                self.take("punct")
                values.append(self.take("string"))
            if self.take("punct") != ")":
                raise _malformed("expecting ')'")
        end = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.q)
        if len(self.q[start:end].strip()) > MAX_WHERE_CHARS:
            raise _malformed(f"The WHERE clause is longer than {MAX_WHERE_CHARS} characters")
        return field, values


def _as_answered(field: dict | None, value):
    """A stored value as Salesforce's REST answers give it: a date/time in UTC with
    milliseconds and a `+0000` offset (`2026-04-16T10:22:55.000+0000`), whatever offset it was
    written with."""
    if field is None or field["type"] != "datetime" or not isinstance(value, str):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# -- value checks --------------------------------------------------------------------

# An Email field, by Salesforce's own rules (Salesforce Help, "Salesforce Email Address Format
# Technical Standards Validation", article 000384328, and before it "How does Salesforce qualify
# an email address?", 000001145), written here on purpose apart from the connector's check:
# * the local part takes A-Z a-z 0-9 and ! # $ % & ' * + - / = ? ^ _ ` { | } ~ and "."; a "."
#   may not come first, but ".." inside and a final "." are accepted (a..a@test.jp, a..@test.jp:
#   Salesforce departs from the RFC there, at its Japanese customers' request);
# * the domain takes A-Z a-z 0-9 and "-": here dot-separated host-name labels, at least two;
# * a comment in matched parentheses is allowed and ignored (john.doe@(comment)example.com);
# * non-Latin characters only in an org that turned on Email Address Internationalization,
#   which this fake's org has not; quotes, brackets, spaces and a second "@" are refused.
_EMAIL_ATOM_CHAR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_COMMENT = r"(?:\([\x20-\x27\x2a-\x5b\x5d-\x7e]*\))?"
_SALESFORCE_EMAIL = re.compile(
    rf"{_EMAIL_COMMENT}{_EMAIL_ATOM_CHAR}(?:{_EMAIL_ATOM_CHAR}|\.)*{_EMAIL_COMMENT}"
    rf"@{_EMAIL_COMMENT}{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL})+{_EMAIL_COMMENT}")


def is_salesforce_email(value: str) -> bool:
    """Whether Salesforce (without Email Address Internationalization) takes ``value`` in an Email field."""
    return _SALESFORCE_EMAIL.fullmatch(value) is not None


_EARLIEST = datetime(1700, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(4000, 12, 31, tzinfo=timezone.utc)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$")


def _parser_error(type_name: str, value) -> dict:
    kind = {bool: "VALUE_TRUE" if value else "VALUE_FALSE", str: "VALUE_STRING", int: "VALUE_NUMBER_INT",
            float: "VALUE_NUMBER_FLOAT", list: "START_ARRAY", dict: "START_OBJECT"}.get(type(value), "VALUE")
    return {"message": f"Cannot deserialize instance of {type_name} from {kind} value {str(value)[:40]} "
                       "or request may be missing a required field", "errorCode": "JSON_PARSER_ERROR"}


def _check_number(field: dict, value) -> dict | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return _parser_error("double", value)
    exponent = Decimal(repr(value)).normalize().as_tuple()
    digits_after = max(0, -exponent.exponent) if value != int(value) else 0
    digits_before = len(str(abs(int(value)))) if int(value) else 0
    if digits_after > field["scale"] or digits_before > field["precision"] - field["scale"]:
        return {"message": f"{field['label']}: value outside of valid range on numeric field: {value}",
                "errorCode": "NUMBER_OUTSIDE_VALID_RANGE", "fields": [field["name"]]}
    return None


def _check_when(field: dict, value) -> dict | None:
    pattern, parse = ((_DATETIME, lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")))
                      if field["type"] == "datetime" else (re.compile(r"^\d{4}-\d{2}-\d{2}$"), date.fromisoformat))
    if not isinstance(value, str) or not pattern.match(value):
        return _parser_error(field["type"], value)
    try:
        moment = parse(value)
    except ValueError:
        return _parser_error(field["type"], value)
    # Salesforce stores 1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z only (Data Loader guide,
    # "Data Import Dates"). The error code for a date outside it is not documented there;
    # this one is Salesforce's code for a value its field cannot hold.
    if isinstance(moment, datetime):
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        inside = _EARLIEST <= moment <= _LATEST
    else:
        inside = _EARLIEST.date() <= moment <= _LATEST.date()
    if not inside:
        return {"message": f"{field['label']}: invalid date: value outside the valid range {value[:40]}",
                "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": [field["name"]]}
    return None


def _check_text(field: dict, value) -> dict | None:
    if not isinstance(value, str):
        return _parser_error("String", value)
    name, label = field["name"], field["label"]
    if field["type"] in ("picklist", "multipicklist") and field["restrictedPicklist"]:
        allowed = {p["value"] for p in field["picklistValues"] if p["active"]}
        chosen = value.split(";") if field["type"] == "multipicklist" else [value]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            return {"message": f"{label}: bad value for restricted picklist field: {bad[0]}",
                    "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": [name]}
    if field["type"] == "multipicklist" and len(value.split(";")) > MAX_MULTIPICKLIST_VALUES:
        # The code and the limit are Salesforce's (see MAX_MULTIPICKLIST_VALUES); the wording is not documented.
        return {"message": f"{label}: too many values selected for a multi-select picklist: "
                           f"{len(value.split(';'))} (max={MAX_MULTIPICKLIST_VALUES})",
                "errorCode": "TOO_MANY_ENUM_VALUE", "fields": [name]}
    length = field["length"] or (MULTIPICKLIST_LENGTH if field["type"] == "multipicklist" else 0)
    if length and len(value) > length:
        return {"message": f"{label}: data value too large: {value[:20]} (max length={length})",
                "errorCode": "STRING_TOO_LONG", "fields": [name]}
    if field["type"] == "email" and value and not is_salesforce_email(value):
        return {"message": f"{label}: invalid email address: {value[:40]}",
                "errorCode": "INVALID_EMAIL_ADDRESS", "fields": [name]}
    return None


def check_value(field: dict, value) -> dict | None:
    """The error Salesforce gives for ``value`` in ``field``, or None when it is accepted."""
    if not field["updateable"]:
        return {"message": f"Unable to create/update fields: {field['name']}. Please check the security "
                           "settings of this field and verify that it is read/write for your profile or "
                           "permission set.", "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                "fields": [field["name"]]}
    if value is None:
        if field["nillable"]:
            return None
        return {"message": f"Required fields are missing: [{field['name']}]",
                "errorCode": "REQUIRED_FIELD_MISSING", "fields": [field["name"]]}
    if field["type"] in ("double", "int", "currency", "percent"):
        return _check_number(field, value)
    if field["type"] in ("datetime", "date"):
        return _check_when(field, value)
    if field["type"] == "boolean":
        return None if isinstance(value, bool) else _parser_error("boolean", value)
    return _check_text(field, value)


class FakeSalesforce(LoopbackServer):
    """A loopback Salesforce org holding Contacts; see the module docstring for what it refuses."""

    def __init__(self, contacts: list[dict] | None = None, fields: list[dict] | None = None,
                 client_id: str = "test-client-id", client_secret: str = "test-client-secret",
                 api_version: str = "v59.0", refresh_token: str = REFRESH_TOKEN,
                 daily_api_limit: int = DAILY_API_LIMIT):
        self.client_id, self.client_secret, self.api_version = client_id, client_secret, api_version
        self.refresh_tokens: set[str] = {refresh_token}
        self.daily_api_limit = daily_api_limit
        custom = RECIPE_FIELDS + SURVEY_FIELDS if fields is None else fields
        # Standard fields are always there; a custom list replaces the recipe fields.
        self.fields: list[dict] = [dict(f) for f in STANDARD_FIELDS] + [dict(f) for f in custom]
        self.contacts: dict[str, dict] = {}
        self.requests: list[dict] = []  # every request as received, with the status it was answered
        self.patches: list[tuple[str, dict]] = []
        self.api_usage = 0
        self._tokens: dict[str, str | None] = {}  # access token → the refresh token that got it
        self._cursors: dict[str, list[dict]] = {}  # query locator → all records of that query
        self._locators = itertools.count(1)
        self._failures: list[dict] = []
        self._numbers = itertools.count(1)
        self._lock = threading.RLock()
        for record in contacts or []:
            record = dict(record)
            self.add_contact(record.pop("Email", None), **record)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    # -- test controls --------------------------------------------------------------
    def add_contact(self, email: str | None, **fields) -> str:
        with self._lock:
            record_id = fields.pop("Id", None) or contact_id(next(self._numbers))
            record = {"Id": record_id, "Email": email, "FirstName": None, "LastName": "Contact"}
            record.update(fields)
            self.contacts[record_id] = record
            return record_id

    def fail_next(self, status: int = 503, times: int = 1, method: str | None = None,
                  path_contains: str | None = None) -> None:
        with self._lock:
            self._failures.append({"status": status, "times": times, "method": method,
                                   "path_contains": path_contains})

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def revoke_refresh_token(self, refresh_token: str = REFRESH_TOKEN) -> None:
        """As a revocation in Setup does: the refresh token and the access tokens it got die."""
        with self._lock:
            self.refresh_tokens.discard(refresh_token)
            for token, origin in list(self._tokens.items()):
                if origin == refresh_token:
                    del self._tokens[token]

    def field(self, name: str) -> dict | None:
        lowered = name.lower()
        return next((f for f in self.fields if f["name"].lower() == lowered), None)

    # -- request handling (called by the handler, under the lock) --------------------
    def take_failure(self, method: str, path: str) -> int | None:
        for rule in self._failures:
            if (rule["method"] in (None, method) and (rule["path_contains"] or "") in path):
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self._failures.remove(rule)
                return rule["status"]
        return None

    def issue_token(self, params: dict, authorization: str | None) -> tuple[int, dict]:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
                client_id, _, client_secret = (unquote(part) for part in decoded.partition(":"))
            except (ValueError, UnicodeDecodeError):
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        grant = params.get("grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        if not (_same(client_id, self.client_id) and _same(client_secret, self.client_secret)):
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        refresh = params.get("refresh_token") if grant == "refresh_token" else None
        if grant == "refresh_token" and not any(_same(refresh, known) for known in self.refresh_tokens):
            return 400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(24)}"
        self._tokens[token] = refresh
        return 200, {"access_token": token, "instance_url": self.base_url,
                     "id": f"{self.base_url}/id/{ORG_ID}/{USER_ID}", "token_type": "Bearer",
                     "issued_at": str(int(time.time() * 1000)),
                     "signature": base64.b64encode(secrets.token_bytes(32)).decode(), "scope": "api"}

    def authorized(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() in ("bearer", "oauth") and token.strip() in self._tokens

    def over_api_limit(self) -> bool:
        return self.api_usage >= self.daily_api_limit

    def run_query(self, q: str, version: str | None = None) -> dict:
        query = _Query(q).parse()
        if query["sobject"].lower() != "contact":
            raise _refusal(400, "INVALID_TYPE", f"sObject type '{query['sobject']}' is not supported.")
        columns = [self._column(name) for name in query["fields"]]
        matches = list(self.contacts.values())
        if query["where"]:
            # Checked before any record is read: Salesforce refuses a bad filter in an empty org too.
            test = self._filter(*query["where"])
            matches = [r for r in matches if test(r)]
        if query["limit"] is not None:
            matches = matches[:query["limit"]]
        records = [self._record_view(r, columns, version) for r in matches]
        if len(records) <= QUERY_PAGE_SIZE:
            return {"totalSize": len(records), "done": True, "records": records}
        locator = query_locator(next(self._locators))
        self._cursors[locator] = records
        while len(self._cursors) > MAX_OPEN_CURSORS:
            del self._cursors[next(iter(self._cursors))]
        return self.query_page(locator, 0, version)

    def query_page(self, locator: str, offset: int, version: str | None = None) -> dict:
        """The page of a query cursor that starts at ``offset``, as ``nextRecordsUrl`` names it."""
        records = self._cursors.get(locator)
        if records is None or not 0 <= offset < len(records):
            raise _refusal(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        end = offset + QUERY_PAGE_SIZE
        page = {"totalSize": len(records), "done": end >= len(records)}
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/{version or self.api_version}/query/{locator}-{end}"
        page["records"] = records[offset:end]
        return page

    def _column(self, name: str) -> str:
        field = self.field(name)
        if field is None:
            raise _refusal(400, "INVALID_FIELD", f"No such column '{name}' on entity 'Contact'. If you are "
                           "attempting to use a custom field, be sure to append the '__c' after the custom "
                           "field name.")
        return field["name"]

    def _filter(self, name: str, values: list[str]):
        """Whether a record passes ``name IN values``; a column or an id Salesforce refuses is refused now."""
        column = self._column(name)
        if column == "Id":
            wanted = [_canonical_id(v) for v in values]
            if None in wanted:
                raise _refusal(400, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field")
            return lambda record: record["Id"] in wanted
        lowered = {v.lower() for v in values}
        return lambda record: isinstance(record.get(column), str) and record[column].lower() in lowered

    def _record_view(self, record: dict, columns: list[str], version: str | None = None) -> dict:
        url = f"/services/data/{version or self.api_version}/sobjects/Contact/{record['Id']}"
        view = {"attributes": {"type": "Contact", "url": url}}
        view.update({column: _as_answered(self.field(column), record.get(column)) for column in columns})
        return view

    def find_contact(self, raw_id: str) -> dict:
        record_id = _canonical_id(raw_id)
        if record_id is None:
            raise _refusal(400, "MALFORMED_ID", f"Contact ID: id value of incorrect type: {raw_id[:40]}")
        if record_id not in self.contacts:
            raise _refusal(404, "NOT_FOUND", "The requested resource does not exist")
        return self.contacts[record_id]

    def field_errors(self, body) -> list[dict]:
        """Every error Salesforce would give for this PATCH body (empty: it is accepted)."""
        if not isinstance(body, dict):
            return [_parser_error("Contact", body)]
        errors = []
        for name, value in body.items():
            if name == "attributes":
                continue
            field = self.field(name)
            if field is None:
                errors.append({"message": f"No such column '{name}' on sobject of type Contact",
                               "errorCode": "INVALID_FIELD", "fields": [name]})
                continue
            error = check_value(field, value)
            if error:
                errors.append(error)
        return errors

    def apply_patch(self, record: dict, body: dict) -> None:
        changes = {self.field(k)["name"]: v for k, v in body.items() if k != "attributes"}
        record.update(changes)
        self.patches.append((record["Id"], dict(body)))

    def patch_contact(self, raw_id: str, body) -> None:
        record = self.find_contact(raw_id)
        errors = self.field_errors(body)
        if errors:
            raise SalesforceRefusal(400, errors)
        self.apply_patch(record, body)

    def patch_collection(self, body) -> list[dict]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceRefusal(400, [_parser_error("SObjectCollection", body)])
        if len(body["records"]) > MAX_COLLECTION_RECORDS:
            raise _refusal(400, "EXCEEDED_ID_LIMIT", "Record limit reached. Maximum number of records per "
                           "request is 200.")
        checked = [self._collection_item(item) for item in body["records"]]
        failed = any(errors for _, _, errors in checked)
        if body.get("allOrNone") and failed:
            return [_collection_result(item, errors or [_ROLLED_BACK]) for item, _, errors in checked]
        for item, record, errors in checked:
            if not errors:
                self.apply_patch(record, {k: v for k, v in item.items() if k.lower() != "id"})
        return [_collection_result(item, errors) for item, _, errors in checked]

    def _collection_item(self, item) -> tuple[dict, dict | None, list[dict]]:
        if not isinstance(item, dict) or (item.get("attributes") or {}).get("type", "").lower() != "contact":
            return {}, None, [{"message": "When updating records, the attributes.type must be Contact",
                               "errorCode": "INVALID_TYPE"}]
        try:
            record = self.find_contact(str(item.get("id") or item.get("Id") or ""))
        except SalesforceRefusal as refusal:
            return item, None, refusal.errors
        fields = {k: v for k, v in item.items() if k.lower() != "id"}
        return item, record, self.field_errors(fields)

    def describe(self) -> dict:
        return {"name": "Contact", "label": "Contact", "custom": False, "updateable": True,
                "queryable": True, "fields": [dict(f) for f in self.fields],
                "urls": {"describe": f"/services/data/{self.api_version}/sobjects/Contact/describe"}}


def _same(given, expected: str) -> bool:
    # Over bytes: compare_digest refuses str with non-ASCII characters, and a client may send them.
    return given is not None and secrets.compare_digest(str(given).encode(), expected.encode())


_ROLLED_BACK = {"message": "Record rolled back because not all records were valid and the request was using "
                           "AllOrNone header", "errorCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "fields": []}


def _collection_result(item: dict, errors: list[dict]) -> dict:
    if not errors:
        return {"id": item.get("id") or item.get("Id"), "success": True, "errors": []}
    return {"success": False, "errors": [
        {"statusCode": e["errorCode"], "message": e["message"], "fields": e.get("fields", [])} for e in errors]}


# -- HTTP --------------------------------------------------------------------------

_DATA_PATH = re.compile(r"^/services/data/(?P<version>v\d+\.\d)(?P<rest>/.*)?$")
_CONTACT_PATH = re.compile(r"^/sobjects/contact/(?P<id>[^/]+)$", re.IGNORECASE)
_CURSOR_PATH = re.compile(r"^/query/(?P<locator>[^/-]+)-(?P<offset>\d+)$")


def _route_api(fake: FakeSalesforce, method: str, version: str, rest: str, query: dict,
               body) -> tuple[int, object]:
    if method == "GET" and rest in ("/query", "/query/"):
        if "q" not in query:
            raise _malformed("A query string has to be specified")
        return 200, fake.run_query(query["q"], version)
    cursor = _CURSOR_PATH.match(rest)
    if method == "GET" and cursor:
        return 200, fake.query_page(cursor["locator"], int(cursor["offset"]), version)
    if method == "GET" and rest.lower() == "/sobjects/contact/describe":
        return 200, fake.describe()
    if method == "PATCH" and rest in ("/composite/sobjects", "/composite/sobjects/"):
        return 200, fake.patch_collection(body)
    contact = _CONTACT_PATH.match(rest)
    if contact and method == "PATCH":
        fake.patch_contact(unquote(contact["id"]), body)
        return 204, None
    if contact and method == "GET":
        record = fake.find_contact(unquote(contact["id"]))
        return 200, fake._record_view(record, list(record), version)
    raise _refusal(404, "NOT_FOUND", "The requested resource does not exist")


def _answer(fake: FakeSalesforce, method: str, raw_path: str, headers: dict, raw_body: bytes) -> tuple[int, object]:
    parts = urlsplit(raw_path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    text = raw_body.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = ValueError
    record = {"method": method, "path": parts.path, "query": query, "headers": headers,
              "json": None if body is ValueError else body, "body": text, "status": None}
    fake.requests.append(record)
    record["status"], answer = _respond(fake, method, raw_path, parts, query, headers, text, body)
    return record["status"], answer


def _respond(fake: FakeSalesforce, method: str, raw_path: str, parts, query: dict, headers: dict, text: str,
             body) -> tuple[int, object]:
    failure = fake.take_failure(method, parts.path)
    if failure is not None:
        code, message = _STATUS_ERRORS.get(failure, ("UNKNOWN_EXCEPTION", "Failure injected by the test"))
        return failure, [{"message": message, "errorCode": code}]
    if len(raw_path.encode()) > MAX_URI_BYTES:
        return 414, [{"message": "URI Too Long", "errorCode": "URI_TOO_LONG"}]
    if parts.path == "/services/oauth2/token" and method == "POST":
        form = dict(parse_qsl(text)) if "form" in headers.get("Content-Type", "form") else {}
        return fake.issue_token({**query, **form}, headers.get("Authorization"))
    data = _DATA_PATH.match(parts.path)
    if not data:
        return 404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    if not fake.authorized(headers.get("Authorization")):
        return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    if fake.over_api_limit():
        code, message = _STATUS_ERRORS[403]
        return 403, [{"message": message, "errorCode": code}]
    fake.api_usage += 1
    if body is ValueError:
        return 400, [{"message": "Unexpected character: was expecting a JSON value", "errorCode": "JSON_PARSER_ERROR"}]
    try:
        return _route_api(fake, method, data["version"], data["rest"] or "/", query, body)
    except SalesforceRefusal as refusal:
        return refusal.status, refusal.errors


def _make_handler(fake: FakeSalesforce) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            with fake._lock:
                status, payload = _answer(fake, self.command, self.path, dict(self.headers), raw_body)
                usage = f"api-usage={fake.api_usage}/{fake.daily_api_limit}"
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Sforce-Limit-Info", usage)
            if status != 204:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 204:
                self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            pass  # request lines carry SOQL with e-mail addresses: keep them out of test output

    return Handler


# Profile field types (connector.profile.FieldType) → the describe type Salesforce reports.
PROFILE_TO_DESCRIBE = {"text": "string", "textarea": "textarea", "url": "url", "email": "email",
                       "picklist": "picklist", "multipicklist": "multipicklist", "number": "double",
                       "checkbox": "boolean", "datetime": "datetime", "date": "date"}


def fields_matching(specs) -> list[dict]:
    """Describe entries for an org set up exactly as a profile's field specs ask."""
    entries = []
    for spec in specs:
        kind = PROFILE_TO_DESCRIBE[spec.type]
        extra = {"length": spec.max_length or 0} if kind not in ("double", "boolean", "datetime", "date") else {}
        if kind == "multipicklist":  # Salesforce sets this length itself: no profile chooses it
            extra = {"length": MULTIPICKLIST_LENGTH}
        if kind == "double":
            extra = {"precision": spec.precision, "scale": spec.scale}
        if spec.values:
            extra.update(restrictedPicklist=True, picklistValues=picklist(*spec.values))
        entries.append(describe_field(spec.name, kind, spec.label, **extra))
    return entries
