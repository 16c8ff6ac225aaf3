"""Every problem type the connector can answer is documented where its `type` URI points, and
the problems Flask raises (no route, wrong method) say more than their title."""
import copy
import io
import logging
import re
from pathlib import Path

import pytest

from conftest import API_KEY, SECRETS
from connector import errors
from connector.logs import SHOWN_FRAMES

PROBLEMS_DOC = Path(__file__).resolve().parents[1] / "docs" / "problems.md"


def all_problems(cls=errors.Problem):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_problems(sub)


def test_every_problem_type_has_its_section_with_its_status():
    sections = dict(re.findall(r"^## ([a-z-]+)\n\*\*(\d{3})\.\*\*", PROBLEMS_DOC.read_text(), re.M))
    problems = list(all_problems())
    assert problems
    for problem in problems:
        assert problem().type.endswith("problems.md#" + problem.slug)
        assert sections.get(problem.slug) == str(problem.status), problem.slug


def test_a_404_for_an_unknown_route_names_the_path_and_where_the_routes_are_listed(client):
    body = client.get("/v1/koji/verfiy").get_json()
    assert body["type"].endswith("problems.md#not-found")
    assert "/v1/koji/verfiy" in body["detail"] and "/openapi.yaml" in body["detail"]


def test_a_405_names_the_methods_the_path_takes(client):
    response = client.get("/v1/koji/verify")
    body = response.get_json()
    assert body["type"].endswith("problems.md#method-not-allowed")
    assert "POST" in body["detail"] and "GET" in body["detail"]  # what it takes, and what it was sent
    assert response.headers["Allow"] == "OPTIONS, POST"


@pytest.mark.parametrize("path", ["/v1/people/ann@example.com", "/v1/people/Ann Smith", "/v1/<script>"])
def test_a_404_does_not_repeat_a_path_that_may_hold_more_than_ids(client, path):
    body = client.get(path).get_json()
    assert path.rsplit("/", 1)[1] not in body["detail"]
    assert "/openapi.yaml" in body["detail"]
    assert "instance" not in body


def test_a_path_made_of_ids_is_the_problems_instance(client):
    assert client.get("/v1/events/int_1:interview.completed").get_json()["instance"] == \
        "/v1/events/int_1:interview.completed"


def test_a_404_repeats_a_long_path_only_in_part(client):
    body = client.get("/v1/unknown/" + "x" * 5000).get_json()
    assert len(body["detail"]) < 300
    assert "/v1/unknown/xxx" in body["detail"]
    assert "instance" not in body


def test_a_500_in_production_says_where_it_failed_but_not_what_the_exception_said(app, client, monkeypatch):
    # Before: "unexpected error=ValueError method=POST route=…" and nothing else: a rare 500
    # after weeks of running could not be traced to a line.
    stream = io.StringIO()
    logging.getLogger("connector").handlers[0].setStream(stream)
    assert not app.debug

    def fail(*args, **kwargs):
        raise ValueError(f"no Contact for o'brien@northwind.example quoting 'we love it' with {SECRETS[0]}")

    monkeypatch.setattr(app.extensions["connector"].pipeline, "answer", fail)
    response = client.post("/v1/salesforce/map", json={"interview_id": "i1"}, headers={"X-API-Key": API_KEY})
    assert response.status_code == 500
    [line] = [line for line in stream.getvalue().splitlines() if "unexpected error=" in line]
    where = line.split(" at=")[1]
    frames = where.split(",")
    assert frames[0] == f"tests/test_errors.py:{fail.__code__.co_firstlineno + 1}:fail"  # innermost first
    assert any(frame.startswith("connector/routes.py:") for frame in frames)
    assert len(frames) <= SHOWN_FRAMES and " " not in where
    assert not any(frame.startswith("/") for frame in frames)  # no home directory, no user name
    assert "Traceback" not in line and "northwind" not in line and "we love it" not in line
    assert SECRETS[0] not in line


def test_a_500_deep_in_a_library_still_names_the_connectors_own_frame(app, client, monkeypatch):
    # Six frames of copy.deepcopy would otherwise fill the line and hide where the connector was.
    stream = io.StringIO()
    logging.getLogger("connector").handlers[0].setStream(stream)

    class Refuses:
        def __deepcopy__(self, memo):
            raise TypeError("cannot copy")

    nested = Refuses()
    for _ in range(5):
        nested = [nested]
    monkeypatch.setattr(app.extensions["connector"].pipeline, "answer", lambda *a, **k: copy.deepcopy(nested))
    assert client.post("/v1/salesforce/map", json={"interview_id": "i1"}, headers={"X-API-Key": API_KEY}).status_code == 500
    [line] = [line for line in stream.getvalue().splitlines() if "unexpected error=" in line]
    frames = line.split(" at=")[1].split(",")
    assert frames[0].startswith("tests/test_errors.py:") and frames[0].endswith(":__deepcopy__")
    assert all(frame.startswith("copy.py:") for frame in frames[1:SHOWN_FRAMES])
    assert frames[-1].startswith("connector/routes.py:") and frames[-1].endswith(":map_payload")
    assert len(frames) == SHOWN_FRAMES + 1


