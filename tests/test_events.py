"""Golden files: every documented payload shape → the normalized event.

Inputs are the seed payloads (connector/samples/, tests/fixtures/koji/); expected outputs
live in tests/fixtures/normalized/. Regenerate after a deliberate change with
`UPDATE_GOLDEN=1 pytest tests/test_events.py` and review the diff."""
import json
import os
import time
from datetime import timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import sample
from connector.events import NormalizedEvent, iso_utc, normalize, unreadable_values, unusable_timestamps
from connector.errors import ValidationFailed
from connector.validation import check

ROOT = Path(__file__).resolve().parent.parent
INPUTS = sorted([*ROOT.glob("connector/samples/*.json"), *ROOT.glob("tests/fixtures/koji/*.json")])
GOLDEN = ROOT / "tests/fixtures/normalized"


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_golden(path):
    payload = json.loads(path.read_text())
    schema = "koji-interview.schema.json" if path.stem == "interview.full" else "koji-webhook.schema.json"
    check(payload, schema)
    actual = normalize(payload, raw_body=path.read_bytes())
    expected_path = GOLDEN / f"{path.stem}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert actual == json.loads(expected_path.read_text())


def test_every_documented_place_for_the_email():
    places = [
        {"respondent": {"email": "a@x.io"}},
        {"participant": {"email": "a@x.io"}},
        {"respondent_email": "a@x.io"},
        {"email": "a@x.io"},
        {"respondent": {"attributes": {"email": "a@x.io"}}},
        {"metadata": {"email": "a@x.io"}},
    ]
    for data in places:
        event = normalize({"type": "interview.completed", "data": {"interview_id": "i", **data}})
        assert event["respondent"]["email"] == "a@x.io", data


@pytest.mark.parametrize("key", ["quote", "latest_customer_quote", "latestCustomerQuote", "customer_quote",
                                 "latestQuote", "pull_quote", "pullQuote", "representativeQuote", "key_quote",
                                 "customerQuote", "latest_quote", "keyQuote", "representative_quote"])
def test_every_name_of_the_quote(key):
    event = normalize({"type": "interview.analysis_ready", "data": {"interview_id": "i", key: " It works. "}})
    assert event["analysis"]["quote"] == "It works."


@pytest.mark.parametrize("sentiment, scores", [
    ({"overall": "negative", "by_theme": {"pricing": "negative"}}, {"pricing": "negative"}),
    ({"overall": "negative", "by_theme": [{"theme": "pricing", "sentiment": "negative"},
                                          {"name": "support", "score": 0.8}, {"sentiment": "positive"}]},
     {"pricing": "negative", "support": 0.8}),  # an item naming no theme cannot be placed
    ({"label": "neutral", "subScores": [{"theme": "pricing", "confidence": 0.4}]}, {"pricing": {"confidence": 0.4}}),
])
def test_per_theme_sentiment_as_an_object_or_a_list(sentiment, scores):
    event = normalize({"type": "interview.analysis_ready", "data": {"interview_id": "i", "sentiment": sentiment}})
    assert event["analysis"]["sentiment_scores"] == scores


def test_koji_verification_request_is_any_object_with_no_event_type_and_no_event_values():
    for payload in ({}, {"challenge": "c9a1"}, {"test": True, "webhook_id": "wh_1"}):
        event = normalize(payload, raw_body=json.dumps(payload).encode())
        assert (event["event"]["type"], event["event"]["test"]) == ("webhook.verification", True)
        assert event["event"]["key"].startswith("sha256-")
    # with an interview's values it is a bare interview (Koji's API, or its Zapier trigger)
    assert normalize({"id": "i1", "themes": ["pricing"]})["event"]["type"] == "interview.analysis_ready"


def test_event_key_is_interview_id_and_type():
    event = normalize({"event": "interview.completed", "data": {"interview_id": "abc"}})
    assert event["event"]["key"] == "abc:interview.completed"


