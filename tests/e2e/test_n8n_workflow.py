"""The shipped n8n workflow, imported unmodified into a real n8n 2.8.4, end to end.

Each case fires a signed Koji event at n8n's production webhook and asserts what the
fake Salesforce and the fake Slack received. The expected Salesforce body and Slack
text are the connector's own answer for the same payload (``POST /v1/salesforce/map``,
which claims nothing), plus a few literal values so that both sides cannot be wrong
together. The webhook answers only when the run has finished (``responseMode:
lastNode``), so no case has to wait for the fakes.
"""
from __future__ import annotations

import copy
import json
import sqlite3
import time
from contextlib import closing
from typing import NamedTuple

import pytest
import requests

from connector.cli import sample_payload
from connector.signatures import sign
from tests.fakes.flaky_gateway import FlakyGateway
from tests.fakes.salesforce import contact_id

pytestmark = [pytest.mark.n8n, pytest.mark.slow]

GUIDE = "interview.analysis_ready"  # the sample from Koji's Salesforce guide: quote, themes, 4.6
# What the shipped profile's lookups select: the Id, and the time to keep the newer interview by.
SELECT = "SELECT Id, Last_Koji_Interview_At__c FROM Contact"
QUOTE = "We love the product, but connecting it to our CRM took our admin three weekends."


@pytest.fixture(autouse=True)
def _no_failure_left_for_the_next_case(stack):
    yield
    stack.gateway.clear_failures()
    stack.salesforce_gateway.clear_failures()


def event(interview_id: str, email: str | None = None, *, sample: str = GUIDE, **data) -> dict:
    payload = copy.deepcopy(sample_payload(sample))
    payload["data"]["interview_id"] = interview_id
    if email is not None:
        payload["data"]["respondent_email"] = email
    payload["data"].update(data)
    return payload


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def fire(stack, body: bytes, signature: str | None = None, timeout: float = 60) -> requests.Response:
    """Deliver like Koji. Retries only while n8n still answers 404 (workflow not active yet:
    a 404 runs nothing)."""
    headers = {"Content-Type": "application/json", "User-Agent": "Koji-Webhooks/1.0",
               "X-Koji-Signature": signature or sign(body, stack.connector.webhook_secret)}
    deadline = time.monotonic() + timeout
    while True:
        response = requests.post(stack.webhook_url, data=body, headers=headers, timeout=90)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.25)


def expected(stack, payload: dict) -> dict:
    """The connector's answer for this payload, without claiming it."""
    response = requests.post(stack.connector.base_url + "/v1/salesforce/map", json=payload,
                             headers=stack.connector.headers(), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


class Case(NamedTuple):
    contact: str  # the Contact the case's interview is about
    key: str  # its event key
    answer: dict  # the connector's answer, as map gives it
    body: bytes  # the webhook, as Koji sends it


def case_named(stack, name: str) -> Case:
    """A Contact for `name@acme.example` and the analysis_ready webhook of `int_e2e_<name>`."""
    contact = stack.salesforce.add_contact(f"{name}@acme.example")
    payload = event(f"int_e2e_{name}", f"{name}@acme.example")
    return Case(contact, f"int_e2e_{name}:interview.analysis_ready", expected(stack, payload), encode(payload))


def unflatten(text: str):
    """n8n stores execution data in the `flatted` format: a JSON array whose first entry is the
    root, where each string inside an object or array is the index of the entry it stands for
    (a literal string, or an object or array that may be shared)."""
    table = json.loads(text)
    revived: dict[int, object] = {}

    def value(index: int):
        if index in revived:
            return revived[index]
        entry = table[index]
        if isinstance(entry, dict):
            revived[index] = entry = dict(entry)
            entry.update({k: value(int(v)) if isinstance(v, str) else v for k, v in entry.items()})
        elif isinstance(entry, list):
            revived[index] = entry = list(entry)
            entry[:] = [value(int(v)) if isinstance(v, str) else v for v in entry]
        return entry

    return value(0)


def failure_message(stack) -> str:
    """The error message of n8n's latest execution (what an error workflow is given), from its
    database; it is written just after the webhook's answer, so it is waited for."""
    database = stack.n8n.folder / ".n8n" / "database.sqlite"
    deadline = time.monotonic() + 10
    while True:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT e.status, d.data FROM execution_entity e JOIN execution_data d "
                             "ON d.executionId = e.id ORDER BY e.id DESC LIMIT 1").fetchone()
        error = row and row[0] == "error" and unflatten(row[1])["resultData"].get("error")
        if error or time.monotonic() > deadline:
            assert error, f"the latest execution has no error: {row and row[0]}"
            return error["message"]
        time.sleep(0.2)


