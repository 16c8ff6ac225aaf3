"""The Salesforce-facing routes against the fake Salesforce and the fake Koji API."""
import json

import pytest
from pydantic import SecretStr

from conftest import API_KEY, SECRETS, Koji, sample, sample_bytes
from connector import create_app
from connector.settings import Settings
from tests.fakes.koji_api import FakeKojiApi
from tests.fakes.salesforce import RECIPE_FIELDS, FakeSalesforce

AUTH = {"Authorization": f"Bearer {API_KEY}"}
WEBHOOK_SETUP = "webhook-setup.analysis_ready.json"  # no e-mail, no themes: needs enrichment
INTERVIEW_ID = "f8e7d6c5-b4a3-2109-8765-432109876543"


def app_with(tmp_path, **settings):
    base = dict(connector_mode="production", koji_webhook_secret=[SecretStr(s) for s in SECRETS],
                connector_api_keys=[SecretStr(API_KEY)], database_path=tmp_path / "state.sqlite3")
    return create_app(Settings(**{**base, **settings})).test_client()


@pytest.fixture
def salesforce():
    with FakeSalesforce() as fake:
        yield fake


def salesforce_settings(fake):
    return dict(salesforce_domain_url=fake.base_url, salesforce_client_id="test-client-id",
                salesforce_client_secret=SecretStr("test-client-secret"), http_timeout_seconds=2)


def test_check_fields_against_a_matching_org(tmp_path, salesforce):
    client = app_with(tmp_path, **salesforce_settings(salesforce))
    report = client.post("/v1/salesforce/check-fields", headers=AUTH).get_json()
    assert report["ok"] is True
    assert {row["field"] for row in report["fields"]} == {f["name"] for f in RECIPE_FIELDS} | {"Email"}
    assert all(row["exists"] and (row["updateable"] or row["profile_type"] == "lookup") for row in report["fields"])


def test_check_fields_reports_a_missing_field(tmp_path):
    fields = [f for f in RECIPE_FIELDS if f["name"] != "Transcript_URL__c"]
    with FakeSalesforce(fields=fields) as fake:
        client = app_with(tmp_path, **salesforce_settings(fake))
        report = client.post("/v1/salesforce/check-fields", headers=AUTH).get_json()
    assert report["ok"] is False
    row = next(row for row in report["fields"] if row["field"] == "Transcript_URL__c")
    assert row["exists"] is False


def test_check_fields_with_wrong_credentials_is_502_without_the_secret(tmp_path, salesforce):
    settings = {**salesforce_settings(salesforce), "salesforce_client_secret": SecretStr("wrong-secret-value")}
    response = app_with(tmp_path, **settings).post("/v1/salesforce/check-fields", headers=AUTH)
    assert response.status_code == 502
    assert "wrong-secret-value" not in response.get_data(as_text=True)


def test_check_fields_when_salesforce_is_down_is_502(tmp_path, salesforce):
    client = app_with(tmp_path, **salesforce_settings(salesforce))
    salesforce.fail_next(503, times=5)
    assert client.post("/v1/salesforce/check-fields", headers=AUTH).status_code == 502


@pytest.mark.parametrize("describe", [
    {"fields": None}, {"fields": [1]}, {"fields": {"a": 1}}, {"fields": [{"name": None}]},
    {"fields": [dict(f, length="32000") if f["name"] == "Interview_Themes__c" else f for f in RECIPE_FIELDS]},
    {"fields": [dict(f, picklistValues=None) if f["name"] == "Interview_Sentiment__c" else f for f in RECIPE_FIELDS]},
], ids=["fields null", "a number as field", "fields an object", "name null", "length a string",
        "picklistValues null"])
def test_check_fields_with_a_describe_of_another_shape_is_502(tmp_path, salesforce, monkeypatch, describe):
    # Before: 500 (TypeError or AttributeError reading the describe).
    monkeypatch.setattr(salesforce, "describe", lambda: describe)
    response = app_with(tmp_path, **salesforce_settings(salesforce)).post("/v1/salesforce/check-fields", headers=AUTH)
    assert response.status_code == 502
    assert response.get_json()["type"].endswith("#upstream-unavailable")
    assert "not the expected JSON" in response.get_json()["detail"]


def enriching(tmp_path, koji_api):
    return app_with(tmp_path, koji_enrich=True, koji_api_base_url=koji_api.base_url,
                    koji_api_key=SecretStr("koji-test-key"))


