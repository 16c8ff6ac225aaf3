"""The pipeline with fake edges: enrichment that works, that Koji refuses for good, or that fails for now."""
import hashlib
import logging

import pytest

from conftest import sample
import connector.pipeline
from connector.errors import EventInProgress, UpstreamUnavailable
from connector.events import normalize
from connector.koji_api import InterviewNotFound, KojiAnswerUnusable, KojiAuthError, KojiRefused, UnfetchableId
from connector.ledger import Ledger
from connector.logs import shown_id, shown_key
from connector.pipeline import Pipeline, merge_missing
from connector.profile_file import load_profile

WEBHOOK_SETUP = "webhook-setup.analysis_ready.json"  # no e-mail, no themes: needs enrichment
KEY = "f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready"


def pipeline_with(fetch, tmp_path=None) -> Pipeline:
    ledger = Ledger(tmp_path / "state.sqlite3", retention_seconds=100, lease_seconds=60) if tmp_path else None
    return Pipeline(profile=load_profile(None), quality_threshold=3, ledger=ledger, fetch_interview=fetch)


def refusing(error: Exception):
    def fetch(interview_id: str) -> dict:
        raise error
    return fetch


def test_enrichment_fills_what_the_webhook_lacks():
    full = {"id": "f8e7d6c5-b4a3-2109-8765-432109876543", "respondent": {"email": "jane@acme.example"},
            "analysis": {"themes": ["pricing"]}}
    answer = pipeline_with(lambda _: {"data": full}).answer(sample(WEBHOOK_SETUP), claim=False)
    assert answer["respondent"]["email"] == "jane@acme.example"
    assert answer["action"] == "update_contact"
    assert not [w for w in answer["salesforce"]["warnings"] if "enriched" in w["message"]]


@pytest.mark.parametrize("error", [
    InterviewNotFound("Koji's API has no interview with this id", status=404),
    KojiAuthError("Koji's API refused the API key (401); check KOJI_API_KEY", status=401),
    KojiAuthError("Koji's API refused the API key (403); check KOJI_API_KEY", status=403),
    KojiRefused("Koji's API refused the request (400)", status=400),
])
def test_a_final_refusal_answers_from_the_webhooks_own_data(tmp_path, caplog, error):
    # Before: 502 on every retry, until Koji gave the event up after about 2.5 hours.
    pipeline = pipeline_with(refusing(error), tmp_path)
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        answer = pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert answer["delivery"]["status"] == "first"
    assert pipeline.ledger.get(KEY).state == "released"  # an anonymous skip: nothing left to do
    warning = answer["salesforce"]["warnings"][0]
    assert warning["field"] == "" and f"Koji's API answered {error.status}" in warning["message"]
    [record] = [r for r in caplog.records if r.name == "connector.pipeline"]
    assert "interview_id=f8e7d6c5-b4a3-2109-8765-432109876543" in record.getMessage()
    assert f"status={error.status}" in record.getMessage()


def test_a_refused_event_with_an_email_is_still_written(caplog):
    payload = sample("automation.interview_completed.json")  # has the e-mail, lacks themes
    answer = pipeline_with(refusing(InterviewNotFound("no interview", status=404))).answer(payload, claim=False)
    assert answer["action"] == "update_contact"
    assert answer["salesforce"]["lookup"]["strategy"] == "email"
    assert "Koji's API answered 404" in answer["salesforce"]["warnings"][0]["message"]
    assert answer["slack"]["post"] is True
    assert "sarah@acme.example" not in caplog.text  # the log line names the id, never the e-mail


def test_an_id_koji_was_never_asked_for_is_logged_without_a_status(caplog):
    # Before: "enrichment refused interview_id=id#… status=None: …", as if Koji had answered "None".
    payload = sample(WEBHOOK_SETUP)
    payload["data"]["interview_id"] = ".."
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        pipeline_with(refusing(UnfetchableId())).answer(payload, claim=False)
    assert [r.getMessage() for r in caplog.records if r.name == "connector.pipeline"] == [
        f"enrichment refused interview_id={shown_id('..')}: the interview id cannot be one segment of Koji's API "
        "path and was not asked for; answered from the webhook's own data"]


