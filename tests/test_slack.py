import json

import pytest
import requests
from hypothesis import given, settings, strategies as st

from connector.mapping import map_to_salesforce
from connector.profile_file import load_profile
from tests.mapping_cases import CASES, DEFAULT, EXAMPLES, load_case
from connector.slack import MAX_HEADER, MAX_SECTION, MAX_TEXT, build_slack_message, escape_mrkdwn
from tests.fakes.slack import FakeSlack


def slack_for(answer: dict, profile=DEFAULT) -> dict:
    return build_slack_message(answer, map_to_salesforce(answer, profile), profile)


def interview(**overrides) -> dict:
    answer = {"action": "update_contact", "skip_reason": None, "reason": "Identified respondent.",
              "event": {"type": "interview.analysis_ready", "key": "k", "occurred_at": None, "test": False},
              "interview": {"id": "i1", "quality_score": 4.0, "transcript_url": "https://app.koji.so/t/1"},
              "respondent": {"email": "ann@example.com", "name": "Ann"},
              "analysis": {"themes": ["pricing"], "sentiment": "positive", "quote": "Great tool."},
              "study": None, "report": None}
    answer.update(overrides)
    return answer


@pytest.mark.parametrize("name", CASES)
def test_golden_slack_block(name):
    answer, expected = load_case(name)
    assert build_slack_message(answer, expected["salesforce"], DEFAULT) == expected["slack"]


