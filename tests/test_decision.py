import pytest

from connector.decision import decide
from connector.events import normalize

ACTIONS = {"interview.completed": "update_contact", "interview.analysis_ready": "update_contact",
           "interview.quality_scored": "update_contact", "interview.failed_quality_gate": "skip",
           "study.published": "notify", "report.generated": "notify"}


def event(event_type="interview.completed", **data):
    return normalize({"type": event_type, "data": {"interview_id": "i1", **data}})


@pytest.mark.parametrize("payload_event, threshold, expected", [
    (event(respondent_email="a@b.co", quality_score=4), 3, ("update_contact", None)),
    (event(respondent_email="a@b.co", quality_score=3), 3, ("update_contact", None)),
    (event(respondent_email="a@b.co", quality_score=2.9), 3, ("skip", "below_quality_threshold")),
    (event(respondent_email="a@b.co", quality_score=3.5), 4, ("skip", "below_quality_threshold")),
    (event(respondent_email="a@b.co", quality_score=0), 3, ("skip", "below_quality_threshold")),
    (event(respondent_email="a@b.co"), 3, ("update_contact", None)),
    (event(respondent_email=None, quality_score=5), 3, ("skip", "anonymous")),
    (event(respondent={"external_id": "ext-1"}, quality_score=5), 3, ("update_contact", None)),
    (event(metadata={"salesforce_contact_id": "0035g00000ABCdeAAH"}), 3, ("update_contact", None)),
    (event(metadata={"salesforce_contact_id": "0035g00000ABCde"}), 3, ("update_contact", None)),
    # An identifier the mapping cannot look up by does not identify: the answer would say
    # update_contact with no lookup to do it by.
    (event(metadata={"salesforce_contact_id": "0035g00000ABCdeAAF"}), 3, ("skip", "anonymous")),  # bad checksum
    (event(respondent_email="not-an-address"), 3, ("skip", "anonymous")),
    (event("interview.failed_quality_gate", respondent_email="a@b.co"), 3, ("skip", "failed_quality_gate")),
    (event("report.generated"), 3, ("notify", None)),
    (event("study.published"), 3, ("notify", None)),
    (event("interview.transcribed", respondent_email="a@b.co"), 3, ("skip", "not_mapped")),
    (event("ping"), 3, ("skip", "not_mapped")),
])
def test_decision_table(payload_event, threshold, expected):
    decision = decide(payload_event, ACTIONS, threshold)
    assert (decision.action, decision.skip_reason) == expected
    assert "a@b.co" not in decision.reason


def test_anonymous_is_checked_before_quality():
    decision = decide(event(quality_score=1), ACTIONS, 3)
    assert decision.skip_reason == "anonymous"


def test_an_identifier_the_profile_cannot_look_up_is_anonymous():
    only_external = event(respondent={"external_id": "ext-1"})
    assert decide(only_external, ACTIONS, 3, ["contact_id", "email"]).skip_reason == "anonymous"
    assert decide(only_external, ACTIONS, 3, ["external_id", "email"]).action == "update_contact"


def test_an_external_id_longer_than_any_salesforce_field_does_not_identify():
    assert decide(event(respondent={"external_id": "x" * 256}), ACTIONS, 3, ["external_id"]).skip_reason == "anonymous"
    assert decide(event(respondent={"external_id": "x" * 255}), ACTIONS, 3, ["external_id"]).action == "update_contact"


def test_a_profile_that_skips_an_event_type_says_not_mapped():
    decision = decide(event(respondent_email="a@b.co"), {"interview.completed": "skip"}, 3)
    assert (decision.action, decision.skip_reason) == ("skip", "not_mapped")


@pytest.mark.parametrize("respondent", [
    {"salesforce_contact_id": "0035g00000ABCdeAAF"},   # a wrong checksum: mapping.salesforce_id refuses it
    {"salesforce_contact_id": "001000000000001AAA"},   # an Account id, not a Contact's
    {"email": "not-an-email"},
    {"email": "ann@example.com\n"},                   # "$" in the old e-mail pattern let this through
])
def test_a_normalized_event_whose_only_identifier_cannot_be_looked_up_is_anonymous(respondent):
    # /v1/salesforce/map takes normalized events as they are, without normalize's own checks.
    normalized = event()
    normalized["respondent"].update(respondent)
    decision = decide(normalized, ACTIONS, 3)
    assert decision.skip_reason == "anonymous"


@pytest.mark.parametrize(("event_type", "quoted"), [
    ("interview.transcribed", True), ("ping", True), ("koji.interview.transcript.ready", True),
    ("a.b.c.d.e", False), ("ann@example.com", False), ("Interview.Completed", False),
    ("zz.leak+tag@secret-example.com", False), ("<!channel> @here", False), ("a" * 200, False),
])
def test_an_unmapped_event_type_is_repeated_in_the_reason_only_if_shaped_like_one(event_type, quoted):
    decision = decide(event(event_type, respondent_email="a@b.co"), ACTIONS, 3)
    assert decision.skip_reason == "not_mapped"
    assert (event_type in decision.reason) is quoted


def test_the_reasons_name_the_event_type_and_the_profiles_lookups():
    skipped = decide(event(respondent_email="a@b.co"), {"interview.completed": "skip"}, 3)
    assert "'interview.completed'" in skipped.reason
    anonymous = decide(event(), ACTIONS, 3, ["contact_id", "email"])
    assert anonymous.reason.endswith("(Salesforce Contact id, e-mail).")
    notified = decide(event("report.generated"), ACTIONS, 3)
    assert "report.generated" in notified.reason
