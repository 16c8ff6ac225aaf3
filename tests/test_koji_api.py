import json
import time

import pytest

from conftest import sample
from connector.koji_api import (InterviewNotFound, KojiAnswerUnusable, KojiApiError, KojiAuthError, KojiNotConfigured,
                                KojiRefused, KojiUnavailable, MAX_ANSWER_BYTES, fetch_interview)
from connector.pipeline import Pipeline
from connector.profile_file import load_profile
from connector.settings import load_settings
from tests.fakes.koji_api import FakeKojiApi

INTERVIEW = {"id": "int_1", "respondent": {"email": "a@example.com"}, "analysis": {"themes": ["pricing"]}}
KEY = "koji-test-key-0123456789"


@pytest.fixture
def koji():
    with FakeKojiApi({"int_1": INTERVIEW, "a/b": {"id": "a/b"}}, api_key=KEY) as fake:
        yield fake


def settings_for(fake: FakeKojiApi, key: str | None = KEY, timeout: float = 2):
    return load_settings(connector_mode="development", koji_api_base_url=fake.base_url, koji_api_key=key,
                         http_timeout_seconds=timeout)


def test_fetches_the_interview_with_the_bearer_key(koji):
    assert fetch_interview("int_1", settings_for(koji)) == {"data": INTERVIEW}
    assert koji.requests[0]["path"] == "/api/v1/interviews/int_1"
    assert koji.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert koji.requests[0]["headers"]["Accept"] == "application/json"


def test_a_base_url_with_a_trailing_slash_asks_the_same_path(koji, sent_requests):
    # The fake, like any http.server, reads "//api/…" as "/api/…": the URL sent is what is checked.
    settings = load_settings(connector_mode="development", koji_api_base_url=koji.base_url + "/",
                             koji_api_key=KEY, http_timeout_seconds=2)
    assert fetch_interview("int_1", settings) == {"data": INTERVIEW}
    assert [url for url, _ in sent_requests] == [koji.base_url + "/api/v1/interviews/int_1"]


def test_the_id_is_quoted_into_one_path_segment(koji):
    assert fetch_interview("a/b", settings_for(koji)) == {"data": {"id": "a/b"}}
    assert koji.requests[0]["path"] == "/api/v1/interviews/a%2Fb"


def test_unknown_interview_is_not_found(koji):
    with pytest.raises(InterviewNotFound):
        fetch_interview("nope", settings_for(koji))


def test_wrong_key_is_an_auth_error_without_the_key(koji):
    with pytest.raises(KojiAuthError) as caught:
        fetch_interview("int_1", settings_for(koji, key="wrong-key-secret"))
    assert "wrong-key-secret" not in str(caught.value) and "KOJI_API_KEY" in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_trouble_is_unavailable(koji, status):
    koji.fail_next(status)
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert str(status) in str(caught.value)  # the 502's detail says what Koji answered


def test_other_statuses_are_errors(koji):
    koji.fail_next(400)
    with pytest.raises(KojiApiError):
        fetch_interview("int_1", settings_for(koji))


def test_a_success_other_than_200_is_no_interview(koji):
    # 202 Accepted and the like carry no interview: not read as one, and not final either.
    koji.fail_next(202)
    with pytest.raises(KojiApiError) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert not isinstance(caught.value, KojiRefused) and "202" in str(caught.value)


def test_slow_api_times_out(koji):
    koji.delay = 0.5
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings_for(koji, timeout=0.1))
    assert caught.value.timeout is True and "0.1 s" in str(caught.value)


def test_an_answer_that_drips_in_gives_up_at_the_timeout():
    # Before: the timeout bounded each wait on the socket, so an answer arriving 8 bytes every
    # 0.05 s held the worker (on the webhook path) for its whole length, here about 1.5 s.
    with FakeKojiApi({"int_1": {"id": "int_1", "pad": "x" * 200}}, api_key=KEY) as fake:
        fake.drip = 0.05
        started = time.monotonic()
        with pytest.raises(KojiUnavailable) as caught:
            fetch_interview("int_1", settings_for(fake, timeout=0.3))
        took = time.monotonic() - started
    assert caught.value.timeout is True and took < 0.8


def test_an_answer_over_the_size_limit_is_final_and_not_read_whole(koji):
    # Koji's stored interview: as large on every retry, so answered from the webhook's data.
    koji.interviews["int_1"] = b'{"id": "int_1", "pad": "' + b"x" * MAX_ANSWER_BYTES + b'"}'
    with pytest.raises(KojiAnswerUnusable) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert f"larger than the {MAX_ANSWER_BYTES:,} bytes" in caught.value.reason