def test_an_answer_koji_gave_in_a_shape_that_cannot_be_used_is_named_in_the_warning():
    error = KojiAnswerUnusable("koji-interview.schema.json: /quality_score must be of type number or null")
    answer = pipeline_with(refusing(error)).answer(sample(WEBHOOK_SETUP), claim=False)
    assert answer["salesforce"]["warnings"][0] == {"field": "", "message": (
        "not enriched: Koji's API answered this interview in a shape the connector cannot use "
        "(koji-interview.schema.json: /quality_score must be of type number or null), "
        "so only the webhook's own values were used")}


def test_an_answer_for_another_interview_is_not_used(tmp_path, caplog):
    # Before: its e-mail was merged in, so the lookup found the other person's Contact and the
    # chain wrote this interview's words onto it.
    other = {"id": "0badc0de-0000-0000-0000-000000000000", "respondent": {"email": "someone.else@acme.example"},
             "analysis": {"themes": ["pricing"]}}
    pipeline = pipeline_with(lambda _: {"data": other}, tmp_path)
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        answer = pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    assert answer["respondent"]["email"] is None and answer["analysis"]["themes"] == []
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert answer["salesforce"]["warnings"][0] == {"field": "", "message": (
        "not enriched: Koji's API answered with another interview than the one asked for, "
        "so only the webhook's own values were used")}
    [record] = [r for r in caplog.records if r.name == "connector.pipeline"]
    assert "interview_id=f8e7d6c5-b4a3-2109-8765-432109876543" in record.getMessage()
    assert "someone.else" not in caplog.text and "0badc0de" not in caplog.text


def test_a_failure_for_now_is_raised_and_claims_nothing(tmp_path):
    pipeline = pipeline_with(refusing(UpstreamUnavailable("Koji's API answered 503")), tmp_path)
    with pytest.raises(UpstreamUnavailable):
        pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    assert pipeline.ledger.get(KEY) is None


def test_a_copy_of_a_completed_event_is_a_duplicate_without_asking_kojis_api(tmp_path):
    # Before, every copy fetched the interview first: with Koji's API down, a copy of an event
    # done long ago was answered 502 (Koji retried it for hours) instead of skip/duplicate.
    full = {"id": "f8e7d6c5-b4a3-2109-8765-432109876543", "respondent": {"email": "jane@acme.example"},
            "analysis": {"themes": ["pricing"]}}
    fetched = []
    koji_up = True

    def fetch(interview_id):
        fetched.append(interview_id)
        if not koji_up:
            raise UpstreamUnavailable("Koji's API answered 503")
        return {"data": full}

    pipeline = pipeline_with(fetch, tmp_path)
    first = pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    assert (first["action"], first["delivery"]["status"], len(fetched)) == ("update_contact", "first", 1)
    with pytest.raises(EventInProgress):  # a copy while the claim is held: fetched, then 409 as before
        pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    pipeline.ledger.complete(KEY)
    koji_up = False
    copy = pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    assert (copy["action"], copy["skip_reason"], copy["delivery"]["status"]) == ("skip", "duplicate", "duplicate")
    assert len(fetched) == 2  # the copy after completion asked nothing of Koji
    pipeline.ledger.release(KEY)  # a release after completion changes nothing: still a duplicate
    assert pipeline.answer(sample(WEBHOOK_SETUP), claim=True)["skip_reason"] == "duplicate"
    assert len(fetched) == 2


def test_a_released_event_is_enriched_again(tmp_path):
    pipeline = pipeline_with(refusing(UpstreamUnavailable("Koji's API answered 503")), tmp_path)
    pipeline.ledger.claim(KEY)
    pipeline.ledger.release(KEY)
    with pytest.raises(UpstreamUnavailable):  # not answered from the ledger: a retry is work to do
        pipeline.answer(sample(WEBHOOK_SETUP), claim=True)
    assert pipeline.ledger.get(KEY).state == "released"


