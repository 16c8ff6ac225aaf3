import json
import re
import socket
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest

import connector.salesforce as salesforce_module
from connector.profile import FieldSpec
from connector.profile_file import load_profile
from connector.salesforce import (SalesforceAuthError, SalesforceClient, SalesforceNotConfigured,
                                  SalesforceRequestError, SalesforceUnavailable, check_field, check_fields,
                                  target_fields)
from connector.settings import load_settings
from tests.fakes.loopback import LoopbackServer
from tests.fakes.salesforce import (RECIPE_FIELDS, SURVEY_FIELDS, FakeSalesforce, describe_field,
                                    fields_matching, picklist)
from tests.mapping_cases import EXAMPLES

SECRET = "test-client-secret"
DEFAULT = load_profile(None)


@pytest.fixture
def sf():
    with FakeSalesforce() as fake:
        yield fake


def client_for(fake: FakeSalesforce, secret: str = SECRET, **kwargs) -> SalesforceClient:
    return SalesforceClient(fake.base_url, fake.client_id, secret, timeout=2, **kwargs)


def update_contact(client: SalesforceClient, contact_id: str, fields: dict) -> None:
    """A PATCH as a chain sends it: the client's error handling on a write."""
    client.request("PATCH", "/sobjects/Contact/" + contact_id, json=fields)


def token_calls(fake: FakeSalesforce) -> int:
    return sum(1 for r in fake.requests if r["path"] == "/services/oauth2/token")


def test_token_is_cached_across_calls(sf):
    client = client_for(sf)
    client.describe_contact()
    client.request("GET", "/query", params={"q": "SELECT Id FROM Contact"})
    assert token_calls(sf) == 1
    assert sf.requests[0]["body"].startswith("grant_type=client_credentials")


def test_expired_token_is_refreshed_once(sf):
    client = client_for(sf)
    contact = sf.add_contact("a@example.com")
    client.describe_contact()
    sf.expire_tokens()
    update_contact(client, contact, {"Interview_Quality_Score__c": 4})
    assert token_calls(sf) == 2 and sf.patches == [(contact, {"Interview_Quality_Score__c": 4})]


def test_a_fresh_token_refused_again_is_an_auth_error(sf):
    client = client_for(sf)
    client.describe_contact()
    sf.fail_next(401, times=2, path_contains="/describe")
    with pytest.raises(SalesforceAuthError, match="INVALID_SESSION_ID"):
        client.describe_contact()


def test_wrong_secret_is_an_auth_error_without_the_secret(sf):
    with pytest.raises(SalesforceAuthError) as caught:
        client_for(sf, secret="s3cr3t-wrong").describe_contact()
    assert "invalid_client" in str(caught.value) and "s3cr3t-wrong" not in str(caught.value)
    # It names the settings to check, as they are spelt in the environment.
    assert settings_named(str(caught.value)) == {
        "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_DOMAIN_URL"}


def settings_named(message: str) -> set[str]:
    return set(re.findall(r"\w*SALESFORCE_\w*", message))


def test_a_domain_url_with_a_trailing_slash_is_the_same_org(sf, sent_requests):
    # As pasted from the browser's address bar: "…my.salesforce.com/". (The fake, like any
    # http.server, would read "//services/…" as "/services/…": the URL sent is what is checked.)
    client = SalesforceClient(sf.base_url + "/", sf.client_id, SECRET, timeout=2)
    assert client.describe_contact()["name"] == "Contact"
    assert sent_requests[0][0] == sf.base_url + "/services/oauth2/token"


@pytest.mark.parametrize("status, code", [(500, "UNKNOWN_EXCEPTION"), (503, "SERVER_UNAVAILABLE"),
                                          (403, "REQUEST_LIMIT_EXCEEDED")])
def test_server_trouble_is_upstream_unavailable(sf, status, code):
    client = client_for(sf)
    client.describe_contact()
    sf.fail_next(status, path_contains="/describe")
    with pytest.raises(SalesforceUnavailable) as caught:
        client.describe_contact()
    # The 502's detail: what Salesforce answered, by its status and error code.
    assert str(status) in str(caught.value) and code in str(caught.value)


def test_token_endpoint_down_is_upstream_unavailable(sf):
    sf.fail_next(503, path_contains="/oauth2/token")
    with pytest.raises(SalesforceUnavailable):
        client_for(sf).describe_contact()