def ledger_state(stack, key: str) -> str | None:
    response = requests.get(f"{stack.connector.base_url}/v1/events/{key}",
                            headers=stack.connector.headers(), timeout=10)
    return response.json()["state"] if response.status_code == 200 else None


class Watch:
    """What the fakes received from the moment it was made."""

    def __init__(self, stack):
        self.stack = stack
        self._sf, self._patches = len(stack.salesforce.requests), len(stack.salesforce.patches)
        self._posts, self._slack = len(stack.slack.posts), len(stack.slack.requests)

    @property
    def salesforce_requests(self) -> list[dict]:
        return self.stack.salesforce.requests[self._sf:]

    @property
    def patches(self) -> list[tuple[str, dict]]:
        return self.stack.salesforce.patches[self._patches:]

    @property
    def posts(self) -> list[dict]:
        return self.stack.slack.posts[self._posts:]

    @property
    def slack_requests(self) -> list[dict]:
        return self.stack.slack.requests[self._slack:]


def assert_nothing_sent(watch: Watch) -> None:
    assert watch.salesforce_requests == []
    assert watch.slack_requests == []


def test_happy_path_updates_the_contact_and_posts_once(stack):
    contact = stack.salesforce.add_contact("jane.doe@acme.example", FirstName="Jane")
    payload = event("int_e2e_happy", "jane.doe@acme.example")
    answer = expected(stack, payload)
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert watch.patches == [(contact, answer["salesforce"]["fields"])]
    body = watch.patches[0][1]
    assert body["Latest_Customer_Quote__c"] == QUOTE
    assert body["Interview_Quality_Score__c"] == 5  # 4.6 fitted to Number(1,0)
    assert body["Interview_Sentiment__c"] == "negative"
    assert stack.salesforce.contacts[contact]["Latest_Customer_Quote__c"] == QUOTE
    [post] = watch.posts
    assert post["channel"] == "C0KOJI0001"
    assert post["text"] == answer["slack"]["text"]
    assert post["blocks"] == answer["slack"]["blocks"]
    assert ledger_state(stack, "int_e2e_happy:interview.analysis_ready") == "completed"


def test_a_copy_after_success_writes_and_posts_nothing(stack):
    stack.salesforce.add_contact("dup@acme.example")
    body = encode(event("int_e2e_dup", "dup@acme.example"))
    assert fire(stack, body).status_code == 200
    watch = Watch(stack)

    again = fire(stack, body)

    assert again.status_code == 200
    assert watch.patches == []
    assert watch.posts == []
    assert [r["method"] for r in watch.salesforce_requests] == []


def test_an_anonymous_interview_touches_neither_salesforce_nor_slack(stack):
    payload = event("int_e2e_anon", respondent_email=None, respondent=None, participant=None)
    answer = expected(stack, payload)
    assert (answer["action"], answer["skip_reason"], answer["slack"]["post"]) == ("skip", "anonymous", False)
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert_nothing_sent(watch)
    # released, not completed: nothing was written, and a copy is decided afresh (after a
    # profile change, Koji's Retry does the work instead of being answered "duplicate")
    assert ledger_state(stack, "int_e2e_anon:interview.analysis_ready") == "released"


def test_kojis_verification_request_with_no_event_type_is_answered_200(stack):
    # Koji sends it when the endpoint is saved and needs a 200; its body is not documented.
    # Before: the connector refused an object with no event type (422), so the run failed and
    # Koji could not save the endpoint.
    watch = Watch(stack)

    response = fire(stack, b'{"challenge":"c9a1f3e2-7b44-4d0e-9c1a-2f5e8d7b6a10"}')

    assert response.status_code == 200, stack.n8n.logs()
    assert_nothing_sent(watch)


