"""GET /metrics: what is counted, by labels from fixed sets only, behind the API key."""
import json
import os
import subprocess
import sys
from collections import Counter as Tally

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from conftest import API_KEY, SECRETS, sample, sample_bytes
from connector import create_app, metrics
from live import REPO, free_port

SAMPLE = "salesforce-guide.analysis_ready.json"


@pytest.fixture(autouse=True)
def first_app_of_its_process(monkeypatch):
    """Each test's app makes the process's recorder, as a worker's first app does (put back after)."""
    monkeypatch.setattr(metrics, "_recorder", None)


def scrape(client) -> str:
    response = client.get("/metrics", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def values(client) -> Tally:
    """Every sample of the scrape, by (name, sorted labels)."""
    found = Tally()
    for family in text_string_to_metric_families(scrape(client)):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def requests_(route, method, status):
    return ("connector_requests_total", (("method", method), ("route", route), ("status", str(status))))


def events(action, skip_reason="none", delivery="none"):
    return ("connector_events_total", (("action", action), ("delivery", delivery), ("skip_reason", skip_reason)))


def problems(slug):
    return ("connector_problems_total", (("type", slug),))


def changes(before: Tally, after: Tally) -> dict:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]
            and not key[0].endswith(("_created", "_bucket", "_sum"))
            and not (key[0] == "connector_requests_total" and ("route", "/metrics") in key[1])
            and not (key[0] == "connector_request_duration_seconds_count" and ("route", "/metrics") in key[1])}


def test_a_verify_that_updates_a_contact_and_its_duplicate_are_counted(koji, client, auth):
    before = values(client)
    first = koji.deliver(sample_bytes(SAMPLE)).get_json()
    assert first["action"] == "update_contact"
    client.post(first["delivery"]["complete_path"], headers=auth).get_json()
    again = koji.deliver(sample_bytes(SAMPLE)).get_json()
    assert (again["action"], again["skip_reason"], again["delivery"]["status"]) == ("skip", "duplicate", "duplicate")
    assert changes(before, values(client)) == {
        events("update_contact", delivery="first"): 1,
        events("skip", "duplicate", "duplicate"): 1,
        requests_("/v1/koji/verify", "POST", 200): 2,
        requests_("/v1/events/<event_key:key>/complete", "POST", 200): 1,
        ("connector_request_duration_seconds_count", (("route", "/v1/koji/verify"),)): 2,
        ("connector_request_duration_seconds_count", (("route", "/v1/events/<event_key:key>/complete"),)): 1,
    }


def test_a_map_answer_is_counted_with_no_delivery(client, auth):
    before = values(client)
    assert client.post("/v1/salesforce/map", json=sample("interview.full.json"), headers=auth).status_code == 200
    assert changes(before, values(client))[events("update_contact")] == 1


def test_a_bad_signature_is_counted_as_invalid_signature(koji, client):
    before = values(client)
    assert koji.deliver(sample_bytes(SAMPLE), signature="sha256=" + "0" * 64).status_code == 400
    assert changes(before, values(client)) == {
        problems("invalid-signature"): 1,
        requests_("/v1/koji/verify", "POST", 400): 1,
        ("connector_request_duration_seconds_count", (("route", "/v1/koji/verify"),)): 1,
    }


def test_an_unknown_path_is_counted_as_no_route_and_never_shown(client):
    path = "/v1/contacts/jane.doe@northwind.example/secret-plans"
    before = values(client)
    assert client.get(path).status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405  # a method werkzeug takes as it comes
    assert changes(before, values(client)) == {
        problems("not-found"): 1, problems("method-not-allowed"): 1,
        requests_("(no route)", "GET", 404): 1, requests_("(no route)", "other", 405): 1,
        ("connector_request_duration_seconds_count", (("route", "(no route)"),)): 2,
    }
    text = scrape(client)
    for said in ("northwind", "secret-plans", "/v1/contacts", "BREW"):
        assert said not in text