def test_unreachable_and_silent_servers():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never answers
        port = listener.getsockname()[1]
        silent = SalesforceClient(f"http://127.0.0.1:{port}", "id", SECRET, timeout=0.2)
        with pytest.raises(SalesforceUnavailable) as caught:
            silent.describe_contact()
        assert caught.value.timeout is True and "0.2 s" in str(caught.value)
    closed = SalesforceClient(f"http://127.0.0.1:{port}", "id", SECRET, timeout=0.2)
    with pytest.raises(SalesforceUnavailable) as caught:
        closed.describe_contact()
    assert caught.value.timeout is False


def test_refusals_carry_codes_not_values(sf):
    contact = sf.add_contact("a@example.com")
    with pytest.raises(SalesforceRequestError) as caught:
        update_contact(client_for(sf), contact, {"Interview_Themes__c": "private words " * 30})
    assert caught.value.codes == ["STRING_TOO_LONG"] and "private words" not in str(caught.value)
    assert caught.value.status == 400 and "400 STRING_TOO_LONG" in str(caught.value)


def test_every_call_has_a_timeout(sf, sent_requests):
    client = client_for(sf)
    client.describe_contact()
    client.request("GET", "/query", params={"q": "SELECT Id FROM Contact"})
    seen = [kwargs.get("timeout") for _, kwargs in sent_requests]
    assert seen and all(timeout == 2 for timeout in seen)


def test_an_answer_over_the_size_limit_is_unavailable_not_read_whole(sf, monkeypatch):
    # The describe of the fake's Contact is some kB: over a limit of 1,000 bytes.
    monkeypatch.setattr(salesforce_module, "MAX_ANSWER_BYTES", 1000)
    with pytest.raises(SalesforceUnavailable, match="larger than the 1,000 bytes") as caught:
        client_for(sf).describe_contact()
    assert caught.value.timeout is False


@pytest.mark.parametrize("given", [{}, {"salesforce_domain_url": "https://acme.my.salesforce.com"},
                                   {"salesforce_client_id": "id", "salesforce_client_secret": "s"}])
def test_from_settings_names_each_salesforce_setting_missing(given):
    settings = load_settings(connector_mode="development", **given)
    with pytest.raises(SalesforceNotConfigured) as caught:
        SalesforceClient.from_settings(settings)
    missing = {"SALESFORCE_DOMAIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"} - {
        name.upper() for name in given}
    assert settings_named(str(caught.value)) == missing


def test_from_settings(sf):
    settings = load_settings(connector_mode="development", salesforce_domain_url=sf.base_url,
                                salesforce_client_id=sf.client_id, salesforce_client_secret=SECRET,
                                http_timeout_seconds=3, salesforce_api_version="v60.0")
    client = SalesforceClient.from_settings(settings)
    assert client.timeout == 3 and client.describe_contact()["name"] == "Contact"
    assert sf.requests[-1]["path"] == "/services/data/v60.0/sobjects/Contact/describe"


# -- check-fields --------------------------------------------------------------------

def report_for(fields: list[dict], profile=DEFAULT) -> dict:
    with FakeSalesforce(fields=fields) as fake:
        return check_fields(profile, client_for(fake))


def rows(report: dict) -> dict:
    return {row["field"]: row for row in report["fields"]}


def replace(name: str, **changes) -> list[dict]:
    return [dict(f, **changes) if f["name"] == name else f for f in RECIPE_FIELDS]


def test_matching_org_is_ok():
    report = report_for(RECIPE_FIELDS)
    assert report["ok"] is True and len(report["fields"]) == 7  # and a row for the Email lookup field
    assert all(row["ok"] and row["problems"] == [] for row in report["fields"])


def test_missing_field():
    report = report_for([f for f in RECIPE_FIELDS if f["name"] != "Transcript_URL__c"])
    row = rows(report)["Transcript_URL__c"]
    assert report["ok"] is False and row["exists"] is False and "does not exist" in row["problems"][0]


NOT_CHECKED = {"updateable": None, "type_fits": None, "length_fits": None, "picklist_fits": None,
               "missing_values": []}