def test_reports_of_one_study_with_no_report_id_and_no_time_are_told_apart_by_their_bodies():
    # Found by an audit: both were keyed "S9@:report.generated", so the second was answered
    # skip/duplicate and its summary dropped for LEDGER_RETENTION_DAYS.
    first = {"type": "report.generated", "data": {"study_id": "S9", "title": "Weekly report 1"}}
    second = {"type": "report.generated", "data": {"study_id": "S9", "title": "Weekly report 2"}}
    keys = {normalize(first)["event"]["key"], normalize(second)["event"]["key"]}
    assert len(keys) == 2 and all(key.startswith("sha256-") for key in keys)
    timed = {**first, "timestamp": "2026-04-16T10:24:10Z"}
    assert normalize(timed)["event"]["key"] == "S9@2026-04-16T10:24:10Z:report.generated"


def test_a_normalized_event_normalizes_to_itself():
    payload = json.loads((ROOT / "connector/samples/salesforce-guide.analysis_ready.json").read_text())
    once = normalize(payload)
    assert normalize({**once, "action": "skip", "salesforce": {}}) == once


def _is_the_models_shape(event):
    """The dict normalize() builds is exactly what the NormalizedEvent models accept and dump."""
    return NormalizedEvent.model_validate(event).model_dump(mode="json") == event


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_every_golden_event_has_the_models_shape(path):
    assert _is_the_models_shape(normalize(json.loads(path.read_text()), raw_body=path.read_bytes()))


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(-1, 7, allow_nan=False),
                     st.sampled_from(["", " x ", "interview.completed", "interview.analysis_ready",
                                      "study.published", "report.generated", "ping", "a@b.co",
                                      "2026-04-16T10:22:55Z", "003000000000001AAA", "positive"]))
_keys = st.sampled_from([
    "event", "type", "data", "timestamp", "test", "project_id", "interview_id", "interviewId", "id",
    "study_id", "study", "title", "status", "quality_score", "qualityScore", "completed_at", "stats",
    "metadata", "respondent", "participant", "email", "respondent_email", "name", "first_name",
    "company", "external_id", "attributes", "salesforce_contact_id", "analysis", "themes",
    "sentiment", "overall", "scores", "quote", "quotes", "text", "summary", "structured_answers",
    "structuredAnswers", "question_id", "value", "confidence", "structured_answers_summary",
    "report_id", "metrics", "url", "interview"])
_documents = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(_keys, inner, max_size=6)),
                          max_leaves=30)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.dictionaries(_keys, _documents, max_size=7))
def test_any_object_normalizes_to_the_models_shape(payload):
    # Not only what the schemas accept: /v1/salesforce/map routes by shape, and a value of an
    # unexpected type where no schema looks must be ignored, not a 500. (An object under
    # `event` is a normalized event; the route checks it against the models first.)
    assume(not isinstance(payload.get("event"), dict))
    assert _is_the_models_shape(normalize(payload))
    assert all(warning["field"] == "" for warning in unusable_timestamps(payload))


@pytest.mark.parametrize("value, expected", [
    ("2026-04-16T10:22:55Z", "2026-04-16T10:22:55Z"),
    ("2026-04-16T10:22:55+02:00", "2026-04-16T08:22:55Z"),
    ("2026-04-16T10:22:55.123456Z", "2026-04-16T10:22:55Z"),
    ("2026-04-16T10:22:55", "2026-04-16T10:22:55Z"),
    ("yesterday", None), ("", None), (None, None), (12, None),
])
def test_iso_utc(value, expected):
    assert iso_utc(value) == expected


@given(st.datetimes(timezones=st.just(timezone.utc)), st.sampled_from(["Z", "+00:00", "z"]))
def test_iso_utc_short_cut_for_utc_seconds_agrees_with_parsing(moment, suffix):
    # "…:SSZ" skips reformatting; any spelling of the same instant must give the same answer.
    text = moment.replace(microsecond=0, tzinfo=None).isoformat(timespec="seconds") + suffix
    assert iso_utc(text) == moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("value", ["2026-02-30T10:22:55Z", "2026-13-01T00:00:00Z", "2026-04-16T24:00:00Z"])