def test_unreachable_api():
    with FakeKojiApi() as fake:
        settings = settings_for(fake)
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings)
    assert caught.value.timeout is False and "ConnectionError" in str(caught.value)


def test_no_key_configured(koji):
    with pytest.raises(KojiNotConfigured, match="KOJI_API_KEY"):
        fetch_interview("int_1", settings_for(koji, key=None))


@pytest.mark.parametrize("status, error", [(404, InterviewNotFound), (401, KojiAuthError), (403, KojiAuthError),
                                           (400, KojiRefused), (410, KojiRefused), (422, KojiRefused)])
def test_final_answers_are_refusals_with_their_status(koji, status, error):
    # Asking again gets the same answer: the caller answers from the webhook's own data.
    koji.fail_next(status)
    with pytest.raises(error) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert isinstance(caught.value, KojiRefused) and caught.value.status == status


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_answers_that_may_pass_are_not_refusals(koji, status):
    koji.fail_next(status)
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert not isinstance(caught.value, KojiRefused)


# -- what Koji answers with 200 ----------------------------------------------------------

ANSWERED = b'{"id": "int_1", "respondent": {"email": "a@b.example"}'  # the rest of the object follows


def nested(levels: int) -> bytes:
    return ANSWERED + b', "metadata": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


UNUSABLE = {  # Koji's answer → why it is refused, as the refusal says it
    "300 levels": (nested(300), "the interview is nested more than 32 levels deep"),
    "3000 levels": (nested(3000), "the interview is nested more than 32 levels deep"),
    "3000 levels after a newline": (b"\n" + nested(3000), "the interview is nested more than 32 levels deep"),
    "NaN score": (ANSWERED + b', "quality_score": NaN}', "not valid JSON"),
    "Infinity score": (ANSWERED + b', "quality_score": Infinity}', "not valid JSON"),
    "string score": (ANSWERED + b', "quality_score": "1"}', "/quality_score must be of type number or null"),
    "boolean score": (ANSWERED + b', "quality_score": true}', "/quality_score must be of type number or null"),
    "wrapped string score": (b'{"data": {"id": "int_1", "respondent": {"email": "a@b.example"}, "quality_score": "1"}}',
                             "/data/quality_score must be of type number or null"),
    "no id": (b'{"respondent": {"email": "a@b.example"}}', "/ needs 'id'"),
}


