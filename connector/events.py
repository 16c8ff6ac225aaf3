"""The normalized event: one shape for every payload Koji documents.

Sources (they disagree; every shape is accepted):
- https://www.koji.so/docs/webhook-setup — `event`, `project_id`, `data.respondent`
  (display_name, external_id), `stats`, `metadata`, `structured_answers_summary`;
- https://www.koji.so/docs/research-automation-webhooks — `type`, `data.participant`
  (name, company, email, …), study fields, `transcript_url`, `structured_answers`;
- https://www.koji.so/docs/salesforce-research-integration — flat `respondent_email`
  (null in anonymous mode), themes, sentiment, quote;
- the full interview from `GET /api/v1/interviews/:id` (camelCase structured answers).
`normalize()` is pure: payload dict in, the normalized event out, as the JSON-ready dict
that `NormalizedEvent` describes. A timestamp it cannot read it leaves out;
`unusable_timestamps()` says which, for the answer's warnings.

The models below define that shape (openapi.yaml's NormalizedEvent) and check a normalized
event sent back to /v1/salesforce/map. `normalize()` builds the dict directly rather than
through the models: constructing and dumping seven models was about a tenth of a webhook's CPU
under load (docs/benchmarks.md), and every value here is already of its field's type.
tests/test_events.py checks each output against the models.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from connector.payload_fields import (
    first_present, has_unusable_email, pick_email, pick_salesforce_contact_id, text_or_none,
)

VERIFICATION_TYPES = frozenset({"ping", "test", "webhook.test", "webhook.verification",
                                "webhook.ping", "endpoint.verification"})
INTERVIEW_TYPES = frozenset({"interview.completed", "interview.analysis_ready",
                             "interview.quality_scored", "interview.failed_quality_gate"})


# A normalized event sent back to /v1/salesforce/map holds its texts as normalize() gives
# them: trimmed, and a blank one absent. "   " as a quote was a Slack line of a quote bar
# alone, and an empty text where normalize() would have given none.
Text = Annotated[str | None, AfterValidator(text_or_none)]


class _Model(BaseModel):
    # strict: a normalized event sent back to /v1/salesforce/map is checked as openapi.yaml says
    model_config = ConfigDict(extra="forbid", strict=True)


class EventInfo(_Model):
    type: str
    key: str
    occurred_at: Text = None
    test: bool = False


class Interview(_Model):
    id: Text = None
    study_id: Text = None
    study_title: Text = None
    project_id: Text = None
    status: Text = None
    analysis_status: Text = None
    quality_score: float | None = None
    completed_at: Text = None
    transcript_url: Text = None
    interaction_mode: Text = None
    stats: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Respondent(_Model):
    id: Text = None
    email: Text = None
    name: Text = None
    company: Text = None
    external_id: Text = None
    salesforce_contact_id: Text = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class StructuredAnswer(_Model):
    question_id: str
    question_text: Text = None
    question_type: Text = None
    value: Any = None
    qualitative_answer: Text = None
    confidence: float | None = None
    follow_up_insights: Any = None


class Analysis(_Model):
    # fail_fast: a list's first bad item is reported, not each of them. A 1 MiB list of 523,000
    # numbers sent back to /v1/salesforce/map took seconds and a 42 MB answer to list them.
    themes: list[str] = Field(default_factory=list, fail_fast=True)
    sentiment: Text = None
    sentiment_scores: dict[str, Any] = Field(default_factory=dict)
    quote: Text = None
    summary: Text = None
    structured_answers: list[StructuredAnswer] = Field(default_factory=list, fail_fast=True)
    structured_answers_summary: dict[str, Any] | None = None


class Study(_Model):
    id: Text = None
    title: Text = None
    url: Text = None


class Report(_Model):
    id: Text = None
    study_id: Text = None
    title: Text = None
    url: Text = None
    summary: Text = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class NormalizedEvent(_Model):
    event: EventInfo
    interview: Interview
    respondent: Respondent
    analysis: Analysis
    study: Study | None = None
    report: Report | None = None


def normalize(payload: dict[str, Any], *, raw_body: bytes | None = None) -> dict[str, Any]:
    """Turn any documented Koji payload (already schema-checked) into a normalized event."""
    if isinstance(payload.get("event"), dict):  # already normalized (from verify)
        return NormalizedEvent.model_validate(_strip_answer_keys(payload)).model_dump(mode="json")
    event_type, data = _type_and_data(payload)
    is_test = bool(payload.get("test")) or event_type in VERIFICATION_TYPES
    interview = _interview(payload, data, event_type)
    return {
        "event": {
            "type": event_type,
            "key": _event_key(event_type, payload, data, interview, raw_body),
            "occurred_at": iso_utc(payload.get("timestamp")) or interview["completed_at"],
            "test": is_test,
        },
        "interview": interview,
        "respondent": _respondent(data),
        "analysis": _analysis(data),
        "study": _study(data) if event_type == "study.published" else None,
        "report": _report(data) if event_type == "report.generated" else None,
    }


# An object with no event type is an interview (from Koji's API or its Zapier trigger) when
# it carries one of these; with none of them it is Koji's verification request, whose body
# Koji does not document, sent when an endpoint is saved and to be answered 200.
# koji-webhook.schema.json draws the same line.
EVENT_VALUE_KEYS = ("data", "interview", "interview_id", "interviewId", "id", "respondent", "participant",
                    "respondent_email", "respondentEmail", "analysis", "themes", "quality_score", "qualityScore")
VERIFICATION_REQUEST = "webhook.verification"


def _type_and_data(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event type and the object holding the event's values, whatever the payload's shape:
    `data` when it is an object, else the payload itself (the Salesforce guide names
    `respondent_email`, themes and quote with no wrapper)."""
    event_type = payload.get("event") or payload.get("type")
    if not isinstance(event_type, str):
        if not any(key in payload for key in EVENT_VALUE_KEYS):
            return VERIFICATION_REQUEST, {}
        data = _unwrap_interview(payload)
        return ("interview.analysis_ready" if _has_analysis(data) else "interview.completed"), data
    data = payload.get("data")
    return event_type, data if isinstance(data, dict) else payload