def test_iso_utc_refuses_impossible_instants_in_the_short_form(value):
    assert iso_utc(value) is None


def test_many_themes_in_one_text_are_read_in_step_with_their_number():
    # Repeats were found with a list's `in`: 140,000 themes in a 1 MiB text held a worker past
    # gunicorn's timeout (a 500, on every Koji retry); 40,000 took 7.8 s. A guard, not a speed
    # goal: read now in a few tens of milliseconds.
    themes = ",".join(f"t{n}" for n in range(40_000)) + ",t7,t0"
    started = time.process_time()
    event = normalize({"type": "interview.analysis_ready", "data": {"interview_id": "i", "themes": themes}})
    assert time.process_time() - started < 1.0
    assert event["analysis"]["themes"][:2] == ["t0", "t1"] and len(event["analysis"]["themes"]) == 40_000


def _event(data, event_type="interview.analysis_ready", **top):
    return normalize({"type": event_type, **top, "data": {"interview_id": "i", **data}})


@pytest.mark.parametrize("data, section, field, expected", [
    ({"interviewId": "i7"}, "interview", "id", "i"),  # interview_id comes first
    ({"interview_id": None, "interviewId": "i7"}, "interview", "id", "i7"),
    ({"studyId": "s1"}, "interview", "study_id", "s1"),
    ({"study": {"id": "s2", "title": "Churn"}}, "interview", "study_id", "s2"),
    ({"studyTitle": "Churn"}, "interview", "study_title", "Churn"),
    ({"study_name": "Churn"}, "interview", "study_title", "Churn"),
    ({"study": {"id": "s2", "title": "Churn"}}, "interview", "study_title", "Churn"),
    ({"projectId": "p1"}, "interview", "project_id", "p1"),
    ({"project_id": "p2"}, "interview", "project_id", "p2"),
    ({"analysisStatus": "done"}, "interview", "analysis_status", "done"),
    ({"transcriptUrl": "https://k/t"}, "interview", "transcript_url", "https://k/t"),
    ({"interactionMode": "voice"}, "interview", "interaction_mode", "voice"),
    ({"qualityScore": 4}, "interview", "quality_score", 4.0),
    ({"analysis": {"quality_score": 3}}, "interview", "quality_score", 3.0),
    ({"analysis": {"qualityScore": 2}}, "interview", "quality_score", 2.0),
    ({"completedAt": "2026-04-16T10:22:55Z"}, "interview", "completed_at", "2026-04-16T10:22:55Z"),
    ({"ai_summary": "Short."}, "analysis", "summary", "Short."),
    ({"aiSummary": "Short."}, "analysis", "summary", "Short."),
    ({"structuredAnswersSummary": {"q1": 2}}, "analysis", "structured_answers_summary", {"q1": 2}),
    ({"key_quotes": [{"text": " Too slow. "}]}, "analysis", "quote", "Too slow."),
    ({"quotes": ["Too slow."]}, "analysis", "quote", "Too slow."),
    ({"respondent": {"displayName": "Ann Lee"}}, "respondent", "name", "Ann Lee"),
    ({"respondent": {"display_name": "Ann Lee"}}, "respondent", "name", "Ann Lee"),
    ({"respondent": {"first_name": "Ann", "last_name": "Lee"}}, "respondent", "name", "Ann Lee"),
    ({"respondent": {"first_name": "Ann"}}, "respondent", "name", "Ann"),
    ({"respondent": {"last_name": "Lee"}}, "respondent", "name", "Lee"),
    ({"respondent": {"name": "Ann Lee", "first_name": "Annie"}}, "respondent", "name", "Ann Lee"),
    ({"respondent_id": "r9"}, "respondent", "id", "r9"),
    ({"respondent": {"attributes": {"company": "Acme"}}}, "respondent", "company", "Acme"),
    ({"respondent": {"externalId": "x-1"}}, "respondent", "external_id", "x-1"),
    ({"external_id": "x-2"}, "respondent", "external_id", "x-2"),
])
def test_every_documented_name_of_a_value(data, section, field, expected):
    assert _event(data)[section][field] == expected