def test_the_enrichment_hint_is_a_warning_once_per_worker_then_info(tmp_path, caplog):
    # The same configuration hint for every event of that shape: before, one WARNING a day per
    # interview for a deployment on Koji's webhook-setup payload.
    pipeline = pipeline_with(None, tmp_path)
    first, second = sample(WEBHOOK_SETUP), sample(WEBHOOK_SETUP)
    second["data"]["interview_id"] = "another-interview"
    with caplog.at_level(logging.INFO, logger="connector.pipeline"):
        answers = [pipeline.answer(payload, claim=False) for payload in (first, second, second)]
    hints = [record.levelname for record in caplog.records if "skipped as anonymous" in record.getMessage()]
    assert hints == ["WARNING", "INFO", "INFO"]
    assert all("set KOJI_ENRICH=true" in answer["reason"] for answer in answers)  # the answer says it every time


def test_no_enrichment_no_warning():
    answer = pipeline_with(None).answer(sample(WEBHOOK_SETUP), claim=False)
    assert [w["field"] for w in answer["salesforce"]["warnings"]] == ["Interview_Quality_Score__c"]  # 4.2 → 4


def test_koji_webhook_setup_payload_without_enrichment_says_how_to_get_the_email(tmp_path, caplog):
    # Koji's own example names the respondent by Koji's id and an external id only, and says to
    # fetch the full interview. Before: "anonymous" with no hint, completed, and Koji's Retry
    # after KOJI_ENRICH was turned on was answered "duplicate" for 7 days.
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        answer = pipeline_with(None, tmp_path).answer(sample(WEBHOOK_SETUP), claim=True)
    assert (answer["action"], answer["skip_reason"], answer["slack"]["post"]) == ("skip", "anonymous", False)
    assert "set KOJI_ENRICH=true (with KOJI_API_KEY)" in answer["reason"]
    assert "lookup.external_id_field" in answer["reason"]
    [record] = [r for r in caplog.records if r.name == "connector.pipeline"]
    assert "interview_id=f8e7d6c5-b4a3-2109-8765-432109876543 skipped as anonymous" in record.getMessage()
    assert "user_12345" not in caplog.text and "Jane" not in caplog.text

    full = {"id": "f8e7d6c5-b4a3-2109-8765-432109876543", "respondent": {"email": "jane@acme.example"}}
    enriched = pipeline_with(lambda _: full, tmp_path)
    retried = enriched.answer(sample(WEBHOOK_SETUP), claim=True)  # the same delivery, after the fix
    assert (retried["action"], retried["delivery"]["status"]) == ("update_contact", "retry")


def test_an_anonymous_respondent_gets_no_enrichment_hint(caplog):
    payload = sample("anonymous.analysis_ready.json")
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        answer = pipeline_with(None).answer(payload, claim=False)
    assert answer["skip_reason"] == "anonymous"
    assert "KOJI_ENRICH" not in answer["reason"] and not caplog.records


@pytest.mark.parametrize("payload", [
    {"type": "interview.completed", "data": {"interview_id": "i9"}},           # anonymous
    {"type": "interview.paused", "data": {"interview_id": "i9"}},              # not mapped
    {"challenge": "c9a1f3e2"},                                                 # Koji's verification request
])
def test_a_skip_with_nothing_left_to_do_is_decided_afresh_on_every_copy(tmp_path, payload):
    pipeline = pipeline_with(None, tmp_path)
    first, second = (pipeline.answer(payload, claim=True) for _ in range(2))
    assert first["action"] == second["action"] == "skip"
    assert first["skip_reason"] == second["skip_reason"] != "duplicate"
    assert (first["delivery"]["status"], second["delivery"]["status"]) == ("first", "retry")
    assert pipeline.ledger.get(first["event"]["key"]).state == "released"


