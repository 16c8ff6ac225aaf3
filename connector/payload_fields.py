"""Where Koji's payloads keep a value: the documents put the e-mail, the ids and the names
in different places, so each value has an ordered list of places to look."""
from __future__ import annotations

import re
from typing import Any

# A Salesforce record id: 15 case-sensitive or 18 case-insensitive alphanumerics. Whether it
# is a Contact's that can be looked up (prefix 003, checksum) the mapping decides, and says why not.
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_CONTACT_PREFIX = "003"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # with fullmatch: "$" would let a final newline in
# No address is longer (RFC 5321: a path of 256 octets, its brackets included). Checked before
# the pattern, whose backtracking grows with the square of the length: a 200,000-character
# "a@.....@" held a worker past gunicorn's timeout, and every retry again.
MAX_EMAIL_CHARS = 254
_CONTACT_ID_KEYS = ("salesforce_contact_id", "salesforceContactId", "sf_contact_id",
                    "sfdc_contact_id", "contact_id", "contactId")


def first_present(source: Any, *keys: str) -> Any:
    """The first value under `keys` that is not None or blank."""
    if not isinstance(source, dict):
        return None
    for key in keys:
        value = source.get(key)
        if value is not None and value != "":
            return value
    return None


def text_or_none(value: Any) -> str | None:
    if type(value) is str:  # nearly always: skip the type checks below
        return value.strip() or None
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value).strip() or None


def pick_email(data: dict[str, Any], person: dict[str, Any]) -> str | None:
    """E-mail from any documented place; None (anonymous) when absent or not an address."""
    for candidate in _email_places(data, person):
        text = text_or_none(candidate)
        if text and is_email_shaped(text):
            return text
    return None


def has_unusable_email(data: dict[str, Any], person: dict[str, Any]) -> bool:
    """Whether a documented place holds a value that is not an address ("priya@tailspin"):
    pick_email() found none, but the event is not without one."""
    return any(text_or_none(candidate) for candidate in _email_places(data, person))


def _email_places(data: dict[str, Any], person: dict[str, Any]) -> tuple[Any, ...]:
    """The values at every documented place of the e-mail, in the order they are trusted."""
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    attributes = person.get("attributes") if isinstance(person.get("attributes"), dict) else {}
    # respondentEmail: camelCase, as every other field of Koji's API may be spelled.
    return (person.get("email"), data.get("respondent_email"), data.get("respondentEmail"),
            data.get("email"), attributes.get("email"), metadata.get("email"),
            metadata.get("respondent_email"), metadata.get("respondentEmail"))


def is_email_shaped(text: str) -> bool:
    """Loosely an address (something@host.tld): enough to look a Contact up by; a query for an
    odd address finds nothing and loses nothing."""
    return len(text) <= MAX_EMAIL_CHARS and _EMAIL.fullmatch(text) is not None


def pick_salesforce_contact_id(data: dict[str, Any], person: dict[str, Any]) -> str | None:
    """A Contact id carried by a personalized link (metadata or respondent attributes): the
    first record id that is a Contact's, else the first of another kind (an Account's, say),
    kept so that the answer can say why it is not looked up instead of losing it unseen."""
    places = [data.get("metadata"), person.get("attributes"), person, data]
    record_ids = [value for value in (text_or_none(first_present(place, *_CONTACT_ID_KEYS)) for place in places)
                  if value and _RECORD_ID.fullmatch(value)]
    return next((value for value in record_ids if value.startswith(_CONTACT_PREFIX)),
                record_ids[0] if record_ids else None)
