"""What the chain should do with an event: update the Contact, only notify, or skip (and why).

Pure. The order is documented in docs/design.md ("Decision order"); the ledger adds
`duplicate` afterwards, because only it knows what happened to earlier copies.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connector.events import NormalizedEvent

UPDATE, NOTIFY, SKIP = "update_contact", "notify", "skip"


@dataclass(frozen=True)
class Decision:
    action: str
    skip_reason: str | None
    reason: str


def decide(event: NormalizedEvent, actions: Mapping[str, str], quality_threshold: float) -> Decision:
    event_type = event.event.type
    action = actions.get(event_type)
    if action is None:
        return Decision(SKIP, "not_mapped", f"The profile does not map event type {event_type!r}.")
    if event_type == "interview.failed_quality_gate":
        return Decision(SKIP, "failed_quality_gate", "Koji's quality gate rejected this interview.")
    if action == SKIP:
        return Decision(SKIP, "not_mapped", f"The profile skips event type {event_type!r}.")
    if action == NOTIFY:
        return Decision(NOTIFY, None, f"{event_type} is posted to Slack only.")
    respondent = event.respondent
    if not (respondent.email or respondent.external_id or respondent.salesforce_contact_id):
        return Decision(SKIP, "anonymous",
                        "The respondent is anonymous: no e-mail, external id or Salesforce Contact id.")
    score = event.interview.quality_score
    if score is not None and score < quality_threshold:
        return Decision(SKIP, "below_quality_threshold",
                        f"Quality score {score:g} is below the threshold {quality_threshold:g}.")
    return Decision(UPDATE, None, "Identified respondent; update the Salesforce Contact.")