def test_a_payload_that_breaks_the_schema_is_counted_as_validation_failed(koji, client):
    body = sample(SAMPLE)
    body["data"]["quality_score"] = "high"
    before = values(client)
    assert koji.deliver(body).status_code == 422
    assert changes(before, values(client))[problems("validation-failed")] == 1


def test_known_problems_are_there_at_zero_before_the_first(client):
    # An alert on rate(connector_problems_total{type="ledger-unavailable"}) needs the series.
    found = values(client)
    for slug in ("invalid-signature", "ledger-unavailable", "ledger-busy", "unauthorized", "payload-too-large"):
        assert problems(slug) in found and found[problems(slug)] == 0
    assert found[("connector_ledger_purged_events_total", ())] == 0


def test_metrics_need_the_api_key(client):
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["type"].endswith("#unauthorized")
    assert client.get("/metrics", headers={"Authorization": "Bearer not-the-key-0123456789"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    assert client.get("/metrics", headers={"X-API-Key": API_KEY}).status_code == 200


def test_no_email_quote_secret_or_event_key_ever_reaches_the_metrics(koji, client, auth):
    said = set()
    for name in sorted(p for p in os.listdir(REPO / "connector" / "samples") if p.endswith(".json")):
        raw = sample_bytes(name)
        answer = koji.deliver(raw).get_json()
        koji.deliver(raw, signature="sha256=" + "1" * 64)
        client.post("/v1/salesforce/map", data=raw, headers={**auth, "Content-Type": "application/json"})
        if answer and "event" in answer:
            said |= {answer["event"]["key"], answer["interview"]["id"] or "", answer["analysis"]["quote"] or ""}
            said |= {v for v in answer["respondent"].values() if isinstance(v, str)}
    client.get(f"/v1/events/{sorted(said - {''})[0]}", headers=auth)
    text = scrape(client)
    assert "@" not in text
    for value in sorted(said - {""}) + SECRETS + [API_KEY]:
        assert value not in text, value


def test_rows_the_ledger_purge_removes_are_counted(app, client):
    ledger = app.extensions["connector"].ledger
    for n in range(3):
        ledger.claim(f"int_purge_{n}:interview.completed")
        ledger.complete(f"int_purge_{n}:interview.completed")
    before = values(client)
    assert ledger.purge(now=ledger.clock() + ledger.retention_seconds + 10) == 3
    assert changes(before, values(client))[("connector_ledger_purged_events_total", ())] == 3


def test_prometheus_client_is_not_imported_until_an_app_is_made():
    # prometheus_client picks in-memory or multiprocess values when it is first imported,
    # from PROMETHEUS_MULTIPROC_DIR: `connector serve` sets it before forking the workers,
    # so its master must not have imported it (nor anything the master imports).
    code = ("import sys, connector.cli, connector.server, connector.app, connector.routes, connector.errors, "
            "connector.ledger, connector.metrics; print('prometheus_client' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_serve_makes_a_private_directory_and_removes_it_in_the_master_only(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "")  # so that monkeypatch restores the variable's absence
    monkeypatch.delenv(metrics.MULTIPROC_ENV)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with metrics.multiprocess_directory() as made:
        assert os.environ[metrics.MULTIPROC_ENV] == made and os.path.isdir(made) and not os.listdir(made)
    assert not os.path.exists(made) and metrics.MULTIPROC_ENV not in os.environ
    with metrics.multiprocess_directory() as made:
        monkeypatch.setattr("os.getpid", lambda: -1)  # a worker, forked inside the block, leaving it
    assert os.path.isdir(made) and os.environ[metrics.MULTIPROC_ENV] == made


def test_serve_uses_the_operators_directory_and_never_deletes_it(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "counter_1.db").write_bytes(b"")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(mine))
    with metrics.multiprocess_directory() as used:
        assert used == str(mine)
    assert (mine / "counter_1.db").exists()
    assert metrics.leftover_files() == 1


def test_serve_refuses_a_multiprocess_directory_that_is_not_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "MAPPING_"))}
    env.update(DATABASE_PATH=str(tmp_path / "s.sqlite3"), PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing"))
    result = subprocess.run([sys.executable, "-m", "connector.cli", "serve", "--port", str(free_port())],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "configuration refused: PROMETHEUS_MULTIPROC_DIR" in result.stderr and "is not a directory" in result.stderr


@pytest.mark.parametrize("body", [json.dumps({"type": "ping"}).encode()])
def test_a_verification_ping_is_counted_as_a_skip(koji, client, body):
    before = values(client)
    answer = koji.deliver(body).get_json()
    assert changes(before, values(client))[events("skip", answer["skip_reason"], answer["delivery"]["status"])] == 1


def test_a_requests_duration_is_observed_in_buckets_fine_enough_for_milliseconds(client):
    client.get("/healthz")
    found = values(client)
    route = ("route", "/healthz")
    assert found[("connector_request_duration_seconds_count", (route,))] == 1
    assert 0 <= found[("connector_request_duration_seconds_sum", (route,))] < 5
    buckets = {dict(labels)["le"] for name, labels in found if name == "connector_request_duration_seconds_bucket"}
    assert {"0.001", "0.0025", "0.005", "0.01", "5.0", "+Inf"} <= buckets


def test_every_workers_counts_are_summed_whichever_worker_is_scraped(settings, tmp_path, monkeypatch):
    # gunicorn's workers are processes: prometheus_client's multiprocess values (files per
    # process id in PROMETHEUS_MULTIPROC_DIR), played here by two apps, each run as its own
    # process would run it: its process id for new values, its recorder for the module's calls.
    from prometheus_client import values as prometheus_values

    shared = tmp_path / "metrics"
    shared.mkdir()
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(shared))
    workers = []
    for pid in (1001, 1002):
        value_class = prometheus_values.MultiProcessValue(lambda pid=pid: pid)
        monkeypatch.setattr(prometheus_values, "ValueClass", value_class)
        monkeypatch.setattr(metrics, "_recorder", None)  # each worker process makes its own
        app = create_app(settings)
        app.testing = True
        workers.append((app.test_client(), value_class, metrics._recorder))

    def as_worker(n: int):
        client, value_class, recorder = workers[n]
        monkeypatch.setattr(prometheus_values, "ValueClass", value_class)
        monkeypatch.setattr(metrics, "_recorder", recorder)
        return client

    try:
        as_worker(0).get("/healthz")
        as_worker(1).get("/healthz")
        as_worker(1).get("/healthz")
        for n in range(2):
            assert values(as_worker(n))[requests_("/healthz", "GET", 200)] == 3
    finally:
        prometheus_values.close_all_multiprocess_files()


@pytest.mark.parametrize("given, problem, leftover", [
    (None, False, 0), ("empty", False, 0), ("two files", False, 2), ("missing", True, 0), ("a file", True, 0),
])
def test_the_multiprocess_directory_an_operator_gives_is_checked(tmp_path, monkeypatch, given, problem, leftover):
    monkeypatch.chdir(tmp_path)  # the current directory holds a file: nothing is counted there
    (tmp_path / "unrelated.txt").write_text("")
    path = tmp_path / str(given)
    if given in ("empty", "two files"):
        path.mkdir()
        for n in range(leftover):
            (path / f"counter_{n}.db").write_bytes(b"")
    if given == "a file":
        path.write_text("")
    if given is None:
        monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    else:
        monkeypatch.setenv(metrics.MULTIPROC_ENV, str(path))
    said = metrics.multiprocess_dir_problem()
    if problem:
        assert said.startswith(f"PROMETHEUS_MULTIPROC_DIR {path} is not a directory")
        with pytest.raises(metrics.MetricsUnusable) as refused:
            metrics.init_app(Flask("t"))
        assert str(refused.value) == said
    else:
        assert said is None
    assert metrics.leftover_files() == leftover


def test_counting_in_a_process_without_an_app_does_nothing():
    # gunicorn's master purges no ledger and answers nothing, but imports what counts.
    metrics.count_purged(3)
    metrics.count_problem("not-found")
    metrics.count_answer({"action": "skip", "skip_reason": "duplicate", "delivery": None})
    assert metrics._recorder is None  # no recorder was made for it