def koji_answer(rest: bytes) -> bytes:
    return b'{"id": "' + INTERVIEW_ID.encode() + b'", "respondent": {"email": "a@b.example"}, ' + rest + b"}"


@pytest.mark.parametrize("answer", [
    koji_answer(b'"metadata": ' + b'{"a": ' * 300 + b"1" + b"}" * 300),
    koji_answer(b'"metadata": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000),
], ids=["300 levels", "3000 levels"])
def test_an_interview_koji_answers_unwritably_is_answered_from_the_webhook(tmp_path, capsys, answer):
    # Before: 500 after the event was claimed, and 409 for every retry of Koji until it gave up
    # (3000 levels: a RecursionError, 500 every time).
    with FakeKojiApi({INTERVIEW_ID: answer}) as koji_api:
        client = enriching(tmp_path, koji_api)
        first = Koji(client).deliver(sample_bytes(WEBHOOK_SETUP))
        retry = Koji(client).deliver(sample_bytes(WEBHOOK_SETUP))
    assert (first.status_code, retry.status_code) == (200, 200)
    assert (first.get_json()["action"], first.get_json()["skip_reason"]) == ("skip", "anonymous")
    assert first.get_json()["salesforce"]["warnings"][0]["message"].startswith("not enriched: ")
    logged = capsys.readouterr().err
    assert f"enrichment refused interview_id={INTERVIEW_ID} status=200" in logged
    assert "a@b.example" not in logged + first.get_data(as_text=True) and "private" not in logged


@pytest.mark.parametrize("score", [b'"1"', b"true", b"NaN"])
def test_a_quality_score_koji_answers_as_no_number_does_not_pass_the_threshold(tmp_path, score):
    # Before: the score was dropped without a word and Koji's e-mail was used: a low-quality
    # interview updated the Contact, while /v1/salesforce/map refuses the same object.
    webhook = sample(WEBHOOK_SETUP)
    del webhook["data"]["quality_score"]
    interview = koji_answer(b'"quality_score": ' + score)
    with FakeKojiApi({INTERVIEW_ID: interview}) as koji_api:
        client = enriching(tmp_path, koji_api)
        answer = Koji(client).deliver(json.dumps(webhook).encode()).get_json()
        mapped = client.post("/v1/salesforce/map", data=interview, headers={**AUTH, "Content-Type": "application/json"})
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert answer["respondent"]["email"] is None
    assert answer["salesforce"]["warnings"][0]["message"].startswith("not enriched: ")
    assert mapped.status_code in (400, 422)  # the same object, refused from a caller


def test_enrichment_fills_email_and_themes_from_koji(tmp_path):
    interview = {"id": "f8e7d6c5-b4a3-2109-8765-432109876543", "respondent": {"email": "jane@acme.example"},
                 "analysis": {"themes": ["onboarding", "pricing"], "sentiment": "positive",
                              "quotes": ["Setup was quick."]}}
    with FakeKojiApi({interview["id"]: interview}) as koji_api:
        client = app_with(tmp_path, koji_enrich=True, koji_api_base_url=koji_api.base_url,
                          koji_api_key=SecretStr("koji-test-key"))
        answer = Koji(client).deliver(sample_bytes("webhook-setup.analysis_ready.json")).get_json()
    assert answer["respondent"]["email"] == "jane@acme.example"
    assert answer["respondent"]["external_id"] == "user_12345"  # the webhook's own value is kept
    assert answer["analysis"]["themes"] == ["onboarding", "pricing"]
    assert answer["salesforce"]["fields"]["Interview_Themes__c"] == "onboarding, pricing"


def test_enrichment_when_koji_is_down_is_502_and_claims_nothing(tmp_path):
    with FakeKojiApi({}) as koji_api:
        koji_api.fail_next(503, times=3)
        client = app_with(tmp_path, koji_enrich=True, koji_api_base_url=koji_api.base_url,
                          koji_api_key=SecretStr("koji-test-key"))
        response = Koji(client).deliver(sample_bytes("webhook-setup.analysis_ready.json"))
        assert response.status_code == 502
        assert response.get_json()["type"].endswith("#upstream-unavailable")
        key = "f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready"
        assert client.get(f"/v1/events/{key}", headers=AUTH).status_code == 404


def test_enrichment_is_off_by_default(tmp_path):
    answer = Koji(app_with(tmp_path)).deliver(sample_bytes("webhook-setup.analysis_ready.json")).get_json()
    assert answer["respondent"]["email"] is None