def unusable_timestamps(payload: dict[str, Any]) -> list[dict[str, str]]:
    """salesforce.warnings entries for the timestamps normalize() reads but could not: it
    leaves them out, so a value falls back to another (event.occurred_at to the completion
    time, a profile's field to its next source) or stays empty, and this says why."""
    if isinstance(payload.get("event"), dict):  # a normalized event: the mapping checks its values
        return []
    _, data = _type_and_data(payload)
    read = [("timestamp", payload.get("timestamp"))]
    completion_key = next((key for key in _COMPLETION_KEYS if first_present(data, key) is not None), None)
    if completion_key is not None:
        read.append((_where(payload, data) + completion_key, data[completion_key]))
    return [{"field": "", "message": f"the payload's {path} is not an ISO 8601 date and time"
                                     f"{_shown_timestamp(value)}; not used"}
            for path, value in read if _is_given(value) and iso_utc(value) is None]


def unreadable_values(payload: dict[str, Any], event: dict[str, Any]) -> dict[str, str]:
    """The answer's paths where the payload has a value normalize() could not read and left
    out, each with the kind it should have been (mapping.map_to_salesforce's `unreadable`): a
    field reading one then says the event's value is not valid, not that it has none, which
    sent an admin looking for a value that was there. Only a value that came out missing is
    looked for in the payload, so nearly every event costs two comparisons. (A quality score
    that is no number is refused by the schema, not left out.)"""
    completed_at, email = event["interview"]["completed_at"], event["respondent"]["email"]
    if (completed_at is not None and email is not None) or isinstance(payload.get("event"), dict):
        return {}  # (a normalized event sent back: the mapping sees its values as they are)
    _, data = _type_and_data(payload)
    unreadable = {}
    if completed_at is None and _is_given(first_present(data, *_COMPLETION_KEYS)):
        unreadable["interview.completed_at"] = "datetime"
    if email is None and has_unusable_email(data, _dict(first_present(data, "respondent", "participant"))):
        unreadable["respondent.email"] = "email"
    return unreadable


