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
    (TOKEN, {"channel": "#koji-insights", "blocks": "not json"}, "invalid_blocks_format"),
])
def test_refusals_are_http_200_with_slacks_error(slack, token, params, error):
    response = post(slack, token, **params)
    assert (response.status_code, response.json()) == (200, {"ok": False, "error": error})
    assert slack.posts == []


def text(value, type="mrkdwn"):
    return {"type": type, "text": value}


def button(label="Open", url="https://app.koji.so/t/1", **extra):
    return {"type": "button", **({"text": text(label, "plain_text")} if label is not None else {}),
            "url": url, **extra}


def section(value="ok", **extra):
    return {"type": "section", "text": text(value), **extra}


def context(*values):
    return {"type": "context", "elements": [text(v) for v in values]}


def actions(*elements):
    return {"type": "actions", "elements": list(elements)}


def header(value, type="plain_text"):
    return {"type": "header", "text": text(value, type)}


# Each case: blocks one step past a Block Kit limit, and the error Slack gives for it.
INVALID_BLOCKS = [
    ([{"type": "divider"}] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
    ([{"text": text("x")}], "missing required field: type [json-pointer:/blocks/0]"),
    ([{"type": "carousel"}], "failed to match all allowed schemas [json-pointer:/blocks/0]"),
    ([{"type": "divider", "block_id": "b" * 256}],
     "must be less than 256 characters [json-pointer:/blocks/0/block_id]"),
    ([section("x" * 3001)], "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"),
    ([section("")], "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
    ([section(), {"type": "section", "text": {"type": "markdown", "text": "x"}}],
     "failed to match all allowed schemas [json-pointer:/blocks/1/text]"),
    ([{"type": "section"}], "missing required field: text [json-pointer:/blocks/0]"),
    ([{"type": "section", "fields": [text("f")] * 11}],
     "no more than 10 items allowed [json-pointer:/blocks/0/fields]"),
    ([{"type": "section", "fields": [text("f"), text("x" * 2001)]}],
     "must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]"),
    ([{"type": "section", "fields": [text("f"), {"type": "button", "text": "f"}]}],
     "failed to match all allowed schemas [json-pointer:/blocks/0/fields/1]"),
    ([header("x" * 151)], "must be less than 151 characters [json-pointer:/blocks/0/text/text]"),
    ([header("")], "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
    ([header("Title", "mrkdwn")], "failed to match all allowed schemas [json-pointer:/blocks/0/text]"),
    ([context(*["c"] * 11)], "no more than 10 items allowed [json-pointer:/blocks/0/elements]"),
    ([context("c", "x" * 3001)], "must be less than 3001 characters [json-pointer:/blocks/0/elements/1/text]"),
    ([{"type": "context", "elements": [{"type": "rich_text", "text": "c"}]}],
     "failed to match all allowed schemas [json-pointer:/blocks/0/elements/0]"),
    ([actions(*[button()] * 26)], "no more than 25 items allowed [json-pointer:/blocks/0/elements]"),
    ([actions(button("x" * 76))], "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"),
    ([actions(button(None))], "missing required field: text [json-pointer:/blocks/0/elements/0]"),
    ([actions(button(), {**button(), "text": text("Open", "mrkdwn")})],
     "failed to match all allowed schemas [json-pointer:/blocks/0/elements/1/text]"),
    ([actions(button(url="https://x.example/" + "a" * 2983))],
     "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"),
    ([actions(button(url="https://x.example/a b"))], "must be a valid URL [json-pointer:/blocks/0/elements/0/url]"),
    ([section(accessory=button("x" * 76))],
     "must be less than 76 characters [json-pointer:/blocks/0/accessory/text/text]"),
]


@pytest.mark.parametrize(("blocks", "why"), INVALID_BLOCKS)
def test_blocks_past_a_limit_are_invalid_blocks_with_slacks_errors(slack, blocks, why):
    response = post(slack, channel="#koji-insights", text="fallback", blocks=blocks)
    assert (response.status_code, response.json()) == (200, {
        "ok": False, "error": "invalid_blocks", "errors": [why], "response_metadata": {"messages": [f"[ERROR] {why}"]}})
    assert slack.posts == []


IMAGE = {"type": "image", "image_url": "https://x.example/i.png", "alt_text": "i"}


def test_blocks_at_every_limit_are_taken(slack):
    blocks = [
        {"type": "header", "block_id": "h" * 255, "text": text("x" * 150, "plain_text")},
        section("x" * 3000, accessory=button("x" * 75)),
        {"type": "section", "fields": [text("x" * 2000)] * 10},
        {"type": "context", "elements": [text("x" * 3000)] * 9 + [IMAGE]},
        actions(*[button(url="https://x.example/" + "a" * 2982)] + [button()] * 24),
        *[{"type": "divider"}] * 45,
    ]
    assert len(blocks) == 50
    response = post(slack, channel="#koji-insights", text="x" * 40_000, blocks=blocks)
    assert response.json()["ok"] is True, response.json()
    assert len(slack.posts) == 1


def test_every_broken_block_is_named(slack):
    blocks = [section(""), {"type": "divider"}, header("x" * 151)]
    assert post(slack, channel="#koji-insights", text="t", blocks=blocks).json()["errors"] == [
        "must be more than 0 characters [json-pointer:/blocks/0/text/text]",
        "must be less than 151 characters [json-pointer:/blocks/2/text/text]"]


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