def interview_payload(**data) -> dict:
    return {"type": "interview.completed", "data": {"interview_id": "i1", **data}}


@pytest.mark.parametrize(("record_id", "prefix"), [
    ("0015g00000ABCdeAAH", "001"),  # an Account's, the usual mix-up
    ("0015g00000ABCde", "001"),
    ("0065g00000XyZabAAF", "006"),  # an Opportunity's
])
def test_an_id_of_another_kind_of_record_is_not_looked_up_and_the_answer_says_why(record_id, prefix):
    # Before: normalization dropped it unseen, and the answer looked the Contact up by e-mail
    # (or skipped it as anonymous) without a word about the id.
    with_email = interview_payload(respondent_email="ann@example.com", metadata={"salesforce_contact_id": record_id})
    answer = pipeline_with(None).answer(with_email, claim=False)
    assert answer["salesforce"]["lookup"]["strategy"] == "email"
    [warning] = [w for w in answer["salesforce"]["warnings"] if w["field"] == "Id"]
    assert f"another kind of record (prefix {prefix})" in warning["message"]
    assert record_id not in warning["message"]

    alone = pipeline_with(None).answer(interview_payload(metadata={"contact_id": record_id}), claim=False)
    assert (alone["action"], alone["skip_reason"]) == ("skip", "anonymous")
    assert [w["field"] for w in alone["salesforce"]["warnings"]] == ["Id"]


def test_a_contact_id_wins_over_another_records_id_given_before_it():
    payload = interview_payload(metadata={"salesforce_contact_id": "0015g00000ABCdeAAH"},
                                respondent={"attributes": {"contact_id": "0035g00000ABCdeAAH"}})
    answer = pipeline_with(None).answer(payload, claim=False)
    assert answer["salesforce"]["lookup"]["value"] == "0035g00000ABCdeAAH"
    assert answer["salesforce"]["warnings"] == []


LONG = "2026-04-16T10:22:55Z" + "9" * 40


@pytest.mark.parametrize(("payload", "path", "value", "repeated"), [
    (interview_payload(completed_at="2026-02-30T10:22:55Z"), "data.completed_at", "2026-02-30T10:22:55Z", True),
    (interview_payload(completedAt="yesterday"), "data.completedAt", "yesterday", False),
    (interview_payload(completed_at="ann@example.com"), "data.completed_at", "ann@example.com", False),
    ({**interview_payload(), "timestamp": "2026-04-16T25:00:00Z"}, "timestamp", "2026-04-16T25:00:00Z", True),
    ({"interview": {"id": "i1", "completedAt": "16/04/2026"}}, "interview.completedAt", "16/04/2026", False),
    ({"id": "i1", "completed_at": LONG}, "completed_at", LONG, False),  # Koji's API shape; too long to repeat
])
def test_a_timestamp_that_cannot_be_read_is_not_left_out_silently(payload, path, value, repeated):
    # Before: left out without a word, so a field reading it took its fallback (the default
    # profile's Last_Koji_Interview_At__c: event.occurred_at) or stayed empty.
    answer = pipeline_with(None).answer(payload, claim=False)
    [warning] = [w for w in answer["salesforce"]["warnings"] if w["field"] == ""]
    assert warning["message"].startswith(f"the payload's {path} is not an ISO 8601 date and time")
    assert (value in warning["message"]) is repeated


@pytest.mark.parametrize("payload", [
    interview_payload(completed_at="2026-04-16T10:22:55+02:00"), interview_payload(completed_at=None),
    interview_payload(completed_at=" "), {**interview_payload(), "timestamp": "2026-04-16T10:23:00Z"},
])
def test_a_readable_or_absent_timestamp_gives_no_warning(payload):
    assert pipeline_with(None).answer(payload, claim=False)["salesforce"]["warnings"] == []


