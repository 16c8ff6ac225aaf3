import base64
import hashlib
import io
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, InvalidHeaderName, NoMoreData

from conftest import API_KEY, SECRETS, sample, sample_bytes
from connector.openapi_doc import load_spec
from connector.signatures import sign

PROBLEM = "application/problem+json"
SALESFORCE_SAMPLE = "salesforce-guide.analysis_ready.json"


def problem_slug(response):
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == response.status_code
    assert body["title"] and body["detail"]
    return body["type"].rsplit("#", 1)[1]


def test_healthz_needs_no_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "mode": "production"}


def test_verify_answers_the_contract_keys(koji):
    response = koji.deliver(sample_bytes(SALESFORCE_SAMPLE))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["action"] == "update_contact"
    assert answer["skip_reason"] is None
    assert answer["event"] == {"type": "interview.analysis_ready", "key": "int_7Hq2LmN4:interview.analysis_ready",
                               "occurred_at": "2026-04-16T10:24:10Z", "test": False}
    assert answer["respondent"]["email"] == "o'brien@northwind.example"
    assert answer["delivery"]["status"] == "first"
    assert answer["delivery"]["complete_path"] == "/v1/events/int_7Hq2LmN4:interview.analysis_ready/complete"
    assert answer["salesforce"]["lookup"]["soql"].endswith("'o\\'brien@northwind.example' LIMIT 1")
    assert answer["slack"]["post"] is True


def test_an_event_nothing_identifies_is_keyed_by_the_bytes_koji_sent(koji):
    # docs/design.md: `sha256-<first 32 hex digits of the body's SHA-256>:<event type>`.
    raw = b'{ "type":"ping",  "note": "spaced as Koji spaced it" }'
    key = koji.deliver(raw).get_json()["event"]["key"]
    assert key == f"sha256-{hashlib.sha256(raw).hexdigest()[:32]}:ping"


def test_every_secret_in_rotation_verifies(koji):
    for index, secret in enumerate(SECRETS):
        body = json.dumps({"type": "ping", "n": index}).encode()
        assert koji.deliver(body, secret=secret).status_code == 200


@pytest.mark.parametrize("signature", ["", "sha256=nothex", "sha1=" + "a" * 40, "sha256=" + "0" * 64])
def test_bad_signatures_are_400_invalid_signature(koji, signature):
    response = koji.deliver(sample_bytes(SALESFORCE_SAMPLE), signature=signature)
    assert response.status_code == 400
    assert problem_slug(response) == "invalid-signature"


def test_missing_signature_header(client, auth):
    response = client.post("/v1/koji/verify", data=b"{}", headers=auth)
    assert response.status_code == 400
    assert "missing" in response.get_json()["detail"]


def test_reserialized_body_fails_and_leaks_nothing(koji):
    raw = sample_bytes(SALESFORCE_SAMPLE)
    reserialized = json.dumps(json.loads(raw), indent=1).encode()
    response = koji.deliver(reserialized, signature=sign(raw, SECRETS[0]))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "did not match" in text
    assert sign(reserialized, SECRETS[0])[7:] not in text
    assert "brien" not in text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "wrong"},
                                     {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}])
def test_bad_api_keys_are_401_unauthorized(client, headers):
    raw = sample_bytes(SALESFORCE_SAMPLE)
    response = client.post("/v1/koji/verify", data=raw, headers={"X-Koji-Signature": sign(raw, SECRETS[0]), **headers})
    assert response.status_code == 401
    assert problem_slug(response) == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_x_api_key_header_works(client):
    raw = b'{"type":"ping"}'
    response = client.post("/v1/koji/verify", data=raw,
                           headers={"X-API-Key": API_KEY, "X-Koji-Signature": sign(raw, SECRETS[0])})
    assert response.status_code == 200


@pytest.mark.parametrize("body, slug", [(b"not json", "malformed-json"), (b"[1,2]", "malformed-json"),
                                        (b'{"type": NaN}', "malformed-json"), (b"\xff\xfe", "malformed-json"),
                                        (b"[" * 100000 + b"]" * 100000, "malformed-json")])
def test_bodies_that_are_not_json_objects(koji, body, slug):
    response = koji.deliver(body)
    assert response.status_code == 400
    assert problem_slug(response) == slug
    assert response.get_json()["detail"].startswith("The body ")  # what is wrong: the body, not an envelope


def test_schema_violations_list_every_field_without_echoing_values(koji, client, auth):
    payload = sample(SALESFORCE_SAMPLE)
    payload["data"]["quality_score"] = "high"
    payload["data"]["respondent"] = {"email": 42}
    payload["data"]["structured_answers"] = [{"question_id": "q1", "question_type": ["essay"]}]
    response = koji.deliver(payload)
    assert response.status_code == 422
    assert problem_slug(response) == "validation-failed"
    pointers = {error["pointer"]: error["message"] for error in response.get_json()["errors"]}
    assert pointers == {"/data/quality_score": "must be of type number or null",
                        "/data/respondent/email": "must be of type string or null",
                        "/data/structured_answers/0/question_type": "must be of type string or null"}
    assert "essay" not in response.get_data(as_text=True) and "high" not in response.get_data(as_text=True)
    assert client.get("/v1/events/int_7Hq2LmN4:interview.analysis_ready", headers=auth).status_code == 404