def test_a_project_id_at_the_top_wins_over_one_in_data():
    assert _event({"project_id": "p2"}, projectId="p0")["interview"]["project_id"] == "p0"
    assert _event({"projectId": "p2"}, project_id="p1")["interview"]["project_id"] == "p1"


def test_a_respondents_attributes_merge_their_own_and_unknown_keys():
    person = {"email": "a@x.io", "plan": "pro", "attributes": {"region": "EU", "plan": "team"}}
    assert _event({"respondent": person})["respondent"]["attributes"] == {"plan": "team", "region": "EU"}


def test_a_payloads_test_flag_marks_any_event_as_a_test():
    assert _event({}, test=True)["event"]["test"] is True
    assert _event({})["event"]["test"] is False


def test_a_bare_interview_without_analysis_is_completed_not_analysis_ready():
    assert normalize({"id": "i1"})["event"]["type"] == "interview.completed"
    assert normalize({"id": "i1", "analysis": {}})["event"]["type"] == "interview.completed"
    assert normalize({"id": "i1", "analysis": {"summary": "s"}})["event"]["type"] == "interview.analysis_ready"


@pytest.mark.parametrize("payload, interview_id", [
    ({"interview": {"interview_id": "i9", "quality_score": 4}}, "i9"),
    ({"data": {"interview_id": "i8"}, "id": "top"}, "i8"),
    ({"interview": {"summary": "no id"}, "id": "top"}, "top"),  # a wrapper without an id is not the interview
])
def test_a_wrapped_interview_is_unwrapped_when_it_has_an_id(payload, interview_id):
    assert normalize(payload)["interview"]["id"] == interview_id


@pytest.mark.parametrize("event_type, data, key", [
    ("study.published", {"id": "S1"}, "S1:study.published"),
    ("study.published", {"study_id": "S2", "id": "x"}, "S2:study.published"),
    ("report.generated", {"id": "R1", "study_id": "S1"}, "R1:report.generated"),
    ("report.generated", {"report_id": "R2", "id": "x"}, "R2:report.generated"),
])
def test_study_and_report_events_are_keyed_by_their_own_id(event_type, data, key):
    normalized = normalize({"type": event_type, "data": data})
    assert normalized["event"]["key"] == key
    # Their bare "id" is the study's or the report's, not an interview's.
    assert normalized["interview"]["id"] is None


@pytest.mark.parametrize("event_type, data", [
    ("report.generated", {"report_id": "R2", "study_id": "S1"}), ("study.published", {"study_id": "S2"})])
def test_a_report_refreshed_or_a_study_published_again_is_a_new_event_and_a_retry_is_not(event_type, data):
    # Found by an audit: Koji fires report.generated again when it refreshes a report. Keyed by
    # the report id alone, the refresh was answered skip/duplicate and never posted.
    first = {"type": event_type, "timestamp": "2026-04-20T09:30:00Z", "data": data}
    refreshed = {**first, "timestamp": "2026-04-27T09:30:00Z"}
    retried = dict(first)
    keys = [normalize(payload)["event"]["key"] for payload in (first, refreshed, retried)]
    own_id = data.get("report_id") or data["study_id"]
    assert keys == [f"{own_id}@2026-04-20T09:30:00Z:{event_type}", f"{own_id}@2026-04-27T09:30:00Z:{event_type}",
                    f"{own_id}@2026-04-20T09:30:00Z:{event_type}"]


def test_a_study_or_report_event_about_an_interview_names_it():
    data = {"report_id": "R1", "interview_id": "i7", "id": "x"}
    assert normalize({"type": "report.generated", "data": data})["interview"]["id"] == "i7"


def test_a_body_key_does_not_depend_on_the_order_of_the_payloads_keys():
    first = {"type": "report.generated", "data": {"study_id": "S9", "title": "T"}}
    second = {"data": {"title": "T", "study_id": "S9"}, "type": "report.generated"}
    assert normalize(first)["event"]["key"] == normalize(second)["event"]["key"]


