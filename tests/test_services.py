"""The services as the app wires them: enrichment from the fake Koji API, through the verify route."""
import time

import pytest
from pydantic import SecretStr

from conftest import API_KEY, SECRETS, Koji, sample_bytes
from connector import create_app
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