def test_an_interview_id_that_is_no_id_is_logged_as_a_hash(caplog):
    # The id is the sender's text (unsigned on /v1/salesforce/map): words in it must not reach the log.
    payload = sample(WEBHOOK_SETUP)
    payload["data"]["interview_id"] = "Jane Doe hated the onboarding"
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        pipeline_with(refusing(InterviewNotFound("no interview", status=404))).answer(payload, claim=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "connector.pipeline"]
    assert messages and all("interview_id=id#" in m for m in messages)
    assert "Jane" not in caplog.text and "onboarding" not in caplog.text


def test_a_claim_gives_the_paths_the_chain_completes_or_releases_it_by(tmp_path):
    pipeline = pipeline_with(None, tmp_path)
    answer = pipeline.answer(sample("automation.interview_completed.json"), claim=True)
    assert answer["action"] == "update_contact"
    assert answer["delivery"] == {
        "status": "first", "attempt": 1,
        "complete_path": "/v1/events/abc123:interview.completed/complete",
        "release_path": "/v1/events/abc123:interview.completed/release?attempt=1"}
    assert pipeline.ledger.get("abc123:interview.completed").state == "claimed"  # the chain completes it


def test_a_key_that_is_not_url_safe_is_percent_encoded_whole_in_the_paths(tmp_path):
    payload = {"type": "interview.completed", "data": {"interview_id": "a/b c?#é",
                                                        "respondent": {"email": "x@acme.example"}}}
    answer = pipeline_with(None, tmp_path).answer(payload, claim=True)
    path = "/v1/events/a%2Fb%20c%3F%23%C3%A9%3Ainterview.completed"
    assert answer["delivery"]["complete_path"] == path + "/complete"
    assert answer["delivery"]["release_path"] == path + "/release?attempt=1"


def test_a_completed_event_is_answered_as_a_duplicate_and_stays_completed(tmp_path):
    pipeline = pipeline_with(None, tmp_path)
    payload = sample("automation.interview_completed.json")
    pipeline.answer(payload, claim=True)
    pipeline.ledger.complete("abc123:interview.completed")
    again = pipeline.answer(payload, claim=True)
    assert (again["action"], again["skip_reason"], again["slack"]["post"]) == ("skip", "duplicate", False)
    assert again["reason"] == "This event was already processed completely; nothing to do again."
    assert (again["delivery"]["status"], again["delivery"]["attempt"]) == ("duplicate", 1)
    assert pipeline.ledger.get("abc123:interview.completed").state == "completed"


def test_a_copy_is_told_to_come_back_when_the_claim_runs_out_and_an_odd_key_is_not_repeated(tmp_path):
    now = [1_000.0]
    ledger = Ledger(tmp_path / "state.sqlite3", retention_seconds=100, lease_seconds=60, clock=lambda: now[0])
    pipeline = Pipeline(profile=load_profile(None), quality_threshold=3, ledger=ledger)
    payload = {"type": "interview.completed",
               "data": {"interview_id": "jane@acme.example", "respondent_email": "r@acme.example", "quality_score": 4}}
    pipeline.answer(payload, claim=True)
    now[0] += 42.5
    with pytest.raises(EventInProgress) as raised:
        pipeline.answer(payload, claim=True)
    assert raised.value.headers == {"Retry-After": "18"}  # 17.5 s left, rounded up
    assert "jane" not in raised.value.detail and "(key#" in raised.value.detail  # hashed, as the logs show it
    assert "in 18 s at most" in raised.value.detail