def all_texts(message: dict) -> list[str]:
    texts = []
    for block in message["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else []
        texts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text", ""), str)]
        texts += [f["text"] for f in block.get("fields", [])]
    return texts


def assert_within_slack_limits(message: dict) -> None:
    assert len(message["blocks"]) <= 50
    assert len(message["text"]) <= MAX_TEXT
    for block in message["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER
        if block["type"] == "section" and "text" in block:
            assert 0 < len(block["text"]["text"]) <= MAX_SECTION


@pytest.fixture(scope="module")
def slack():
    with FakeSlack() as fake:
        yield fake


@pytest.mark.parametrize("name", CASES)
def test_fake_slack_accepts_every_golden_message(slack, name):
    slack_block = load_case(name)[1]["slack"]
    for message in ([slack_block] if slack_block["post"] else []) + [slack_block["contact_not_found"]]:
        reply = requests.post(slack.base_url + "/api/chat.postMessage", timeout=5,
                              headers={"Authorization": f"Bearer {slack.token}"},
                              json={"channel": "C0KOJI0001", "text": message["text"], "blocks": message["blocks"]})
        assert reply.json()["ok"], reply.json()


@pytest.mark.parametrize(("skip_reason", "post"), [
    ("anonymous", False), ("duplicate", False), ("not_mapped", False),
    ("below_quality_threshold", True), ("failed_quality_gate", True),
])
def test_which_skips_are_worth_telling(skip_reason, post):
    message = slack_for(interview(action="skip", skip_reason=skip_reason, reason="Quality score 2 is below 3."))
    assert message["post"] is post
    if post:
        assert message["blocks"][0]["text"]["text"].startswith(":warning: Not written")
        assert "Quality score 2 is below 3." in message["text"]


def test_updated_contact_tells_quote_themes_sentiment_quality_and_link():
    message = slack_for(interview())
    body = message["blocks"][1]["text"]["text"]
    assert "> Great tool." in body and "pricing" in body and "positive" in body and "4.0/5" in body
    assert message["blocks"][-1]["elements"][0]["url"] == "https://app.koji.so/t/1"
    assert message["post"] is True


def test_negative_sentiment_is_flagged():
    message = slack_for(interview(analysis={"sentiment": "Negative", "themes": [], "quote": "Bad."}))
    assert message["blocks"][0]["text"]["text"].startswith(":rotating_light:")


def test_study_published_notice():
    message = slack_for(interview(action="notify", event={"type": "study.published", "key": "s", "test": False},
                                  study={"id": "s1", "title": "Churn <study>", "url": "https://app.koji.so/s/1"}))
    assert message["post"] and "*Churn &lt;study&gt;* is now live" in message["blocks"][1]["text"]["text"]


def test_user_text_is_escaped_so_it_cannot_ping_or_link():
    quote = "<!channel> see <https://evil.example|your bank> & more"
    message = slack_for(interview(analysis={"quote": quote, "themes": ["<@U123>"], "sentiment": None}))
    text = " ".join(all_texts(message))
    assert "<!channel>" not in text and "<https://evil" not in text and "<@U123>" not in text
    assert escape_mrkdwn(quote) in text


def test_contact_not_found_variant_names_the_strategy_not_the_email():
    message = slack_for(interview())["contact_not_found"]
    assert "*email*" in message["blocks"][1]["text"]["text"]
    assert "ann@example.com" not in json.dumps(message)


def test_the_kept_newer_variant_says_nothing_was_written_and_shows_the_same_interview():
    # Found by two audits: when the Contact holds a later interview the chain writes nothing,
    # yet the only message it had to post said "Salesforce Contact updated".
    built = slack_for(interview(interview={"id": "i1", "quality_score": 4.0, "completed_at": "2026-04-16T10:22:55Z"}))
    kept = built["kept_newer"]
    assert built["text"].startswith(":speech_balloon: Salesforce Contact updated: Ann")
    assert kept["text"].startswith(":information_source: Not written (the Contact holds a later interview): Ann")
    assert "updated" not in kept["text"] and "updated" not in json.dumps(kept["blocks"])
    assert kept["blocks"][1:] == built["blocks"][1:]  # the same words, facts, context and button
    negative = slack_for(interview(analysis={"themes": [], "sentiment": "negative", "quote": "Too slow."},
                                   interview={"id": "i1", "completed_at": "2026-04-16T10:22:55Z"}))
    assert negative["kept_newer"]["text"].startswith(":rotating_light: Negative interview, not written")


@pytest.mark.parametrize("overrides", [
    {"action": "notify"}, {"action": "skip", "skip_reason": "below_quality_threshold"},
    {"interview": {"id": "i1", "completed_at": None}},  # no time: keep_newer is null, nothing to compare
])
def test_there_is_no_kept_newer_variant_where_the_chain_has_no_such_branch(overrides):
    assert slack_for(interview(**overrides))["kept_newer"] is None


def test_profile_templates_replace_the_wording():
    profile = load_profile(EXAMPLES / "slack-templates.yaml")
    message = slack_for(interview(respondent={"name": "Ann", "company": "A&B"}), profile)
    assert message["blocks"][1]["text"]["text"] == "In their words:\n> Great tool.\nThemes: pricing"


REPORT = interview(action="notify", event={"type": "report.generated", "key": "r", "test": False},
                   report={"title": "Q2 churn drivers", "summary": "Pricing leads.", "metrics": {}, "url": None})


@pytest.mark.parametrize(("answer", "in_the_header"), [
    (interview(respondent={"name": "Ann", "company": "A&B"}), [":speech_balloon:", "Ann", "A&B", "A&amp;B"]),
    (REPORT, [":bar_chart:", "Q2 churn drivers"]),
])
def test_the_example_templates_do_not_repeat_the_header(answer, in_the_header):
    message = slack_for(answer, load_profile(EXAMPLES / "slack-templates.yaml"))
    header, body = message["blocks"][0]["text"]["text"], message["blocks"][1]["text"]["text"]
    assert all(part in header for part in in_the_header if "&amp;" not in part)
    assert [part for part in in_the_header if part in body] == []


def profile_from(directory, yaml_text: str):
    """A profile of `yaml_text` after the version and one action."""
    path = directory / "profile.yaml"
    path.write_text("version: 1\nactions: {interview.analysis_ready: update_contact}\n" + yaml_text)
    return load_profile(path)


def profile_with(directory, updated_contact: str):
    """A profile whose `updated_contact` template is the one given (JSON is YAML's double-quoted
    string, so the template keeps its own line breaks)."""
    return profile_from(directory, f"slack:\n  templates:\n    updated_contact: {json.dumps(updated_contact)}\n")


@pytest.mark.parametrize("template", [
    "{{ respondent.attributes.plan }}",  # a name this event lacks
    '{{ "" | compact: 0 }}',  # python-liquid's compact on text raises IndexError, not a Liquid error: it was a 500
])
def test_a_template_that_fails_on_an_event_falls_back_to_the_built_in(tmp_path, template):
    message = slack_for(interview(), profile_with(tmp_path, template))
    assert "> Great tool." in message["blocks"][1]["text"]["text"]


HOSTILE_KEY = "<!channel> <https://evil.example|Click>"


# Every way python-liquid reaches an object's keys without naming them: a for loop and
# `.first` read items(); join, sort, sort_natural and compact iterate the object.
@pytest.mark.parametrize(("template", "body"), [
    ("{% for a in respondent.attributes %}{{ a[0] }}: {{ a[1] }}{% endfor %}",
     "&lt;!channel&gt; &lt;https://evil.example|Click&gt;: &lt;!here&gt;"),
    ("{{ respondent.attributes.first[0] }}", "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"),
    ("{{ respondent.attributes.first }}", "('&lt;!channel&gt; &lt;https://evil.example|Click&gt;', '&lt;!here&gt;')"),
    ("{{ respondent.attributes | join: ', ' }}", "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"),
    ("{{ respondent.attributes | sort | first }}", "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"),
    ("{{ respondent.attributes | sort_natural | last }}", "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"),
    ("{{ respondent.attributes | compact | join }}", "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"),
    ("{% for a in interview.metadata %}{% for b in a[1] %}{{ b[0] }}={{ b[1] | join: ',' }}{% endfor %}{% endfor %}",
     "&lt;@U123&gt;=&lt;!here&gt;,&lt;!everyone&gt;"),
])
def test_keys_a_template_reaches_are_escaped_like_values(tmp_path, template, body):
    metadata = {"team": {"<@U123>": ["<!here>", "<!everyone>"]}}
    answer = interview(respondent={"name": "Ann", "attributes": {HOSTILE_KEY: "<!here>"}},
                       interview={"id": "i1", "quality_score": 4.0, "metadata": metadata})
    message = slack_for(answer, profile_with(tmp_path, template))
    assert message["blocks"][1]["text"]["text"] == body
    # Ordinary keys and values read the same as before.
    ordinary = interview(respondent={"name": "Ann", "attributes": {"plan": "Pro & Co"}})
    listing = profile_with(tmp_path, "{% for a in respondent.attributes %}{{ a[0] }}: {{ a[1] }}{% endfor %}")
    assert slack_for(ordinary, listing)["blocks"][1]["text"]["text"] == "plan: Pro &amp; Co"


def test_an_object_printed_whole_reads_as_a_plain_object_shown(tmp_path):
    # Before: "<connector.slack._ShownMapping object at 0x7f…>", this module's class in the message.
    answer = interview(respondent={"name": "Ann", "attributes": {HOSTILE_KEY: {"plan": "<!here>"}}})
    body = slack_for(answer, profile_with(tmp_path, "{{ respondent.attributes }}"))["blocks"][1]["text"]["text"]
    assert body == "{'&lt;!channel&gt; &lt;https://evil.example|Click&gt;': {'plan': '&lt;!here&gt;'}}"


@pytest.fixture(scope="module")
def listing_profile(tmp_path_factory):
    return profile_with(tmp_path_factory.mktemp("profile"),
                        "Attributes:{% for a in respondent.attributes %} {{ a[0] }}={{ a[1] }}{% endfor %}")


@settings(max_examples=60, deadline=None)
@given(attributes=st.dictionaries(st.text(max_size=40), st.text(max_size=40), max_size=5))
def test_nothing_of_an_object_reaches_a_template_raw(listing_profile, attributes):
    body = slack_for(interview(respondent={"name": "Ann", "attributes": attributes}),
                     listing_profile)["blocks"][1]["text"]["text"]
    assert body.startswith("Attributes:")  # the profile's template, not the built-in one
    assert "<" not in body and ">" not in body and len(body.splitlines()) == 1


@settings(max_examples=40, deadline=None)
@given(quote=st.text(max_size=9000), themes=st.lists(st.text(max_size=300), max_size=60),
       name=st.text(max_size=400), metrics=st.dictionaries(st.text(max_size=50), st.text(max_size=3000), max_size=30))
def test_messages_stay_within_slack_limits(quote, themes, name, metrics):
    answer = interview(respondent={"name": name}, analysis={"quote": quote, "themes": themes, "sentiment": None})
    assert_within_slack_limits(slack_for(answer))
    assert_within_slack_limits(slack_for(answer)["contact_not_found"])
    report = interview(action="notify", event={"type": "report.generated", "key": "r", "test": False},
                       report={"title": name, "summary": quote, "metrics": metrics, "url": None})
    message = slack_for(report)
    assert_within_slack_limits(message)
    assert all(len(f["text"]) <= 2000 for b in message["blocks"] for f in b.get("fields", []))


# -- the built-in messages are rendered in Python on the hot path: same text as the Liquid ones

def _variants(answer: dict) -> list[dict]:
    """The golden answer plus the edge cases each template branches on."""
    emptied = json.loads(json.dumps(answer))
    emptied["analysis"].update(sentiment=None, themes=[], quote=None)
    emptied["interview"]["quality_score"] = None
    emptied["reason"] = ""
    odd = json.loads(json.dumps(answer))
    odd["analysis"].update(sentiment="Negative", themes=["a & b", "<x>"], quote="Line one\nline <two>")
    odd["interview"]["quality_score"] = 4.0
    odd["report"] = {"summary": "S > T", "title": None}
    odd["study"] = {"title": ""}
    broken = json.loads(json.dumps(odd))  # line breaks: folded, but in the quote
    broken["analysis"].update(sentiment="Negative\r\n*Quality:* 5/5", themes=["a\n> b", "c\u2028d"],
                              quote="One\r\ntwo\u2029three\x85four\n\nfive")
    broken["reason"] = "Why\vnot"
    broken["report"] = {"summary": "S\n\nT", "title": None}
    broken["study"] = {"title": "A\fB"}
    return [answer, emptied, odd, broken]


@pytest.mark.parametrize("case", CASES)
def test_python_built_ins_match_the_liquid_reference(case):
    from connector.slack import _DEFAULTS, BUILT_IN, built_in_values, template_context
    answer, _ = load_case(case)
    for variant in _variants(answer):
        salesforce_block = map_to_salesforce(variant, DEFAULT)
        context, values = template_context(variant, salesforce_block), built_in_values(variant, salesforce_block)
        for name, render in BUILT_IN.items():
            built_in, reference = render(values).strip(), _DEFAULTS[name].render(**context).strip()
            if len(reference) <= MAX_SECTION:
                assert built_in == reference, (case, name)
            else:  # the built-in cuts the quote, so the facts after it stay (the section's limit)
                assert _cut_quote_keeps_the_rest(built_in, reference), (case, name)


def _cut_quote_keeps_the_rest(built_in: str, reference: str) -> bool:
    facts = reference[reference.rindex("*Sentiment:*"):]
    head = built_in[:built_in.index("\u2026")] if "\u2026" in built_in else built_in
    return (len(built_in) <= MAX_SECTION and built_in.endswith("\n" + facts)
            and reference.startswith(head.rstrip()))


def test_a_long_quote_leaves_sentiment_quality_and_themes_in_the_section():
    # Found by a security audit: the section was cut at 3,000 characters after the quote, so a
    # long quote (a Long Text Area holds 4,000) took the facts with it.
    answer = interview(analysis={"quote": "word " * 700, "sentiment": "negative", "themes": ["pricing"]},
                       interview={"id": "i1", "quality_score": 4.0})
    for message in (slack_for(answer), slack_for(answer)["contact_not_found"]):
        [body] = [block["text"]["text"] for block in message["blocks"] if block["type"] == "section"]
        assert len(body) <= MAX_SECTION and "> word word" in body and body.count("\u2026") == 1
        assert body.endswith("*Sentiment:* negative   *Quality:* 4.0/5\n*Themes:* pricing")


def test_the_fallback_text_escapes_names_and_titles_too():
    # `text` is mrkdwn (the notification and what the n8n workflow posts); the header is plain_text.
    answer = interview(respondent={"name": "<!channel> Mallory & Co", "company": "<!here>"},
                       interview={"id": "i1", "quality_score": 4.0, "study_title": "<https://evil.example|Click>"})
    for message in (slack_for(answer), slack_for(answer)["contact_not_found"]):
        assert "<!channel>" not in message["text"] and "<!here>" not in message["text"]
        assert "<https://evil" not in message["text"]
        assert "&lt;!channel&gt; Mallory &amp; Co (&lt;!here&gt;)" in message["text"]
        assert message["blocks"][0]["text"]["text"].startswith(":")  # the header keeps the plain words
        assert "<!channel> Mallory & Co" in message["blocks"][0]["text"]["text"]


# Every line break str.splitlines() knows: a Slack client may draw any of them as a new line.
LINE_BREAKS = ["\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("line_break", LINE_BREAKS)
def test_a_line_break_in_the_quote_cannot_end_the_blockquote(line_break):
    message = slack_for(interview(analysis={"quote": f"Fine.{line_break}*Sentiment:* positive", "themes": [],
                                            "sentiment": "negative"}))
    body = message["blocks"][1]["text"]["text"]
    assert body.startswith("> Fine.\n> *Sentiment:* positive\n*Sentiment:* negative")


def _study(title: str) -> dict:
    return interview(action="notify", event={"type": "study.published", "key": "s", "test": False},
                     study={"id": "s1", "title": title, "url": None})


def _report(**report) -> dict:
    return interview(action="notify", event={"type": "report.generated", "key": "r", "test": False},
                     report={"title": "Q2", "summary": "Pricing leads.", "metrics": {}, "url": None, **report})


# (where, answer with the value there, what the value's second line pretends to be)
FORGERIES = [
    ("sentiment", lambda v: interview(analysis={"sentiment": v, "themes": [], "quote": None}),
     "negative", "*Quality:* 5/5 :white_check_mark:"),
    ("theme", lambda v: interview(analysis={"sentiment": None, "themes": [v], "quote": None}),
     "pricing", "> fake quote line"),
    ("name", lambda v: interview(respondent={"name": v}), "Bob", "*Sentiment:* positive"),
    ("company", lambda v: interview(respondent={"name": "Ann", "company": v}), "Acme", "*Themes:* none"),
    ("study title", lambda v: interview(interview={"id": "i1", "quality_score": 4.0, "study_title": v}),
     "Churn", "> They love it."),
    ("study.published title", lambda v: _study(v), "Churn", "*Sentiment:* positive"),
    ("report title", lambda v: _report(title=v), "Q2", ":rotating_light: Negative interview"),
    ("report summary", lambda v: _report(summary=v), "Pricing leads.", "*Quality:* 5/5"),
    ("metric", lambda v: _report(metrics={v: 3}), "interviews", "*Quality:* 5/5"),
]


@pytest.mark.parametrize("line_break", LINE_BREAKS)
@pytest.mark.parametrize(("where", "answer_with", "ordinary", "forged"), FORGERIES, ids=[f[0] for f in FORGERIES])
def test_a_line_break_outside_the_quote_cannot_start_a_line(where, answer_with, ordinary, forged, line_break):
    forged += " (forged)"  # the connector writes some of these lines itself
    built = slack_for(answer_with(f"{ordinary}{line_break}{forged}"))
    for message in (built, built["contact_not_found"]):
        texts = [message["text"], *all_texts(message)]
        lines = [line.lower() for text in texts for line in text.splitlines()]
        for shown in (forged, escape_mrkdwn(forged)):
            assert not any(line.startswith(shown.lower()) for line in lines), (where, texts)
    # The value is all there, on one line.
    assert escape_mrkdwn(f"{ordinary} {forged}").lower() in " ".join([built["text"], *all_texts(built)]).lower()
    ordinary_only = slack_for(answer_with(ordinary))
    assert escape_mrkdwn(ordinary).lower() in " ".join(all_texts(ordinary_only)).lower()


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=60), company=st.text(max_size=60), study_title=st.text(max_size=60),
       sentiment=st.text(max_size=60), themes=st.lists(st.text(max_size=40), max_size=4))
def test_the_built_in_lines_are_always_the_connectors_own(name, company, study_title, sentiment, themes):
    answer = interview(respondent={"name": name, "company": company},
                       interview={"id": "i1", "quality_score": 4.0, "study_title": study_title},
                       analysis={"sentiment": sentiment, "themes": themes, "quote": None})
    message = slack_for(answer)
    body_lines = message["blocks"][1]["text"]["text"].splitlines()
    assert [line.split(":*")[0] for line in body_lines] == ["*Sentiment", "*Themes"]
    assert len(message["text"].splitlines()) == 3 and len(message["blocks"][0]["text"]["text"].splitlines()) == 1


def test_a_profile_template_keeps_its_own_lines_and_folds_the_respondents(tmp_path):
    template = ("Who: {{ respondent.name }}\n{{ analysis.quote | blockquote }}\n"
                "Themes: {{ analysis.themes | join: ', ' }}")
    answer = interview(respondent={"name": "Bob\n*Sentiment:* positive"},
                       analysis={"quote": "Fine.\u2028*Sentiment:* positive", "themes": ["a\u2029> fake"],
                                 "sentiment": "negative"})
    body = slack_for(answer, profile_with(tmp_path, template))["blocks"][1]["text"]["text"]
    assert body == "Who: Bob *Sentiment:* positive\n> Fine.\n> *Sentiment:* positive\nThemes: a &gt; fake"


def test_a_transcript_url_slack_would_refuse_gets_no_button(slack):
    for url in ["https://x.example/a b", "http://[::1", "javascript:alert(1)", "https://ev\x00il.example/x",
                "https://x.example/\x7f", "https://x.example/\x9b"]:
        message = slack_for(interview(interview={"id": "i1", "quality_score": 4.0, "transcript_url": url}))
        assert all(block["type"] != "actions" for block in message["blocks"]), url
        response = requests.post(slack.base_url + "/api/chat.postMessage", headers={"Authorization": f"Bearer {slack.token}"},
                                 json={"channel": "C0KOJI0001", "text": message["text"], "blocks": message["blocks"]},
                                 timeout=10)
        assert response.json()["ok"], response.json()


def test_the_fake_slack_refuses_a_button_url_with_a_space(slack):
    blocks = [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"},
                                                "url": "https://x.example/a b"}]}]
    response = requests.post(slack.base_url + "/api/chat.postMessage", headers={"Authorization": f"Bearer {slack.token}"},
                             json={"channel": "C0KOJI0001", "text": "t", "blocks": blocks}, timeout=10)
    assert (response.json()["ok"], response.json()["error"]) == (False, "invalid_blocks")


