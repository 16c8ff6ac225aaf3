import pytest

from connector.koji_api import (InterviewNotFound, KojiApiError, KojiAuthError, KojiNotConfigured, KojiRefused,
                                KojiUnavailable, fetch_interview)
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