def test_a_copy_while_another_holds_the_claim_is_refused_and_logged_by_key(tmp_path, caplog):
    pipeline = pipeline_with(None, tmp_path)
    payload = sample("automation.interview_completed.json")
    pipeline.answer(payload, claim=True)
    with caplog.at_level(logging.INFO, logger="connector.pipeline"), pytest.raises(EventInProgress) as raised:
        pipeline.answer(payload, claim=True)
    # Which claim, and until when (found by an audit: a failed run could not tell without a second call).
    assert raised.value.detail == (
        "Another copy of this event (abc123:interview.completed, attempt 1) is being processed; answer non-2xx "
        "so the sender retries. The claim ends when the chain completes or releases it, or when its lease runs "
        "out, in 60 s at most.")
    assert raised.value.headers == {"Retry-After": "60"}
    [record] = [r for r in caplog.records if r.name == "connector.pipeline"]
    assert record.getMessage() == (f"event in progress key={shown_key('abc123:interview.completed')} "
                                   "attempt=1: another copy holds the claim")
    assert pipeline.ledger.get("abc123:interview.completed").state == "claimed"


def test_a_skip_worth_telling_in_slack_stays_claimed_until_the_chain_completes_it(tmp_path):
    payload = sample("automation.interview_completed.json")
    payload["data"]["quality_score"] = 1
    pipeline = pipeline_with(None, tmp_path)
    answer = pipeline.answer(payload, claim=True)
    assert (answer["action"], answer["slack"]["post"]) == ("skip", True)
    assert pipeline.ledger.get("abc123:interview.completed").state == "claimed"


def test_without_claim_a_pipeline_with_a_ledger_claims_nothing(tmp_path):
    pipeline = pipeline_with(None, tmp_path)
    answer = pipeline.answer(sample("automation.interview_completed.json"), claim=False)
    assert answer["delivery"] is None
    assert pipeline.ledger.get("abc123:interview.completed") is None