def _where(payload: dict[str, Any], data: dict[str, Any]) -> str:
    """The path of `data` in the payload, as a prefix: "data.", "interview." or ""."""
    return next((f"{wrapper}." for wrapper in ("data", "interview") if payload.get(wrapper) is data), "")


def _is_given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


# A value is repeated only when it starts like a date: a mistyped timestamp helps the reader,
# but a field a tool filled with something else may hold personal data (an e-mail, a name).
_DATE_LIKE = re.compile(r"\d{4}-\d\d-\d\d[0-9TtZz:.+ -]{0,20}")


def _shown_timestamp(value: Any) -> str:
    return f" ({value!r})" if isinstance(value, str) and _DATE_LIKE.fullmatch(value) else ""


def _strip_answer_keys(answer: dict[str, Any]) -> dict[str, Any]:
    keys = NormalizedEvent.model_fields.keys()
    return {key: value for key, value in answer.items() if key in keys}


def _unwrap_interview(payload: dict[str, Any]) -> dict[str, Any]:
    for wrapper in ("data", "interview"):
        inner = payload.get(wrapper)
        if isinstance(inner, dict) and ("id" in inner or "interview_id" in inner):
            return inner
    return payload


def _has_analysis(data: dict[str, Any]) -> bool:
    analysis = data.get("analysis")
    return (isinstance(analysis, dict) and bool(analysis)) or bool(data.get("themes"))


def _event_key(event_type: str, payload: dict[str, Any], data: dict[str, Any],
               interview: dict[str, Any], raw_body: bytes | None) -> str:
    if event_type in _NOT_ABOUT_AN_INTERVIEW:
        own_id = text_or_none(first_present(data, "study_id" if event_type == "study.published" else "report_id", "id"))
        when = payload.get("timestamp")
        # Koji fires report.generated again when it refreshes a report, and a study can be
        # published again: the same id at a later time is a new event, while a retry of one
        # delivery repeats its timestamp. Keyed by the id alone, a refresh was answered
        # "duplicate" and never posted for LEDGER_RETENTION_DAYS.
        if own_id is not None:
            subject = f"{own_id}@{when}" if when else own_id
        elif event_type == "report.generated" and data.get("study_id") is not None and when:
            # A study has many reports: keyed by the study alone, every later one was a "duplicate".
            subject = f"{data['study_id']}@{when}"
        else:
            subject = None
    else:
        subject = interview["id"]
    if subject is None:
        # Nothing identifies the event: the body itself does, so an exact repeat is caught.
        body = raw_body if raw_body is not None else json.dumps(payload, sort_keys=True).encode()
        subject = "sha256-" + hashlib.sha256(body).hexdigest()[:32]
    return f"{subject}:{event_type}"


_COMPLETION_KEYS = ("completed_at", "completedAt")


# A study's or a report's event: its bare "id" is the study's or the report's (its key's
# subject), not an interview's.
_NOT_ABOUT_AN_INTERVIEW = ("study.published", "report.generated")
_INTERVIEW_ID_KEYS = ("interview_id", "interviewId")
_INTERVIEW_OR_BARE_ID_KEYS = (*_INTERVIEW_ID_KEYS, "id")


def _interview(payload: dict[str, Any], data: dict[str, Any], event_type: str) -> dict[str, Any]:
    id_keys = _INTERVIEW_ID_KEYS if event_type in _NOT_ABOUT_AN_INTERVIEW else _INTERVIEW_OR_BARE_ID_KEYS
    analysis = data.get("analysis") if isinstance(data.get("analysis"), dict) else {}
    study = data.get("study") if isinstance(data.get("study"), dict) else {}
    quality = first_present(data, "quality_score", "qualityScore")
    if quality is None:
        quality = first_present(analysis, "quality_score", "qualityScore")
    return {
        "id": text_or_none(first_present(data, *id_keys)),
        "study_id": text_or_none(first_present(data, "study_id", "studyId") or study.get("id")),
        "study_title": text_or_none(first_present(data, "study_title", "studyTitle", "study_name")
                                    or study.get("title")),
        "project_id": text_or_none(first_present(payload, "project_id", "projectId")
                                   or first_present(data, "project_id", "projectId")),
        "status": text_or_none(data.get("status")),
        "analysis_status": text_or_none(first_present(data, "analysis_status", "analysisStatus")),
        "quality_score": _float_or_none(quality),
        "completed_at": iso_utc(first_present(data, *_COMPLETION_KEYS)),
        "transcript_url": text_or_none(first_present(data, "transcript_url", "transcriptUrl")),
        "interaction_mode": text_or_none(first_present(data, "interaction_mode", "interactionMode")),
        "stats": _dict(data.get("stats")),
        "metadata": _dict(data.get("metadata")),
    }