@pytest.mark.parametrize(("payload", "reason"), [
    (event("int_e2e_low", "low@acme.example", quality_score=2), "below_quality_threshold"),
    ({**sample_payload("interview.failed_quality_gate"),
      "data": {**sample_payload("interview.failed_quality_gate")["data"], "interview_id": "int_e2e_gate"}},
     "failed_quality_gate"),
], ids=["below threshold", "failed quality gate"])
def test_skips_worth_telling_post_to_slack_and_write_nothing(stack, payload, reason):
    stack.salesforce.add_contact(f"{reason}@acme.example")
    answer = expected(stack, payload)
    assert (answer["action"], answer["skip_reason"], answer["slack"]["post"]) == ("skip", reason, True)
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert watch.salesforce_requests == []
    [post] = watch.posts
    assert (post["text"], post["blocks"]) == (answer["slack"]["text"], answer["slack"]["blocks"])
    assert ledger_state(stack, answer["event"]["key"]) == "completed"
    assert fire(stack, encode(payload)).status_code == 200  # Koji's copy: posts nothing again
    assert len(watch.posts) == 1


# A failed query must not read as "no Contact": that would post the not-found message and
# complete the event, and Koji's retry would be skipped as a duplicate.
@pytest.mark.parametrize("step", [{"method": "PATCH"}, {"method": "GET", "path_contains": "/query"}],
                         ids=["update", "contact query"])
def test_salesforce_503_fails_the_delivery_and_the_retry_completes_it(stack, step):
    contact, key, answer, body = case_named(stack, f"sf503{step['method'].lower()}")
    stack.salesforce.fail_next(503, **step)
    watch = Watch(stack)

    first = fire(stack, body)

    assert first.status_code >= 500, stack.n8n.logs()  # Koji sees a failure and retries
    assert watch.patches == []
    assert watch.posts == []
    assert ledger_state(stack, key) == "released"
    # What an error workflow is given: the event and the step that failed.
    step_name = "update Contact" if step["method"] == "PATCH" else "find Contact"
    message = failure_message(stack)
    assert message.startswith("This run failed; the claim was released so Koji's retry does the work again.")
    assert message.endswith(f"Event: {key}. Cause: Salesforce: {step_name} answered 503 SERVER_UNAVAILABLE")

    retry = fire(stack, body)

    assert retry.status_code == 200, stack.n8n.logs()
    assert watch.patches == [(contact, answer["salesforce"]["fields"])]
    assert [p["text"] for p in watch.posts] == [answer["slack"]["text"]]
    assert ledger_state(stack, key) == "completed"


def test_a_salesforce_refusal_is_told_in_slack_once_and_a_retry_after_the_fix_writes(stack):
    # The org's field is shorter than the profile says: every attempt is refused the same
    # way. Koji keeps retrying (nothing is completed), and the channel hears of it once.
    contact = stack.salesforce.add_contact("refused@acme.example")
    payload = event("int_e2e_refused", "refused@acme.example")
    key = "int_e2e_refused:interview.analysis_ready"
    answer = expected(stack, payload)
    body = encode(payload)
    quote_field = stack.salesforce.field("Latest_Customer_Quote__c")
    length = quote_field["length"]
    quote_field["length"] = 20
    watch = Watch(stack)
    try:
        first = fire(stack, body)
        second = fire(stack, body)
    finally:
        quote_field["length"] = length  # the admin fixes the field

    assert first.status_code >= 500 and second.status_code >= 500, stack.n8n.logs()
    assert ledger_state(stack, key) == "released"
    # An error workflow is told why, without the refused value (Salesforce's message quotes it).
    cause = "Salesforce: update Contact answered 400 STRING_TOO_LONG"
    assert failure_message(stack).endswith(f"Event: {key}. Cause: {cause}")
    assert watch.patches == []
    [notice] = watch.posts
    assert notice["channel"] == "C0KOJI0001"
    assert f"Contact {contact}" in notice["text"] and key in notice["text"]
    assert "STRING_TOO_LONG (Latest_Customer_Quote__c)" in notice["text"]
    assert QUOTE[:20] not in notice["text"]  # Salesforce's message quotes the value; the notice does not

    assert fire(stack, body).status_code == 200, stack.n8n.logs()
    assert watch.patches == [(contact, answer["salesforce"]["fields"])]
    assert [p["text"] for p in watch.posts[1:]] == [answer["slack"]["text"]]
    assert ledger_state(stack, key) == "completed"


@pytest.mark.parametrize(("refusal", "codes"), [("missing field", "INVALID_FIELD"),
                                               ("API limit", "REQUEST_LIMIT_EXCEEDED")])
