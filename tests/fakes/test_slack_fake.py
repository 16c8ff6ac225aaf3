"""The fake Slack refuses what Slack refuses; the proxy sends only slack.com to it."""
import pytest
import requests

from tests.fakes.https_proxy import InterceptingProxy
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-test-token"


@pytest.fixture
def slack():
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def post(slack, token=TOKEN, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(slack.base_url + "/api/chat.postMessage", json=params, headers=headers,
                         timeout=5)


@pytest.mark.parametrize(("token", "params", "error"), [
    (None, {"channel": "#koji-insights", "text": "hi"}, "not_authed"),
    ("xoxb-wrong", {"channel": "#koji-insights", "text": "hi"}, "invalid_auth"),
    (TOKEN, {"channel": "#nowhere", "text": "hi"}, "channel_not_found"),
    (TOKEN, {"channel": "#koji-insights"}, "no_text"),
    (TOKEN, {"channel": "#koji-insights", "text": "x" * 40_001}, "msg_too_long"),
    (TOKEN, {"channel": "#koji-insights", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
    (TOKEN, {"channel": "#koji-insights", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}, "invalid_blocks"),
    (TOKEN, {"channel": "#koji-insights", "blocks": "not json"}, "invalid_blocks_format"),
])
def test_refusals_are_http_200_with_slacks_error(slack, token, params, error):
    response = post(slack, token, **params)
    assert (response.status_code, response.json()) == (200, {"ok": False, "error": error})
    assert slack.posts == []


def test_a_post_by_name_or_id_is_recorded(slack):
    assert post(slack, channel="#koji-insights", text="a").json()["ok"] is True
    assert post(slack, channel="C0KOJI0001", text="b", blocks=[{"type": "divider"}]).json()["channel"] == "C0KOJI0001"
    assert [(p["channel"], p["text"]) for p in slack.posts] == [("C0KOJI0001", "a"), ("C0KOJI0001", "b")]


def test_form_token_and_auth_test(slack):
    answer = requests.post(slack.base_url + "/api/auth.test", data={"token": TOKEN}, timeout=5).json()
    assert answer["ok"] is True and answer["team"] == "Koji Test"


def test_fail_next_injects_http_and_slack_errors(slack):
    slack.fail_next(429)
    slack.fail_next(error="ratelimited", times=1)
    first = post(slack, channel="#koji-insights", text="a")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "1")
    assert post(slack, channel="#koji-insights", text="a").json() == {"ok": False, "error": "ratelimited"}
    assert post(slack, channel="#koji-insights", text="a").json()["ok"] is True


def test_proxy_sends_slack_com_to_the_fake_and_refuses_other_hosts(slack, tmp_path):
    with InterceptingProxy(tmp_path, {"slack.com": slack.port}) as proxy:
        proxies = {"https": proxy.url}
        answer = requests.post("https://slack.com/api/chat.postMessage", proxies=proxies,
                               verify=str(proxy.ca_pem), timeout=5,
                               json={"channel": "#koji-insights", "text": "via proxy"},
                               headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert answer["ok"] is True
        with pytest.raises(requests.exceptions.ProxyError):
            requests.get("https://example.com/", proxies=proxies, verify=str(proxy.ca_pem), timeout=5)
        assert proxy.connects == ["slack.com:443", "example.com:443"]