# -- pinned by mutation testing: behaviour no test above held in place --------------------------

def _button(message: dict) -> dict | None:
    actions = [block for block in message["blocks"] if block["type"] == "actions"]
    return actions[0]["elements"][0] if actions else None


def test_a_study_published_message_names_the_event_and_opens_the_study():
    message = slack_for(interview(action="notify", event={"type": "study.published", "key": "s", "test": False},
                                  study={"id": "s1", "title": "Churn", "url": "https://app.koji.so/s/1"}))
    assert message["blocks"][0]["text"]["text"] == ":rocket: Koji study published"
    assert _button(message) == {"type": "button", "text": {"type": "plain_text", "text": "Open study"},
                                "url": "https://app.koji.so/s/1"}


def test_a_report_without_a_title_is_still_named():
    message = slack_for(_report(title=None))
    assert message["blocks"][0]["text"]["text"] == ":bar_chart: Koji report generated"


def test_an_interview_that_is_only_told_is_a_new_interview_not_an_update():
    message = slack_for(interview(action="notify"))
    assert message["blocks"][0]["text"]["text"] == ":speech_balloon: New Koji interview: Ann · Koji interview"


def test_a_skipped_interview_still_names_it_and_links_its_transcript():
    message = slack_for(interview(action="skip", skip_reason="below_quality_threshold", reason="Too short."))
    assert {"type": "context", "elements": [{"type": "mrkdwn", "text": "Interview `i1`"}]} in message["blocks"]
    assert _button(message)["url"] == "https://app.koji.so/t/1"