def test_a_traceback_written_in_debug_mode_is_masked_like_the_line(app, client, monkeypatch):
    # Before: the filter rewrote the message only; the formatter then appended the traceback,
    # exception text and all.
    stream = io.StringIO()
    logging.getLogger("connector").handlers[0].setStream(stream)
    app.debug = True  # _unexpected logs the traceback only then

    def fail(*args, **kwargs):
        raise ValueError(f"no Contact for o'brien@northwind.example with {SECRETS[0]}")

    monkeypatch.setattr(app.extensions["connector"].pipeline, "answer", fail)
    response = client.post("/v1/salesforce/map", json={"interview_id": "i1"}, headers={"X-API-Key": API_KEY})
    assert response.status_code == 500
    text = stream.getvalue()
    assert "northwind" not in text and SECRETS[0] not in text
    assert "Traceback (most recent call last)" in text
    assert "ValueError: no Contact for [email] with [secret]" in text
    assert "unexpected error=ValueError method=POST route=/v1/salesforce/map" in text


def test_a_problem_renders_every_member_rfc_9457_names():
    problem = errors.ValidationFailed("2 violations", errors=[{"pointer": "/type", "message": "required"}])
    assert problem.to_dict(instance="/v1/koji/verify") == {
        "type": errors.PROBLEM_BASE + "validation-failed", "title": "Payload does not match the schema",
        "status": 422, "detail": "2 violations", "instance": "/v1/koji/verify",
        "errors": [{"pointer": "/type", "message": "required"}]}
    assert str(problem) == "2 violations"


def test_a_problem_without_a_detail_says_its_title_and_has_no_errors_member():
    problem = errors.NotConfigured()
    assert str(problem) == problem.detail == "This feature is not configured"
    assert problem.to_dict() == {"type": errors.PROBLEM_BASE + "not-configured",
                                 "title": "This feature is not configured", "status": 503,
                                 "detail": "This feature is not configured"}
    assert errors.ValidationFailed("x", errors=[]).to_dict()["errors"] == []  # empty, but given


def test_the_headers_each_problem_answers_with():
    assert errors.Unauthorized().headers == {"WWW-Authenticate": 'Bearer realm="connector"'}
    assert errors.Unauthorized("key not accepted").detail == "key not accepted"
    assert errors.LedgerBusy().headers == errors.LedgerUnavailable().headers == {"Retry-After": "30"}
    assert errors.UnsupportedMediaType.encoded().headers == {"Accept-Encoding": "identity"}
    assert errors.MethodNotAllowed.allowing(["POST", "GET"], "/v1/x", "PUT").headers == {"Allow": "GET, POST"}
    assert errors.NotFound().headers == {}


def test_the_details_of_the_problems_that_build_their_own():
    assert errors.LedgerBusy(2.5).detail == (
        "The event ledger's database stayed locked for 2.5 s (another process holds it: a backup, a "
        "sqlite3 shell?); nothing was changed. Try again later.")
    assert errors.LedgerBusy().detail == (
        "The event ledger's database stayed locked (another process holds it: a backup, a "
        "sqlite3 shell?); nothing was changed. Try again later.")
    assert errors.LedgerUnavailable("database or disk is full").detail == (
        "The event ledger's database cannot be used now (database or disk is full); nothing was changed. "
        "Try again later.")
    assert errors.LedgerUnavailable().detail == (
        "The event ledger's database cannot be used now; nothing was changed. Try again later.")
    assert errors.UnsupportedMediaType.encoded().detail == (
        "Send the body uncompressed (no Content-Encoding): the signature is over the exact bytes Koji sent.")
    assert errors.PayloadTooLarge.over(1048576).detail == (
        "The body is larger than the 1,048,576 bytes this service takes (MAX_BODY_BYTES). For "
        "/v1/koji/verify-envelope the limit counts the whole envelope, and base64 makes a body about a "
        "third larger.")


@pytest.mark.parametrize("method, path, detail", [
    ("PUT", "/v1/koji/verify", "PUT is not allowed on /v1/koji/verify; it takes GET, POST."),
    ("put<x>", "/v1/koji/verify", "This method is not allowed on /v1/koji/verify; it takes GET, POST."),
    ("PUT", "/v1/people/ann@example.com", "PUT is not allowed on this path; it takes GET, POST."),
])
def test_a_405_repeats_the_method_and_path_only_when_they_are_plain(method, path, detail):
    assert errors.MethodNotAllowed.allowing(["POST", "GET"], path, method).detail == detail


def test_a_404_for_a_path_that_is_not_plain_says_this_path():
    assert errors.NotFound.no_route("/v1/people/Ann Smith").detail == (
        "No route matches this path. The routes of this service are listed at /openapi.yaml.")


@pytest.mark.parametrize("length, shown", [(120, True), (121, False)])
def test_a_path_is_the_instance_up_to_120_characters(client, length, shown):
    path = "/v1/events/" + "x" * (length - len("/v1/events/"))
    body = client.get(path).get_json()
    assert body.get("instance") == (path if shown else None)


def test_every_problem_answered_is_counted_by_its_slug(client, monkeypatch):
    counted = []
    monkeypatch.setattr(errors.metrics, "count_problem", counted.append)
    client.get("/v1/koji/verfiy")
    client.get("/v1/koji/verify")
    assert counted == ["not-found", "method-not-allowed"]