_PERSON_KEYS = {"id", "email", "name", "display_name", "displayName", "first_name", "last_name",
                "company", "external_id", "externalId"}


def _respondent(data: dict[str, Any]) -> dict[str, Any]:
    person = _dict(first_present(data, "respondent", "participant"))
    attributes = {k: v for k, v in person.items() if k not in _PERSON_KEYS}
    attributes.update(_dict(person.get("attributes")))
    attributes.pop("attributes", None)
    name = first_present(person, "name", "display_name", "displayName")
    if name is None and (person.get("first_name") or person.get("last_name")):
        name = " ".join(str(p) for p in (person.get("first_name"), person.get("last_name")) if p)
    return {
        "id": text_or_none(person.get("id") or data.get("respondent_id")),
        "email": pick_email(data, person),
        "name": text_or_none(name),
        "company": text_or_none(person.get("company") or attributes.get("company")),
        "external_id": text_or_none(first_present(person, "external_id", "externalId")
                                    or data.get("external_id")),
        "salesforce_contact_id": pick_salesforce_contact_id(data, person),
        "attributes": attributes,
    }


def _analysis(data: dict[str, Any]) -> dict[str, Any]:
    nested = _dict(data.get("analysis"))
    source = {**data, **nested}  # the full interview nests analysis; webhooks are flat
    overall, scores = _sentiment(source.get("sentiment"))
    return {
        "themes": _themes(source.get("themes")),
        "sentiment": overall,
        "sentiment_scores": scores,
        "quote": _quote(source),
        "summary": text_or_none(first_present(source, "summary", "ai_summary", "aiSummary")),
        "structured_answers": [_structured_answer(item) for item in
                               _list(first_present(source, "structured_answers", "structuredAnswers"))
                               if isinstance(item, dict) and first_present(item, *_QUESTION_ID_KEYS) is not None],
        "structured_answers_summary": _dict_or_none(first_present(data, "structured_answers_summary",
                                                                  "structuredAnswersSummary")),
    }