def test_a_structured_answer_of_an_undocumented_type_or_confidence_loses_nothing_else(koji):
    # Found by an audit: one such answer was a 422 for the whole webhook, on every retry of Koji's,
    # and the interview's e-mail, quote and score were lost with it.
    payload = {"type": "interview.completed", "data": {
        "interview_id": "Q-1", "participant": {"email": "x@y.example"}, "quality_score": 4, "quote": "q",
        "structured_answers": [{"question_id": "q1", "question_type": "nps", "value": 3, "confidence": 150}]}}
    answer = koji.deliver(payload).get_json()
    assert (answer["action"], answer["respondent"]["email"]) == ("update_contact", "x@y.example")
    [structured] = answer["analysis"]["structured_answers"]
    assert (structured["question_type"], structured["confidence"]) == ("nps", None)


def test_missing_event_type_is_422(koji):
    response = koji.deliver({"data": {"interview_id": "x"}})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["pointer"] == ""


def test_body_over_the_limit_is_413(koji):
    body = json.dumps({"type": "ping", "pad": "x" * (1024 * 1024)}).encode()
    response = koji.deliver(body)
    assert response.status_code == 413
    assert problem_slug(response) == "payload-too-large"
    assert "1,048,576 bytes" in response.get_json()["detail"] and "MAX_BODY_BYTES" in response.get_json()["detail"]


def test_duplicate_protocol(koji, client, auth, caplog):
    raw = sample_bytes(SALESFORCE_SAMPLE)
    first = koji.deliver(raw).get_json()
    assert first["delivery"]["status"] == "first"
    with caplog.at_level(logging.INFO, logger="connector"):
        in_progress = koji.deliver(raw)
    assert in_progress.status_code == 409
    assert problem_slug(in_progress) == "event-in-progress"
    # the claim held, by its key: the refusal's own line names the route only
    assert f"event in progress key={first['event']['key']} attempt=1" in caplog.text
    released = client.post(first["delivery"]["release_path"], headers=auth)
    assert released.get_json()["state"] == "released"
    retry = koji.deliver(raw).get_json()
    assert (retry["delivery"]["status"], retry["delivery"]["attempt"], retry["action"]) == ("retry", 2, "update_contact")
    completed = client.post(retry["delivery"]["complete_path"], headers=auth).get_json()
    assert completed["state"] == "completed"
    duplicate = koji.deliver(raw).get_json()
    assert (duplicate["action"], duplicate["skip_reason"], duplicate["delivery"]["status"]) == ("skip", "duplicate", "duplicate")
    assert duplicate["slack"]["post"] is False


def test_a_stale_release_leaves_the_newer_claim_alone(koji, client, auth):
    raw = sample_bytes(SALESFORCE_SAMPLE)
    first = koji.deliver(raw).get_json()
    assert first["delivery"]["release_path"].endswith("/release?attempt=1")
    assert client.post(first["delivery"]["release_path"], headers=auth).status_code == 200
    retry = koji.deliver(raw).get_json()
    assert retry["delivery"]["release_path"].endswith("/release?attempt=2")

    stale = client.post(first["delivery"]["release_path"], headers=auth)

    assert stale.status_code == 409
    assert problem_slug(stale) == "claim-superseded"
    key = first["event"]["key"]
    record = client.get(f"/v1/events/{key}", headers=auth).get_json()
    assert (record["state"], record["attempts"]) == ("claimed", 2)
    assert "attempt 2 does (" in stale.get_json()["detail"]
    assert client.post(retry["delivery"]["release_path"], headers=auth).get_json()["state"] == "released"
    # Once the newer claim is released too, nobody holds it: the refusal says so.
    again = client.post(first["delivery"]["release_path"], headers=auth)
    assert again.status_code == 409
    assert "attempt 2 took it over and has released it since" in again.get_json()["detail"]


def test_the_state_says_until_when_a_claim_holds(koji, client, auth, new_york_time):
    # Found by an audit: a claim whose run died read "claimed" forever; a client could not
    # tell it from a live one. The lease's end tells.
    answer = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()
    path = f"/v1/events/{answer['event']['key']}"
    claimed = client.get(path, headers=auth).get_json()
    held = datetime.fromisoformat(claimed["lease_until"]) - datetime.fromisoformat(claimed["updated"])
    assert claimed["state"] == "claimed" and 59 <= held.total_seconds() <= 61  # LEDGER_LEASE_SECONDS, 60
    # In UTC, written as the answer's occurred_at is, whatever the server's time zone.
    assert all(claimed[name].endswith("Z") for name in ("first_seen", "updated", "lease_until"))
    assert abs(datetime.fromisoformat(claimed["updated"]) - datetime.now(timezone.utc)) < timedelta(minutes=1)
    client.post(answer["delivery"]["complete_path"], headers=auth)
    assert client.get(path, headers=auth).get_json()["lease_until"] is None


@pytest.mark.parametrize("attempt", ["0", "-1", "two", "1.5", "", "１", "9" * 12])
def test_a_release_attempt_that_is_not_a_positive_integer_is_422(koji, client, auth, attempt):
    key = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()["event"]["key"]
    response = client.post(f"/v1/events/{key}/release", query_string={"attempt": attempt}, headers=auth)
    assert response.status_code == 422
    assert problem_slug(response) == "validation-failed"
    assert response.get_json()["errors"] == [{"parameter": "attempt", "message": "must be a positive integer"}]
    assert "attempt" in response.get_json()["detail"]  # the detail names the parameter too
    assert client.get(f"/v1/events/{key}", headers=auth).get_json()["state"] == "claimed"