@pytest.mark.parametrize("data, expected", [
    ({"study_id": "S1", "title": "Churn", "url": "https://k/s"}, {"id": "S1", "title": "Churn", "url": "https://k/s"}),
    ({"id": "S1", "study_title": "Churn", "link": "https://k/s"}, {"id": "S1", "title": "Churn", "url": "https://k/s"}),
    ({"id": "S1", "name": "Churn", "study_url": "https://k/s"}, {"id": "S1", "title": "Churn", "url": "https://k/s"}),
])
def test_every_name_of_a_studys_values(data, expected):
    assert normalize({"type": "study.published", "data": data})["study"] == expected


@pytest.mark.parametrize("data, expected", [
    ({"id": "R1", "title": "Weekly", "url": "https://k/r", "key_summary": "Up.", "key_metrics": {"n": 3}},
     {"id": "R1", "study_id": None, "title": "Weekly", "url": "https://k/r", "summary": "Up.", "metrics": {"n": 3}}),
    ({"report_id": "R1", "report_title": "Weekly", "link": "https://k/r", "summary": "Up.", "summary_metrics": {"n": 3}},
     {"id": "R1", "study_id": None, "title": "Weekly", "url": "https://k/r", "summary": "Up.", "metrics": {"n": 3}}),
    ({"id": "R1", "study_id": "S1", "study_title": "Churn", "report_url": "https://k/r", "metrics": {"n": 3}},
     {"id": "R1", "study_id": "S1", "title": "Churn", "url": "https://k/r", "summary": None, "metrics": {"n": 3}}),
])
def test_every_name_of_a_reports_values(data, expected):
    assert normalize({"type": "report.generated", "data": data})["report"] == expected


@pytest.mark.parametrize("item", [
    {"name": "pricing"}, {"theme": "pricing"}, {"label": "pricing"}, {"title": "pricing"}, "pricing"])
def test_every_name_of_a_theme(item):
    assert _event({"themes": [item, "support"]})["analysis"]["themes"] == ["pricing", "support"]


@pytest.mark.parametrize("sentiment, overall, scores", [
    ({"label": "neutral"}, "neutral", {}),
    ({"value": "neutral"}, "neutral", {}),
    ({"overall": "negative", "byTheme": {"pricing": "negative"}}, "negative", {"pricing": "negative"}),
    ({"overall": "negative", "scores": {"pricing": "negative"}}, "negative", {"pricing": "negative"}),
    ({"overall": "negative", "sub_scores": {"pricing": "negative"}}, "negative", {"pricing": "negative"}),
    ({"overall": "negative", "subScores": {"pricing": "negative"}}, "negative", {"pricing": "negative"}),
])
def test_every_name_of_the_sentiment_and_its_scores(sentiment, overall, scores):
    analysis = _event({"sentiment": sentiment})["analysis"]
    assert (analysis["sentiment"], analysis["sentiment_scores"]) == (overall, scores)


@pytest.mark.parametrize("item, scores", [
    ({"label": "pricing", "value": -0.5}, {"pricing": -0.5}),
    ({"title": "pricing", "score": 0.8}, {"pricing": 0.8}),
    ({"name": "pricing", "confidence": 0.4}, {"pricing": {"confidence": 0.4}}),
    ({"label": "pricing", "confidence": 0.4}, {"pricing": {"confidence": 0.4}}),
    ({"title": "pricing", "confidence": 0.4}, {"pricing": {"confidence": 0.4}}),
    # Next to a theme's name, "label" is its sentiment (as the overall sentiment's "label" is).
    ({"theme": "pricing", "label": "negative"}, {"pricing": "negative"}),
    ({"name": "pricing", "label": "negative", "confidence": 0.4}, {"pricing": "negative"}),
    ({"theme": "pricing", "name": "Pricing", "confidence": 0.4}, {"pricing": {"confidence": 0.4}}),
])
def test_a_per_theme_score_under_each_of_its_names(item, scores):
    sentiment = {"overall": "negative", "by_theme": [{"sentiment": "positive"}, item]}  # the unnamed one is skipped
    assert _event({"sentiment": sentiment})["analysis"]["sentiment_scores"] == scores