@pytest.mark.parametrize(("name", "answer"), [
    ("report", REPORT),
    ("study", _study("Churn")),
    ("skipped", interview(action="skip", skip_reason="below_quality_threshold", reason="Too short.")),
])
def test_each_message_takes_the_profiles_template(tmp_path, name, answer):
    profile = profile_from(tmp_path, f"slack:\n  templates:\n    {name}: 'Own words for {{{{ event.type }}}}'\n")
    body = slack_for(answer, profile)["blocks"][1]["text"]["text"]
    assert body == f"Own words for {answer['event']['type']}"


def test_the_contact_not_found_template_reads_the_lookups_tried(tmp_path):
    profile = profile_from(tmp_path, "slack:\n  templates:\n    contact_not_found: "
                                     "'Tried {{ salesforce.lookups | map: \"strategy\" | join: \" then \" }}'\n")
    answer = interview(respondent={"name": "Ann", "email": "ann@example.com",
                                   "salesforce_contact_id": "0035g0000000001"})
    assert slack_for(answer, profile)["contact_not_found"]["blocks"][1]["text"]["text"] == (
        "Tried contact_id then email")


def test_a_template_that_renders_nothing_leaves_no_empty_section(tmp_path):
    # Slack refuses a section without text; the notification is the title alone.
    message = slack_for(interview(), profile_with(tmp_path, "{% if false %}never{% endif %}"))
    assert [block["type"] for block in message["blocks"]] == ["header", "context", "actions"]
    assert message["text"] == ":speech_balloon: Salesforce Contact updated: Ann · Koji interview"


