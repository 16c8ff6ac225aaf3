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