@pytest.mark.parametrize("key", ["value", "structured_value", "structuredValue", "extracted_value",
                                 "extractedValue", "answer"])
def test_every_name_of_a_structured_answers_value(key):
    answers = _event({"structuredAnswers": [{"questionId": "q1", key: 4}]})["analysis"]["structured_answers"]
    assert [(answer["question_id"], answer["value"]) for answer in answers] == [("q1", 4)]


def test_structured_answers_without_a_question_id_are_left_out():
    answers = [{"value": 1}, "q0", {"id": 7, "value": 2}]
    assert [answer["question_id"] for answer in _event({"structured_answers": answers})["analysis"]["structured_answers"]] == ["7"]


@pytest.mark.parametrize("confidence, fraction", [(0.5, 0.5), (1, 1.0), (2, 0.02), (92, 0.92), (100, 1.0), (None, None),
                                                  (100.5, None), (150, None), (-0.1, None)])
def test_a_confidence_above_1_is_a_percentage(confidence, fraction):
    answers = _event({"structured_answers": [{"question_id": "q1", "confidence": confidence}]})["analysis"]["structured_answers"]
    assert answers[0]["confidence"] == fraction


@pytest.mark.parametrize("payload, messages", [
    ({"type": "interview.completed", "timestamp": "2026-13-45T10:00:00Z", "data": {"interview_id": "i"}},
     ["the payload's timestamp is not an ISO 8601 date and time ('2026-13-45T10:00:00Z'); not used"]),
    # a value that is not shaped like a date may be personal data: it is not repeated
    ({"type": "interview.completed", "data": {"interview_id": "i", "completed_at": "ann@example.com"}},
     ["the payload's data.completed_at is not an ISO 8601 date and time; not used"]),
    ({"interview": {"id": "i", "completedAt": "2026-02-30T10:00:00Z"}},
     ["the payload's interview.completedAt is not an ISO 8601 date and time ('2026-02-30T10:00:00Z'); not used"]),
    ({"type": "interview.completed", "interview_id": "i", "completed_at": "yesterday"},
     ["the payload's completed_at is not an ISO 8601 date and time; not used"]),
    ({"type": "interview.completed", "timestamp": "2026-04-16T10:22:55Z",
      "data": {"interview_id": "i", "completed_at": "2026-04-16T10:22:55+02:00"}}, []),
    ({"type": "interview.completed", "timestamp": "  ", "data": {"interview_id": "i", "completed_at": None}}, []),
])
def test_unusable_timestamps_say_which_value_was_left_out(payload, messages):
    assert unusable_timestamps(payload) == [{"field": "", "message": message} for message in messages]


def test_a_normalized_event_has_no_unusable_timestamps():
    assert unusable_timestamps({"event": {"type": "x"}, "timestamp": "soon"}) == []


def test_iso_utc_reads_a_timestamp_longer_than_the_cached_ones():
    assert iso_utc("          2026-04-16T10:22:55+02:00          ") == "2026-04-16T08:22:55Z"
    assert iso_utc("x" * 41) is None


def test_iso_utc_does_not_depend_on_the_servers_time_zone(new_york_time):
    # A naive timestamp is UTC (Koji documents UTC), and the answer is in UTC, whatever TZ says.
    assert iso_utc("2026-01-02T03:04:05") == "2026-01-02T03:04:05Z"
    assert iso_utc("2026-01-02T03:04:05.5+01:00") == "2026-01-02T02:04:05Z"


@pytest.mark.parametrize("event_type", ["ping", "test", "webhook.test", "webhook.verification", "webhook.ping",
                                        "endpoint.verification"])
def test_every_verification_event_type_is_a_test(event_type):
    assert normalize({"type": event_type})["event"]["test"] is True