def test_every_row_of_the_report_has_every_key():
    # The report is the JSON of `check-fields --json` and of the route: a reader finds each key
    # in each row, None where that check does not apply.
    report = report_for([f for f in RECIPE_FIELDS if f["name"] != "Transcript_URL__c"] +
                        [describe_field("Email", "email", length=80)])
    by_field = rows(report)
    assert report["sobject"] == "Contact"
    missing = by_field["Transcript_URL__c"]
    assert {key: value for key, value in missing.items() if key != "problems"} == {
        "field": "Transcript_URL__c", "profile_type": "url", "exists": False, "salesforce_type": None,
        **NOT_CHECKED, "ok": False}
    assert by_field["Email"] == {"field": "Email", "profile_type": "lookup", "exists": True,
                                 "salesforce_type": "email", **NOT_CHECKED, "problems": [], "ok": True}
    assert by_field["Interview_Sentiment__c"] == {
        "field": "Interview_Sentiment__c", "profile_type": "picklist", "exists": True,
        "salesforce_type": "picklist", "updateable": True, "type_fits": True, "length_fits": True,
        "picklist_fits": True, "missing_values": [], "problems": [], "ok": True}


def test_too_short_length():
    row = rows(report_for(replace("Interview_Themes__c", length=100)))["Interview_Themes__c"]
    assert row["length_fits"] is False and "too small" in row["problems"][0]


def test_too_small_number():
    row = rows(report_for(replace("Interview_Quality_Score__c", precision=2, scale=2)))["Interview_Quality_Score__c"]
    assert row["length_fits"] is False


def number(precision: int, scale: int) -> FieldSpec:
    return FieldSpec(name="Score__c", type="number", precision=precision, scale=scale,
                     source="interview.quality_score")


@pytest.mark.parametrize("spec, described, fits", [
    # Number(3,1): 2 digits before the point, 1 after; both must fit.
    (number(3, 1), {"type": "double", "precision": 3, "scale": 1}, True),
    (number(3, 1), {"type": "double", "precision": 5, "scale": 2}, True),
    (number(3, 1), {"type": "double", "precision": 3, "scale": 0}, False),
    (number(3, 1), {"type": "double", "precision": 2, "scale": 1}, False),
    (number(3, 1), {"type": "percent", "precision": 4, "scale": 2}, True),
    # An int field is sized by its digits and takes no decimals.
    (number(2, 0), {"type": "int", "precision": 0, "digits": 2}, True),
    (number(2, 0), {"type": "int", "precision": 0, "digits": 1}, False),
    (number(2, 1), {"type": "int", "precision": 0, "digits": 9}, False),
    # Keys Salesforce always sends, missing: read as not set, so nothing fits.
    (number(1, 0), {"type": "double"}, False),
])
def test_a_number_field_fits_by_digits_before_and_after_the_point(spec, described, fits):
    row = check_field(spec, {"name": "Score__c", "updateable": True, **described})
    assert row["length_fits"] is fits and row["ok"] is fits


def test_a_number_field_too_small_says_both_sizes():
    row = check_field(number(3, 1), describe_field("Score__c", "double", precision=3, scale=0))
    assert row["problems"] == ["the field is too small: Salesforce has 3,0, the profile needs 3,1"]


def test_missing_picklist_value():
    row = rows(report_for(replace("Interview_Sentiment__c",
                                  picklistValues=picklist("positive", "negative"))))["Interview_Sentiment__c"]
    assert row["picklist_fits"] is False and row["missing_values"] == ["neutral"]
    assert len(row["problems"]) == 1 and "neutral" in row["problems"][0]


def test_a_multi_select_picklist_missing_a_value_is_reported():
    features = FieldSpec(name="Features__c", type="multipicklist", values=["a", "b", "c"], source="analysis.themes")
    described = describe_field("Features__c", "multipicklist", restrictedPicklist=True,
                               picklistValues=picklist("a", "c"))
    row = check_field(features, described)
    assert (row["picklist_fits"], row["missing_values"], row["ok"]) == (False, ["b"], False)


def test_values_missing_from_an_unrestricted_picklist_are_listed_but_refuse_nothing():
    # Salesforce takes any value into an unrestricted picklist through the API: not a failure.
    report = report_for(replace("Interview_Sentiment__c", restrictedPicklist=False,
                                picklistValues=picklist("positive", "negative")))
    row = rows(report)["Interview_Sentiment__c"]
    assert (row["picklist_fits"], row["missing_values"], row["problems"]) == (True, ["neutral"], [])
    assert report["ok"] is True


def test_inactive_picklist_value():
    values = picklist("positive", "neutral", "negative")
    values[1]["active"] = False
    row = rows(report_for(replace("Interview_Sentiment__c", picklistValues=values)))["Interview_Sentiment__c"]
    assert row["missing_values"] == ["neutral"]