def test_a_release_attempt_is_taken_up_to_the_documented_maximum(koji, client, auth):
    [attempt] = [parameter for parameter in load_spec()["paths"]["/v1/events/{key}/release"]["post"]["parameters"]
                 if parameter.get("name") == "attempt"]
    maximum = attempt["schema"]["maximum"]
    key = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()["event"]["key"]
    for given, message in [(maximum, "must be at most 1"), (maximum + 1, "must be a positive integer")]:
        response = client.post(f"/v1/events/{key}/release", query_string={"attempt": str(given)}, headers=auth)
        assert response.status_code == 422
        assert response.get_json()["errors"] == [{"parameter": "attempt", "message": message}], given


def test_a_release_for_an_attempt_that_never_was_is_422_not_superseded(koji, client, auth):
    key = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()["event"]["key"]
    response = client.post(f"/v1/events/{key}/release?attempt=2", headers=auth)
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"parameter": "attempt", "message": "must be at most 1"}]
    assert client.get(f"/v1/events/{key}", headers=auth).get_json()["state"] == "claimed"


def test_skipped_events_with_nothing_left_to_do_end_their_claim_at_once(koji, client, auth):
    answer = koji.deliver(sample_bytes("anonymous.analysis_ready.json")).get_json()
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert client.get(f"/v1/events/{answer['event']['key']}", headers=auth).get_json()["state"] == "released"
    again = koji.deliver(sample_bytes("anonymous.analysis_ready.json")).get_json()  # decided afresh
    assert (again["skip_reason"], again["delivery"]["status"]) == ("anonymous", "retry")


@pytest.mark.parametrize("name", ["quality_scored.json", "failed_quality_gate.json"])
def test_skips_worth_telling_stay_claimed_until_the_chain_posted(koji, client, auth, name):
    answer = koji.deliver(sample_bytes(name)).get_json()
    assert answer["action"] == "skip" and answer["slack"]["post"] is True
    state = client.get(f"/v1/events/{answer['event']['key']}", headers=auth).get_json()["state"]
    assert state == "claimed"
    client.post(answer["delivery"]["complete_path"], headers=auth)
    assert koji.deliver(sample_bytes(name)).get_json()["skip_reason"] == "duplicate"


def test_a_failure_while_answering_releases_the_claim(koji, client, auth, app, monkeypatch):
    from connector import pipeline
    monkeypatch.setattr(pipeline, "build_slack_message", lambda *args: 1 / 0)
    response = koji.deliver(sample_bytes(SALESFORCE_SAMPLE))
    assert response.status_code == 500
    assert problem_slug(response) == "internal-error"
    state = client.get("/v1/events/int_7Hq2LmN4:interview.analysis_ready", headers=auth).get_json()["state"]
    assert state == "released"


@pytest.mark.parametrize("name, action, reason", [
    ("webhook-setup.analysis_ready.json", "skip", "anonymous"),  # external id only; the default profile looks up by Contact id or e-mail
    ("automation.interview_completed.json", "update_contact", None),
    ("quality_scored.json", "skip", "below_quality_threshold"),
    ("failed_quality_gate.json", "skip", "failed_quality_gate"),
    ("study.published.json", "notify", None),
    ("report.generated.json", "notify", None),
    ("ping.json", "skip", "not_mapped"),
])
def test_every_documented_event_type_is_accepted(koji, name, action, reason):
    answer = koji.deliver(sample_bytes(name)).get_json()
    assert (answer["action"], answer["skip_reason"]) == (action, reason)


def test_unknown_ledger_keys_are_404(client, auth):
    for method, path in [("get", "/v1/events/nope"), ("post", "/v1/events/nope/complete"),
                         ("post", "/v1/events/nope/release")]:
        response = getattr(client, method)(path, headers=auth)
        assert response.status_code == 404
        assert problem_slug(response) == "not-found"


class TestEnvelope:
    def post(self, client, envelope, content_type="application/json"):
        return client.post("/v1/koji/verify-envelope", data=json.dumps(envelope), content_type=content_type,
                           headers={"Authorization": f"Bearer {API_KEY}"})

    def test_raw_body_as_text(self, client):
        raw = sample_bytes(SALESFORCE_SAMPLE).decode()
        response = self.post(client, {"raw_body": raw, "signature": sign(raw.encode(), SECRETS[0])})
        assert response.status_code == 200
        assert response.get_json()["action"] == "update_contact"

    def test_raw_body_with_braces_as_base64(self, client):
        raw = json.dumps({"type": "ping", "note": "{{bundle.inputData.x}} {{ stays }}"}).encode()
        envelope = {"raw_body_base64": base64.b64encode(raw).decode(), "signature": sign(raw, SECRETS[1])}
        assert self.post(client, envelope).status_code == 200

    @pytest.mark.parametrize("envelope, status, slug", [
        ({"raw_body": "{}"}, 400, "invalid-signature"),
        ({"signature": "sha256=" + "0" * 64}, 400, "malformed-envelope"),
        ({"raw_body": "{}", "raw_body_base64": "e30=", "signature": "x"}, 400, "malformed-envelope"),
        ({"raw_body_base64": "***", "signature": "sha256=" + "0" * 64}, 400, "malformed-envelope"),
        ({"raw_body": 5, "signature": "sha256=" + "0" * 64}, 400, "malformed-envelope"),
        ({"raw_body": "{}", "signature": "sha256=" + "0" * 64, "extra": 1}, 400, "malformed-envelope"),
        ({"raw_body": "{}", "signature": "sha256=" + "0" * 64}, 400, "invalid-signature"),
    ])
    def test_incomplete_envelopes(self, client, envelope, status, slug):
        response = self.post(client, envelope)
        assert response.status_code == status
        assert problem_slug(response) == slug

    def test_needs_json(self, client):
        response = self.post(client, {"raw_body": "{}", "signature": "x"}, content_type="text/plain")
        assert response.status_code == 415

    @pytest.mark.parametrize("field, raw, says", [
        ("raw_body", "not json", "The raw_body is not valid JSON"),
        ("raw_body", "[1]", "The raw_body must be a JSON object"),
        ("raw_body_base64", "not json", "The body in raw_body_base64 is not valid JSON"),
    ])
    def test_a_raw_body_that_is_not_json_is_named_as_such(self, client, field, raw, says):
        # Before: "The body is not valid JSON", though the envelope (the body) was.
        value = raw if field == "raw_body" else base64.b64encode(raw.encode()).decode()
        response = self.post(client, {field: value, "signature": sign(raw.encode(), SECRETS[0])})
        assert response.status_code == 400
        assert problem_slug(response) == "malformed-json"
        assert response.get_json()["detail"].startswith(says)


