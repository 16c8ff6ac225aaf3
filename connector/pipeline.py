"""From a checked payload to the answer the chain copies values from.

Pure except for the two injected edges: the ledger (claims) and the Koji API (enrichment).
Steps: normalize → enrich if allowed and needed → decide → claim → map → Slack message.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from connector.decision import SKIP, Decision, decide
from connector.errors import EventInProgress
from connector.events import INTERVIEW_TYPES, normalize, unreadable_values, unusable_timestamps
from connector.koji_api import AnotherInterview, KojiRefused
from connector.ledger import COMPLETED, DUPLICATE, IN_PROGRESS, Claim, Ledger
from connector.logs import shown_id, shown_key
from connector.mapping import NOTHING_UNREADABLE, map_to_salesforce
from connector.profile import Profile
from connector.slack import build_slack_message

# The full interview by id. Raises KojiRefused when Koji's answer is final (no such interview,
# key refused): the event is then answered from the webhook's own data. Anything it cannot
# get for now (timeout, 5xx) it raises as a Problem (502), so Koji retries later.
FetchInterview = Callable[[str], dict[str, Any]]
# A key made of these needs no escaping in a URL path (nearly every key: Koji's ids are
# letters, digits, '_' and '-'); any other is percent-encoded, so an id holding '/', '?',
# '#' or a space still gives a path the chain can call (the route takes '/' in the key).
_URL_SAFE_KEY = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+")
log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    profile: Profile
    quality_threshold: float
    ledger: Ledger | None = None
    fetch_interview: FetchInterview | None = None
    # A configuration hint, the same for every such event: a WARNING once per worker, then
    # INFO, so a deployment on that payload shape does not get a WARNING a day per interview.
    _told_how_to_enrich: bool = field(default=False, init=False, repr=False)

    def answer(self, payload: dict[str, Any], *, raw_body: bytes | None = None,
               claim: bool) -> dict[str, Any]:
        event, not_enriched = normalize(payload, raw_body=raw_body), []
        # A copy of an event already done is answered from the ledger alone, without a call to
        # Koji's API: one that is down or slow turned "duplicate" into a 502, retried by Koji.
        # The claim below still decides: a copy racing this one is answered as before.
        if self._may_enrich(event) and not (claim and self.ledger is not None and self._completed(event)):
            event, not_enriched = self._enriched(event)
        warnings = not_enriched + unusable_timestamps(payload)
        unreadable = unreadable_values(payload, event)
        decision = decide(event, self.profile.actions, self.quality_threshold, self.profile.lookup_order)
        if decision.skip_reason == "anonymous" and self.fetch_interview is None and _names_the_respondent(event):
            decision = self._anonymous_here_only(event, decision)
        if not claim or self.ledger is None:
            return _with_warnings(self.render(event, decision, None, unreadable), warnings)
        key = event["event"]["key"]
        decision, delivery = self._claim(key, decision)
        try:
            answer = _with_warnings(self.render(event, decision, delivery, unreadable), warnings)
        except Exception:
            self.ledger.release(key)  # never leave a claim behind an answer that was not given
            raise
        if _nothing_left_to_do(answer):
            # Nothing was written or posted, so a copy cannot double anything. Released, not
            # completed: a copy is decided afresh, so Koji's Retry after the profile or the
            # settings changed (KOJI_ENRICH, a lookup, an event type now mapped) does the work
            # instead of being answered "duplicate" for the ledger's retention.
            self.ledger.release(key)
        return answer

    def render(self, event: dict[str, Any], decision: Decision, delivery: dict[str, Any] | None,
               unreadable: Mapping[str, str] = NOTHING_UNREADABLE) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "action": decision.action, "skip_reason": decision.skip_reason,
            "reason": decision.reason, "delivery": delivery, **event,
        }
        answer["salesforce"] = map_to_salesforce(answer, self.profile, unreadable)
        answer["slack"] = build_slack_message(answer, answer["salesforce"], self.profile)
        return answer

    def _anonymous_here_only(self, event: dict[str, Any], decision: Decision) -> Decision:
        """Koji's webhook-setup payload names the respondent by Koji's id and an external id, with
        no e-mail: Koji expects the full interview to be fetched. Skipped all the same (nothing to
        look up by), but the answer and the log say how to make such events update the Contact."""
        log.log(logging.INFO if self._told_how_to_enrich else logging.WARNING,
                "interview_id=%s skipped as anonymous: the webhook names the respondent only by ids the "
                "profile does not look up by; KOJI_ENRICH=true fetches the e-mail from Koji's API",
                shown_id(event["interview"]["id"]))
        self._told_how_to_enrich = True
        return replace(decision, reason=decision.reason + (
            " The webhook names the respondent only by Koji's respondent id or an external id: set "
            "KOJI_ENRICH=true (with KOJI_API_KEY) to fetch the e-mail from Koji's API, or look up by the "
            "external id (lookup.order and lookup.external_id_field in the mapping profile)."))

    def _claim(self, key: str, decision: Decision) -> tuple[Decision, dict[str, Any]]:
        claim: Claim = self.ledger.claim(key)
        if claim.status == IN_PROGRESS:
            # The 409's own log line names the route only: this one says which claim is held, so
            # a claim that stays (a chain that never completes) can be found.
            log.info("event in progress key=%s attempt=%s: another copy holds the claim", shown_key(key),
                     claim.attempt)
            raise EventInProgress.held(key, claim.attempt, claim.lease_left or 0.0)
        if claim.status == DUPLICATE:
            decision = Decision(SKIP, "duplicate",
                                "This event was already processed completely; nothing to do again.")
        path = "/v1/events/" + (key if _URL_SAFE_KEY.fullmatch(key) else quote(key, safe=""))
        return decision, {"status": claim.status, "attempt": claim.attempt,
                          "complete_path": path + "/complete",
                          "release_path": f"{path}/release?attempt={claim.attempt}"}

    def _may_enrich(self, event: dict[str, Any]) -> bool:
        return self.fetch_interview is not None and _needs_enrichment(event)

    def _completed(self, event: dict[str, Any]) -> bool:
        record = self.ledger.get(event["event"]["key"])
        return record is not None and record.state == COMPLETED

    def _enriched(self, event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The event, filled from Koji's API, and warnings for the answer."""
        interview_id = event["interview"]["id"]
        try:
            full = normalize(self.fetch_interview(interview_id))
            if full["interview"]["id"] != interview_id:
                # Its e-mail would pick the Contact that gets this interview's words.
                raise AnotherInterview()
        except KojiRefused as exc:
            # Koji would give every retry the same answer, and after its last retry the event
            # would be lost: the webhook's own data is better than nothing.
            # No status for an id that was never asked for (UnfetchableId): "status=None"
            # read like an answer of Koji's.
            status = "" if exc.status is None else f" status={exc.status}"
            log.warning("enrichment refused interview_id=%s%s: %s; answered from the webhook's own data",
                        shown_id(interview_id), status, exc)
            return event, [not_enriched_warning(exc.status, exc.reason)]
        return merge_missing(event, full), []