def test_a_refused_contact_query_is_told_in_slack_with_salesforces_codes(stack, refusal, codes):
    # Before: "Salesforce: find Contact: Bad request - please check your parameters" (or "Forbidden
    # - perhaps check your credentials?" for the API limit), and no notice.
    contact, key, answer, body = case_named(stack, f"query{codes.lower()}")
    missing = stack.salesforce.field("Last_Koji_Interview_At__c")  # not in Koji's own guide
    if refusal == "missing field":
        stack.salesforce.fields.remove(missing)
    else:
        stack.salesforce.fail_next(403, method="GET", path_contains="/query")
    watch = Watch(stack)
    try:
        first = fire(stack, body)
    finally:
        if missing not in stack.salesforce.fields:
            stack.salesforce.fields.append(missing)

    assert first.status_code >= 500, stack.n8n.logs()
    assert failure_message(stack).endswith(f"Event: {key}. Cause: Salesforce: find Contact answered "
                                           f"{400 if refusal == 'missing field' else 403} {codes}")
    [notice] = watch.posts
    assert f"Salesforce refused the query that looks up the Contact for Koji event {key}: {codes}." in notice["text"]
    assert "No such column" not in notice["text"]  # Salesforce's message (real ones quote the SOQL) is left out
    assert ledger_state(stack, key) == "released"
    assert fire(stack, body).status_code == 200, stack.n8n.logs()  # Koji's retry, once it is fixed
    assert watch.patches == [(contact, answer["salesforce"]["fields"])]


def test_a_refusal_that_is_not_the_first_attempt_is_not_told_again(stack):
    stack.salesforce.add_contact("refused-later@acme.example")
    body = encode(event("int_e2e_refused_later", "refused-later@acme.example"))
    stack.salesforce.fail_next(503, method="PATCH")  # attempt 1: an outage, not a refusal
    watch = Watch(stack)
    assert fire(stack, body).status_code >= 500
    stack.salesforce.fail_next(400, method="PATCH")  # attempt 2: refused

    assert fire(stack, body).status_code >= 500, stack.n8n.logs()

    assert watch.patches == [] and watch.posts == []
    assert ledger_state(stack, "int_e2e_refused_later:interview.analysis_ready") == "released"


def test_a_token_that_expired_before_the_update_is_renewed_and_the_update_written(stack):
    contact = stack.salesforce.add_contact("expired@acme.example")
    payload = event("int_e2e_expired", "expired@acme.example")
    answer = expected(stack, payload)
    stack.salesforce.fail_next(401, method="PATCH")
    watch = Watch(stack)
    tokens = len([r for r in stack.salesforce.requests if r["path"] == "/services/oauth2/token"])

    assert fire(stack, encode(payload)).status_code == 200, stack.n8n.logs()

    assert watch.patches == [(contact, answer["salesforce"]["fields"])]
    assert len([r for r in stack.salesforce.requests if r["path"] == "/services/oauth2/token"]) == tokens + 1
    assert [p["text"] for p in watch.posts] == [answer["slack"]["text"]]


def test_a_query_answer_that_is_not_a_query_result_fails_the_delivery(stack):
    # A salesforce_url that answers 200 with something else (a login page, a proxy's page)
    # must not read as "no Contact": that would complete the event and lose the update.
    stack.salesforce.add_contact("odd200@acme.example")
    body = encode(event("int_e2e_odd200", "odd200@acme.example"))
    stack.salesforce.fail_next(200, method="GET", path_contains="/query")
    watch = Watch(stack)

    assert fire(stack, body).status_code >= 500, stack.n8n.logs()

    assert watch.patches == [] and watch.posts == []
    assert ledger_state(stack, "int_e2e_odd200:interview.analysis_ready") == "released"
    assert fire(stack, body).status_code == 200, stack.n8n.logs()
    assert len(watch.patches) == 1 and len(watch.posts) == 1


@pytest.mark.parametrize("status", [503, 307], ids=["unavailable", "redirect"])
def test_a_failed_complete_call_is_tried_again_so_koji_never_repeats_the_work(stack, status):
    # A redirect is a failed try like any other: not followed, tried again.
    name = f"complete{status}"
    stack.salesforce.add_contact(f"{name}@acme.example")
    body = encode(event(f"int_e2e_{name}", f"{name}@acme.example"))
    watch = Watch(stack)
    calls = len(stack.gateway.calls)

    with FlakyGateway(stack.connector.base_url) as elsewhere:
        if status == 307:
            stack.gateway.redirect_next("/complete", elsewhere.base_url)
        else:
            stack.gateway.fail_next("/complete", status=status)
        response = fire(stack, body)

    assert response.status_code == 200, stack.n8n.logs()
    assert elsewhere.calls == []
    assert [answered for _, path, answered in stack.gateway.calls[calls:] if "/complete" in path] == [status, 200]
    assert ledger_state(stack, f"int_e2e_{name}:interview.analysis_ready") == "completed"
    assert len(watch.patches) == 1 and len(watch.posts) == 1


