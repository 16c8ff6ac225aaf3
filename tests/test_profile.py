from pathlib import Path

import pytest

from connector.profile import EVENT_TYPES, ProfileError, load_profile

EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("examples", "profiles").glob("*.yaml"))


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_profile_is_the_koji_recipe():
    profile = load_profile(None)
    assert profile.quality_threshold == 3
    assert set(profile.actions) == set(EVENT_TYPES)
    assert profile.lookup_order == ["contact_id", "email"]
    specs = {spec.name: spec for spec in profile.all_fields}
    assert list(specs) == ["Latest_Customer_Quote__c", "Interview_Themes__c", "Interview_Sentiment__c",
                           "Interview_Quality_Score__c", "Transcript_URL__c", "Last_Koji_Interview_At__c"]
    assert (specs["Latest_Customer_Quote__c"].type, specs["Latest_Customer_Quote__c"].length) == ("textarea", 4000)
    assert (specs["Interview_Themes__c"].type, specs["Interview_Themes__c"].length) == ("text", 255)
    assert specs["Interview_Sentiment__c"].values == ["positive", "neutral", "negative"]
    assert (specs["Interview_Quality_Score__c"].precision, specs["Interview_Quality_Score__c"].scale) == (1, 0)
    assert (specs["Transcript_URL__c"].type, specs["Transcript_URL__c"].length) == ("url", 255)
    assert specs["Last_Koji_Interview_At__c"].source == ["interview.completed_at", "event.occurred_at"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_profile_loads(path):
    profile = load_profile(path)
    assert profile.actions and profile.lookup_order


def test_examples_cover_every_feature():
    profiles = {path.stem: load_profile(path) for path in EXAMPLES}
    structured = profiles["structured-answers"].all_fields
    assert {spec.question_type for spec in structured} == {
        "scale", "yes_no", "single_choice", "multiple_choice", "ranking", "open_ended"}
    assert [s.name for s in profiles["survey-scores"].all_fields] == ["NPS_Score__c", "CSAT_Score__c",
                                                                     "Last_Survey_Date__c"]
    assert any(spec.template for spec in profiles["liquid-computed"].all_fields)
    assert profiles["slack-templates"].slack.template("updated_contact") is not None
    assert profiles["external-id-lookup"].lookup_order == ["contact_id", "external_id", "email"]
    assert profiles["external-id-lookup"].external_id_field == "Koji_External_Id__c"


BASE = "version: 1\nactions:\n  interview.completed: update_contact\n"


@pytest.mark.parametrize(("body", "line", "reason"), [
    ("fields:\n  - name: A__c\n    type: txt\n    source: analysis.quote\n", 6, "fields.0.type"),
    ("fields:\n  - name: A__c\n    type: text\n    length: 300\n    source: analysis.quote\n", 5, "at most 255"),
    ("fields:\n  - name: A__c\n    type: text\n    source: analysis.qoute\n", 7, "no key 'qoute'"),
    ("fields:\n  - name: A__c\n    type: text\n    template: '{{ respondent.emial }}'\n", 7, "no key 'emial'"),
    ("fields:\n  - name: A__c\n    type: text\n    template: '{{ analysis.quote | nofilter }}'\n", 7, "unknown filter"),
    ("fields:\n  - name: A__c\n    type: picklist\n    source: analysis.sentiment\n", 5, "needs its values"),
    ("fields:\n  - name: A__c\n    type: text\n", 5, "exactly one of"),
    ("fields:\n  - name: A__c\n    type: number\n    question_id: q\n    question_type: yes_no\n", 5,
     "checkbox field"),
    ("fields:\n  - name: 'bad name'\n    type: text\n    source: analysis.quote\n", 5, "fields.0.name"),
    ("lookup:\n  order: [external_id]\n", 4, "external_id_field"),
    ("lookup:\n  order: [phone]\n", 5, "lookup.order.0"),
    ("scores:\n  nps: {field: NPS__c}\n", 4, "question_id"),
    ("slack:\n  templates:\n    nope: 'x'\n", 6, "slack.templates.nope"),
    ("quality_threshold: 9\n", 4, "quality_threshold"),
    ("fields:\n  - {name: A__c, type: text, source: analysis.quote}\n  - {name: a__c, type: text, source: analysis.summary}\n",
     1, "mapped twice"),
    # Found by trying profiles as a user would: each of these loaded, and Salesforce (or the
    # reader) would have been surprised later.
    ("fields:\n  - name: A__c\n    type: text\n    type: number\n    source: analysis.quote\n", 7, "given twice"),
    ("fields:\n  - {name: N__c, type: number, min: 5, max: 1, source: interview.quality_score}\n", 5,
     "min is larger than max"),
    ("fields:\n  - {name: M__c, type: multipicklist, values: ['a;b', c], source: analysis.themes}\n", 5, "';'"),
    ("fields:\n  - {name: P__c, type: picklist, values: [a, ' '], source: analysis.sentiment}\n", 5, "empty"),
    ("fields:\n  - {name: P__c, type: picklist, values: [Good, good], source: analysis.sentiment}\n", 5, "twice"),
    ("fields:\n  - {name: B___c, type: text, source: analysis.quote}\n", 5, "fields.0.name"),
    ("fields:\n  - {name: B_, type: text, source: analysis.quote}\n", 5, "fields.0.name"),
    ("fields:\n  - {name: " + "L" * 41 + "__c, type: text, source: analysis.quote}\n", 5, "at most 40"),
])
def test_profile_errors_name_file_line_and_reason(tmp_path, body, line, reason):
    path = write(tmp_path, BASE + body)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message


def test_unknown_event_type_is_refused_on_its_line(tmp_path):
    path = write(tmp_path, "version: 1\nactions:\n  interview.completed: update_contact\n  interview.done: skip\n")
    with pytest.raises(ProfileError, match=r":4: actions\.interview\.done"):
        load_profile(path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, BASE + "fields: [\n  - oops\n")
    with pytest.raises(ProfileError, match=r"profile\.yaml:\d+: not valid YAML"):
        load_profile(path)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.yaml")
    with pytest.raises(ProfileError, match="YAML mapping"):
        load_profile(write(tmp_path, "- just a list\n"))


def test_type_aliases_from_salesforce_vocabulary(tmp_path):
    path = write(tmp_path, BASE + "fields:\n  - {name: A__c, type: Long Text Area, source: analysis.quote}\n"
                                  "  - {name: B__c, type: string, source: analysis.summary}\n")
    assert [spec.type for spec in load_profile(path).fields] == ["textarea", "text"]


def test_namespaced_and_standard_api_names_load(tmp_path):
    body = ("fields:\n  - {name: koji__Quote__c, type: text, source: analysis.quote}\n"
            "  - {name: Description, type: textarea, source: analysis.summary}\n"
            "  - {name: " + "L" * 40 + "__c, type: text, source: interview.id}\n")
    names = [spec.name for spec in load_profile(write(tmp_path, BASE + body)).all_fields]
    assert {"koji__Quote__c", "Description", "L" * 40 + "__c"} <= set(names)


@pytest.mark.parametrize("event_type", ["study.published", "report.generated"])
def test_an_event_without_a_respondent_cannot_update_a_contact(tmp_path, event_type):
    # It could only ever be skipped as anonymous, and its Slack summary lost without a word.
    path = write(tmp_path, f"version: 1\nactions:\n  interview.completed: update_contact\n  {event_type}: update_contact\n")
    with pytest.raises(ProfileError, match=f"{event_type} carry no respondent.*map them to notify"):
        load_profile(path)