def _nothing_left_to_do(answer: dict[str, Any]) -> bool:
    """A fresh skip with nothing to tell in Slack is done now. A skip worth telling (low
    quality, failed quality gate) stays claimed until the chain has posted and completes it."""
    return (answer["action"] == SKIP and answer["skip_reason"] != "duplicate"
            and not answer["slack"]["post"])


def _names_the_respondent(event: dict[str, Any]) -> bool:
    respondent = event["respondent"]
    return bool(respondent["id"] or respondent["external_id"])


def _needs_enrichment(event: dict[str, Any]) -> bool:
    return (event["event"]["type"] in INTERVIEW_TYPES and event["interview"]["id"] is not None
            and (event["respondent"]["email"] is None or not event["analysis"]["themes"]))


def _with_warnings(answer: dict[str, Any], warnings: list[dict[str, str]]) -> dict[str, Any]:
    """Warnings about the whole answer, not one field, come first in salesforce.warnings."""
    if warnings:
        answer["salesforce"]["warnings"][:0] = warnings
    return answer


def not_enriched_warning(status: int, reason: str | None = None) -> dict[str, str]:
    # Not about one Salesforce field: `field` is empty (docs/design.md). `reason` says why an
    # answer Koji gave with 200 was not used (KojiRefused.reason); it quotes no value.
    said = reason or f"Koji's API answered {status} for this interview"
    return {"field": "", "message": f"not enriched: {said}, so only the webhook's own values were used"}


def merge_missing(event: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """Fill what the webhook lacked from the full interview; the webhook's own values win.
    Both are normalized events; neither is changed."""
    merged = dict(event)
    for part in ("interview", "respondent", "analysis"):
        theirs = full[part]
        merged[part] = {name: theirs[name] if value in (None, [], {}) else value
                        for name, value in event[part].items()}
    return merged