def test_a_complete_call_that_never_gets_through_still_answers_koji_200(stack):
    # The work is done: failing the run would make Koji's retry post a second time once the
    # lease runs out. The claim is left to its lease instead.
    stack.salesforce.add_contact("complete-down@acme.example")
    body = encode(event("int_e2e_complete_down", "complete-down@acme.example"))
    stack.gateway.fail_next("/complete", status=503, times=3)
    watch = Watch(stack)

    response = fire(stack, body)

    assert response.status_code == 200, stack.n8n.logs()
    assert ledger_state(stack, "int_e2e_complete_down:interview.analysis_ready") == "claimed"
    assert len(watch.patches) == 1 and len(watch.posts) == 1


def test_slack_failure_fails_the_delivery_and_the_retry_posts_once(stack):
    contact = stack.salesforce.add_contact("slackdown@acme.example")
    payload = event("int_e2e_slack", "slackdown@acme.example")
    answer = expected(stack, payload)
    body = encode(payload)
    stack.slack.fail_next(error="ratelimited", method="chat.postMessage")
    watch = Watch(stack)

    assert fire(stack, body).status_code >= 500
    assert watch.posts == []
    assert "Cause: Slack: post insight: " in failure_message(stack)
    assert fire(stack, body).status_code == 200, stack.n8n.logs()

    # The PATCH is repeated with the same values (idempotent); the post happens once.
    assert watch.patches == [(contact, answer["salesforce"]["fields"])] * 2
    assert [p["text"] for p in watch.posts] == [answer["slack"]["text"]]


def test_a_retry_of_an_older_interview_is_posted_but_not_written_over_a_newer_one(stack):
    # Found by an audit: Slack refused the older interview's post, so its claim was released;
    # a newer interview of the same person was written; Koji's retry of the older one then
    # wrote its quote, sentiment and time over the newer ones.
    contact = stack.salesforce.add_contact("twice@acme.example")
    older = event("int_e2e_older", "twice@acme.example", completed_at="2026-04-16T09:00:00Z",
                  sentiment="positive", quote="Setup was quick.")
    # 10:30 UTC, though its clock reads earlier than the older one's: compared as UTC.
    newer = event("int_e2e_newer", "twice@acme.example", completed_at="2026-04-16T08:30:00-02:00")
    older_answer, newer_answer = expected(stack, older), expected(stack, newer)
    stack.slack.fail_next(error="ratelimited", method="chat.postMessage")
    watch = Watch(stack)

    assert fire(stack, encode(older)).status_code >= 500
    assert fire(stack, encode(newer)).status_code == 200, stack.n8n.logs()
    assert fire(stack, encode(older)).status_code == 200, stack.n8n.logs()  # Koji's retry

    assert [fields for _, fields in watch.patches] == [older_answer["salesforce"]["fields"],
                                                       newer_answer["salesforce"]["fields"]]
    record = stack.salesforce.contacts[contact]
    assert record["Interview_Sentiment__c"] == "negative" and record["Latest_Customer_Quote__c"] == QUOTE
    # The older one's post says it was not written (before: "Salesforce Contact updated").
    kept = older_answer["slack"]["kept_newer"]
    assert kept["text"].startswith(":information_source: Not written (the Contact holds a later interview)")
    assert [(p["text"], p["blocks"]) for p in watch.posts] == [
        (newer_answer["slack"]["text"], newer_answer["slack"]["blocks"]), (kept["text"], kept["blocks"])]
    assert ledger_state(stack, "int_e2e_older:interview.analysis_ready") == "completed"


def test_the_newer_interview_is_kept_whatever_the_case_of_the_field_in_the_profile(stack):
    # API names ignore case: a profile may spell the field last_koji_interview_at__c, while
    # Salesforce answers the query with the field's own spelling. Before, the older one was written.
    contact = stack.salesforce.add_contact("case@acme.example", Last_Koji_Interview_At__c="2026-04-16T10:30:00Z")
    older = event("int_e2e_case", "case@acme.example", completed_at="2026-04-16T09:00:00Z")
    stack.gateway.rewrite_next("/v1/koji/verify", lambda answer: answer["salesforce"]["keep_newer"].update(
        field="last_koji_interview_at__c"))
    watch = Watch(stack)

    assert fire(stack, encode(older)).status_code == 200, stack.n8n.logs()

    assert watch.patches == []
    assert [p["text"] for p in watch.posts] == [expected(stack, older)["slack"]["kept_newer"]["text"]]
    assert stack.salesforce.contacts[contact]["Last_Koji_Interview_At__c"] == "2026-04-16T10:30:00Z"