def test_an_answer_that_cannot_be_rendered_releases_its_claim(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("template failed")
    monkeypatch.setattr(connector.pipeline, "build_slack_message", broken)
    pipeline = pipeline_with(None, tmp_path)
    with pytest.raises(RuntimeError):
        pipeline.answer(sample("automation.interview_completed.json"), claim=True)
    assert pipeline.ledger.get("abc123:interview.completed").state == "released"


def test_an_event_without_an_id_is_keyed_by_the_exact_bytes_received():
    raw = b'{"type": "interview.completed",   "data": {}}'
    answer = pipeline_with(None).answer({"type": "interview.completed", "data": {}}, raw_body=raw, claim=False)
    assert answer["event"]["key"] == "sha256-" + hashlib.sha256(raw).hexdigest()[:32] + ":interview.completed"


def test_enrichment_asks_for_the_webhooks_interview_id():
    asked = []
    def fetch(interview_id):
        asked.append(interview_id)
        return {"id": interview_id, "respondent": {"email": "jane@acme.example"}}
    pipeline_with(fetch).answer(sample(WEBHOOK_SETUP), claim=False)
    assert asked == ["f8e7d6c5-b4a3-2109-8765-432109876543"]


@pytest.mark.parametrize("payload", [
    # The e-mail and the themes are both there: nothing to fetch.
    {"type": "interview.completed", "data": {"interview_id": "i1", "respondent": {"email": "x@acme.example"},
                                             "analysis": {"themes": ["pricing"]}}},
    # Not an interview's event: the fetch is by interview.
    {"type": "study.published", "data": {"study_id": "s1", "interview_id": "i1"}},
    # No interview id to fetch by.
    {"type": "interview.completed", "data": {"respondent": {"email": "x@acme.example"}}},
])
def test_enrichment_is_asked_for_only_when_needed_and_possible(payload):
    def fetch(interview_id):
        raise AssertionError("fetched " + interview_id)
    pipeline_with(fetch).answer(payload, claim=False)


def test_a_not_enriched_warning_comes_before_the_fields_warnings_and_replaces_none():
    error = InterviewNotFound("Koji's API has no interview with this id", status=404)
    answer = pipeline_with(refusing(error)).answer(sample(WEBHOOK_SETUP), claim=False)
    assert [w["field"] for w in answer["salesforce"]["warnings"]] == ["", "Interview_Quality_Score__c"]


def test_merge_missing_keeps_the_webhooks_own_values_and_fills_only_the_empty_ones():
    event = normalize({"type": "interview.completed", "data": {
        "interview_id": "i1", "respondent": {"name": "Jane", "email": None}}})
    full = normalize({"type": "interview.completed", "data": {
        "interview_id": "i1", "respondent": {"name": "Someone Else", "email": "jane@acme.example"},
        "analysis": {"themes": ["pricing"]}}})
    merged = merge_missing(event, full)
    assert merged["respondent"]["name"] == "Jane"
    assert merged["respondent"]["email"] == "jane@acme.example"
    assert merged["analysis"]["themes"] == full["analysis"]["themes"]
    assert event["respondent"]["email"] is None  # neither is changed


@pytest.mark.parametrize("respondent", [{"id": "r_1"}, {"external_id": "user_1"}])
def test_either_id_of_the_respondent_alone_gets_the_enrichment_hint(respondent, caplog):
    payload = {"type": "interview.completed", "data": {"interview_id": "i7", "respondent": respondent}}
    with caplog.at_level(logging.WARNING, logger="connector.pipeline"):
        answer = pipeline_with(None).answer(payload, claim=False)
    assert answer["skip_reason"] == "anonymous"
    assert answer["reason"].endswith(
        " The webhook names the respondent only by Koji's respondent id or an external id: set "
        "KOJI_ENRICH=true (with KOJI_API_KEY) to fetch the e-mail from Koji's API, or look up by the "
        "external id (lookup.order and lookup.external_id_field in the mapping profile).")
    [record] = [r for r in caplog.records if r.name == "connector.pipeline"]
    assert record.getMessage() == (
        "interview_id=i7 skipped as anonymous: the webhook names the respondent only by ids the "
        "profile does not look up by; KOJI_ENRICH=true fetches the e-mail from Koji's API")


def _profile_with_email_field(tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text("version: 1\n"
                    "actions:\n  interview.analysis_ready: update_contact\n"
                    "lookup:\n  order: [contact_id, email]\n"
                    "fields:\n"
                    "  - name: Koji_Email__c\n    type: email\n    source: respondent.email\n"
                    "  - name: Last_Koji_Interview_At__c\n    type: datetime\n    source: interview.completed_at\n")
    return load_profile(path)


@pytest.mark.parametrize(("edit", "field", "reason"), [
    ({"completed_at": "2026-04-16T25:00:00Z"}, "Last_Koji_Interview_At__c",
     "the value in this event is not a valid date and time"),
    ({"respondent_email": "priya@tailspin"}, "Koji_Email__c", "the value in this event is not a valid e-mail address"),
    ({"respondent_email": None, "metadata": {"email": "priya at tailspin"}}, "Koji_Email__c",
     "the value in this event is not a valid e-mail address"),
])
def test_a_value_the_event_has_but_normalize_could_not_read_is_not_called_missing(tmp_path, edit, field, reason):
    # Found by an audit: "no value in this event" sent an admin looking for a value that was there.
    payload = sample("salesforce-guide.analysis_ready.json")
    payload["data"].update(edit, salesforce_contact_id="003000000000001AAA")
    pipeline = Pipeline(profile=_profile_with_email_field(tmp_path), quality_threshold=3)
    answer = pipeline.answer(payload, claim=False)
    assert {"field": field, "reason": reason} in answer["salesforce"]["skipped"]
    assert "tailspin" not in str(answer["salesforce"]["skipped"]) + str(answer["salesforce"]["warnings"])


def test_a_value_the_event_lacks_is_still_no_value(tmp_path):
    payload = sample("salesforce-guide.analysis_ready.json")
    payload["data"].update(completed_at=None, respondent_email="", salesforce_contact_id="003000000000001AAA")
    answer = Pipeline(profile=_profile_with_email_field(tmp_path), quality_threshold=3).answer(payload, claim=False)
    assert {(s["field"], s["reason"]) for s in answer["salesforce"]["skipped"]} == {
        ("Koji_Email__c", "no value in this event"), ("Last_Koji_Interview_At__c", "no value in this event")}