class TestMap:
    def post(self, client, payload):
        return client.post("/v1/salesforce/map", json=payload, headers={"X-API-Key": API_KEY})

    @pytest.mark.parametrize("name", [SALESFORCE_SAMPLE, "interview.full.json", "automation.interview_completed.json"])
    def test_any_documented_shape(self, client, name):
        answer = self.post(client, sample(name)).get_json()
        assert answer["action"] == "update_contact"
        assert answer["delivery"] is None
        assert answer["salesforce"]["fields"]

    def test_a_normalized_event_from_verify(self, client, koji):
        verified = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()
        mapped = self.post(client, verified).get_json()
        assert mapped["salesforce"] == verified["salesforce"]
        assert mapped["event"] == verified["event"]

    def test_a_broken_normalized_event_is_422_with_pointers(self, client):
        response = self.post(client, {"event": {"type": 5}, "interview": {}, "respondent": {}, "analysis": {}})
        assert response.status_code == 422
        assert {e["pointer"] for e in response.get_json()["errors"]} >= {"/event/type", "/event/key"}

    def test_a_long_bad_list_in_a_normalized_event_is_one_error_not_one_per_item(self, client, koji):
        # Before: 523,000 numbers in analysis.themes (1 MiB) took seconds and answered 42 MB, an
        # error per item. Now each list's first bad item.
        verified = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()
        verified["analysis"]["themes"] = ["fine", *range(100_000)]
        verified["analysis"]["structured_answers"] = [{"question_id": 1, "confidence": "high"}] * 1000
        response = self.post(client, verified)
        assert response.status_code == 422
        assert response.get_json()["errors"] == [
            {"pointer": "/analysis/themes/1", "message": "Input should be a valid string"},
            {"pointer": "/analysis/structured_answers/0/question_id", "message": "Input should be a valid string"},
            {"pointer": "/analysis/structured_answers/0/confidence", "message": "Input should be a valid number"}]

    def test_values_of_an_unexpected_type_where_no_schema_looks_are_ignored(self, client):
        # Found by the property test in test_events.py: this was a 500.
        response = self.post(client, {"interview_id": "i1", "structured_answers": True, "themes": 5})
        assert response.status_code == 200
        assert response.get_json()["analysis"]["structured_answers"] == []

    def test_a_webhook_named_by_its_event_alone_is_checked_as_a_webhook(self, client):
        # webhook-setup's shape: `event`, not `type`. As an interview (no id) it would be a 422.
        response = self.post(client, {"event": "ping"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert (response.get_json()["action"], response.get_json()["skip_reason"]) == ("skip", "not_mapped")

    def test_does_not_claim(self, client, koji):
        self.post(client, sample(SALESFORCE_SAMPLE))
        assert koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()["delivery"]["status"] == "first"


@pytest.mark.parametrize("route, what", [("/v1/salesforce/map", "body"), ("/v1/koji/verify-envelope", "envelope")])
def test_a_body_not_sent_as_json_or_not_json_names_what_to_send(client, auth, route, what):
    wrong_type = client.post(route, data=b"{}", content_type="text/plain", headers=auth)
    assert (wrong_type.status_code, problem_slug(wrong_type)) == (415, "unsupported-media-type")
    assert f"{what} as application/json" in wrong_type.get_json()["detail"]
    not_json = client.post(route, data=b"not json", content_type="application/json", headers=auth)
    assert (not_json.status_code, problem_slug(not_json)) == (400, "malformed-json")
    assert not_json.get_json()["detail"].startswith(f"The {what} is not valid JSON")


def test_unknown_route_and_method_are_problems(client, auth):
    assert problem_slug(client.get("/nope", headers=auth)) == "not-found"
    response = client.get("/v1/koji/verify", headers=auth)
    assert response.status_code == 405
    assert problem_slug(response) == "method-not-allowed"


def test_logs_hold_no_email_quote_or_secret(koji, client, auth, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("connector").addHandler(caplog.handler)  # the connector logger does not propagate
    raw = sample_bytes(SALESFORCE_SAMPLE)
    koji.deliver(raw)
    koji.deliver(raw)
    koji.deliver(raw, signature="sha256=" + "0" * 64)
    payload = sample(SALESFORCE_SAMPLE)
    payload["data"]["quality_score"] = "o'brien@northwind.example"
    koji.deliver(payload)
    client.post("/v1/salesforce/map", json=sample("interview.full.json"), headers=auth)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "verified event" in text
    for secret_or_personal in ["o'brien@northwind.example", "priya@tailspin.example", "three weekends",
                               "weekly report", SECRETS[0], API_KEY]:
        assert secret_or_personal not in text


def test_an_answers_line_leaves_out_what_it_has_no_value_for(koji, client, auth, caplog):
    # Before: "verified event … action=update_contact skip_reason=None delivery=first", and
    # "mapped event … skip_reason=None delivery=None".
    caplog.set_level(logging.INFO)
    logging.getLogger("connector").addHandler(caplog.handler)  # the connector logger does not propagate
    raw = sample_bytes(SALESFORCE_SAMPLE)
    koji.deliver(raw)
    client.post(f"/v1/events/{sample(SALESFORCE_SAMPLE)['data']['interview_id']}:interview.analysis_ready/complete",
                headers=auth)
    koji.deliver(raw)
    client.post("/v1/salesforce/map", json=sample(SALESFORCE_SAMPLE), headers=auth)
    lines = [record.getMessage() for record in caplog.records if " event type=" in record.getMessage()]
    assert [line.split(" action=")[1] for line in lines] == [
        "update_contact delivery=first", "skip skip_reason=duplicate delivery=duplicate", "update_contact"]
    assert not any("None" in line for line in lines)


def test_fields_lists_the_profile_targets(client, auth):
    body = client.get("/v1/salesforce/fields", headers=auth).get_json()
    names = [field["name"] for field in body["fields"]]
    assert names == ["Latest_Customer_Quote__c", "Interview_Themes__c", "Interview_Sentiment__c",
                     "Interview_Quality_Score__c", "Transcript_URL__c", "Last_Koji_Interview_At__c"]
    assert body["quality_threshold"] == 3


def test_check_fields_without_salesforce_settings_is_503_naming_them(client, auth):
    response = client.post("/v1/salesforce/check-fields", headers=auth)
    assert response.status_code == 503
    assert problem_slug(response) == "not-configured"
    assert "SALESFORCE_DOMAIN_URL" in response.get_json()["detail"]


@pytest.mark.parametrize("depth", [100, 300, 5000])
def test_deeply_nested_values_get_a_clear_answer_not_a_500(koji, depth):
    body = (b'{"type":"interview.completed","data":{"interview_id":"deep","respondent_email":"a@b.co",'
            b'"metadata":{"a":' + b"[" * depth + b"]" * depth + b"}}}")
    response = koji.deliver(body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    if response.status_code == 400:
        assert problem_slug(response) == "malformed-json"
        assert "nested" in response.get_json()["detail"]


@pytest.mark.parametrize("data", [
    {"timestamp": "9999-12-31T23:59:59-01:00"},                       # in year 10000 once in UTC
    {"completed_at": "0001-01-01T00:30:00+01:00"},                    # in year 0 once in UTC
    {"transcript_url": "http://[::1"},                                # urlsplit raises on it
    {"transcript_url": "https://x.example:99999/t"},
])
def test_values_python_cannot_hold_are_left_out_not_a_500(koji, client, auth, data):
    # Before: OverflowError / ValueError → 500 on every retry, so Koji would give the event up.
    timestamp = data.pop("timestamp", "2026-04-16T10:24:10Z")
    body = json.dumps({"type": "interview.analysis_ready", "timestamp": timestamp,
                       "data": {"interview_id": "int_odd_values", "respondent_email": "ann@example.com", **data}})
    response = koji.deliver(body.encode())
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["action"] == "update_contact"
    assert "Transcript_URL__c" not in answer["salesforce"]["fields"]
    assert all(block["type"] != "actions" for block in answer["slack"]["blocks"])
    mapped = client.post("/v1/salesforce/map", json=answer, headers=auth)
    assert mapped.status_code == 200, mapped.get_data(as_text=True)


@pytest.mark.parametrize(("route", "payload", "pointer"), [
    ("/v1/koji/verify", {"type": "interview.analysis_ready",
                         "data": {"interview_id": "i-q", "respondent_email": "a@b.co", "analysis": {"quality_score": "1"}}},
     "/data/analysis/quality_score"),
    ("/v1/koji/verify", {"type": "interview.completed", "data": {"interview_id": "i-q", "qualityScore": "1"}},
     "/data/qualityScore"),
    ("/v1/salesforce/map", {"id": "i-q", "respondent_email": "a@b.co", "qualityScore": "1"}, "/qualityScore"),
    ("/v1/salesforce/map", {"data": {"id": "i-q", "analysis": {"qualityScore": True}}}, "/data/analysis/qualityScore"),
])
def test_a_quality_score_that_is_not_a_number_is_422_not_ignored(koji, client, auth, route, payload, pointer):
    # Ignored (normalized to null), a string score let a low-quality interview past the threshold.
    if route == "/v1/koji/verify":
        response = koji.deliver(json.dumps(payload).encode())
    else:
        response = client.post(route, json=payload, headers=auth)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert pointer in [error["pointer"] for error in response.get_json()["errors"]]


def test_an_interview_id_with_slashes_and_spaces_can_still_be_completed(koji, client, auth):
    # The complete_path used to carry the key raw, and the route took no '/': the event could
    # never be completed, and every retry got 409 until the lease ran out.
    body = json.dumps({"type": "interview.completed",
                       "data": {"interview_id": "int/slash 1?x#y%", "respondent_email": "ann@example.com"}}).encode()
    first = koji.deliver(body).get_json()
    path = first["delivery"]["complete_path"]
    assert " " not in path and "?" not in path and "#" not in path
    assert client.post(path, headers=auth).get_json()["state"] == "completed"
    assert client.get(path.removesuffix("/complete"), headers=auth).get_json()["key"] == "int/slash 1?x#y%:interview.completed"
    assert koji.deliver(body).get_json()["skip_reason"] == "duplicate"


INTERVIEW_IDS = [  # any string the webhook schema allows (up to 200 characters)
    "/lead-1", "//lead", "lead/", "a//b", "/", "/" * 200, "line\nbreak", "\r\n", "tab\there", "nul\x00",
    "\u2028", "a/complete", "b/release", "?q=1#f", "%2F%", "..", "é😀" * 100, "x" * 200,
]


@pytest.mark.parametrize("interview_id", INTERVIEW_IDS, ids=repr)
def test_the_paths_an_answer_gives_work_for_any_interview_id(koji, client, auth, interview_id):
    # Before: an id starting with "/" gave a path with "//", which Werkzeug answered with an HTML
    # 308 redirect; an id holding a line break gave a path the event-key route did not match.
    body = json.dumps({"type": "interview.completed",
                       "data": {"interview_id": interview_id, "respondent_email": "ann@example.com"}}).encode()
    delivery = koji.deliver(body).get_json()["delivery"]
    assert koji.deliver(body).status_code == 409  # a second copy while the first holds the claim
    state_path = delivery["complete_path"].removesuffix("/complete")
    state = client.get(state_path, headers=auth)
    assert (state.status_code, state.get_json()["state"]) == (200, "claimed")
    assert client.post(delivery["release_path"], headers=auth).get_json()["state"] == "released"
    retry = koji.deliver(body).get_json()["delivery"]
    assert client.post(retry["complete_path"], headers=auth).get_json()["state"] == "completed"
    assert client.get(state_path, headers=auth).get_json()["key"] == state.get_json()["key"]
    assert koji.deliver(body).get_json()["skip_reason"] == "duplicate"


@pytest.mark.parametrize("path", ["/v1//koji/verify", "//v1/koji/verify", "/v1/koji//verify"])
def test_a_path_with_doubled_slashes_is_a_404_problem_not_a_redirect(client, auth, path):
    # Before: Werkzeug merged the slashes and answered an HTML 308 whose Location was built from
    # the Host header, before authentication.
    response = client.post(path, data=b"{}", headers={"Host": "evil.example", **auth})
    assert response.status_code == 404
    assert problem_slug(response) == "not-found"
    assert "Location" not in response.headers


def test_a_body_shorter_than_its_content_length_is_refused_and_claims_nothing(koji, client, auth):
    # Before: the part that came was verified and claimed as if it were the whole body.
    raw = sample_bytes(SALESFORCE_SAMPLE)
    response = client.post("/v1/koji/verify", data=raw, environ_overrides={"CONTENT_LENGTH": str(len(raw) + 10)},
                           headers={**auth, "X-Koji-Signature": sign(raw, SECRETS[0])})
    assert response.status_code == 400
    assert problem_slug(response) == "malformed-request"
    assert "Content-Length" in response.get_json()["detail"]
    assert client.get("/v1/events/int_7Hq2LmN4:interview.analysis_ready", headers=auth).status_code == 404


@pytest.mark.parametrize("route", ["/v1/koji/verify", "/v1/koji/verify-envelope", "/v1/salesforce/map"])
@pytest.mark.parametrize("header, value, status, slug", [
    ("Content-Encoding", "gzip", 415, "unsupported-media-type"),
    ("Content-Encoding", "identity, br", 415, "unsupported-media-type"),
    ("Transfer-Encoding", "gzip", 501, "unsupported-transfer-coding"),
    ("Transfer-Encoding", "deflate", 501, "unsupported-transfer-coding"),
])
def test_a_coded_body_is_refused_not_read_as_it_came(client, auth, route, header, value, status, slug):
    # Before: a Transfer-Encoding: gzip body was verified and claimed as if it were plain, and a
    # Content-Encoding: gzip one was refused as "not valid JSON".
    raw = sample_bytes(SALESFORCE_SAMPLE)
    body = json.dumps({"raw_body": raw.decode(), "signature": sign(raw, SECRETS[0])}).encode() \
        if route.endswith("envelope") else raw
    response = client.post(route, data=body, headers={
        **auth, header: value, "Content-Type": "application/json", "X-Koji-Signature": sign(raw, SECRETS[0])})
    assert response.status_code == status
    assert problem_slug(response) == slug
    if status == 415:
        assert response.headers["Accept-Encoding"] == "identity"
        assert "uncompressed" in response.get_json()["detail"]
    assert client.get("/v1/events/int_7Hq2LmN4:interview.analysis_ready", headers=auth).status_code == 404


def test_identity_codings_are_taken(koji, client, auth):
    raw = sample_bytes(SALESFORCE_SAMPLE)
    response = client.post("/v1/koji/verify", data=raw, headers={
        **auth, "Content-Encoding": "identity", "X-Koji-Signature": sign(raw, SECRETS[0])})
    assert response.status_code == 200, response.get_data(as_text=True)


class BoundedReadsOnly(io.BytesIO):
    """A body stream that, like a socket's, must not be read without a size: there may be no end."""

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "read without a bound"
        return super().read(size)


def chunked_post(client, auth, raw: bytes, coding: str = "chunked", *, terminated: bool = True):
    """As gunicorn hands on a chunked body: decoded, no Content-Length, the stream ended for the app."""
    return client.post("/v1/koji/verify", headers={
        **auth, "Transfer-Encoding": coding, "Content-Type": "application/json", "X-Koji-Signature": sign(raw, SECRETS[0])},
        environ_overrides={"wsgi.input": BoundedReadsOnly(raw), "CONTENT_LENGTH": "",
                           **({"wsgi.input_terminated": True} if terminated else {})})


@pytest.mark.parametrize("coding", ["chunked", "Chunked", "identity, chunked"])
def test_a_chunked_body_is_read_whole_and_verified(client, auth, coding):
    response = chunked_post(client, auth, sample_bytes(SALESFORCE_SAMPLE), coding)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["delivery"]["status"] == "first"


def test_a_chunked_body_over_the_limit_is_413_not_cut_to_the_limit(koji, client, auth):
    over = json.dumps({"type": "ping", "pad": "x" * (1024 * 1024)}).encode()
    response = chunked_post(client, auth, over)
    assert (response.status_code, problem_slug(response)) == (413, "payload-too-large")
    assert response.get_json()["detail"] == koji.deliver(over).get_json()["detail"]  # as with a Content-Length


def test_a_body_of_exactly_the_limit_is_taken_however_it_is_framed(koji, client, auth, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    empty = json.dumps({"type": "ping", "pad": ""}).encode()
    raw = json.dumps({"type": "ping", "pad": "x" * (limit - len(empty))}).encode()
    assert len(raw) == limit
    assert koji.deliver(raw).status_code == 200
    assert chunked_post(client, auth, raw).status_code == 200


def test_a_body_of_unknown_length_a_server_does_not_end_is_not_read(client, auth):
    # Reading it could wait for ever; nothing read is nothing signed: refused, and nothing claimed.
    response = chunked_post(client, auth, sample_bytes(SALESFORCE_SAMPLE), terminated=False)
    assert (response.status_code, problem_slug(response)) == (400, "invalid-signature")
    assert client.get("/v1/events/int_7Hq2LmN4:interview.analysis_ready", headers=auth).status_code == 404


def test_a_coding_in_a_repeated_header_is_seen(client, auth):
    # The codings are read from the environ, where the server joins repeated headers with ",".
    raw = sample_bytes(SALESFORCE_SAMPLE)
    response = client.post("/v1/koji/verify", data=raw, headers=[
        *auth.items(), ("Content-Encoding", "identity"), ("Content-Encoding", "gzip"),
        ("X-Koji-Signature", sign(raw, SECRETS[0]))])
    assert response.status_code == 415
    assert problem_slug(response) == "unsupported-media-type"


class FailingStream:
    """gunicorn's body reader when the bytes it reads are not a body."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error


@pytest.mark.parametrize("error, status, slug", [
    (TimeoutError("timed out"), 408, "request-timeout"),  # the worker's read timeout
    (InvalidChunkSize(b"zz"), 400, "malformed-request"),
    (ChunkMissingTerminator(b"xx"), 400, "malformed-request"),
    (NoMoreData(b""), 400, "malformed-request"),  # the connection closed before the last chunk
    (InvalidHeaderName("bad name"), 400, "malformed-request"),  # in a trailer
], ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None)
@pytest.mark.parametrize("route", ["/v1/koji/verify", "/v1/salesforce/map"])
def test_a_body_that_cannot_be_read_is_a_problem_not_a_500(client, auth, route, error, status, slug):
    # Before: each of these reached the catch-all and was answered 500 internal-error.
    response = client.post(route, headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input": FailingStream(error), "wsgi.input_terminated": True})
    assert response.status_code == status
    assert problem_slug(response) == slug


def test_a_ledger_locked_by_another_process_is_a_503_that_claims_nothing(koji, app, client, auth):
    # Before: the claim waited 30 s, gunicorn's worker timeout, and the caller got a 500.
    import sqlite3
    ledger = app.extensions["connector"].ledger
    ledger.busy_timeout_seconds = 0.05  # 5 s in service
    holder = sqlite3.connect(ledger.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a sqlite3 shell left in a transaction, say
    try:
        response = koji.deliver(sample_bytes(SALESFORCE_SAMPLE))
    finally:
        holder.execute("ROLLBACK")
    body = response.get_json()
    assert (response.status_code, body["type"].rsplit("#", 1)[1]) == (503, "ledger-busy")
    assert response.headers["Retry-After"] == "30" and "nothing was changed" in body["detail"]
    answer = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()
    assert answer["delivery"]["status"] == "first"  # the refused copy had claimed nothing


def _read_only(db) -> None:  # as a connection SQLite opened while the file was not writable
    db.execute("PRAGMA query_only = 1")


def _full(db) -> None:  # no page may be added, and the one there is filled with small rows
    import sqlite3
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for n in range(10_000):
            db.execute("INSERT INTO events VALUES (?, 'completed', 1, 0, 0, 0)", (f"f{n}",))


@pytest.mark.parametrize("refusal, reason", [(_read_only, "attempt to write a readonly database"),
                                             (_full, "database or disk is full")])
def test_a_ledger_the_disk_refuses_is_a_503_that_claims_nothing_and_recovers(koji, app, auth, logged, refusal,
                                                                             reason):
    # Before: a 500 "failed unexpectedly", a log line naming only OperationalError, and a
    # connection SQLite had opened read-only kept failing after the file was made writable.
    ledger = app.extensions["connector"].ledger
    refusal(ledger._connection())  # this thread's connection: the one the request uses
    response = koji.deliver(sample_bytes(SALESFORCE_SAMPLE))
    body = response.get_json()
    assert (response.status_code, body["type"].rsplit("#", 1)[1]) == (503, "ledger-unavailable")
    assert response.headers["Retry-After"] == "30"
    assert body["detail"] == (f"The event ledger's database cannot be used now ({reason}); nothing was changed. "
                              "Try again later.")
    assert f"level=ERROR logger=connector.ledger" in logged.getvalue() and reason in logged.getvalue()
    answer = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()  # on a connection opened afresh
    assert answer["delivery"]["status"] == "first"


@pytest.fixture
def logged(app):
    """What the connector's log handler writes, after its filter: the lines as an operator reads them."""
    stream = io.StringIO()
    logging.getLogger("connector").handlers[0].setStream(stream)
    return stream


def test_paths_and_keys_a_caller_chose_are_not_logged_routes_and_key_hashes_are(koji, client, auth, logged):
    # Before: "refused GET /v1/events/Jane Doe hates the pricing: not-found" and
    # "path=/v1/events/Jane Doe hates the pricing status=404"; unknown routes need no key, so
    # anyone could write into the log.
    client.get("/v1/events/Jane%20Doe%20hates%20the%20pricing", headers=auth)
    client.post("/v1/events/Jane%20Doe%20hates%20the%20pricing/release")  # no key: refused before anything
    client.get("/v1/Jane%20Doe%20hates%20the%20pricing")
    client.open("/v1/koji/verify", method="JANEDOE", headers=auth)
    body = json.dumps({"type": "interview.completed", "data": {"interview_id": "Jane Doe hates the pricing"}}).encode()
    delivery = koji.deliver(body).get_json()["delivery"]
    client.post(delivery["release_path"], headers=auth)
    client.post(delivery["complete_path"], headers=auth)
    text = logged.getvalue()
    assert "Jane" not in text and "pricing" not in text and "JANEDOE" not in text, text
    hashed = "key#" + hashlib.sha256(b"Jane Doe hates the pricing").hexdigest()[:12]
    assert f"refused problem=not-found method=GET route=/v1/events/<event_key:key> key={hashed}" in text
    assert f"request method=POST route=/v1/events/<event_key:key>/release key={hashed} status=401" in text
    assert "request method=GET route=(no route) status=404" in text
    assert "request method=other route=(no route) status=405" in text
    hashed_event = "key#" + hashlib.sha256(b"Jane Doe hates the pricing:interview.completed").hexdigest()[:12]
    assert f"event released key={hashed_event} state=released" in text
    assert f"event completed key={hashed_event} attempts=1" in text


def test_an_ordinary_key_is_logged_as_it_is(koji, client, auth, logged):
    key = koji.deliver(sample_bytes(SALESFORCE_SAMPLE)).get_json()["event"]["key"]
    client.post(f"/v1/events/{key}/complete", headers=auth)
    text = logged.getvalue()
    assert f"verified event type=interview.analysis_ready key={key} action=update_contact" in text
    assert f"event completed key={key} attempts=1" in text
    assert f"request method=POST route=/v1/events/<event_key:key>/complete key={key} status=200" in text


def test_a_payloads_free_text_reaches_the_log_neither_as_type_nor_as_key(client, auth, logged):
    # Before: "mapped event type=Jane Doe said LEAKQUOTE key=i9:Jane Doe said LEAKQUOTE".
    payload = {"event": "Jane Doe said LEAKQUOTE", "data": {"interview_id": "i9"}}
    answer = client.post("/v1/salesforce/map", json=payload, headers=auth).get_json()
    assert answer["event"]["key"] == "i9:Jane Doe said LEAKQUOTE"  # the ledger's key is unchanged
    text = logged.getvalue()
    assert "LEAKQUOTE" not in text and "Jane" not in text
    hashed = "key#" + hashlib.sha256(b"i9:Jane Doe said LEAKQUOTE").hexdigest()[:12]
    assert f"mapped event type=other key={hashed} action=skip" in text


def test_a_report_key_is_logged_readable(client, auth, logged):
    # Before: the e-mail mask turned it into "key=[email]:00:00Z:report.generated".
    payload = {"type": "report.generated", "timestamp": "2024-05-01T10:00:00Z", "data": {"study_id": "s1"}}
    answer = client.post("/v1/salesforce/map", json=payload, headers=auth).get_json()
    assert answer["event"]["key"] == "s1@2024-05-01T10:00:00Z:report.generated"
    assert "mapped event type=report.generated key=s1@2024-05-01T10:00:00Z:report.generated " in logged.getvalue()


def test_a_property_a_normalized_event_does_not_allow_is_pointed_at_by_its_parent_not_named(client, auth):
    # Before: {"pointer": "/respondent/jane@corp.example", "message": "Extra inputs are not permitted"}.
    response = client.post("/v1/salesforce/map", headers=auth, json={
        "event": {"type": "x", "key": "k"}, "interview": {},
        "analysis": {"structured_answers": [{"question_id": "q1", "jane@corp.example": "Jane said so"}]},
        "respondent": {"jane@corp.example": 1, "Jane Doe": 2, "email": 3}})
    assert response.status_code == 422
    assert "jane" not in response.get_data(as_text=True).lower()
    errors = response.get_json()["errors"]
    assert sorted(errors, key=lambda error: error["pointer"]) == [  # the two unknown properties: one entry
        {"pointer": "/analysis/structured_answers/0", "message": "has properties the schema does not allow"},
        {"pointer": "/respondent", "message": "has properties the schema does not allow"},
        {"pointer": "/respondent/email", "message": "Input should be a valid string"}]
