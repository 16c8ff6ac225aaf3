import json
import time

import pytest

from connector.koji_api import (InterviewNotFound, KojiAnswerUnusable, KojiApiError, KojiAuthError, KojiNotConfigured,
                                KojiRefused, KojiUnavailable, MAX_ANSWER_BYTES, fetch_interview)
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


def test_the_id_is_quoted_into_one_path_segment(koji):
    assert fetch_interview("a/b", settings_for(koji)) == {"data": {"id": "a/b"}}
    assert koji.requests[0]["path"] == "/api/v1/interviews/a%2Fb"


def test_unknown_interview_is_not_found(koji):
    with pytest.raises(InterviewNotFound):
        fetch_interview("nope", settings_for(koji))


def test_wrong_key_is_an_auth_error_without_the_key(koji):
    with pytest.raises(KojiAuthError) as caught:
        fetch_interview("int_1", settings_for(koji, key="wrong-key-secret"))
    assert "wrong-key-secret" not in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_trouble_is_unavailable(koji, status):
    koji.fail_next(status)
    with pytest.raises(KojiUnavailable):
        fetch_interview("int_1", settings_for(koji))


def test_other_statuses_are_errors(koji):
    koji.fail_next(400)
    with pytest.raises(KojiApiError):
        fetch_interview("int_1", settings_for(koji))


def test_slow_api_times_out(koji):
    koji.delay = 0.5
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings_for(koji, timeout=0.1))
    assert caught.value.timeout is True


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
    assert caught.value.timeout is False


def test_no_key_configured(koji):
    with pytest.raises(KojiNotConfigured):
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
    "lone surrogate": (ANSWERED + b', "analysis": {"quote": "private words \\ud800"}}', "not valid JSON"),
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
    # past the quality threshold; a lone surrogate or 300 levels made orjson fail on the
    # answer after the event was claimed (500, then 409 on every retry); 3000 levels raised
    # RecursionError (500). Koji sends the same bytes on every retry: final, like a 404.
    koji.interviews["int_1"] = body
    with pytest.raises(KojiAnswerUnusable) as caught:
        fetch_interview("int_1", settings_for(koji))
    refusal = caught.value
    assert isinstance(refusal, KojiRefused) and refusal.status == 200
    assert why in refusal.reason and str(refusal) == refusal.reason
    assert "a@b.example" not in refusal.reason and "private" not in refusal.reason


def test_more_violations_than_shown_are_counted():
    body = {"id": 1.5, "quality_score": "1", "qualityScore": "2", "respondent_email": 3, "analysis": 4}
    with FakeKojiApi({"int_1": json.dumps(body).encode()}, api_key=KEY) as fake:
        with pytest.raises(KojiAnswerUnusable) as caught:
            fetch_interview("int_1", settings_for(fake))
    assert caught.value.reason.endswith("; 2 more)")


@pytest.mark.parametrize("body", [b"<html><body>Maintenance</body></html>", b"[1, 2]", b'"int_1"', b'{"id": "int_1",'])
def test_an_answer_that_is_not_a_json_object_may_pass(koji, body):
    # A proxy's error page, say: docs/design.md answers it 502, so Koji retries.
    koji.interviews["int_1"] = body
    with pytest.raises(KojiUnavailable) as caught:
        fetch_interview("int_1", settings_for(koji))
    assert not isinstance(caught.value, KojiRefused)


def test_integers_beyond_64_bits_stay_exact(koji):
    koji.interviews["int_1"] = b'{"id": "int_1", "metadata": {"crm_id": 123456789012345678901234567890}}'
    assert fetch_interview("int_1", settings_for(koji))["metadata"]["crm_id"] == 123456789012345678901234567890