def test_the_transcript_button_opens_the_link_written_to_the_contact(tmp_path):
    profile = profile_from(tmp_path, "fields:\n  - name: Transcript_URL__c\n    type: url\n"
                                     "    source: respondent.attributes.recording\n")
    answer = interview(respondent={"name": "Ann", "attributes": {"recording": "https://rec.example/1"}})
    assert _button(slack_for(answer, profile))["url"] == "https://rec.example/1"


def test_a_transcript_link_too_long_for_the_salesforce_field_still_gets_a_button():
    url = "https://app.koji.so/t/" + "a" * 300
    answer = interview(interview={"id": "i1", "quality_score": 4.0, "transcript_url": url})
    block = map_to_salesforce(answer, DEFAULT)
    assert "Transcript_URL__c" not in block["fields"]
    assert _button(build_slack_message(answer, block, DEFAULT))["url"] == url


def test_a_button_takes_a_url_of_up_to_3000_characters():
    url = "https://app.koji.so/t/" + "a" * (3000 - len("https://app.koji.so/t/"))
    for transcript_url, button in [(url, True), (url + "a", False)]:
        answer = interview(interview={"id": "i1", "quality_score": 4.0, "transcript_url": transcript_url})
        assert (_button(slack_for(answer)) is not None) is button


def test_a_report_shows_at_most_ten_metrics_and_no_empty_fields_section():
    message = slack_for(_report(metrics={f"metric {n}": n for n in range(12)}))
    [fields] = [block["fields"] for block in message["blocks"] if "fields" in block]
    assert [field["text"] for field in fields] == [f"*metric {n}*\n{n}" for n in range(10)]
    assert all("fields" not in block for block in slack_for(_report(metrics={}))["blocks"])