def test_no_contact_posts_the_not_found_message_and_writes_nothing(stack):
    payload = event("int_e2e_nobody", "nobody@unknown.example")
    answer = expected(stack, payload)
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert [r["method"] for r in watch.salesforce_requests if "/query" in r["path"]] == ["GET"]
    assert watch.patches == []
    [post] = watch.posts
    assert post["text"] == answer["slack"]["contact_not_found"]["text"]
    assert post["blocks"] == answer["slack"]["contact_not_found"]["blocks"]
    assert ledger_state(stack, "int_e2e_nobody:interview.analysis_ready") == "completed"


def lookup_queries(watch: Watch) -> list[str]:
    """The queries Salesforce answered (not one n8n sent again after renewing its token)."""
    return [r["query"]["q"] for r in watch.salesforce_requests
            if "/query" in r["path"] and r["query"] and r["status"] == 200]


def test_a_contact_id_that_finds_no_one_falls_back_to_the_email(stack):
    # A personalized link sent before its Contact was merged into another: a query does not
    # return a merged-away (deleted) Contact, but the e-mail still finds the person.
    merged_away = contact_id(99_001)
    survivor = stack.salesforce.add_contact("merged@acme.example")
    payload = event("int_e2e_merged", "merged@acme.example", metadata={"sf_contact_id": merged_away})
    answer = expected(stack, payload)
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert lookup_queries(watch) == [f"{SELECT} WHERE Id = '{merged_away}' LIMIT 1",
                                     f"{SELECT} WHERE Email = 'merged@acme.example' LIMIT 1"]
    assert watch.patches == [(survivor, answer["salesforce"]["fields"])]
    [post] = watch.posts
    assert post["text"] == answer["slack"]["text"]
    assert ledger_state(stack, "int_e2e_merged:interview.analysis_ready") == "completed"


def test_a_refusal_after_the_fallback_lookup_names_the_contact_it_found(stack):
    survivor = stack.salesforce.add_contact("merged-refused@acme.example")
    payload = event("int_e2e_merged_refused", "merged-refused@acme.example",
                    metadata={"sf_contact_id": contact_id(99_003)})
    stack.salesforce.fail_next(400, method="PATCH")
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code >= 500, stack.n8n.logs()
    assert len(lookup_queries(watch)) == 2
    [notice] = watch.posts
    assert f"refused to update Contact {survivor} for Koji event" in notice["text"], notice["text"]


def test_a_contact_id_that_finds_its_contact_is_the_only_lookup(stack):
    by_email = stack.salesforce.add_contact("twice@acme.example")  # must not be the one written
    by_id = stack.salesforce.add_contact("twice@acme.example")
    payload = event("int_e2e_by_id", "twice@acme.example", metadata={"sf_contact_id": by_id})
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert lookup_queries(watch) == [f"{SELECT} WHERE Id = '{by_id}' LIMIT 1"]
    assert [patched for patched, _ in watch.patches] == [by_id] != [by_email]
    assert len(watch.posts) == 1


def test_when_no_lookup_finds_a_contact_the_notice_names_each(stack):
    payload = event("int_e2e_nobody_twice", "nobody.twice@unknown.example",
                    metadata={"sf_contact_id": contact_id(99_002)})
    answer = expected(stack, payload)
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert len(lookup_queries(watch)) == 2
    assert watch.patches == []
    [post] = watch.posts
    assert post["text"] == answer["slack"]["contact_not_found"]["text"]
    assert "matched the lookup by *contact_id* or *email*" in post["text"]
    assert ledger_state(stack, "int_e2e_nobody_twice:interview.analysis_ready") == "completed"


def test_an_email_with_an_apostrophe_finds_the_right_contact(stack):
    stack.salesforce.add_contact("obrien@acme.example")  # a near miss that must not match
    contact = stack.salesforce.add_contact("o'brien@acme.example", LastName="O'Brien")
    payload = event("int_e2e_apostrophe", "o'brien@acme.example")
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    [query] = [r for r in watch.salesforce_requests if "/query" in r["path"] and r["query"]]
    assert query["query"]["q"] == f"{SELECT} WHERE Email = 'o\\'brien@acme.example' LIMIT 1"
    assert [patched for patched, _ in watch.patches] == [contact]
    assert len(watch.posts) == 1