@pytest.mark.parametrize("payload", [
    {"data": {"x": 1}}, {"interview": {"x": 1}}, {"interview_id": "i1"}, {"interviewId": "i1"}, {"id": "i1"},
    {"respondent": {"name": "Ann"}}, {"participant": {"name": "Ann"}}, {"respondent_email": "a@b.co"},
    {"analysis": {"summary": "s"}}, {"themes": ["pricing"]}, {"quality_score": 4}, {"qualityScore": 4},
])
def test_an_untyped_object_with_any_of_an_events_values_is_not_the_verification_request(payload):
    # normalize() and koji-webhook.schema.json draw the same line: the schema wants a type for these.
    assert normalize(payload)["event"]["type"] in ("interview.completed", "interview.analysis_ready")
    with pytest.raises(ValidationFailed) as caught:
        check(payload, "koji-webhook.schema.json")
    assert {"pointer": "", "message": "needs 'event' or 'type' (see openapi.yaml)"} in caught.value.errors


def test_the_respondents_documented_keys_are_not_attributes():
    person = {"id": "r1", "email": "a@x.io", "name": "Ann", "display_name": "Ann", "displayName": "Ann",
              "first_name": "Ann", "last_name": "Lee", "company": "Acme", "external_id": "x1", "externalId": "x1",
              "plan": "pro"}
    assert _event({"respondent": person})["respondent"]["attributes"] == {"plan": "pro"}


@pytest.mark.parametrize("value", ["2026-04-16 ann@example.com", "2026-04-16T10:22:55 Ann Lee",
                                   "2026-04-16" + " -" * 12])
def test_a_timestamp_that_only_starts_like_a_date_is_not_repeated(value):
    payload = {"type": "interview.completed", "timestamp": value, "data": {"interview_id": "i"}}
    assert unusable_timestamps(payload) == [
        {"field": "", "message": "the payload's timestamp is not an ISO 8601 date and time; not used"}]


def test_a_boolean_is_not_a_score():
    event = _event({"quality_score": True, "structured_answers": [{"question_id": "q1", "confidence": True}]})
    assert event["interview"]["quality_score"] is None
    assert event["analysis"]["structured_answers"][0]["confidence"] is None


def test_a_report_with_no_id_and_no_study_is_keyed_by_its_body_even_with_a_time():
    payload = {"type": "report.generated", "timestamp": "2026-04-16T10:24:10Z", "data": {"title": "Weekly"}}
    assert normalize(payload)["event"]["key"].startswith("sha256-")


def test_a_normalized_event_sent_back_holds_its_texts_as_normalize_gives_them():
    sent = _event({"quote": "It works.", "respondent": {"email": "a@x.io", "name": "Ann"}})
    assert normalize(sent) == sent  # a round trip changes nothing
    sent["analysis"].update(quote="   ", summary=" Short. ")
    sent["respondent"]["name"] = ""
    again = normalize(sent)
    assert (again["analysis"]["quote"], again["analysis"]["summary"], again["respondent"]["name"]) == (
        None, "Short.", None)


def test_a_question_type_koji_has_not_documented_is_kept_as_it_came():
    # Found by an audit: the schema refused any type but Koji's six, so one "nps" question lost
    # the whole interview (e-mail, quote, score) on every retry. The type only describes the answer.
    answers = _event({"structured_answers": [{"question_id": "q1", "question_type": "nps", "value": 9}]})
    assert answers["analysis"]["structured_answers"][0]["question_type"] == "nps"


def test_unreadable_values_name_only_values_normalize_left_out():
    payload = sample("salesforce-guide.analysis_ready.json")
    assert unreadable_values(payload, normalize(payload)) == {}
    payload["data"].update(completed_at="yesterday", respondent_email="nobody")
    assert unreadable_values(payload, normalize(payload)) == {
        "interview.completed_at": "datetime", "respondent.email": "email"}
    sent_back = normalize(payload)  # a normalized event: the mapping sees its values as they are
    assert unreadable_values(sent_back, sent_back) == {}