def test_non_updateable_field():
    row = rows(report_for(replace("Last_Koji_Interview_At__c", updateable=False)))["Last_Koji_Interview_At__c"]
    assert row["updateable"] is False and not row["ok"]
    assert len(row["problems"]) == 1 and "not updateable" in row["problems"][0]


def test_wrong_type():
    row = rows(report_for(replace("Interview_Quality_Score__c", type="string", length=10)))[
        "Interview_Quality_Score__c"]
    assert row["type_fits"] is False and "is string" in row["problems"][0]


def test_missing_external_id_lookup_field():
    profile = load_profile(EXAMPLES / "external-id-lookup.yaml")
    report = report_for(RECIPE_FIELDS, profile)
    assert rows(report)["Koji_External_Id__c"]["problems"] == ["the lookup field does not exist on the Contact"]
    with_field = RECIPE_FIELDS + [describe_field("Koji_External_Id__c", "string", length=255, externalId=True)]
    assert report_for(with_field, profile)["ok"] is True


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_an_org_built_from_each_example_passes_check_fields(name):
    profile = load_profile(EXAMPLES / f"{name}.yaml")
    extra = [describe_field("Koji_External_Id__c", "string", length=255, externalId=True)]
    assert report_for(fields_matching(profile.all_fields) + extra, profile)["ok"] is True


def test_target_fields_lists_what_the_profile_writes():
    fields = target_fields(load_profile(EXAMPLES / "survey-scores.yaml"))
    assert fields[0] == {"name": "NPS_Score__c", "label": "NPS Score", "type": "number", "length": None,
                         "precision": 2, "scale": 0, "values": [], "source": "structured answer q_nps"}
    assert target_fields(DEFAULT)[5]["source"] == "interview.completed_at"
    assert target_fields(DEFAULT)[1] == {"name": "Interview_Themes__c", "label": "Interview Themes", "type": "text",
                                         "length": 255, "precision": None, "scale": None, "values": [],
                                         "source": "analysis.themes"}
    computed = target_fields(load_profile(EXAMPLES / "liquid-computed.yaml"))
    assert {f["name"]: f["source"] for f in computed}["Koji_Interview_Headline__c"] == "template"
    # The fake org's score fields are the example's, so tests that use them test what it writes.
    assert [(f["name"], f["precision"], f["scale"]) for f in SURVEY_FIELDS if f["type"] == "double"] == [
        (f["name"], f["precision"], f["scale"]) for f in fields if f["type"] == "number"]
    assert {f["name"] for f in SURVEY_FIELDS} == {f["name"] for f in fields}


def test_an_integer_field_is_sized_by_its_digits():
    # describe gives an int field precision 0 and its size in `digits`: it read as "too small" always.
    fits = rows(report_for(replace("Interview_Quality_Score__c", type="int", precision=0, digits=9)))
    assert fits["Interview_Quality_Score__c"]["ok"] is True
    too_small = rows(report_for(replace("Interview_Quality_Score__c", type="int", precision=0, digits=0)))
    assert too_small["Interview_Quality_Score__c"]["problems"] == [
        "the field is too small: Salesforce has 0 digits, no decimals, the profile needs 1,0"]


def test_a_lookup_field_salesforce_cannot_filter_on_is_reported():
    # A WHERE on a Long Text Area is refused: every lookup by it would fail, yet check-fields said ok.
    profile = load_profile(EXAMPLES / "external-id-lookup.yaml")
    unfilterable = describe_field("Koji_External_Id__c", "textarea", length=32768, externalId=False)
    report = report_for(RECIPE_FIELDS + [unfilterable], profile)
    assert report["ok"] is False
    assert rows(report)["Koji_External_Id__c"]["problems"] == [
        "Salesforce cannot filter on this field (textarea), so a lookup by it is refused: use a text, e-mail or "
        "External ID field"]


def test_a_phone_field_takes_a_text_field_of_its_length(tmp_path):
    # Contact's Phone and MobilePhone are phone fields (40 characters): before, no profile type fitted them.
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nactions: {interview.completed: update_contact}\nlookup: {order: [email]}\n"
                    "fields:\n  - {name: MobilePhone, type: text, length: 40, source: respondent.attributes.phone}\n")
    profile = load_profile(path)
    phone = describe_field("MobilePhone", "phone", length=40)
    assert report_for([phone, describe_field("Email", "email", length=80)], profile)["ok"] is True
    too_long = report_for([dict(phone, length=30), describe_field("Email", "email", length=80)], profile)
    assert rows(too_long)["MobilePhone"]["length_fits"] is False


