"""Pure: a normalized answer → the ``salesforce`` block of docs/design.md.

Every value is made into something Salesforce accepts (salesforce-rest.md) or left
out with a reason: a PATCH is all or nothing, so one bad value would lose them all.
Values absent from the event are not sent, so existing Contact values are not blanked.
Reasons and warnings describe the value's shape, never the value: it may be an
e-mail address or a customer's words.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from connector.events import iso_utc
from connector.payload_fields import is_email_shaped
from connector.profile import NO_WORDS, YES_WORDS, FieldSpec, Profile
from connector.soql import SoqlError, lookup_query
from connector.templates import RENDER_FAILURES, NothingToCalculate, why_not_rendered
from connector.text_limits import join_within, truncate
from connector.web_links import web_url

_ID_CHARS = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?")  # fullmatch: "$" lets a final newline in
_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# What an Email field is sent: an address Salesforce takes (Salesforce Help, "Email Address Format
# Technical Standards Validation": ASCII, the local part's characters, a host name), without
# the oddities it tolerates (a..b@, comments), and nothing an org without Email Address
# Internationalization refuses. A refused value would fail the whole PATCH. A lookup by e-mail
# reads the looser payload_fields.is_email_shaped: a query for an odd address finds nothing and loses nothing.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FIELD_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
# A multi-select picklist holds at most 100 chosen values (else TOO_MANY_ENUM_VALUE) in at most
# 4,099 characters, the length describe gives every such field.
MULTIPICKLIST_VALUES, MULTIPICKLIST_CHARS = 100, 4099
NO_CONTACT_EVENTS = ("study.published", "report.generated")
NO_LOOKUP = {"strategy": None, "field": None, "value": None, "soql": None}
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


class Outcome(NamedTuple):
    """What became of one field: a value to send, or a reason it is left out."""

    value: Any = None
    skip: str | None = None
    warning: str | None = None


def _left_out(reason: str) -> Outcome:
    # A value that was there but cannot be sent is worth a warning as well.
    return Outcome(skip=reason, warning=reason)


# -- record ids and the lookup ---------------------------------------------------------

def salesforce_id(value: str) -> str | None:
    """The 18-character form of a 15/18-character Salesforce id, or None if malformed.

    The 3-character suffix encodes which of the first 15 characters are capitals ("ID Field
    Type", https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm),
    so an 18-character id whose letters a tool lowercased (or uppercased) is given back as it
    was; one with any other wrong suffix is a mistyped id.
    """
    if not isinstance(value, str) or not _ID_CHARS.fullmatch(value):
        return None
    suffix = _case_suffix(value[:15])
    if len(value) == 15 or value[15:].upper() == suffix:
        return value[:15] + suffix
    return _with_capitals_restored(value)


def _case_suffix(id15: str) -> str:
    # One character per 5: bit i set when the i-th of them is a capital.
    return "".join(_ID_SUFFIX[sum(1 << i for i, char in enumerate(id15[start:start + 5]) if char.isupper())]
                   for start in (0, 5, 10))


def _with_capitals_restored(id18: str) -> str | None:
    """The id whose case the suffix describes, or None. Only for 15 characters all in one case
    (lowercased or uppercased as a whole, as no-code tools and spreadsheets do): in a mixed-case
    id the case was kept, and re-casing it would name another record than the one given."""
    if not (id18[:15].islower() or id18[:15].isupper()):
        return None
    suffix = id18[15:].upper()
    capitals = [_ID_SUFFIX.index(code) for code in suffix]  # bit i of the n-th: character 5n + i
    restored = "".join(char.upper() if (capitals[index // 5] >> index % 5) & 1 else char.lower()
                       for index, char in enumerate(id18[:15]))
    # A suffix that marks a digit as a capital is not this id's: re-casing cannot match it.
    return restored + suffix if _case_suffix(restored) == suffix else None


def _why_not_an_id(value: object) -> str:
    if isinstance(value, str) and len(value) == 18 and _ID_CHARS.fullmatch(value):
        # A case changed as a whole is restored above: what is left is an id retyped or edited.
        return "its last 3 characters are not the checksum of the 15 before them (a mistyped id?)"
    return "a Salesforce id is 15 or 18 letters and digits"


def _lookup_candidate(strategy: str, answer: dict, profile: Profile) -> tuple[str | None, str | None]:
    """(field, value) the strategy would look up by, or (None, None) when it has nothing."""
    respondent = answer.get("respondent") or {}
    if strategy == "contact_id":
        return "Id", respondent.get("salesforce_contact_id")
    if strategy == "external_id":
        return profile.external_id_field, respondent.get("external_id")
    return profile.lookup.email_field, respondent.get("email")


def _lookup_value(strategy: str, value: str) -> tuple[str | None, str | None]:
    """(value to look up, warning) after checking the value's shape."""
    if strategy == "contact_id":
        canonical = salesforce_id(value)
        if canonical is None:
            return None, "respondent.salesforce_contact_id is not a Contact id; not used: " + _why_not_an_id(value)
        if not canonical.startswith("003"):
            return None, (f"respondent.salesforce_contact_id is the id of another kind of record (prefix "
                          f"{canonical[:3]}), not a Contact (003…); not used")
        return canonical, None
    if strategy == "email" and not is_email_shaped(value):
        return None, "respondent.email is not an e-mail address; not used"
    if strategy == "external_id" and len(value) > EXTERNAL_ID_CHARS:
        # No Salesforce field can hold it, so no record can match; and a value this long
        # could make the query longer than Salesforce takes (4,000 characters, 16 kB URI).
        return None, (f"respondent.external_id is longer than a Salesforce External ID field holds "
                      f"({EXTERNAL_ID_CHARS} characters); not used")
    return value, None


# An External ID field is a text, number or e-mail field: 255 characters at most.
EXTERNAL_ID_CHARS = 255


def lookup_value(strategy: str, value: str) -> str | None:
    """The value a lookup by `strategy` would use, or None when `value` cannot be looked up by."""
    return _lookup_value(strategy, value)[0]


def choose_lookups(answer: dict, profile: Profile) -> tuple[list[dict], list[dict]]:
    """Every lookup of the profile's order that this answer can use, in that order, and a
    warning for each value it has that cannot be looked up by.

    All of them, not just the first: the chain tries the next when one finds no Contact. A
    Contact id from a personalized link sent months ago may name a Contact since merged into
    another or deleted (a query does not return either), while the e-mail still finds the person."""
    lookups, warnings = [], []
    for strategy in profile.lookup_order:
        field, raw = _lookup_candidate(strategy, answer, profile)
        if not field or raw in (None, ""):
            continue
        value, warning = _lookup_value(strategy, str(raw))
        if value is not None:
            try:
                soql = lookup_query(profile.sobject, field, value, profile.lookup_columns)
            except SoqlError as exc:
                warning = str(exc)
            else:
                lookups.append({"strategy": strategy, "field": field, "value": value, "soql": soql})
                continue
        warnings.append({"field": field, "message": warning})
    return lookups, warnings


# -- reading values out of the answer ------------------------------------------------------

def read_path(answer: dict, path: str) -> Any:
    value: Any = answer
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _is_absent(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _structured_answer(answer: dict, spec: FieldSpec) -> dict | None:
    """The structured answer to the field's question, or None."""
    return next((item for item in read_path(answer, "analysis.structured_answers") or []
                 if isinstance(item, dict) and item.get("question_id") == spec.question_id), None)


def _structured_value(answer: dict, spec: FieldSpec) -> Any:
    item = _structured_answer(answer, spec)
    if item is None:
        return None
    value = item.get("value")
    # An open-ended question has no typed value: its answer is the text.
    return item.get("qualitative_answer") if _is_absent(value) else value


def _raw_value(answer: dict, spec: FieldSpec) -> Any:
    if spec.question_id is not None:
        return _structured_value(answer, spec)
    if spec.template is not None:
        return spec.compiled_template.render(**answer).strip()
    for keys in spec.source_paths:  # the first path with a value wins
        value: Any = answer
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if not _is_absent(value):
            return value
    return None


# -- making values fit each Salesforce type ---------------------------------------------

def _plain_text(value: Any) -> str | None:
    """A list item as text, or None for one that is not a plain value: an object or a list
    would reach Salesforce as Python's repr of it ("{'name': 'beta'}"), a flag as "True"."""
    if isinstance(value, str):
        return value
    if type(value) is int or type(value) is float:
        return str(int(value)) if type(value) is float and value.is_integer() else str(value)
    return None


def _text(spec: FieldSpec, raw: Any) -> Outcome:
    limit = spec.max_length
    if isinstance(raw, list):
        present = [item for item in raw if not _is_absent(item)]
        texts = [_plain_text(item) for item in present]
        items = list(dict.fromkeys(text.strip() for text in texts if text is not None and text.strip()))
        not_plain = texts.count(None)
        if not items:
            return _left_out(f"no item is a plain value that fits in {limit} characters")
        joined, dropped = join_within(items, spec.separator, limit,
                                      ranked=spec.question_type == "ranking")
        if not joined:
            return _left_out(f"no item fits in {limit} characters")
        warnings = [f"left out {not_plain} item(s) that are not plain values (an object, a list, a yes/no)"
                    ] if not_plain else []
        warnings += [f"left out {len(dropped)} item(s) that did not fit in {limit} characters"] if dropped else []
        warnings += _separator_inside(items, dropped, spec.separator)
        return Outcome(joined, warning="; ".join(warnings) or None)
    if isinstance(raw, (dict, bool)):
        return _left_out(f"a {type(raw).__name__} value does not fit a text field")
    text, cut = truncate(str(raw), limit)
    return Outcome(text, warning=f"truncated to {limit} characters" if cut else None)


def _separator_inside(items: list[str], dropped: list[str], separator: str) -> list[str]:
    """A warning when a sent item holds the separator: "pricing, packaging" joined with ", "
    reads as two themes in Salesforce. Counted, not quoted: an item may be the customer's words."""
    mark = separator.strip() or separator
    left_out = set(dropped)
    holding = sum(1 for item in items if mark in item and item not in left_out)
    if not holding:
        return []
    return [f"{holding} item(s) hold the separator {mark!r} and read as more than one; "
            "give the field another separator (e.g. '; ') in the profile"]


def _url(spec: FieldSpec, raw: Any) -> Outcome:
    text = web_url(raw)
    if text is None:
        return _left_out("not a valid http(s) URL")
    if len(text) > spec.max_length:
        # A cut URL leads nowhere: better no link than a broken one.
        return _left_out(f"URL longer than {spec.max_length} characters")
    return Outcome(text)


def _email(spec: FieldSpec, raw: Any) -> Outcome:
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) > spec.max_length or not _FIELD_EMAIL.fullmatch(text):
        return _left_out("not an e-mail address that fits the field")
    return Outcome(text)


def _choice(allowed: dict[str, str], raw: Any) -> str | None:
    """The picklist value `raw` names, or None. A score of 4 arrives as 4.0 (the normalized
    quality score is a float): it is the value "4", and the value "4.0" too when that is the one."""
    text = _plain_text(raw)
    if text is None:
        return None
    return allowed.get(str(raw).strip().lower()) or allowed.get(text.strip().lower())


def _picklist(spec: FieldSpec, raw: Any) -> Outcome:
    chosen = _choice(spec.picklist_values, raw)
    if chosen is None:
        # A true/false is a yes/no answer whatever the picklist; text ("no", "Y") only is
        # where the picklist has the words to write it as (found by an audit: "no" was dropped
        # by a True/False picklist), lest "1" for a Yes/No-less picklist be called a yes/no answer.
        yes_or_no = _as_yes_or_no(raw)
        if isinstance(raw, bool) or (yes_or_no is not None and spec.holds_yes_and_no):
            return _yes_or_no(spec, yes_or_no)
        return _left_out(f"value is not one of the picklist values ({', '.join(spec.values)})")
    return Outcome(chosen)


def _as_yes_or_no(raw: Any) -> bool | None:
    """True or False for a value a checkbox reads as one (true, "no", "Y", 1), else None."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    return (word in _TRUE) if word in _TRUE or word in _FALSE else None


def _yes_or_no(spec: FieldSpec, answer: bool) -> Outcome:
    """A yes/no answer (a yes_no question's true/false, or any true/false value) as the
    picklist's own Yes or No, spelled as the profile spells it."""
    allowed = spec.picklist_values
    chosen = next((allowed[word] for word in (YES_WORDS if answer else NO_WORDS) if word in allowed), None)
    if chosen is None:
        return _left_out("a yes/no answer needs a checkbox field, or a picklist with the values Yes and No")
    return Outcome(chosen)


def _multipicklist(spec: FieldSpec, raw: Any) -> Outcome:
    allowed = spec.picklist_values
    if isinstance(raw, list):
        chosen = [_choice(allowed, item) for item in raw if not _is_absent(item) and str(item).strip()]
    else:
        chosen = _choices_in_text(str(raw), allowed, spec.picklist_runs)
    kept = list(dict.fromkeys(value for value in chosen if value))
    if not kept:
        return _left_out(f"no value is one of the picklist values ({', '.join(spec.values)})")
    unknown = chosen.count(None)
    joined, dropped = join_within(kept[:MULTIPICKLIST_VALUES], ";", MULTIPICKLIST_CHARS)
    too_many = max(0, len(kept) - MULTIPICKLIST_VALUES) + len(dropped)
    warnings = [f"left out {unknown} value(s) not in the picklist"] if unknown else []
    warnings += [f"left out {too_many} value(s) beyond what a multi-select holds ({MULTIPICKLIST_VALUES} values, "
                 f"{MULTIPICKLIST_CHARS:,} characters)"] if too_many else []
    return Outcome(joined, warning="; ".join(warnings) or None)


def _choices_in_text(text: str, allowed: dict[str, str], runs: frozenset[str]) -> list[str | None]:
    """The values named in one text ("Reports, dashboards; API"), split on ; and , but with the
    longest run of pieces that is a value taken whole, since a value may hold a comma
    ("Reports, dashboards"); None for a piece that is no value.

    A run grows only while it is the beginning of such a value (`runs`, FieldSpec.picklist_runs),
    so the work grows with the text and the values' own length, no faster: trying every run up
    to the comma-richest value's length at every piece cost seconds for a signed MiB of "x,"
    against a value with 30 commas."""
    pieces = _PICKLIST_SEPARATORS.split(text)  # the separators kept, at the odd indexes
    chosen: list[str | None] = []
    start, count = 0, len(pieces)
    while start < count:
        run = pieces[start].strip().lower()
        if not run:
            start += 2
            continue
        value, taken = allowed.get(run), start + 1  # the longest value found, and where it ends
        end = start + 1
        while run in runs and end + 2 <= count:
            end += 2
            run = "".join(pieces[start:end]).strip().lower()
            if run in allowed:
                value, taken = allowed[run], end
        chosen.append(value)
        start = taken + 1
    return chosen


_PICKLIST_SEPARATORS = re.compile(r"([;,])")


def _number(spec: FieldSpec, raw: Any) -> Outcome:
    # Scores and counts are whole numbers: they need no rounding, only the range checks,
    # which are exact on ints and on floats that hold whole numbers.
    if type(raw) is int or (type(raw) is float and raw.is_integer()):
        return _whole_number(spec, raw)
    return _decimal_number(spec, raw)


def _whole_number(spec: FieldSpec, raw: int | float) -> Outcome:
    if (abs(raw) >= 10 ** (spec.precision - spec.scale) or (spec.min is not None and raw < spec.min)
            or (spec.max is not None and raw > spec.max)):
        rule = _range(spec.precision, spec.scale, spec.min, spec.max)
        return _left_out(f"number outside the field's range ({rule})")
    # A float holds every whole number up to 2**53 exactly; beyond that only an int does
    # (9999999999999999 as a float is 1e16, outside a Number(18, 2)).
    if spec.scale == 0 or (type(raw) is int and abs(raw) > _WHOLE_FLOATS_UP_TO):
        return Outcome(int(raw))
    return Outcome(float(raw))


_WHOLE_FLOATS_UP_TO = 2 ** 53


# Scores and ratings take few distinct values (Koji's quality score: 0.0 to 5.0), so the
# Decimal work for a short number is kept; a long string is converted every time.
_CACHED_NUMBER_CHARS = 32


def _decimal_number(spec: FieldSpec, raw: Any) -> Outcome:
    if isinstance(raw, bool):
        return _left_out("not a number")
    text = str(raw).strip()
    if len(text) > _CACHED_NUMBER_CHARS:
        return _rounded(text, spec.precision, spec.scale, spec.min, spec.max)
    return _cached_rounded(text, spec.precision, spec.scale, spec.min, spec.max)


def _rounded(text: str, precision: int, scale: int, low: float | None, high: float | None) -> Outcome:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return _left_out("not a number")
    limit = _power_of_ten(precision - scale)
    # Out of range before rounding too: quantizing a number with more digits than Decimal's
    # 28-digit context (3.4e38, say) raises instead of rounding. Told by its exponent, not by
    # abs(): abs() of 1e1000000 (nine characters) is past Decimal's largest exponent, and
    # raised Overflow, a 500.
    if number and number.adjusted() >= precision - scale:
        return _left_out(f"number outside the field's range ({_range(precision, scale, low, high)})")
    rounded = number.quantize(_quantum(scale), rounding=ROUND_HALF_UP)
    if abs(rounded) >= limit or (low is not None and rounded < _decimal(low)) or (
            high is not None and rounded > _decimal(high)):
        return _left_out(f"number outside the field's range ({_range(precision, scale, low, high)})")
    rounding = f"rounded half up to {scale} decimal place(s)" if rounded != number else None
    if scale == 0:
        return Outcome(int(rounded), warning=rounding)
    value = float(rounded)
    if Decimal(repr(value)) != rounded:
        # More significant digits than a JSON number carries (15 to 17): a whole number is
        # sent as an int, exactly; any other as the nearest float, which may not cross the
        # field's range (9999999999999999.99 is 1e16 as a float, too large for Number(18, 2)).
        if rounded == rounded.to_integral_value():
            return Outcome(int(rounded), warning=rounding)
        if abs(value) >= limit or (low is not None and value < low) or (high is not None and value > high):
            return _left_out(f"number at the edge of the field's range ({_range(precision, scale, low, high)}) "
                             "with more significant digits than a JSON number carries")
        to_float = "rounded to the 15 to 17 significant digits a JSON number carries"
        return Outcome(value, warning=f"{rounding}; {to_float}" if rounding else to_float)
    return Outcome(value, warning=rounding)


_cached_rounded = lru_cache(maxsize=1024)(_rounded)


# Decimal constants per scale, precision and bound: built once, not per event.
@cache
def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


@cache
def _power_of_ten(exponent: int) -> Decimal:
    return Decimal(10) ** exponent


@cache
def _decimal(bound: float) -> Decimal:
    return Decimal(str(bound))


def _range(precision: int, scale: int, low: float | None, high: float | None) -> str:
    limit = 10 ** (precision - scale)
    return f"{low if low is not None else -limit:g} to {high if high is not None else limit:g}"


def _checkbox(spec: FieldSpec, raw: Any) -> Outcome:
    yes_or_no = _as_yes_or_no(raw)
    return _left_out("not a yes/no value") if yes_or_no is None else Outcome(yes_or_no)


def parse_instant(raw: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string; a time without offset counts as UTC."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # in year 0 or 10000 once in UTC
        return None


# The dates Salesforce stores (Data Loader guide, "Data Import Dates"); it refuses others,
# and a refused value fails the whole PATCH. The fixed-width ISO forms compare as strings.
EARLIEST_DATETIME, LATEST_DATETIME = "1700-01-01T00:00:00Z", "4000-12-31T00:00:00Z"
EARLIEST_DATE, LATEST_DATE = EARLIEST_DATETIME[:10], LATEST_DATETIME[:10]


def _datetime(spec: FieldSpec, raw: Any) -> Outcome:
    # The same conversion as the normalized event's own timestamps (events.iso_utc).
    instant = iso_utc(raw)
    if instant is None:
        return _left_out("not an ISO 8601 date and time")
    if not EARLIEST_DATETIME <= instant <= LATEST_DATETIME:
        return _left_out(f"outside the dates Salesforce accepts ({EARLIEST_DATETIME} to {LATEST_DATETIME})")
    return Outcome(instant)


def _date(spec: FieldSpec, raw: Any) -> Outcome:
    moment = parse_instant(raw)
    try:
        day = moment.date().isoformat() if moment is not None else date.fromisoformat(str(raw).strip()).isoformat()
    except ValueError:
        return _left_out("not an ISO 8601 date")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return _left_out(f"outside the dates Salesforce accepts ({EARLIEST_DATE} to {LATEST_DATE})")
    return Outcome(day)


CONVERTERS = {"text": _text, "textarea": _text, "url": _url, "email": _email, "picklist": _picklist,
              "multipicklist": _multipicklist, "number": _number, "checkbox": _checkbox,
              "datetime": _datetime, "date": _date}


NO_VALUE = "no value in this event"
# What a value the event has, but the normalizer could not read, should have been, by the kind
# the normalizer reports (see map_to_salesforce's `unreadable`). Fixed words: the value itself
# may be an e-mail address or a customer's words.
_SHOULD_HAVE_BEEN = {"datetime": "a valid date and time", "email": "a valid e-mail address"}
NOTHING_UNREADABLE: Mapping[str, str] = MappingProxyType({})


def map_field(answer: dict, spec: FieldSpec, unreadable: Mapping[str, str] = NOTHING_UNREADABLE) -> Outcome:
    """The value one field gets from this answer, or why it gets none."""
    try:
        raw = _raw_value(answer, spec)
    except NothingToCalculate:
        return Outcome(skip=NO_VALUE)
    except RENDER_FAILURES as exc:
        return _left_out(f"template could not be rendered: {why_not_rendered(exc)}")
    if _is_absent(raw):
        return _why_absent(spec, unreadable)
    if spec.question_id is not None and spec.question_type is None and _answers_a_ranking(answer, spec):
        # The answer says it is a ranking, though the profile did not: its order is kept all the
        # same (found by an audit: a first choice too long to fit was dropped and the second
        # written as the respondent's first).
        spec = spec.model_copy(update={"question_type": "ranking"})
    return CONVERTERS[spec.type](spec, raw)


def _why_absent(spec: FieldSpec, unreadable: Mapping[str, str]) -> Outcome:
    """"no value in this event", unless the event had a value at a path the field reads that
    could not be read (completed_at "2026-04-16T25:00:00Z", an e-mail without a domain): saying
    "no value" then sent the admin looking for a value that was there (found by an audit)."""
    if unreadable and spec.source is not None:
        for keys in spec.source_paths:
            kind = unreadable.get(".".join(keys))
            if kind is not None:
                return _left_out(f"the value in this event is not {_SHOULD_HAVE_BEEN.get(kind, 'usable')}")
    return Outcome(skip=NO_VALUE)


def _answers_a_ranking(answer: dict, spec: FieldSpec) -> bool:
    item = _structured_answer(answer, spec)
    return item is not None and str(item.get("question_type") or "").strip().lower() == "ranking"


def map_to_salesforce(answer: dict, profile: Profile, unreadable: Mapping[str, str] = NOTHING_UNREADABLE) -> dict:
    """The ``salesforce`` block: how to find the record and the fields to PATCH on it.

    `unreadable` names the answer's paths (``interview.completed_at``) where the event had a
    value the normalizer could not read and left out, each with the kind it should have been
    (a key of _SHOULD_HAVE_BEEN: ``datetime`` or ``email``): a field reading one is
    left out saying the event's value is not valid, not that it has none."""
    if (answer.get("event") or {}).get("type") in NO_CONTACT_EVENTS:
        # A study or report is about many people: there is no Contact to write to.
        return {"sobject": profile.sobject, "lookup": dict(NO_LOOKUP), "lookups": [], "keep_newer": None, "fields": {},
                "skipped": [{"field": spec.name, "reason": "not an interview event"} for spec in profile.all_fields],
                "warnings": []}
    lookups, warnings = choose_lookups(answer, profile)
    fields, skipped = {}, []
    for spec in profile.all_fields:
        outcome = map_field(answer, spec, unreadable)
        if outcome.skip is None:
            fields[spec.name] = outcome.value
        else:
            skipped.append({"field": spec.name, "reason": outcome.skip})
        if outcome.warning:
            warnings.append({"field": spec.name, "message": outcome.warning})
    # `lookup` is the first of `lookups`, kept for chains that try one lookup only.
    return {"sobject": profile.sobject, "lookup": lookups[0] if lookups else dict(NO_LOOKUP), "lookups": lookups,
            "keep_newer": _keep_newer(fields, profile), "fields": fields, "skipped": skipped, "warnings": warnings}


def _keep_newer(fields: dict, profile: Profile) -> dict | None:
    """What the chain compares with the found Contact's value before it writes: the time this
    event writes (UTC, so Salesforce's answer compares as text on its first 19 characters), or
    None when there is nothing to compare (no keep_newer, or no time in this event)."""
    name = profile.keep_newer_field
    return {"field": name, "value": fields[name]} if name in fields else None