@pytest.mark.parametrize("body, why", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_an_answer_the_connector_refuses_is_final_and_says_why_without_values(koji, body, why):
    # Before: whatever the standard library read was used. A score "1", true or NaN was let
    # past the quality threshold; 300 levels made orjson fail on the
    # answer after the event was claimed (500, then 409 on every retry); 3000 levels raised
    # RecursionError (500). Koji sends the same bytes on every retry: final, like a 404.
    koji.interviews["int_1"] = body
    with pytest.raises(KojiAnswerUnusable) as caught:
        fetch_interview("int_1", settings_for(koji))
    refusal = caught.value
    assert isinstance(refusal, KojiRefused) and refusal.status == 200
    assert why in refusal.reason and str(refusal) == refusal.reason
    assert "a@b.example" not in refusal.reason and "private" not in refusal.reason


def test_a_refusal_reads_as_one_sentence():
    # The answer's `not enriched` warning quotes it: no doubled full stop inside the brackets.
    with FakeKojiApi({"int_1": nested(300)}, api_key=KEY) as fake:
        with pytest.raises(KojiAnswerUnusable) as caught:
            fetch_interview("int_1", settings_for(fake))
    assert caught.value.reason == ("Koji's API answered this interview in a shape the connector cannot use "
                                   "(the interview is nested more than 32 levels deep)")


VIOLATING = {"id": 1.5, "quality_score": "1", "qualityScore": "2", "respondent_email": 3, "analysis": 4}


@pytest.mark.parametrize("violations, counted", [(5, "; 2 more)"), (4, "; 1 more)"), (3, None)])
def test_more_violations_than_shown_are_counted(violations, counted):
    body = dict(list(VIOLATING.items())[:violations])
    with FakeKojiApi({"int_1": json.dumps(body).encode()}, api_key=KEY) as fake:
        with pytest.raises(KojiAnswerUnusable) as caught:
            fetch_interview("int_1", settings_for(fake))
    if counted:
        assert caught.value.reason.endswith(counted)
    else:  # all three shown, nothing left to count
        reason = caught.value.reason
        assert reason.count(" must ") == 3 and reason.endswith("must be of type number or null)")


@pytest.mark.parametrize("body", [b"<html><body>Maintenance</body></html>", b"[1, 2]", b'"int_1"', b'{"id": "int_1",'])
def test_an_answer_that_is_not_a_json_object_may_pass(koji, body):
    # A proxy's error page, say: docs/design.md answers it 502, so Koji retries.
    koji.interviews["int_1"] = body
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert not isinstance(caught.value, KojiRefused) and "not a JSON object" in str(caught.value)


def test_integers_beyond_64_bits_stay_exact(koji):
    koji.interviews["int_1"] = b'{"id": "int_1", "metadata": {"crm_id": 123456789012345678901234567890}}'
    assert fetch_interview("int_1", settings_for(koji))["metadata"]["crm_id"] == 123456789012345678901234567890


# -- what the connector does not ask for, and where it does not go -------------------------

WEBHOOK_SETUP = "webhook-setup.analysis_ready.json"  # no e-mail, no themes: needs enrichment
WEBHOOK_ID = "f8e7d6c5-b4a3-2109-8765-432109876543"


def answer_enriched_from(fake: FakeKojiApi, interview_id: str = WEBHOOK_ID) -> dict:
    """The pipeline's answer to Koji's webhook-setup sample for `interview_id`, enriched from `fake`."""
    payload = sample(WEBHOOK_SETUP)
    payload["data"]["interview_id"] = interview_id
    pipeline = Pipeline(profile=load_profile(None), quality_threshold=3, ledger=None,
                        fetch_interview=lambda asked: fetch_interview(asked, settings_for(fake)))
    return pipeline.answer(payload, claim=False)


@pytest.fixture
def elsewhere():
    """Another host, holding an interview with the webhook's id and someone's e-mail."""
    someone = {"id": WEBHOOK_ID, "respondent": {"email": "someone@elsewhere.example"}, "analysis": {"themes": ["x"]}}
    with FakeKojiApi({WEBHOOK_ID: someone}, api_key=KEY) as fake:
        yield fake


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_final_refusal_and_the_other_host_is_never_asked(koji, elsewhere, status):
    # Before: requests followed a 307 to the other host, whose JSON was taken as the interview.
    # A redirect comes from KOJI_API_BASE_URL and comes back on every retry: final, like a 401.
    koji.redirect_next(status, elsewhere.base_url)
    with pytest.raises(KojiRefused) as caught:
        fetch_interview("int_1", settings_for(koji))
    refusal = caught.value
    assert refusal.status == status and str(refusal) == refusal.reason == (
        f"Koji's API answered {status}, a redirect, which the connector does not follow (check KOJI_API_BASE_URL)")
    assert elsewhere.requests == [] and len(koji.requests) == 1


def test_a_redirected_enrichment_is_answered_from_the_webhooks_own_data(koji, elsewhere):
    koji.redirect_next(307, elsewhere.base_url)
    answer = answer_enriched_from(koji)
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert answer["respondent"]["email"] is None and elsewhere.requests == []
    assert answer["salesforce"]["warnings"][0] == {"field": "", "message": (
        "not enriched: Koji's API answered 307, a redirect, which the connector does not follow "
        "(check KOJI_API_BASE_URL), so only the webhook's own values were used")}


def test_a_redirect_loop_is_refused_at_its_first_answer(koji):
    # Before: 30 hops of 0.2 s each, about 6 s with a timeout of 1 s (1.5 s hops with
    # HTTP_TIMEOUT_SECONDS=2 took 46.6 s: past gunicorn's worker timeout, a 500).
    koji.redirect_next(302, koji.base_url, times=40)
    koji.delay = 0.2
    started = time.monotonic()
    with pytest.raises(KojiRefused) as caught:
        fetch_interview("int_1", settings_for(koji, timeout=1))
    assert caught.value.status == 302 and len(koji.requests) == 1
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("interview_id", ["", ".", ".."])
def test_an_id_that_would_not_stay_one_path_segment_is_not_asked_for(koji, interview_id):
    # Before: quote() left the dots, and urllib3 resolved them: ".." asked GET /api/v1/ and "."
    # GET /api/v1/interviews/, with the Bearer key.
    with pytest.raises(KojiRefused) as caught:
        fetch_interview(interview_id, settings_for(koji))
    assert [request["path"] for request in koji.requests] == []
    assert str(caught.value) == caught.value.reason == (
        "the interview id cannot be one segment of Koji's API path and was not asked for")


@pytest.mark.parametrize("interview_id", [".", ".."])
def test_an_id_that_is_not_asked_for_is_answered_from_the_webhooks_own_data(koji, interview_id):
    answer = answer_enriched_from(koji, interview_id)
    assert [request["path"] for request in koji.requests] == []
    assert (answer["action"], answer["skip_reason"]) == ("skip", "anonymous")
    assert answer["salesforce"]["warnings"][0] == {"field": "", "message": (  # the id is not quoted
        "not enriched: the interview id cannot be one segment of Koji's API path and was not asked for, "
        "so only the webhook's own values were used")}