@pytest.mark.parametrize(("body", "codes"), [
    (b'{"error": "invalid_client", "error_description": "invalid client credentials"}', ["invalid_client"]),
    (b'[{"errorCode": "STRING_TOO_LONG", "message": "Themes: data value too large", "fields": ["T__c"]}]',
     ["STRING_TOO_LONG"]),
    # Not Salesforce (a proxy, a wrong domain URL) quoting the request it was sent: secret included.
    (b'{"error": "invalid_client: got grant_type=client_credentials&client_secret=sfsecret_LEAK123"}',
     ["(not a Salesforce error code)"]),
    (b'[{"errorCode": "INVALID_FIELD"}, {"errorCode": "jane@corp.example LEAKQUOTE"}, {"errorCode": 7}]',
     ["INVALID_FIELD", "(not a Salesforce error code)"]),
    (json.dumps([{"errorCode": f"CODE_{n}"} for n in range(9)]).encode(), [f"CODE_{n}" for n in range(5)]),
    (b'[{"message": "an error without a code"}, "a string", 7]', []),
])
def test_only_words_shaped_like_salesforce_codes_are_repeated(body, codes):
    from connector.bounded_http import Answer
    assert salesforce_module._error_codes(Answer(400, body)) == codes


@contextmanager
def salesforce_answering(body: bytes, token: bytes | None = None):
    """A tiny Salesforce for answers the fake never gives: every GET gets `body`, the token
    POST gets `token` (a working token when None). Yields its client."""
    class Answering(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.answer(token if token is not None else
                        json.dumps({"access_token": "t", "instance_url": base_url}).encode())

        def do_GET(self):
            self.answer(body)

        def answer(self, data: bytes):
            answer_json(self, data)

        def log_message(self, *args):
            pass

    with serving(Answering) as base_url:
        yield SalesforceClient(base_url, "id", SECRET, timeout=2)


def answer_json(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]):
    """A server on 127.0.0.1 for `handler`, on a thread; yields its base URL."""
    with _Serving(handler) as server:
        yield server.base_url


class _Serving(LoopbackServer):
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.handler = handler

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return self.handler