def test_a_tampered_body_is_refused_before_salesforce(stack):
    stack.salesforce.add_contact("victim@acme.example")
    genuine = encode(event("int_e2e_tampered", "victim@acme.example"))
    tampered = genuine.replace(b"victim@acme.example", b"attacker@evil.example")
    watch = Watch(stack)

    response = fire(stack, tampered, signature=sign(genuine, stack.connector.webhook_secret))

    assert response.status_code >= 400
    assert_nothing_sent(watch)
    assert ledger_state(stack, "int_e2e_tampered:interview.analysis_ready") is None
    # Told apart from a redirect: the message gives the connector's refusal.
    assert failure_message(stack).startswith("The connector refused the signature or the body (400): "
                                             "the webhook secret in the connector differs from Koji's")


@pytest.mark.parametrize(("status", "lead_in"), [
    (401, "The connector refused the API key (401): the Header Auth credential"),
    (422, "The connector refused this payload (422): Koji's retries send the same bytes and will not help"),
    (503, "The connector is unavailable (503): check connector_url"),
])
def test_a_refusal_by_the_connector_names_its_cause(stack, status, lead_in):
    # Before: "(bad signature, a copy still in progress, or the connector is down)" for every status.
    body = encode(event(f"int_e2e_verify_refused{status}", "verify-refused@acme.example"))
    stack.gateway.fail_next("/v1/koji/verify", status=status)
    watch = Watch(stack)

    assert fire(stack, body).status_code >= 500

    message = failure_message(stack)
    assert message.startswith(lead_in) and f": {status} - " in message
    assert_nothing_sent(watch)


def test_report_generated_posts_a_summary(stack):
    payload = sample_payload("report.generated")
    payload["data"]["report_id"] = "rep_e2e_1"
    answer = expected(stack, payload)
    assert answer["action"] == "notify"
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert watch.salesforce_requests == []
    [post] = watch.posts
    assert post["text"] == answer["slack"]["text"]
    assert post["blocks"] == answer["slack"]["blocks"]


def test_kojis_verification_ping_is_answered_200_and_changes_nothing(stack):
    payload = sample_payload("ping")
    answer = expected(stack, payload)
    assert (answer["action"], answer["skip_reason"]) == ("skip", "not_mapped")
    watch = Watch(stack)

    response = fire(stack, encode(payload))

    assert response.status_code == 200, stack.n8n.logs()
    assert_nothing_sent(watch)


def test_a_copy_while_another_is_in_flight_fails_and_writes_nothing(stack):
    contact = stack.salesforce.add_contact("inflight@acme.example")
    body = encode(event("int_e2e_inflight", "inflight@acme.example"))
    connector = stack.connector
    # Another copy of the event holds the claim right now (as if its run were still going).
    claim = requests.post(connector.base_url + "/v1/koji/verify", data=body, timeout=10,
                          headers=connector.headers(**{"X-Koji-Signature": sign(body, connector.webhook_secret),
                                                       "Content-Type": "application/json"}))
    assert claim.json()["delivery"]["status"] == "first"
    watch = Watch(stack)

    copy_response = fire(stack, body)

    assert copy_response.status_code >= 500  # the connector said 409: Koji retries later
    assert failure_message(stack).startswith("Another copy of this event is still being processed (409)")
    assert_nothing_sent(watch)
    requests.post(connector.base_url + claim.json()["delivery"]["release_path"],
                  headers=connector.headers(), timeout=10).raise_for_status()
    assert fire(stack, body).status_code == 200, stack.n8n.logs()
    assert [patched for patched, _ in watch.patches] == [contact]
    assert len(watch.posts) == 1


def test_an_action_the_workflow_does_not_know_releases_the_claim_for_the_retry(stack):
    # A newer connector may answer an action this workflow was not written for. The run must
    # fail (so Koji retries) without holding the claim: the retry is processed, not refused.
    contact = stack.salesforce.add_contact("newer-action@acme.example")
    body = encode(event("int_e2e_newer_action", "newer-action@acme.example"))
    stack.gateway.rewrite_next("/v1/koji/verify", lambda answer: answer.update(action="archive"))
    watch = Watch(stack)

    response = fire(stack, body)

    assert response.status_code >= 500
    message = failure_message(stack)
    assert "does not know" in message and "archive" in message
    assert_nothing_sent(watch)
    assert ledger_state(stack, "int_e2e_newer_action:interview.analysis_ready") == "released"
    assert fire(stack, body).status_code == 200, stack.n8n.logs()
    assert [patched for patched, _ in watch.patches] == [contact]
    assert len(watch.posts) == 1


