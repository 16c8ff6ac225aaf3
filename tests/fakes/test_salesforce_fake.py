"""The fake Salesforce refuses what the real one refuses (salesforce-rest.md)."""
import base64
import re
from types import SimpleNamespace

import pytest
import requests

from tests.fakes.salesforce import (
    RECIPE_FIELDS, REFRESH_TOKEN, FakeSalesforce, check_value, contact_id, describe_field, fields_matching, id_suffix,
    picklist,
)

API = "/services/data/v59.0"


@pytest.fixture
def sf():
    with FakeSalesforce() as fake:
        fake.add_contact("o'brien@example.com", FirstName="Ann")
        yield fake


def token(sf, **form):
    data = {"grant_type": "client_credentials", "client_id": "test-client-id",
            "client_secret": "test-client-secret", **form}
    return requests.post(sf.base_url + "/services/oauth2/token", data=data, timeout=5)


@pytest.fixture
def api(sf):
    bearer = {"Authorization": "Bearer " + token(sf).json()["access_token"]}

    def call(method, path, headers=None, **kwargs):
        return requests.request(method, sf.base_url + API + path, headers={**bearer, **(headers or {})},
                                timeout=5, **kwargs)
    return call


def errors(response):
    return [e["errorCode"] for e in response.json()]


def test_token_answer_has_salesforce_fields_and_no_expiry(sf):
    answer = token(sf)
    assert answer.status_code == 200
    assert set(answer.json()) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"}
    assert answer.json()["instance_url"] == sf.base_url and answer.json()["issued_at"].isdigit()


def test_token_by_basic_auth_and_refresh_grant(sf):
    basic = base64.b64encode(b"test-client-id:test-client-secret").decode()
    for grant in ("client_credentials", "refresh_token"):
        answer = requests.post(sf.base_url + "/services/oauth2/token",
                               data={"grant_type": grant, "refresh_token": "5Aep-test-refresh"},
                               headers={"Authorization": "Basic " + basic}, timeout=5)
        assert answer.status_code == 200 and answer.json()["instance_url"] == sf.base_url


EXPIRED_GRANT = {"error": "invalid_grant", "error_description": "expired access/refresh token"}


@pytest.mark.parametrize("form", [{}, {"refresh_token": ""}, {"refresh_token": "5Aep-someone-else"},
                                  {"refresh_token": "5Aep-test-refresh".upper()}])
def test_refresh_grant_needs_a_refresh_token_the_org_issued(sf, form):
    answer = token(sf, grant_type="refresh_token", **form)
    assert (answer.status_code, answer.json()) == (400, EXPIRED_GRANT)


def test_a_refresh_token_of_its_own_is_configurable():
    with FakeSalesforce(refresh_token="5Aep-other") as sf:
        assert token(sf, grant_type="refresh_token", refresh_token="5Aep-other").status_code == 200
        assert token(sf, grant_type="refresh_token", refresh_token=REFRESH_TOKEN).status_code == 400


def test_revoking_the_refresh_token_ends_it_and_its_access_tokens(sf):
    by_refresh = token(sf, grant_type="refresh_token", refresh_token=REFRESH_TOKEN).json()["access_token"]
    by_client = token(sf).json()["access_token"]
    sf.revoke_refresh_token()
    assert token(sf, grant_type="refresh_token", refresh_token=REFRESH_TOKEN).json() == EXPIRED_GRANT
    describe = sf.base_url + API + "/sobjects/Contact/describe"
    statuses = [requests.get(describe, headers={"Authorization": "Bearer " + t}, timeout=5).status_code
                for t in (by_refresh, by_client)]
    assert statuses == [401, 200]
    assert token(sf).status_code == 200  # client credentials need no refresh token