@contextmanager
def salesforce_redirecting(status: int, to: FakeSalesforce, *, token: bool):
    """A Salesforce that answers `status` with a Location to the same path on `to`: its token
    POST when `token`, else every REST call (after a working token). Yields its client, which
    holds `to`'s credentials, so a call that reached `to` would succeed there."""
    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if token or self.path != "/services/oauth2/token":
                return self.redirect()
            answer_json(self, json.dumps({"access_token": "t", "instance_url": base_url}).encode())

        def do_GET(self):
            self.redirect()

        def do_PATCH(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.redirect()

        def redirect(self):
            self.send_response(status)
            self.send_header("Location", to.base_url + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with serving(Redirecting) as base_url:
        yield SalesforceClient(base_url, to.client_id, to.client_secret, timeout=2)


def redirect_refused(status: int) -> str:
    return (f"Salesforce answered {status}, a redirect, which the connector does not follow; "
            "check SALESFORCE_DOMAIN_URL (your My Domain URL)")


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirected_token_request_is_refused_and_its_secret_not_sent_on(sf, status):
    # Before: a 307 or 308 re-posted the form, client_secret included, to the other host.
    with salesforce_redirecting(status, sf, token=True) as client:
        with pytest.raises(SalesforceUnavailable) as caught:
            client.describe_contact()
    assert str(caught.value) == redirect_refused(status) and caught.value.timeout is False
    assert sf.requests == []


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("call", [
    lambda client: client.describe_contact(),
    lambda client: update_contact(client, "003000000000001AAA", {"Interview_Quality_Score__c": 4}),
], ids=["describe", "update"])
def test_a_redirected_rest_call_is_refused_and_not_sent_on(sf, status, call):
    # Before: the call went on to the other host (a PATCH with its record, on 307 and 308).
    # Only not followed, a 3xx would have read as done to the PATCH: it is below 400.
    with salesforce_redirecting(status, sf, token=False) as client:
        with pytest.raises(SalesforceUnavailable) as caught:
            call(client)
    assert str(caught.value) == redirect_refused(status)
    assert sf.requests == []


@pytest.mark.parametrize("body", [b"<html><body>Login</body></html>", b"5", b'{"no_token": true}'])
def test_an_answer_that_is_not_salesforce_json_is_upstream_unavailable(body):
    # A wrong SALESFORCE_DOMAIN_URL that answers 200 with a login page: before, a JSONDecodeError
    # traceback from the CLI (exit 1, "fields do not fit") and a 500 from /check-fields.
    with salesforce_answering(body, token=body) as client:
        with pytest.raises(SalesforceUnavailable) as caught:
            client.describe_contact()
    assert "SALESFORCE_DOMAIN_URL" in str(caught.value)


def test_a_describe_without_fields_is_upstream_unavailable():
    # A token from the org, then a JSON object that is not a describe (another API on that host).
    with salesforce_answering(b'{"name": "Contact"}') as client:
        with pytest.raises(SalesforceUnavailable, match="SALESFORCE_DOMAIN_URL"):
            client.describe_contact()


def odd(name: str, below: str = "", **change) -> tuple[dict, str]:
    """A describe where one key of one field of RECIPE_FIELDS has another shape, and the
    pointer to it (to a part `below` it, when that is what is wrong)."""
    index = next(i for i, f in enumerate(RECIPE_FIELDS) if f["name"] == name)
    return {"fields": replace(name, **change)}, f"/fields/{index}/{next(iter(change))}{below}"


ODD_DESCRIBES = {  # a describe → the JSON pointer the error names
    "fields null": ({"fields": None}, "/fields"),
    "fields an object": ({"fields": {"a": 1}}, "/fields"),
    "a number as field": ({"fields": [1]}, "/fields/0"),
    "a field without name": ({"fields": [{"type": "string"}]}, "/fields/0"),
    "name null": ({"fields": [{"name": None}]}, "/fields/0/name"),
    "length a string": odd("Interview_Themes__c", length="32000"),
    "precision a boolean": odd("Interview_Quality_Score__c", precision=True),
    "scale null": odd("Interview_Quality_Score__c", scale=None),
    "type a list": odd("Interview_Sentiment__c", type=["picklist"]),
    "updateable a string": odd("Transcript_URL__c", updateable="true"),
    "picklistValues null": odd("Interview_Sentiment__c", picklistValues=None),
    "a picklist value not an object": odd("Interview_Sentiment__c", "/1", picklistValues=[picklist("a")[0], 1]),
    "a picklist value without value": odd("Interview_Sentiment__c", "/0", picklistValues=[{"active": True}]),
    "a picklist value's active a string": odd("Interview_Sentiment__c", "/0",
                                              picklistValues=[dict(picklist("a")[0], active="yes")]),
}


@pytest.mark.parametrize("describe, where", ODD_DESCRIBES.values(), ids=ODD_DESCRIBES.keys())
def test_a_describe_of_another_shape_is_upstream_unavailable(sf, monkeypatch, describe, where):
    # Before: TypeError, AttributeError or KeyError out of check_fields (500 from the route,
    # a traceback from the CLI).
    monkeypatch.setattr(sf, "describe", lambda: describe)
    with pytest.raises(SalesforceUnavailable) as caught:
        check_fields(DEFAULT, client_for(sf))
    assert str(caught.value) == f"Salesforce's describe of the Contact is not the expected JSON (at {where})"


def test_a_describe_with_missing_keys_still_reads_as_not_set(sf, monkeypatch):
    # Only a key of another type is refused: a missing one was read as "not set" and still is.
    monkeypatch.setattr(sf, "describe", lambda: {"fields": [
        {"name": "Interview_Themes__c"}, {"name": "Interview_Sentiment__c", "type": "picklist", "length": 255},
        {"name": "Interview_Quality_Score__c", "type": "double"}]})
    report = rows(check_fields(DEFAULT, client_for(sf)))
    row = report["Interview_Themes__c"]
    assert row["exists"] is True and row["updateable"] is False and row["type_fits"] is False
    assert report["Interview_Sentiment__c"]["missing_values"] == ["positive", "neutral", "negative"]
    assert report["Interview_Quality_Score__c"]["length_fits"] is False


@pytest.mark.parametrize("body", [
    b'{"fields": [], "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"fields": [{"name": "Interview_Quality_Score__c", "precision": NaN}]}',
], ids=["3000 levels", "NaN"])
def test_a_describe_the_strict_reader_refuses_is_upstream_unavailable(body):
    # Before: 3000 levels raised RecursionError (500); NaN compared as a number.
    with salesforce_answering(body) as client:
        with pytest.raises(SalesforceUnavailable):
            client.describe_contact()