# A redirect from the connector's or Salesforce's address (a misconfigured proxy, a hijacked
# host) is never followed. Followed, it would re-send the Koji body, its signature and the
# connector's API key (or the Salesforce token) to the redirect's target, and the chain would take
# that host's answer as the connector's or Salesforce's. The target here passes calls on to the real service,
# as a host that stands in for it would, and records each call that reaches it.

@pytest.mark.parametrize("status", [307, 301])
def test_a_redirect_from_the_connectors_address_fails_the_delivery_and_reaches_no_one(stack, status):
    contact = stack.salesforce.add_contact(f"verify{status}@acme.example")
    payload = event(f"int_e2e_verify{status}", f"verify{status}@acme.example")
    answer = expected(stack, payload)
    body = encode(payload)
    watch = Watch(stack)

    with FlakyGateway(stack.connector.base_url) as elsewhere:
        stack.gateway.redirect_next("/v1/koji/verify", elsewhere.base_url, status=status)
        response = fire(stack, body)

    assert response.status_code >= 500, stack.n8n.logs()  # Koji retries
    assert elsewhere.calls == []  # neither the body, the signature nor the API key went there
    assert_nothing_sent(watch)
    message = failure_message(stack)
    assert f"The connector's address answered {status}, a redirect, which this workflow does not follow" in message
    assert "Check connector_url in Settings: edit me" in message
    assert ledger_state(stack, f"int_e2e_verify{status}:interview.analysis_ready") is None
    assert fire(stack, body).status_code == 200, stack.n8n.logs()  # the address answers again
    assert watch.patches == [(contact, answer["salesforce"]["fields"])]
    assert len(watch.posts) == 1


def test_a_redirect_on_release_is_not_followed_and_the_run_still_fails(stack):
    stack.salesforce.add_contact("release307@acme.example")
    body = encode(event("int_e2e_release307", "release307@acme.example"))
    stack.slack.fail_next(error="ratelimited", method="chat.postMessage")
    watch = Watch(stack)

    with FlakyGateway(stack.connector.base_url) as elsewhere:
        stack.gateway.redirect_next("/release", elsewhere.base_url)
        response = fire(stack, body)

    assert response.status_code >= 500, stack.n8n.logs()
    assert elsewhere.calls == []
    message = failure_message(stack)
    assert "Cause: Slack: post insight: " in message
    assert message.startswith("This run failed; the claim could not be released (307")  # before: "was released"
    assert "so it ends with its lease (LEDGER_LEASE_SECONDS" in message
    # Not released: the claim ends with its lease, as when the connector cannot be reached.
    assert ledger_state(stack, "int_e2e_release307:interview.analysis_ready") == "claimed"
    assert watch.posts == []


@pytest.mark.parametrize(("path", "status", "cause"), [
    ("/query", 302, "Salesforce: find Contact answered 302"),
    # The update answers with its status instead of failing (Never Error): a 3xx must not read
    # as written, nor as a refusal to post about.
    ("/sobjects/Contact/", 307, "Salesforce: update Contact answered 307"),
], ids=["contact query", "update"])
def test_a_redirect_from_salesforce_fails_the_delivery_and_the_retry_writes_it(stack, path, status, cause):
    contact, key, answer, body = case_named(stack, f"sf{status}")
    watch = Watch(stack)

    with FlakyGateway(stack.salesforce.base_url) as elsewhere:
        stack.salesforce_gateway.redirect_next(path, elsewhere.base_url, status=status)
        response = fire(stack, body)

    assert response.status_code >= 500, stack.n8n.logs()
    assert elsewhere.calls == []  # the token and the fields stayed home
    assert watch.patches == [] and watch.posts == []
    message = failure_message(stack)
    assert f"Cause: {cause}" in message and "a redirect, which this workflow does not follow" in message
    assert ledger_state(stack, key) == "released"
    assert fire(stack, body).status_code == 200, stack.n8n.logs()
    assert watch.patches == [(contact, answer["salesforce"]["fields"])]
    assert [p["text"] for p in watch.posts] == [answer["slack"]["text"]]