@pytest.mark.parametrize(("form", "error"), [
    ({"client_secret": "wrong"}, "invalid_client"),
    ({"client_id": "other"}, "invalid_client"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
])
def test_token_refusals(sf, form, error):
    answer = token(sf, **form)
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_api_needs_a_live_token(sf, api):
    assert requests.get(sf.base_url + API + "/sobjects/Contact/describe", timeout=5).status_code == 401
    assert api("GET", "/sobjects/Contact/describe").status_code == 200
    sf.expire_tokens()
    expired = api("GET", "/sobjects/Contact/describe")
    assert expired.status_code == 401 and errors(expired) == ["INVALID_SESSION_ID"]


def test_every_answer_counts_api_usage(sf, api):
    api("GET", "/sobjects/Contact/describe")
    answer = api("GET", "/sobjects/Contact/describe")
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=2/15000"


def test_past_the_daily_limit_calls_are_refused_and_apply_nothing(sf, api):
    record_id = next(iter(sf.contacts))
    sf.api_usage = 14999
    last = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Interview_Themes__c": "last"})
    assert last.status_code == 204 and last.headers["Sforce-Limit-Info"] == "api-usage=15000/15000"
    before = dict(sf.contacts[record_id])
    refused = [api("PATCH", f"/sobjects/Contact/{record_id}", json={"Interview_Themes__c": "over"}),
               api("PATCH", "/composite/sobjects", json={"allOrNone": False, "records": [
                   {"attributes": {"type": "Contact"}, "id": record_id, "Interview_Themes__c": "over"}]}),
               api("GET", "/query", params={"q": "SELECT Id FROM Contact"})]
    for answer in refused:
        assert answer.status_code == 403
        assert answer.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        assert answer.headers["Sforce-Limit-Info"] == "api-usage=15000/15000"
    assert sf.contacts[record_id] == before and len(sf.patches) == 1


def test_the_daily_limit_is_configurable():
    with FakeSalesforce(daily_api_limit=1) as sf:
        bearer = {"Authorization": "Bearer " + token(sf).json()["access_token"]}
        url = sf.base_url + API + "/sobjects/Contact/describe"
        answers = [requests.get(url, headers=bearer, timeout=5) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 403]
        assert answers[1].headers["Sforce-Limit-Info"] == "api-usage=1/1"


@pytest.mark.parametrize("path", ["/query", "/query/"])
def test_query_decodes_escapes_and_ignores_email_case(api, path):
    answer = api("GET", path, params={"q": r"SELECT Id, Email FROM Contact WHERE Email = 'O\'Brien@EXAMPLE.com' LIMIT 1"})
    assert answer.status_code == 200
    assert answer.json()["totalSize"] == 1
    assert answer.json()["records"][0]["Email"] == "o'brien@example.com"
    assert answer.json()["records"][0]["attributes"]["type"] == "Contact"


def test_query_in_list(sf, api):
    sf.add_contact("b@example.com")
    q = "select Id from contact where email in ('b@example.com', 'nobody@example.com', 'O\\'brien@example.com')"
    assert api("GET", "/query", params={"q": q}).json()["totalSize"] == 2


@pytest.mark.parametrize("q", [
    "SELECT Id FROM Contact WHERE Email = 'o'brien@example.com'",       # unescaped quote
    "SELECT Id FROM Contact WHERE Email = 'open",                       # unbalanced
    r"SELECT Id FROM Contact WHERE Email = 'bad\escape'",              # not an escape
    r"SELECT Id FROM Contact WHERE Email = 'a\%b'",                    # LIKE-only escape
    "SELECT Id FROM Contact WHERE Email = 'a' OR 1=1",
    "SELECT FROM Contact",
    "SELECT Id FROM Contact WHERE Email = '" + "x" * 4000 + "'",
])
def test_bad_soql_is_malformed(api, q):
    answer = api("GET", "/query", params={"q": q})
    assert answer.status_code == 400 and errors(answer) == ["MALFORMED_QUERY"]


def test_unknown_column_and_object(api):
    assert errors(api("GET", "/query", params={"q": "SELECT Nope__c FROM Contact"})) == ["INVALID_FIELD"]
    assert errors(api("GET", "/query", params={"q": "SELECT Id FROM Lead"})) == ["INVALID_TYPE"]


@pytest.mark.parametrize(("q", "code"), [
    ("SELECT Id FROM Contact WHERE Nope__c = 'x'", "INVALID_FIELD"),
    ("SELECT Id FROM Contact WHERE Id = 'garbage'", "INVALID_QUERY_FILTER_OPERATOR"),
])
def test_a_bad_filter_is_refused_in_an_org_with_no_contacts_too(sf, api, q, code):
    # It was checked record by record, so an empty org answered 200 with no records (found by a
    # test audit: a golden lookup with a misspelt column passed when it ran first).
    sf.contacts.clear()
    answer = api("GET", "/query", params={"q": q})
    assert answer.status_code == 400 and errors(answer) == [code]


def test_long_uri_is_414(api):
    q = "SELECT Id FROM Contact WHERE Email IN (" + ",".join(f"'user{i}@example.com'" for i in range(800)) + ")"
    assert api("GET", "/query", params={"q": q}).status_code == 414


NEXT_RECORDS = re.compile(r"^/services/data/v59\.0/query/01g[A-Za-z0-9]{15}-(\d+)$")


def read_all_pages(sf, api, q):
    """Every page of a query, following ``nextRecordsUrl`` the way a client does."""
    pages = [api("GET", "/query", params={"q": q}).json()]
    while not pages[-1]["done"]:
        next_url = pages[-1]["nextRecordsUrl"]
        assert NEXT_RECORDS.match(next_url), next_url
        bearer = {"Authorization": sf.requests[-1]["headers"]["Authorization"]}
        pages.append(requests.get(sf.base_url + next_url, headers=bearer, timeout=10).json())
    return pages


@pytest.mark.parametrize(("contacts", "limit", "sizes"), [
    (4501, None, [2000, 2000, 501]),
    (4501, 2500, [2000, 500]),
    (4501, 2000, [2000]),
    (2000, None, [2000]),
])
def test_query_over_2000_records_comes_in_pages(sf, api, contacts, limit, sizes):
    for number in range(contacts - 1):
        sf.add_contact(f"user{number}@example.com")
    q = "SELECT Id FROM Contact" + (f" LIMIT {limit}" if limit else "")
    pages = read_all_pages(sf, api, q)
    assert [len(p["records"]) for p in pages] == sizes
    assert [p["done"] for p in pages] == [False] * (len(sizes) - 1) + [True]
    assert {p["totalSize"] for p in pages} == {sum(sizes)}
    assert all("nextRecordsUrl" not in p for p in pages if p["done"])
    offsets = [int(NEXT_RECORDS.match(p["nextRecordsUrl"])[1]) for p in pages if not p["done"]]
    assert offsets == [2000 * (i + 1) for i in range(len(sizes) - 1)]
    ids = [r["Id"] for p in pages for r in p["records"]]
    assert len(set(ids)) == sum(sizes) and ids == list(sf.contacts)[:sum(sizes)]


def test_an_unknown_query_locator_is_refused(api):
    for locator in ("01g5g0000000099AAA-2000", "nonsense-2000"):
        answer = api("GET", f"/query/{locator}")
        assert answer.status_code == 400 and errors(answer) == ["INVALID_QUERY_LOCATOR"]


def test_query_by_15_and_18_char_id(sf, api):
    record_id = next(iter(sf.contacts))
    for value in (record_id, record_id[:15]):
        assert api("GET", "/query", params={"q": f"SELECT Id FROM Contact WHERE Id = '{value}'"}).json()["totalSize"] == 1


GOOD = {"Latest_Customer_Quote__c": "é" * 4000, "Interview_Themes__c": "pricing, onboarding",
        "Interview_Sentiment__c": "negative", "Interview_Quality_Score__c": 4,
        "Transcript_URL__c": "https://app.koji.so/t/1", "Last_Koji_Interview_At__c": "2026-04-16T10:22:55Z",
        "NPS_Score__c": 10, "CSAT_Score__c": 5, "Last_Survey_Date__c": "2026-04-16"}


@pytest.mark.parametrize("path", ["/sobjects/Contact/{}", "/sobjects/contact/{}"])
def test_patch_applies_good_values(sf, api, path):
    record_id = next(iter(sf.contacts))
    answer = api("PATCH", path.format(record_id), json=GOOD)
    assert answer.status_code == 204 and answer.content == b""
    assert sf.patches == [(record_id, GOOD)]
    assert sf.contacts[record_id]["Interview_Sentiment__c"] == "negative"


@pytest.mark.parametrize(("written", "answered"), [
    ("2026-04-16T10:22:55Z", "2026-04-16T10:22:55.000+0000"),
    ("2026-04-16T12:22:55.5+02:00", "2026-04-16T10:22:55.500+0000"),
])
def test_a_date_time_is_answered_in_utc_with_milliseconds(sf, api, written, answered):
    # As Salesforce answers: a chain that compares it with what it writes must expect this form.
    record_id = next(iter(sf.contacts))
    written_now = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Last_Koji_Interview_At__c": written})
    assert written_now.status_code == 204
    q = f"SELECT Id, Last_Koji_Interview_At__c, Last_Survey_Date__c FROM Contact WHERE Id = '{record_id}'"
    [record] = api("GET", "/query", params={"q": q}).json()["records"]
    assert record["Last_Koji_Interview_At__c"] == answered and record["Last_Survey_Date__c"] is None
    assert api("GET", f"/sobjects/Contact/{record_id}").json()["Last_Koji_Interview_At__c"] == answered


@pytest.mark.parametrize(("body", "code"), [
    ({"Foo__c": "x"}, "INVALID_FIELD"),
    ({"Interview_Themes__c": "😀" * 256}, "STRING_TOO_LONG"),
    ({"Latest_Customer_Quote__c": "a" * 4001}, "STRING_TOO_LONG"),
    ({"Interview_Sentiment__c": "Positive"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ({"Interview_Sentiment__c": "mixed"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ({"Interview_Quality_Score__c": 4.2}, "NUMBER_OUTSIDE_VALID_RANGE"),
    ({"Interview_Quality_Score__c": 12}, "NUMBER_OUTSIDE_VALID_RANGE"),
    ({"Interview_Quality_Score__c": "4"}, "JSON_PARSER_ERROR"),
    ({"Interview_Quality_Score__c": True}, "JSON_PARSER_ERROR"),
    ({"Last_Koji_Interview_At__c": "16/04/2026 10:22"}, "JSON_PARSER_ERROR"),
    ({"Last_Koji_Interview_At__c": "2026-13-16T10:22:55Z"}, "JSON_PARSER_ERROR"),
    ({"Last_Survey_Date__c": "2026-04-16T10:22:55Z"}, "JSON_PARSER_ERROR"),
    ({"Name": "Ann Smith"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ({"Email": "not-an-address"}, "INVALID_EMAIL_ADDRESS"),
    ({"LastName": None}, "REQUIRED_FIELD_MISSING"),
])
def test_patch_refusals_apply_nothing(sf, api, body, code):
    record_id = next(iter(sf.contacts))
    before = dict(sf.contacts[record_id])
    answer = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Interview_Themes__c": "ok", **body})
    assert answer.status_code == 400 and code in errors(answer)
    assert sf.contacts[record_id] == before and sf.patches == []


def test_patch_with_bad_json(sf, api):
    record_id = next(iter(sf.contacts))
    answer = api("PATCH", f"/sobjects/Contact/{record_id}", data="{nope", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and errors(answer) == ["JSON_PARSER_ERROR"]


@pytest.mark.parametrize(("record_id", "status", "code"), [
    ("003xx", 400, "MALFORMED_ID"),
    ("0015g00000ABCDEFGH", 400, "MALFORMED_ID"),             # an Account id
    (contact_id(1)[:15] + "ZZZ", 400, "MALFORMED_ID"),       # wrong checksum
    (contact_id(99), 404, "NOT_FOUND"),
])
def test_patch_bad_ids(api, record_id, status, code):
    answer = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Interview_Themes__c": "x"})
    assert answer.status_code == status and errors(answer) == [code]


def test_id_suffix_matches_salesforce_example():
    # Salesforce's documented example: 001A0000006Vm9r → 001A0000006Vm9rIAC
    assert id_suffix("001A0000006Vm9r") == "IAC"


def test_collection_partial_and_all_or_none(sf, api):
    first = next(iter(sf.contacts))
    second = sf.add_contact("b@example.com")
    records = [{"attributes": {"type": "Contact"}, "id": first, "Interview_Quality_Score__c": 5},
               {"attributes": {"type": "Contact"}, "id": second, "Interview_Quality_Score__c": 4.5}]
    rolled = api("PATCH", "/composite/sobjects", json={"allOrNone": True, "records": records}).json()
    assert [r["success"] for r in rolled] == [False, False]
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rolled[1]["errors"][0]["statusCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert sf.patches == []
    partial = api("PATCH", "/composite/sobjects", json={"allOrNone": False, "records": records}).json()
    assert [r["success"] for r in partial] == [True, False] and partial[0]["id"] == first
    assert [record_id for record_id, _ in sf.patches] == [first]


def test_collection_over_200_records(sf, api):
    record_id = next(iter(sf.contacts))
    records = [{"attributes": {"type": "Contact"}, "id": record_id}] * 201
    answer = api("PATCH", "/composite/sobjects", json={"allOrNone": False, "records": records})
    assert answer.status_code == 400 and errors(answer) == ["EXCEEDED_ID_LIMIT"]


def test_describe_has_recipe_fields(api):
    fields = {f["name"]: f for f in api("GET", "/sobjects/Contact/describe").json()["fields"]}
    assert fields["Interview_Themes__c"]["length"] == 255
    assert fields["Interview_Quality_Score__c"]["precision"] == 1
    assert [p["value"] for p in fields["Interview_Sentiment__c"]["picklistValues"]] == ["positive", "neutral", "negative"]
    assert {"Id", "Email", "NPS_Score__c", "CSAT_Score__c", "Last_Survey_Date__c"} <= set(fields)


def test_custom_field_list_replaces_the_recipe():
    with FakeSalesforce(fields=[f for f in RECIPE_FIELDS if f["name"] != "Transcript_URL__c"]) as sf:
        assert sf.field("Transcript_URL__c") is None and sf.field("Email") is not None


def test_fail_next_then_recovers(sf, api):
    sf.fail_next(503, times=2, method="GET", path_contains="/query")
    q = {"q": "SELECT Id FROM Contact"}
    assert [api("GET", "/query", params=q).status_code for _ in range(3)] == [503, 503, 200]


def test_requests_are_recorded(sf, api):
    api("GET", "/query", params={"q": "SELECT Id FROM Contact"})
    last = sf.requests[-1]
    assert last["method"] == "GET" and last["path"] == API + "/query" and last["query"]["q"].startswith("SELECT")


# -- e-mail fields: the fake's own check, modelled on Salesforce's (not the connector's) -------------

@pytest.mark.parametrize("email", [
    "['a@b.example']",                 # a Python list turned into a string
    "<a@b.example>",                   # angle brackets
    "Ann <a@b.example>",               # a display name
    '"ann lee"@b.example',             # a quoted local part
    "ann lee@b.example",               # a space
    " a@b.example",                    # a leading space
    "a@b.example\n",                   # a final newline
    ".a@b.example",                    # a "." first in the local part
    "josé@exämple.com",                # non-ASCII (no Email Address Internationalization)
    "ann@exämple.com",
    "a@@b.example",
    "a@b@c.example",
    "@b.example",
    "a@",
    "a@localhost",                     # one domain label
    "a@b..example",
    "a@-b.example",
    "a@b_c.example",
    "a@[192.0.2.1]",
    "a@b.example, c@d.example",        # two addresses
    "a@b.example;c@d.example",
])
def test_patch_refuses_what_salesforce_refuses_in_an_email_field(sf, api, email):
    record_id = next(iter(sf.contacts))
    before = dict(sf.contacts[record_id])
    answer = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Email": email})
    assert answer.status_code == 400
    assert answer.json() == [{"message": f"Email: invalid email address: {email[:40]}",
                              "errorCode": "INVALID_EMAIL_ADDRESS", "fields": ["Email"]}]
    assert sf.contacts[record_id] == before and sf.patches == []


@pytest.mark.parametrize("email", [
    "ann@example.com",
    "o'brien@example.com",
    "Ann.Lee+koji@Mail.Example.co.uk",
    "x_y-z@sub-domain.example",
    "abcdefg.hijklmnopqrstuvwxyz!#$%&'*/=?^_+-`{|}~0123456789@acme-inc.com",
    # Salesforce takes ".." inside and a "." at the end of the local part, and comments
    # (Help article 000384328), though the RFC does not.
    "a..a@test.jp",
    "a..@test.jp",
    "john.doe@(comment)example.com",
    "",                                # an empty text value clears the field
])
def test_patch_takes_ordinary_email_addresses(sf, api, email):
    record_id = next(iter(sf.contacts))
    answer = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Email": email})
    assert answer.status_code == 204, answer.text
    assert sf.contacts[record_id]["Email"] == email


def test_an_email_that_is_not_a_string_is_a_parser_error(sf, api):
    record_id = next(iter(sf.contacts))
    answer = api("PATCH", f"/sobjects/Contact/{record_id}", json={"Email": ["a@b.example"]})
    assert answer.status_code == 400 and errors(answer) == ["JSON_PARSER_ERROR"]


def test_a_custom_email_field_is_checked_the_same_way():
    field = describe_field("Work_Email__c", "email", length=80)
    assert check_value(field, "ann@example.com") is None
    assert check_value(field, "<ann@example.com>")["errorCode"] == "INVALID_EMAIL_ADDRESS"
    assert check_value(field, "a" * 70 + "@example.com")["errorCode"] == "STRING_TOO_LONG"


def test_a_bad_email_in_a_collection_fails_only_its_record(sf, api):
    first = next(iter(sf.contacts))
    second = sf.add_contact("b@example.com")
    records = [{"attributes": {"type": "Contact"}, "id": first, "Email": "ann@example.com"},
               {"attributes": {"type": "Contact"}, "id": second, "Email": "josé@exämple.com"}]
    results = api("PATCH", "/composite/sobjects", json={"allOrNone": False, "records": records}).json()
    assert [r["success"] for r in results] == [True, False]
    assert results[1]["errors"] == [{"statusCode": "INVALID_EMAIL_ADDRESS", "fields": ["Email"],
                                     "message": "Email: invalid email address: josé@exämple.com"}]
    assert sf.contacts[second]["Email"] == "b@example.com"


# -- multi-select picklists: at most 100 values and 4,099 characters -------------------------------

TOPICS = [f"topic {n:03d}" for n in range(150)]
MULTI_FIELDS = [describe_field("Interview_Topics__c", "multipicklist"),
                describe_field("Interview_Tags__c", "multipicklist", restrictedPicklist=True,
                               picklistValues=picklist(*TOPICS))]


@pytest.fixture
def multi_api():
    with FakeSalesforce(fields=MULTI_FIELDS) as fake:
        record_id = fake.add_contact("ann@example.com")
        bearer = {"Authorization": "Bearer " + token(fake).json()["access_token"]}

        def patch(body):
            return requests.patch(f"{fake.base_url}{API}/sobjects/Contact/{record_id}", json=body,
                                  headers=bearer, timeout=5)
        patch.fake, patch.record_id = fake, record_id
        yield patch


def test_describe_gives_a_multi_select_picklist_salesforces_length(multi_api):
    assert {f["name"]: f["length"] for f in multi_api.fake.describe()["fields"]
            if f["type"] == "multipicklist"} == {"Interview_Topics__c": 4099, "Interview_Tags__c": 4099}
    spec = SimpleNamespace(name="Topics__c", label="Topics", type="multipicklist", max_length=None,
                           precision=18, scale=0, values=["a", "b"])
    assert fields_matching([spec])[0]["length"] == 4099


@pytest.mark.parametrize("value", [
    "topic 001",
    "topic 001;topic 002;topic 149",
    ";".join(TOPICS[:100]),                     # the most values Salesforce takes
    ";".join(["v" * 99] * 41),                  # 4,099 characters exactly
])
@pytest.mark.parametrize("field", ["Interview_Topics__c", "Interview_Tags__c"])
def test_a_multi_select_picklist_takes_up_to_100_values_and_4099_characters(multi_api, field, value):
    if field == "Interview_Tags__c" and "v" in value:
        value = ";".join(TOPICS[:41])           # a restricted field takes only its own values
    answer = multi_api({field: value})
    assert answer.status_code == 204, answer.text
    assert multi_api.fake.contacts[multi_api.record_id][field] == value


@pytest.mark.parametrize(("value", "code"), [
    (";".join(TOPICS[:101]), "TOO_MANY_ENUM_VALUE"),
    (";".join(["x" * 55] * 150), "TOO_MANY_ENUM_VALUE"),   # 150 values, 8,399 characters
    (";".join(["v" * 99] * 40 + ["v" * 100]), "STRING_TOO_LONG"),  # 41 values, 4,100 characters
    (";".join(["w" * 255] * 100), "STRING_TOO_LONG"),
])
def test_a_multi_select_picklist_refuses_too_many_values_or_characters(multi_api, value, code):
    answer = multi_api({"Interview_Topics__c": value})
    assert answer.status_code == 400
    [error] = answer.json()
    assert error["errorCode"] == code and error["fields"] == ["Interview_Topics__c"]
    assert set(error) == {"message", "errorCode", "fields"}
    assert multi_api.fake.contacts[multi_api.record_id].get("Interview_Topics__c") is None
    assert multi_api.fake.patches == []


def test_a_restricted_multi_select_picklist_refuses_too_many_and_unknown_values(multi_api):
    assert [e["errorCode"] for e in multi_api({"Interview_Tags__c": ";".join(TOPICS[:101])}).json()] == [
        "TOO_MANY_ENUM_VALUE"]
    assert [e["errorCode"] for e in multi_api({"Interview_Tags__c": "topic 001;nope"}).json()] == [
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]


def test_a_multi_select_picklist_is_limited_even_when_built_without_a_length():
    field = describe_field("M__c", "multipicklist", length=0)
    assert check_value(field, ";".join(["v" * 99] * 41)) is None
    assert check_value(field, "v" * 4100)["errorCode"] == "STRING_TOO_LONG"
