import pytest

from connector.cli import SAMPLES, personalized, sample_payload
from connector.events import normalize

PERSON_TYPES = [t for t in SAMPLES if t not in ("study.published", "report.generated", "ping")]


@pytest.mark.parametrize("event_type", PERSON_TYPES)
def test_send_test_event_email_is_the_one_the_service_reads(event_type):
    # The person's own e-mail wins over data.respondent_email, so setting only the latter
    # left the sample's e-mail in place for the samples that carry a person.
    payload = personalized(sample_payload(event_type), event_type, email="me@mine.example", event_id=None)
    assert normalize(payload)["respondent"]["email"] == "me@mine.example"


@pytest.mark.parametrize("event_type", sorted(t for t in SAMPLES if t != "ping"))
def test_send_test_event_id_changes_the_event_key(event_type):
    default = normalize(sample_payload(event_type))["event"]["key"]
    payload = personalized(sample_payload(event_type), event_type, email=None, event_id="fresh-id-1")
    key = normalize(payload)["event"]["key"]
    assert key != default and key.startswith("fresh-id-1:")