def _themes(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    # Ordered, and a dict's lookup for repeats: with a list's `in`, 140,000 themes in one text
    # (a 1 MiB body) took longer than gunicorn's worker timeout.
    themes: dict[str, None] = {}
    for item in _list(value):
        if isinstance(item, dict):
            item = first_present(item, "name", "theme", "label", "title")
        text = text_or_none(item)
        if text:
            themes[text] = None
    return list(themes)


def _sentiment(value: Any) -> tuple[str | None, dict[str, Any]]:
    if isinstance(value, dict):
        overall = first_present(value, "overall", "label", "value")
        scores = _sub_scores(first_present(value, "by_theme", "byTheme", "scores", "sub_scores", "subScores"))
        return text_or_none(overall), scores
    return text_or_none(value), {}


# In this order. "label" names the theme only when no other key does: next to a "theme", it is
# the sentiment's label, as the overall sentiment's own "label" is.
_THEME_NAME_KEYS = ("theme", "name", "label", "title")
_ONLY_THEME_NAME_KEYS = frozenset(_THEME_NAME_KEYS) - {"label"}


def _sub_scores(value: Any) -> dict[str, Any]:
    """Per-theme sentiment by theme name: an object as sent, or a list of
    {theme, sentiment|score} objects (the Salesforce guide gives no shape)."""
    if not isinstance(value, list):
        return _dict(value)
    scores: dict[str, Any] = {}
    for item in value:
        name_key = next((key for key in _THEME_NAME_KEYS if first_present(item, key) is not None), None)
        name = text_or_none(item[name_key]) if name_key is not None else None
        if name is None:
            continue
        rest = {key: part for key, part in item.items() if key != name_key and key not in _ONLY_THEME_NAME_KEYS}
        score = first_present(rest, "sentiment", "score", "value", "label")
        scores[name] = score if score is not None else rest
    return scores


# The Salesforce guide calls it the "Latest customer quote" and "the single most
# representative pull-quote"; each name in snake_case and camelCase.
_QUOTE_KEYS = ("quote", "latest_customer_quote", "latestCustomerQuote", "customer_quote", "customerQuote",
               "latest_quote", "latestQuote", "key_quote", "keyQuote", "pull_quote", "pullQuote",
               "representative_quote", "representativeQuote")


def _quote(source: dict[str, Any]) -> str | None:
    quote = first_present(source, *_QUOTE_KEYS)
    if quote is None:
        quotes = source.get("quotes") or source.get("key_quotes")
        if isinstance(quotes, list) and quotes:
            quote = quotes[0].get("text") if isinstance(quotes[0], dict) else quotes[0]
    return text_or_none(quote)


# The research-automation page describes a webhook's structured answers only as "question
# IDs, types, and extracted values", so the plain names count too. An item with no question
# id cannot be mapped to a question; the webhook schema refuses it, and here it is left out.
_QUESTION_ID_KEYS = ("question_id", "questionId", "id")


def _structured_answer(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "question_id": str(first_present(item, *_QUESTION_ID_KEYS)),
        "question_text": text_or_none(first_present(item, "question_text", "questionText")),
        "question_type": text_or_none(first_present(item, "question_type", "questionType", "type")),
        "value": first_present(item, "value", "structured_value", "structuredValue", "extracted_value",
                               "extractedValue", "answer"),
        "qualitative_answer": text_or_none(first_present(item, "qualitative_answer", "qualitativeAnswer")),
        "confidence": _confidence(first_present(item, "confidence")),
        "follow_up_insights": first_present(item, "follow_up_insights", "followUpInsights"),
    }


def _confidence(value: Any) -> float | None:
    """A fraction from 0 to 1. Koji gives no scale; a value above 1 (at most 100) can only be a
    percentage. One below 0 or above 100 is no confidence at all: left out (None), not refused,
    since refusing it lost the whole interview on every retry of Koji's."""
    confidence = _float_or_none(value)
    if confidence is None or not 0 <= confidence <= 100:
        return None
    return confidence / 100 if confidence > 1 else confidence


def _study(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": text_or_none(first_present(data, "study_id", "id")),
            "title": text_or_none(first_present(data, "study_title", "title", "name")),
            "url": text_or_none(first_present(data, "study_url", "url", "link"))}


def _report(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": text_or_none(first_present(data, "report_id", "id")),
        "study_id": text_or_none(data.get("study_id")),
        "title": text_or_none(first_present(data, "report_title", "title", "study_title")),
        "url": text_or_none(first_present(data, "report_url", "url", "link")),
        "summary": text_or_none(first_present(data, "summary", "key_summary")),
        "metrics": _dict(first_present(data, "metrics", "key_metrics", "summary_metrics")),
    }


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# Koji's usual form is already the answer's form; checking it is cheaper than reformatting.
_UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


# One webhook converts the same timestamp up to three times (event time, completion time,
# the Salesforce Date/Time field); a timestamp is short, so only short strings are kept.
_CACHED_TIMESTAMP_CHARS = 40


def iso_utc(value: Any) -> str | None:
    """ISO 8601 in UTC with a Z (what Salesforce Date/Time wants); None when unparseable."""
    if not isinstance(value, str):
        return None
    return _cached_iso_utc(value) if len(value) <= _CACHED_TIMESTAMP_CHARS else _iso_utc(value)


def _iso_utc(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if _UTC_SECONDS.fullmatch(text):
        try:
            datetime.fromisoformat(text[:-1])  # a real date and time, not 30 February
        except ValueError:
            return None
        return text
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Koji documents UTC timestamps
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:30+01:00 is in year 0, which datetime cannot hold
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


_cached_iso_utc = lru_cache(maxsize=256)(_iso_utc)
