"""The services as the app wires them: enrichment from the fake Koji API, through the verify route."""
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from conftest import API_KEY, SECRETS, Koji, sample_bytes
from connector import create_app
from connector.profile_file import load_profile
from connector.salesforce import target_fields
from connector.settings import Settings
from tests.fakes.koji_api import FakeKojiApi

AUTH = {"Authorization": f"Bearer {API_KEY}"}
WEBHOOK_SETUP = "webhook-setup.analysis_ready.json"  # no e-mail, no themes: needs enrichment
KEY = "f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready"


@pytest.fixture
def koji_api():
    with FakeKojiApi({}, api_key="koji-test-key") as fake:
        yield fake


def enriching_client(tmp_path, koji_api, key="koji-test-key", timeout=2):
    return create_app(Settings(
        connector_mode="production", koji_webhook_secret=[SecretStr(s) for s in SECRETS],
        connector_api_keys=[SecretStr(API_KEY)], database_path=tmp_path / "state.sqlite3",
        koji_enrich=True, koji_api_base_url=koji_api.base_url, koji_api_key=SecretStr(key),
        http_timeout_seconds=timeout)).test_client()


@pytest.mark.parametrize("fail", [None, 403, 410], ids=["unknown interview", "forbidden", "gone"])
def test_a_final_refusal_from_koji_is_answered_from_the_webhook(tmp_path, koji_api, capsys, fail):
    if fail:
        koji_api.fail_next(fail, times=5)
    client = enriching_client(tmp_path, koji_api)
    response = Koji(client).deliver(sample_bytes(WEBHOOK_SETUP))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert f"Koji's API answered {fail or 404}" in answer["salesforce"]["warnings"][0]["message"]
    # nothing left to do: released, so Koji's Retry once the interview is known is processed
    assert client.get(f"/v1/events/{KEY}", headers=AUTH).get_json()["state"] == "released"
    logged = capsys.readouterr().err  # the app's own log handler writes to stderr
    assert "level=WARNING logger=connector.pipeline" in logged
    assert f"interview_id=f8e7d6c5-b4a3-2109-8765-432109876543 status={fail or 404}" in logged


def test_a_refused_api_key_is_answered_from_the_webhook(tmp_path, koji_api):
    client = enriching_client(tmp_path, koji_api, key="wrong-koji-key")
    response = Koji(client).deliver(sample_bytes(WEBHOOK_SETUP))
    assert response.status_code == 200
    assert "Koji's API answered 401" in response.get_json()["salesforce"]["warnings"][0]["message"]
    assert "wrong-koji-key" not in response.get_data(as_text=True)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_a_failure_that_may_pass_stays_502_so_koji_retries(tmp_path, koji_api, status):
    koji_api.fail_next(status, times=5)
    client = enriching_client(tmp_path, koji_api)
    response = Koji(client).deliver(sample_bytes(WEBHOOK_SETUP))
    assert response.status_code == 502
    assert response.get_json()["type"].endswith("#upstream-unavailable")
    assert "Koji's API" in response.get_json()["detail"]  # which upstream: Salesforce answers 502 too
    assert client.get(f"/v1/events/{KEY}", headers=AUTH).status_code == 404


def test_a_timeout_stays_502(tmp_path, koji_api):
    koji_api.delay = 0.5
    client = enriching_client(tmp_path, koji_api, timeout=0.1)
    assert Koji(client).deliver(sample_bytes(WEBHOOK_SETUP)).status_code == 502


def test_an_answer_that_drips_in_is_502_within_the_timeout_and_claims_nothing(tmp_path, koji_api):
    # Before: each wait on the socket had the timeout, not the answer: 8 bytes every 0.05 s
    # held the request (and the worker) for the whole answer.
    koji_api.interviews["f8e7d6c5-b4a3-2109-8765-432109876543"] = {"id": "f8e7d6c5-b4a3-2109-8765-432109876543",
                                                                   "notes": "x" * 400}
    koji_api.drip = 0.05
    client = enriching_client(tmp_path, koji_api, timeout=0.3)
    started = time.monotonic()
    response = Koji(client).deliver(sample_bytes(WEBHOOK_SETUP))
    assert response.status_code == 502 and time.monotonic() - started < 1.5
    assert client.get(f"/v1/events/{KEY}", headers=AUTH).status_code == 404


@pytest.mark.parametrize("quality_threshold", [None, 4.5])
def test_the_settings_choose_the_mapping_profile_and_may_override_its_threshold(tmp_path, quality_threshold):
    example = Path(__file__).resolve().parents[1] / "examples" / "profiles" / "survey-scores.yaml"
    profile = load_profile(example)
    client = create_app(Settings(
        connector_mode="production", koji_webhook_secret=[SecretStr(s) for s in SECRETS],
        connector_api_keys=[SecretStr(API_KEY)], database_path=tmp_path / "state.sqlite3",
        mapping_profile=example, quality_threshold=quality_threshold)).test_client()
    body = client.get("/v1/salesforce/fields", headers=AUTH).get_json()
    assert [field["name"] for field in body["fields"]] == [field["name"] for field in target_fields(profile)]
    assert body["quality_threshold"] == (profile.quality_threshold if quality_threshold is None else quality_threshold)


def test_ledger_retention_days_are_days(tmp_path):
    # LEDGER_RETENTION_DAYS=1: a completed event is a duplicate for a day, then forgotten.
    app = create_app(Settings(
        connector_mode="production", koji_webhook_secret=[SecretStr(s) for s in SECRETS],
        connector_api_keys=[SecretStr(API_KEY)], database_path=tmp_path / "state.sqlite3", ledger_retention_days=1))
    client = app.test_client()
    answer = Koji(client).deliver(sample_bytes("salesforce-guide.analysis_ready.json")).get_json()
    completed = client.post(answer["delivery"]["complete_path"], headers=AUTH).get_json()
    ledger, state_path = app.extensions["connector"].ledger, answer["delivery"]["complete_path"].removesuffix("/complete")
    updated = datetime.fromisoformat(completed["updated"]).timestamp()
    ledger.purge(now=updated + timedelta(hours=23).total_seconds())
    assert client.get(state_path, headers=AUTH).status_code == 200
    ledger.purge(now=updated + timedelta(hours=25).total_seconds())
    assert client.get(state_path, headers=AUTH).status_code == 404
