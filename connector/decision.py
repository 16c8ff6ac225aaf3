"""What the chain should do with an event: update the Contact, only notify, or skip (and why).

Pure. The order is documented in docs/design.md ("Decision order"); the ledger adds
`duplicate` afterwards, because only it knows what happened to earlier copies.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.mapping import lookup_value

UPDATE, NOTIFY, SKIP = "update_contact", "notify", "skip"


@dataclass(frozen=True)
class Decision:
    action: str
    skip_reason: str | None
    reason: str


ALL_LOOKUPS = ("contact_id", "external_id", "email")
# Shaped like Koji's event types ("interview.analysis_ready"): anything else the sender put
# in `type` may be personal data, and `reason` never holds any.
_EVENT_TYPE_SHAPE = re.compile(r"[a-z][a-z_]{0,40}(\.[a-z][a-z_]{0,40}){0,3}")


def _quotable(event_type: object) -> str:
    if isinstance(event_type, str) and _EVENT_TYPE_SHAPE.fullmatch(event_type):
        return repr(event_type)
    return "(not shaped like an event type, so not repeated here)"


def decide(event: dict[str, Any], actions: Mapping[str, str], quality_threshold: float,
           lookup_order: Sequence[str] = ALL_LOOKUPS) -> Decision:
    """`event` is a normalized event (events.normalize). `lookup_order` is the profile's: an
    identifier it cannot look up does not identify."""
    event_type = event["event"]["type"]
    action = actions.get(event_type)
    if action is None:
        return Decision(SKIP, "not_mapped", f"The profile does not map event type {_quotable(event_type)}.")
    if event_type == "interview.failed_quality_gate":
        return Decision(SKIP, "failed_quality_gate", "Koji's quality gate rejected this interview.")
    if action == SKIP:
        return Decision(SKIP, "not_mapped", f"The profile skips event type {event_type!r}.")
    if action == NOTIFY:
        return Decision(NOTIFY, None, f"{event_type} is posted to Slack only.")
    if not usable_identifiers(event, lookup_order):
        return Decision(SKIP, "anonymous", "The respondent is anonymous: no identifier the profile looks up by ("
                        + ", ".join(_LOOKUP_WORDS[name] for name in lookup_order) + ").")
    score = event["interview"]["quality_score"]
    if score is not None and score < quality_threshold:
        return Decision(SKIP, "below_quality_threshold",
                        f"Quality score {score:g} is below the threshold {quality_threshold:g}.")
    return Decision(UPDATE, None, "Identified respondent; update the Salesforce Contact.")


_LOOKUP_WORDS = {"contact_id": "Salesforce Contact id", "external_id": "external id", "email": "e-mail"}


def usable_identifiers(event: dict[str, Any], lookup_order: Sequence[str]) -> list[str]:
    """The lookups of `lookup_order` this event has a value for that the mapping can look up
    by: a Contact id that is not one, or an e-mail that is not an address, does not count,
    or the answer would say update_contact with no lookup to do it by."""
    respondent = event["respondent"]
    present = {"contact_id": respondent["salesforce_contact_id"], "external_id": respondent["external_id"],
               "email": respondent["email"]}
    return [name for name in lookup_order if present.get(name) and lookup_value(name, str(present[name])) is not None]
