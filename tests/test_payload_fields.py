import time

import pytest

from connector.payload_fields import (
    MAX_EMAIL_CHARS, first_present, pick_email, pick_salesforce_contact_id, text_or_none,
)


def test_first_present_skips_blank_values():
    assert first_present({"a": "", "b": None, "c": 0}, "a", "b", "c") == 0
    assert first_present("not a dict", "a") is None


@pytest.mark.parametrize("value, expected", [(" x ", "x"), ("", None), (5, "5"), ({}, None), (True, None),
                                             (["x"], None), (" ", None), (None, None)])
def test_text_or_none(value, expected):
    assert text_or_none(value) == expected


def test_the_first_valid_address_wins_and_placeholders_are_not_addresses():
    assert pick_email({"respondent_email": "[email protected]", "email": "b@c.io"}, {}) == "b@c.io"
    assert pick_email({}, {"email": "first@x.io"}) == "first@x.io"
    assert pick_email({"respondent_email": None}, {}) is None


@pytest.mark.parametrize("value, expected", [
    ("0035g00000ABCdeAAF", "0035g00000ABCdeAAF"), ("0035g00000ABCde", "0035g00000ABCde"),
    # Another kind of record's id is kept: the mapping says why it is not looked up.
    ("0015g00000ABCdeAAF", "0015g00000ABCdeAAF"),
    ("003short", None), ("0035g00000ABCdeAAF'--", None),
    ("0035g00000ABCdeAAFxyz", None), ("0035g00000ABC_eAAF", None), ("0035g00000ABCdeA", None)])
def test_contact_ids_from_personalized_links(value, expected):
    assert pick_salesforce_contact_id({"metadata": {"salesforce_contact_id": value}}, {}) == expected


def test_a_contact_id_anywhere_wins_over_another_records_id():
    data = {"metadata": {"salesforce_contact_id": "0015g00000ABCdeAAH"}, "contact_id": "0035g00000ABCdeAAH"}
    assert pick_salesforce_contact_id(data, {}) == "0035g00000ABCdeAAH"


def test_an_overlong_candidate_is_not_an_address_and_is_refused_at_once():
    # The pattern backtracks with the square of the length: "a@" + 200,000 dots + "@" held a
    # worker past gunicorn's timeout (a 500, on every Koji retry). No address is over 254
    # characters, so the length is checked first. A guard, not a speed goal: the check takes
    # microseconds; the old one took seconds for 40,000 dots.
    hostile = "a@" + "." * 40_000 + "@"
    started = time.process_time()
    assert pick_email({"metadata": {"email": hostile, "respondent_email": hostile}}, {}) is None
    assert time.process_time() - started < 0.5
    longest = "a" * 64 + "@" + "b" * 185 + ".com"
    assert len(longest) == MAX_EMAIL_CHARS and pick_email({"email": longest}, {}) == longest
    assert pick_email({"email": "a" + longest}, {}) is None


def test_the_camel_case_respondent_email_is_read_as_the_snake_case_one():
    # Found by an audit: qualityScore, completedAt, transcriptUrl … were read, respondentEmail
    # was not, and the respondent was anonymous.
    assert pick_email({"respondentEmail": "cc@x.example"}, {}) == "cc@x.example"
    assert pick_email({"respondentEmail": "cc@x.example", "email": "e@x.example"}, {}) == "cc@x.example"
    assert pick_email({"metadata": {"respondentEmail": "m@x.example"}}, {}) == "m@x.example"


def test_the_respondent_email_in_metadata_is_the_last_place_looked():
    assert pick_email({"metadata": {"respondent_email": "m@x.io"}}, {}) == "m@x.io"
    assert pick_email({"metadata": {"respondent_email": "m@x.io", "email": "e@x.io"}}, {}) == "e@x.io"


def test_a_contact_id_in_the_respondents_attributes():
    person = {"attributes": {"sfdc_contact_id": "0035g00000ABCdeAAH"}}
    assert pick_salesforce_contact_id({}, person) == "0035g00000ABCdeAAH"
    # metadata comes first, then the attributes, then the respondent and the data themselves
    person["contactId"] = "0035g00000ABCdfAAH"
    assert pick_salesforce_contact_id({"sf_contact_id": "0035g00000ABCdgAAH"}, person) == "0035g00000ABCdeAAH"


@pytest.mark.parametrize("key", ["salesforce_contact_id", "salesforceContactId", "sf_contact_id", "sfdc_contact_id",
                                 "contact_id", "contactId"])
def test_every_name_of_the_contact_id(key):
    assert pick_salesforce_contact_id({"metadata": {key: "0035g00000ABCdeAAH"}}, {}) == "0035g00000ABCdeAAH"


@pytest.mark.parametrize("text", ["ann@localhost", "ann lee@example.com", "ann@exa mple.com", "ann@@example.com",
                                  "@example.com", "ann@example.", "ann@.com"])
def test_text_that_is_not_shaped_like_an_address(text):
    assert pick_email({"email": text}, {}) is None
