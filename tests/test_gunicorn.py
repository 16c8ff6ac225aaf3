"""The service as users run it: gunicorn, several workers, over HTTP."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from conftest import sample_bytes
from connector.server import WORKER_CLASS
from connector.signatures import sign
from live import REPO, eventually, free_port, running_connector, stop_process_group, wait_until_ready

SAMPLE = "salesforce-guide.analysis_ready.json"


def deliver(live, raw: bytes, **headers):
    return requests.post(live.base_url + "/v1/koji/verify", data=raw, timeout=30, headers={
        "X-Koji-Signature": sign(raw, live.webhook_secret), "Content-Type": "application/json",
        **live.headers(), **headers})


def test_many_concurrent_copies_of_one_event_give_exactly_one_first(tmp_path):
    raw = sample_bytes(SAMPLE)
    with running_connector(tmp_path, workers=4) as live:
        with ThreadPoolExecutor(max_workers=24) as pool:
            responses = list(pool.map(lambda _: deliver(live, raw), range(48)))
        statuses = [r.status_code for r in responses]
        firsts = [r for r in responses if r.status_code == 200]
        assert len(firsts) == 1, statuses
        assert firsts[0].json()["delivery"]["status"] == "first"
        assert statuses.count(409) == 47
        pids = {line.split("pid=")[1].split()[0] for line in live.logs().splitlines() if "verified event" in line}
        assert len(pids) == 1  # only the winner verified; the 409s were refused by several workers
        key = firsts[0].json()["event"]["key"]
        requests.post(f"{live.base_url}/v1/events/{key}/complete", headers=live.headers(), timeout=10).raise_for_status()
        with ThreadPoolExecutor(max_workers=8) as pool:
            again = list(pool.map(lambda _: deliver(live, raw), range(16)))
        assert {(r.status_code, r.json()["skip_reason"]) for r in again} == {(200, "duplicate")}


def test_ledger_survives_a_restart(tmp_path):
    raw = sample_bytes(SAMPLE)
    env = {"DATABASE_PATH": str(tmp_path / "kept.sqlite3")}
    with running_connector(tmp_path, env=env) as live:
        key = deliver(live, raw).json()["event"]["key"]
        requests.post(f"{live.base_url}/v1/events/{key}/complete", headers=live.headers(), timeout=10).raise_for_status()
    with running_connector(tmp_path, env=env) as live:
        assert deliver(live, raw).json()["skip_reason"] == "duplicate"


def test_logs_never_hold_secrets_emails_or_quotes(tmp_path):
    raw = sample_bytes(SAMPLE)
    with running_connector(tmp_path, workers=2) as live:
        deliver(live, raw)
        deliver(live, raw)
        deliver(live, raw, **{"X-Koji-Signature": "sha256=" + "0" * 64})
        deliver(live, raw, Authorization="Bearer " + live.webhook_secret)
        # No key: refused and logged with the decoded path, which carries a line break.
        requests.post(live.base_url + "/v1/events/x%0A2026-11-22%2014:00:00,000%20level=ERROR%20FORGED/complete",
                      timeout=10)
        bad = json.loads(raw)
        bad["data"]["quality_score"] = "o'brien@northwind.example"
        deliver(live, json.dumps(bad).encode())
        requests.post(live.base_url + "/v1/salesforce/map", json=json.loads(sample_bytes("interview.full.json")),
                      headers=live.headers(), timeout=10)
        logs = live.logs()
    for forbidden in ["northwind.example", "tailspin.example", "three weekends", "weekly report",
                      live.webhook_secret, live.api_key, "FORGED"]:
        assert forbidden not in logs, forbidden
    assert "verified event" in logs and "route=/v1/salesforce/map" in logs
    # the refusal was logged, by its route and the key's hash, as one line
    assert "refused problem=unauthorized method=POST route=/v1/events/<event_key:key>/complete key=key#" in logs
    assert not any(line.startswith("2026-11-22 14:00:00,000") for line in logs.splitlines())


def serve_once(tmp_path, **settings: str) -> subprocess.CompletedProcess:
    """`connector serve` with only these settings (and a state file of its own), expected to stop."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "MAPPING_"))}
    env.update(DATABASE_PATH=str(tmp_path / "s.sqlite3"), **settings)
    return subprocess.run([sys.executable, "-m", "connector.cli", "serve", "--port", str(free_port())],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=30)


def test_a_port_another_process_listens_on_is_one_message_and_exit_2(tmp_path):
    # Before: gunicorn tried five times over five seconds, logged eleven errors and exited 1.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "MAPPING_"))}
        result = subprocess.run([sys.executable, "-m", "connector.cli", "serve", "--port", str(port)], cwd=REPO,
                                env={**env, "DATABASE_PATH": str(tmp_path / "s.sqlite3")},
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == (f"connector: cannot listen on 127.0.0.1:{port}: another process is listening there "
                             "(another connector serve?); stop it or pick another --port (or PORT)\n")


def test_a_reload_the_new_workers_would_not_survive_is_refused_and_the_service_goes_on(tmp_path):
    # Before: SIGHUP after a mistake in the profile stopped the old workers, the new ones exited
    # on the profile, and gunicorn with them: the service was gone (exit 4).
    profile = tmp_path / "profile.yaml"
    profile.write_text((REPO / "connector" / "profiles" / "default.yaml").read_text())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "MAPPING_"))}
    env.update(DATABASE_PATH=str(tmp_path / "s.sqlite3"), MAPPING_PROFILE=str(profile), LOG_LEVEL="INFO")
    log = tmp_path / "serve.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "connector.cli", "serve", "--port", str(port)], cwd=REPO,
                                   env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_ready("connector serve", f"http://127.0.0.1:{port}/healthz", process, log.read_text, 30)
        assert eventually(lambda: log.read_text().count("Booting worker") == 2)
        good = profile.read_text()
        profile.write_text(good + "fields: [\n")  # a bracket left open while editing
        process.send_signal(signal.SIGHUP)
        assert eventually(lambda: "reload refused" in log.read_text())
        assert "reload refused, the workers go on as they were: mapping profile refused: " in log.read_text()
        time.sleep(1)  # had the reload gone ahead, the new workers would have failed by now
        assert process.poll() is None and log.read_text().count("Booting worker") == 2
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        # A worker gunicorn starts again meanwhile takes the profile the master accepted: one
        # that read the file exited on the mistake, and gunicorn stopped with it (exit 4).
        os.kill(int(re.findall(r"Booting worker with pid: (\d+)", log.read_text())[0]), signal.SIGKILL)
        assert eventually(lambda: log.read_text().count("Booting worker") == 3)
        time.sleep(1)
        assert process.poll() is None and "App failed to load" not in log.read_text()
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        profile.write_text(good)
        process.send_signal(signal.SIGHUP)  # a profile the workers take: reloaded as before
        assert eventually(lambda: log.read_text().count("Booting worker") == 5)
        wait_until_ready("connector serve", f"http://127.0.0.1:{port}/healthz", process, log.read_text, 30)
    finally:
        stop_process_group(process)


def test_production_mode_without_secrets_stops_with_a_clear_message(tmp_path):
    result = serve_once(tmp_path, CONNECTOR_MODE="production")
    assert result.returncode == 2
    assert "KOJI_WEBHOOK_SECRET" in result.stderr and "CONNECTOR_API_KEYS" in result.stderr


def test_development_mode_prints_generated_secrets_once_and_workers_share_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_"))}
    env["DATABASE_PATH"] = str(tmp_path / "dev.sqlite3")
    outputs = []
    for _ in range(2):
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen([sys.executable, "-m", "connector.cli", "serve", "--port", str(port),
                                        "--workers", "3"], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        try:
            wait_until_ready("connector serve", f"http://127.0.0.1:{port}/healthz", process, log.read_text, 30)
            text = log.read_text()
            outputs.append(text)
            if "CONNECTOR_API_KEYS=" in text:
                key = text.split("CONNECTOR_API_KEYS=")[1].split()[0]
                secret = text.split("KOJI_WEBHOOK_SECRET=")[1].split()[0]
                raw = b'{"type":"ping"}'
                for _ in range(9):  # several requests reach several workers
                    response = requests.post(f"http://127.0.0.1:{port}/v1/koji/verify", data=raw, timeout=10,
                                             headers={"X-API-Key": key, "X-Koji-Signature": sign(raw, secret)})
                    assert response.status_code == 200
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["mode"] == "development"
        finally:
            process.terminate()
            process.wait(15)
    assert "DEVELOPMENT MODE" in outputs[0] and outputs[0].count("CONNECTOR_API_KEYS=") == 1
    assert "CONNECTOR_API_KEYS=" not in outputs[1]


def test_plain_gunicorn_command_serves_the_spec(tmp_path):
    with running_connector(tmp_path, workers=1) as live:
        response = requests.get(live.base_url + "/openapi.yaml", timeout=10)
        assert response.status_code == 200
        assert response.text.startswith("openapi: 3.1.0")
        assert "./connector/schemas/" not in response.text


def test_send_test_event_command_is_verified_by_the_service(tmp_path):
    with running_connector(tmp_path, workers=1) as live:
        env = {**os.environ, "KOJI_WEBHOOK_SECRET": live.webhook_secret}
        result = subprocess.run([sys.executable, "-m", "connector.cli", "send-test-event",
                                 "--url", live.base_url + "/v1/koji/verify", "--api-key", live.api_key,
                                 "--email", "test.buyer@example.com", "--interview-id", "int_cli_1"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("200")
        answer = json.loads(result.stdout.split("\n", 1)[1])
        assert answer["event"]["key"] == "int_cli_1:interview.analysis_ready"
        assert answer["respondent"]["email"] == "test.buyer@example.com"


def test_a_chunked_body_over_the_limit_is_413_not_cut_to_the_limit(tmp_path):
    # Werkzeug cuts a chunked body (no Content-Length) at MAX_CONTENT_LENGTH and passes the
    # first part on. Signed over that first part, such a body used to verify and be claimed.
    limit = 4096
    event = json.loads(sample_bytes(SAMPLE))
    event["data"]["summary"] = ""
    head = json.dumps(event).encode()
    event["data"]["summary"] = "x" * (limit - len(head))
    first_part = json.dumps(event).encode()
    assert len(first_part) == limit
    with running_connector(tmp_path, env={"MAX_BODY_BYTES": str(limit)}) as live:
        def post(path: str, raw: bytes):  # a generator body: requests sends it chunked
            return requests.post(live.base_url + path, data=(raw[i:i + 1000] for i in range(0, len(raw), 1000)),
                                 timeout=30, headers={"Content-Type": "application/json", **live.headers(),
                                                      "X-Koji-Signature": sign(first_part, live.webhook_secret)})
        over = post("/v1/koji/verify", first_part + b" " * 50)
        assert over.status_code == 413, over.text
        assert "MAX_BODY_BYTES" in over.json()["detail"]  # the chunked path names the limit too
        assert over.headers["Content-Type"] == "application/problem+json"
        assert post("/v1/salesforce/map", first_part + b" " * 50).status_code == 413
        within = post("/v1/koji/verify", first_part)
        assert within.status_code == 200, within.text
        assert within.json()["delivery"]["status"] == "first"


def test_a_configuration_the_app_refuses_stops_plain_gunicorn_instead_of_restarting_workers(tmp_path):
    # A worker that exits with code 2 is replaced by gunicorn, endlessly (about 5 a second),
    # with the port held open; exit code 4 ("app failed to load") stops the server.
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfields:\n  - {name: X__c, type: text, length: 10, template: '{{ analysis.qoute }}'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "MAPPING_"))}
    env.update(DATABASE_PATH=str(tmp_path / "s.sqlite3"))
    for extra, expected in (({"MAPPING_PROFILE": str(bad)}, "bad.yaml:3"),
                            ({"CONNECTOR_MODE": "production"}, "KOJI_WEBHOOK_SECRET"),
                            ({"KOJI_ENRICH": "true"}, "KOJI_ENRICH=true needs KOJI_API_KEY")):
        result = refused_by_plain_gunicorn({**env, **extra})
        assert expected in result.stderr, result.stderr[-2000:]


def refused_by_plain_gunicorn(env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{free_port()}", "--workers", "2",
                             "connector:create_app()"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    # 4, or 1 when the second worker's exit interrupts gunicorn's own halt (a traceback)
    assert result.returncode != 0 and "App failed to load" in result.stderr, result.stderr[-2000:]
    assert result.stderr.count("Booting worker") <= 2, result.stderr[-2000:]  # no restart loop
    return result


def _not_sqlite(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database, " * 100)
    return tmp_path / "notes.txt"


@pytest.mark.parametrize("make_path, reason", [
    (lambda tmp_path: tmp_path, "it is a directory"),
    (_not_sqlite, "file is not a database"),
], ids=["directory", "not sqlite"])
def test_a_database_path_that_cannot_be_used_stops_plain_gunicorn_naming_it(tmp_path, make_path, reason):
    # Before: a sqlite3 traceback that named no setting, and "Worker failed to boot" (exit 3).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "MAPPING_"))}
    path = make_path(tmp_path)
    env.update(CONNECTOR_MODE="production", KOJI_WEBHOOK_SECRET="whsec_db_0123456789",
               CONNECTOR_API_KEYS="ck_db_0123456789", DATABASE_PATH=str(path))
    result = refused_by_plain_gunicorn(env)
    assert f"configuration refused: DATABASE_PATH: {path} cannot be used" in result.stderr, result.stderr[-2000:]
    assert reason in result.stderr
    assert "sqlite3." not in result.stderr and "Worker failed to boot" not in result.stderr


def test_a_missing_database_directory_is_created_in_production_mode(tmp_path):
    path = tmp_path / "data" / "ledger" / "state.sqlite3"
    with running_connector(tmp_path, env={"DATABASE_PATH": str(path)}) as live:
        assert deliver(live, sample_bytes(SAMPLE)).status_code == 200
    assert path.exists()


def test_connector_serve_refuses_enrichment_without_a_key_before_starting_gunicorn(tmp_path):
    result = serve_once(tmp_path, KOJI_ENRICH="true")
    assert result.returncode == 2
    assert "configuration refused: KOJI_ENRICH=true needs KOJI_API_KEY" in result.stderr
    assert "Booting worker" not in result.stderr


def test_connector_serve_refuses_a_bad_profile_before_starting_gunicorn(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfields: [{name: X__c, type: txt}]\n")
    result = serve_once(tmp_path, MAPPING_PROFILE=str(bad))
    assert result.returncode == 2
    assert "mapping profile refused" in result.stderr and "bad.yaml:2" in result.stderr
    assert "Booting worker" not in result.stderr


REFUSED = {  # what gunicorn answers itself, before the app sees the request
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: jane@acme.example" + b"a" * 9000 + b"\r\n\r\n":
        (431, "headers-too-large"),
    b"GET /?email=jane@acme.example&" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n":
        (414, "request-line-too-long"),
    b"jane@acme.example\r\n\r\n": (400, "malformed-request"),
    b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n":
        (501, "unsupported-transfer-coding"),
    b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nExpect: jane@acme.example\r\nContent-Length: 0\r\n\r\n":
        (417, "expectation-not-supported"),
}


def answer_of(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read until the server closes: (head, body), both empty if it closed without answering."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def exchange(port: int, request: bytes, *, half_close: bool = False) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:  # past the server's 10 s
        sock.sendall(request)
        if half_close:  # "that is all": the server reads the end of the stream
            sock.shutdown(socket.SHUT_WR)
        return answer_of(sock)


def assert_problem(head: bytes, body: bytes, status: int, slug: str) -> dict:
    # The reason phrase names the status (Werkzeug writes it in capitals; the worker's own 501
    # said "Bad Request").
    assert head.split(b"\r\n")[0].lower() == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".lower().encode(), \
        head + body
    assert b"\r\nContent-Type: application/problem+json\r\n" in head
    problem = json.loads(body)
    assert (problem["status"], problem["type"].rsplit("#", 1)[1]) == (status, slug)
    return problem


def assert_refusals_are_problems_that_quote_nothing(port: int) -> None:
    for request, (status, slug) in REFUSED.items():
        head, body = exchange(port, request)
        assert_problem(head, body, status, slug)
        assert b"jane" not in body


SERVING_KEY, SERVING_SECRET = "ck_serving_0123456789", "whsec_serving_0123456789"


@contextmanager
def serving(tmp_path, workers: int = 1, **settings: str) -> Iterator[tuple[int, Path]]:
    """`connector serve` in production mode (one worker unless told), until the block ends: (port, log)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_"))}
    env.update(DATABASE_PATH=str(tmp_path / "s.sqlite3"), CONNECTOR_MODE="production",
               KOJI_WEBHOOK_SECRET=SERVING_SECRET, CONNECTOR_API_KEYS=SERVING_KEY, **settings)
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "connector.cli", "serve", "--port", str(port),
                                    "--workers", str(workers)], cwd=REPO, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until_ready("connector serve", f"http://127.0.0.1:{port}/healthz", process, log.read_text, 30)
        yield port, log
    finally:
        process.terminate()
        process.wait(15)


def test_serve_opens_no_control_socket(tmp_path):
    # gunicorn 27 opens one at $XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/gunicorn.ctl: one path per
    # user, so a second service of that user took it over (its gunicornc commands reached the other).
    home, runtime = tmp_path / "home", tmp_path / "run"
    runtime.mkdir()
    with serving(tmp_path, HOME=str(home), XDG_RUNTIME_DIR=str(runtime)) as (port, log):
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        assert list(runtime.iterdir()) == [] and not home.exists()
    assert "ontrol socket" not in log.read_text()


def test_gunicorns_own_refusals_are_problem_json_and_quote_nothing_of_the_request(tmp_path):
    # gunicorn's stock page is HTML and quotes the request line or header it refused.
    with serving(tmp_path) as (port, log):
        assert_refusals_are_problems_that_quote_nothing(port)
    assert "Invalid request from" in log.read_text() and "jane@" not in log.read_text()


QUOTING = {  # gunicorn's warning quoted what it refused: a query, a header without its colon, a coding
    b"POST /v1/koji/verify?respondent=Jane Doe&quote=The onboarding was awful HTTP/1.1\r\nHost: x\r\n\r\n":
        (400, "malformed-request", "InvalidHTTPVersion"),
    b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nX-Koji-Signature sha256=" + b"0123456789abcdef" * 4 + b"\r\n\r\n":
        (400, "malformed-request", "InvalidHeader"),
    b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nAuthorization Bearer sk-live-OTHERTOKEN0123\r\n\r\n":
        (400, "malformed-request", "InvalidHeader"),
    b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Jane Doe secret quote\r\n\r\n":
        (501, "unsupported-transfer-coding", "UnsupportedTransferCoding"),
    b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nExpect: Jane Doe's secret quote\r\nContent-Length: 0\r\n\r\n":
        (417, "expectation-not-supported", "ExpectationFailed"),
    # gunicorn takes SCRIPT_NAME from 127.0.0.1 (forwarded_allow_ips); it answered "500 Bad Request"
    b"GET /v1/events/Jane-Doe-hates-the-pricing HTTP/1.1\r\nHost: x\r\nSCRIPT_NAME: /zzz\r\n\r\n":
        (400, "malformed-request", "ScriptNameMismatch"),
}


def test_gunicorns_refusals_are_logged_by_their_error_never_by_the_text_they_quote(tmp_path):
    with running_connector(tmp_path, workers=1) as live:
        port = int(live.base_url.rsplit(":", 1)[1])
        answers = {request: exchange(port, request) for request in QUOTING}
        time.sleep(0.2)  # the worker writes its line after the answer
        logs = live.logs()
    for quoted in ["Jane", "Doe", "onboarding", "0123456789abcdef", "OTHERTOKEN", "secret quote", "/zzz", "pricing"]:
        assert quoted not in logs, quoted
    for request, (status, slug, error) in QUOTING.items():
        assert_problem(*answers[request], status, slug)
        assert f"Invalid request from ip=127.0.0.1: {error} (" in logs, error
    head, body = answers[list(QUOTING)[-1]]
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert "SCRIPT_NAME" in json.loads(body)["detail"]
    assert '"GET (no route) HTTP/1.1" 400 ' in logs  # its access line: 400 too, and no path


def test_the_access_log_holds_no_query_user_referer_or_agent(tmp_path):
    # Before: 127.0.0.1 - Jane Doe [...] "POST /v1/events/x/release?attempt=1&name=Jane+Doe&sig=sha256%3D0123…
    # HTTP/1.1" 404 251 "https://crm.example/contact/Jane-Doe?note=hates+pricing" "…"
    with running_connector(tmp_path, workers=1) as live:  # --access-logfile -
        requests.post(live.base_url + "/v1/events/Jane%20Doe%20hates%20the%20pricing/release",
                      params={"attempt": 1, "name": "Jane Doe", "sig": "sha256=" + "0123456789abcdef" * 4},
                      auth=("Jane Doe", "pw"), timeout=10,
                      headers={"Referer": "https://crm.example/contact/Jane-Doe?note=hates+pricing",
                               "User-Agent": "Jane's laptop", "X-API-Key": live.api_key})
        requests.get(live.base_url + "/v1/Jane%20Doe?note=hates+pricing", timeout=10)
        time.sleep(0.2)
        logs = live.logs()
    for leaked in ["Jane", "pricing", "0123456789abcdef", "crm.example", "name=", "attempt="]:
        assert leaked not in logs, leaked
    assert re.search(r'127\.0\.0\.1 - - \[[^]]+\] "POST /v1/events/<event_key:key>/release HTTP/1\.1" 404 \d+ "-" "-" '
                     r'\d+\.\dms', logs), logs
    assert '"GET (no route) HTTP/1.1" 404' in logs


def test_plain_gunicorn_with_the_readmes_worker_class_refuses_the_same_way(tmp_path):
    with running_connector(tmp_path, workers=1) as live:  # runs WORKER_CLASS, as the README's command
        assert_refusals_are_problems_that_quote_nothing(int(live.base_url.rsplit(":", 1)[1]))
    assert WORKER_CLASS in (REPO / "README.md").read_text()


def test_log_level_warning_quiets_gunicorns_own_info_lines_under_serve(tmp_path):
    with serving(tmp_path, LOG_LEVEL="WARNING") as (_, log):
        pass
    assert "level=INFO" not in log.read_text()  # "Starting gunicorn", "Booting worker", …


# connector.logs.LINE_FORMAT, as written: logging's time, then key=value.
CONNECTOR_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} level=(?P<level>[A-Z]+) logger=(?P<logger>[\w.]+) "
                            r"pid=\d+ (?P<message>.+)")


def test_gunicorns_own_lines_are_in_the_connectors_format_under_serve(tmp_path):
    # Before: "[2026-11-23 00:37:23 +0000] [3478] [INFO] Booting worker with pid: 3489" beside
    # "2026-11-23 00:37:23,824 level=INFO logger=connector pid=3489 request method=GET route=/healthz …".
    with serving(tmp_path) as (port, log):
        exchange(port, b"jane@acme.example\r\n\r\n")  # a worker's line of gunicorn's, too
        time.sleep(0.2)
    lines = log.read_text().splitlines()
    assert [line for line in lines if not CONNECTOR_LINE.fullmatch(line)] == []
    gunicorns = [match["message"] for match in map(CONNECTOR_LINE.fullmatch, lines)
                 if match["logger"] == "gunicorn.error"]
    for said in ("Starting gunicorn", "Listening at: ", "Booting worker with pid: ", "Invalid request from ip=",
                 "Handling signal: term", "Worker exiting", "Shutting down: Master"):
        assert any(message.startswith(said) for message in gunicorns), said


def reaped(pid: int) -> bool:
    """Whether the process is gone: one that has exited but is not yet reaped can still be signalled."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_reloads_retire_the_old_workers_without_an_error(tmp_path):
    # gunicorn 23 wrote "[ERROR] Worker (pid:…) was sent SIGTERM!" on reload after reload (its
    # master sent an old worker SIGTERM on each turn of its loop until it was gone); the connector
    # had its own logger to tell those apart. gunicorn 27 waits for the old workers instead.
    with serving(tmp_path, workers=3) as (port, log):
        master = int(re.search(r"Listening at: \S+ \((\d+)\)", log.read_text())[1])
        for reload in range(1, 4):
            old = [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log.read_text())]
            os.kill(master, signal.SIGHUP)
            assert eventually(lambda: log.read_text().count("Booting worker") == 3 * (reload + 1))
            assert eventually(lambda: all(map(reaped, old)))
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        text = log.read_text()
    assert text.count("Handling signal: hup") == 3, text
    assert " level=ERROR " not in text and " level=WARNING " not in text, text


_KEYED = b"POST %s HTTP/1.1\r\nHost: x\r\nX-API-Key: " + SERVING_KEY.encode() + b"\r\n"
STALLED = {  # sent, then the connection is left open: the client never finishes
    "headers without their end": b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nX-Note: jane@acme.example\r\n",
    "a body shorter than its Content-Length": _KEYED % b"/v1/koji/verify"
                                              + b"Content-Length: 100\r\n\r\n{\"note\": \"jane@acme.example\"",
    "a chunked body without its last chunk": _KEYED % b"/v1/salesforce/map"
                                             + b"Content-Type: application/json\r\n"
                                             b"Transfer-Encoding: chunked\r\n\r\n6\r\n{\"a\":1\r\n",
    "the last chunk without the empty line after it": _KEYED % b"/v1/salesforce/map"
                                                      + b"Content-Type: application/json\r\n"
                                                      b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
}


def test_a_stalled_client_holds_the_worker_for_the_read_timeout_at_most(tmp_path):
    # Before: the one (sync) worker waited on a stalled client until gunicorn's 30 s worker
    # timeout killed it (the client got a 500), and /healthz waited behind it.
    with serving(tmp_path) as (port, log):  # one worker
        for name, request in STALLED.items():
            with socket.create_connection(("127.0.0.1", port), timeout=30) as stalled:
                stalled.sendall(request)
                time.sleep(0.2)  # the worker has taken it up
                sent = time.monotonic()
                assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
                assert 9 < time.monotonic() - sent < 12, name  # CLIENT_TIMEOUT_SECONDS, then served
                head, body = answer_of(stalled)
            if name == "headers without their end":
                assert (head, body) == (b"", b"")  # no request to answer: closed
            else:
                assert_problem(head, body, 408, "request-timeout")
                assert b"jane" not in body
    text = log.read_text()
    assert text.count("a client sent no whole request within the read timeout; connection closed") == 1
    assert "Traceback" not in text and "jane" not in text


@contextmanager
def served_by(tmp_path, server: str) -> Iterator[tuple[int, str, str]]:
    """(port, API key, webhook secret) of `connector serve` or of plain gunicorn (its own worker class)."""
    if server == "connector serve":
        with serving(tmp_path) as (port, _):
            yield port, SERVING_KEY, SERVING_SECRET
    else:
        with running_connector(tmp_path, workers=1) as live:
            yield int(live.base_url.rsplit(":", 1)[1]), live.api_key, live.webhook_secret


def chunked(body: bytes, trailer: bytes = b"") -> bytes:
    half = len(body) // 2
    return (b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\n%s\r\n"
            % (half, body[:half], len(body) - half, body[half:], trailer))


FRAMINGS = {  # name: (headers, body → what is sent, half-close, status, slug)
    "Content-Length": (lambda b: [f"Content-Length: {len(b)}"], lambda b: b, False, 200, None),
    "chunked, with extensions and a trailer": (lambda b: ["Transfer-Encoding: chunked"],
                                               lambda b: chunked(b, b"X-Trailer: 1\r\n"), False, 200, None),
    "a chunk size that is not hexadecimal": (lambda b: ["Transfer-Encoding: chunked"],
                                             lambda b: b"zz\r\n" + b + b"\r\n0\r\n\r\n", False, 400,
                                             "malformed-request"),
    "chunked, cut off before its last chunk": (lambda b: ["Transfer-Encoding: chunked"],
                                               lambda b: chunked(b)[:-len(b"0\r\n\r\n")], True, 400,
                                               "malformed-request"),
    "gzip, chunked with a body that is not chunked": (lambda b: ["Transfer-Encoding: gzip, chunked"],
                                                      lambda b: b, True, 400, "malformed-request"),
    # gunicorn waits for the end of what would be the chunk-size line: the read timeout ends it
    "gzip, chunked with a body that is not chunked, left open": (lambda b: ["Transfer-Encoding: gzip, chunked"],
                                                                 lambda b: b, False, 408, "request-timeout"),
    "a body shorter than its Content-Length": (lambda b: [f"Content-Length: {len(b) + 10}"],
                                               lambda b: b, True, 400, "malformed-request"),
    # RFC 9112 6.3: no length can be told from a Transfer-Encoding that does not end in chunked
    "Transfer-Encoding: gzip": (lambda b: ["Transfer-Encoding: gzip", f"Content-Length: {len(b)}"],
                                lambda b: b, False, 400, "malformed-request"),
    # gunicorn takes it and passes the body on still compressed: the connector refuses it
    "gzip, chunked": (lambda b: ["Transfer-Encoding: gzip, chunked"], chunked, False, 501,
                      "unsupported-transfer-coding"),
    "Content-Encoding: gzip": (lambda b: ["Content-Encoding: gzip", f"Content-Length: {len(b)}"],
                               lambda b: b, False, 415, "unsupported-media-type"),
}


def webhook(interview_id: str) -> bytes:
    return json.dumps({"type": "interview.completed",
                       "data": {"interview_id": interview_id, "respondent_email": "ann@example.com"}}).encode()


def head_of(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode() + b"\r\n"


def route_request(route: str, raw: bytes, key: str, secret: str) -> tuple[list[str], bytes]:
    headers = [f"Authorization: Bearer {key}", "Content-Type: application/json"]
    if route == "/v1/koji/verify-envelope":
        return headers, json.dumps({"raw_body": raw.decode(), "signature": sign(raw, secret)}).encode()
    return headers + [f"X-Koji-Signature: {sign(raw, secret)}"], raw


@pytest.mark.parametrize("server", ["connector serve", "plain gunicorn"])
def test_every_body_framing_and_coding_is_answered_whole_or_refused_as_a_problem(tmp_path, server):
    # Before: malformed chunked bodies were 500s; a body shorter than its Content-Length, or sent
    # with Transfer-Encoding: gzip, was verified and claimed as if it were the whole plain body;
    # a Content-Encoding: gzip body was "not valid JSON" (or, on verify, verified as it came).
    with served_by(tmp_path, server) as (port, key, secret):
        for case, (name, (framing_headers, frame, half_close, status, slug)) in enumerate(FRAMINGS.items()):
            if server == "plain gunicorn" and name.endswith("left open"):
                continue  # gunicorn waits for the chunk size's line end until its worker timeout
            for route in ("/v1/koji/verify", "/v1/koji/verify-envelope", "/v1/salesforce/map"):
                interview_id = f"int_framing_{case}_{route.rsplit('/', 1)[1]}"
                headers, body = route_request(route, webhook(interview_id), key, secret)
                request = head_of(f"POST {route} HTTP/1.1", "Host: x", *headers, *framing_headers(body)) + frame(body)
                head, answer = exchange(port, request, half_close=half_close)
                if status == 200:
                    assert head.split(b" ")[1] == b"200", (name, route, head + answer)
                else:
                    assert_problem(head, answer, status, slug)
                if route != "/v1/salesforce/map":  # claimed only when answered
                    state = requests.get(f"http://127.0.0.1:{port}/v1/events/{interview_id}:interview.completed",
                                         headers={"Authorization": f"Bearer {key}"}, timeout=10)
                    assert state.status_code == (200 if status == 200 else 404), (name, route)


def test_a_request_that_arrives_in_pieces_or_waits_for_100_continue_is_answered(tmp_path):
    # The worker reads requests ahead (see above): a head or chunk-size line cut anywhere, and a
    # client that sends its body only after "100 Continue", still make whole requests.
    with serving(tmp_path) as (port, _):
        for case, framing in enumerate(("Content-Length", "chunked, with extensions and a trailer")):
            framing_headers, frame, *_ = FRAMINGS[framing]
            raw = webhook(f"int_pieces_{case}")
            headers, body = route_request("/v1/koji/verify", raw, SERVING_KEY, SERVING_SECRET)
            request = head_of("POST /v1/koji/verify HTTP/1.1", "Host: x", *headers, *framing_headers(body)) + frame(body)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for start in range(0, len(request), 7):
                    sock.sendall(request[start:start + 7])
                    time.sleep(0.001)
                head, answer = answer_of(sock)
            assert head.startswith(b"HTTP/1.1 200"), head + answer
        headers, body = route_request("/v1/koji/verify", webhook("int_continue"), SERVING_KEY, SERVING_SECRET)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head_of("POST /v1/koji/verify HTTP/1.1", "Host: x", *headers, "Expect: 100-continue",
                                 f"Content-Length: {len(body)}"))
            assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(body)
            head, answer = answer_of(sock)
        assert head.startswith(b"HTTP/1.1 200") and b"100 Continue" not in head + answer, head


ODD_INTERVIEW_IDS = ["/lead-1", "//lead", "a//b", "/" * 200, "line\nbreak", "\r\n\x00", "%2F%", "?q=1#f",
                     "é😀" * 100]


def raw_call(port: int, method: str, path: str, key: str) -> tuple[int, dict]:
    """`path` exactly as the answer gives it (requests would normalize it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={"Authorization": f"Bearer {key}", "Host": "evil.example"})
        response = connection.getresponse()
        assert response.getheader("Location") is None
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_paths_an_answer_gives_work_over_http_for_any_interview_id(tmp_path):
    # Before: an id starting with "/" gave a path with "//", answered with an HTML 308 redirect to
    # the Host header's name; an id holding a line break gave a path no route matched (404).
    with running_connector(tmp_path, workers=1) as live:
        port = int(live.base_url.rsplit(":", 1)[1])
        for interview_id in ODD_INTERVIEW_IDS:
            raw = webhook(interview_id)
            delivery = deliver(live, raw).json()["delivery"]
            state_path = delivery["complete_path"].removesuffix("/complete")
            assert raw_call(port, "GET", state_path, live.api_key)[1]["state"] == "claimed", interview_id
            assert raw_call(port, "POST", delivery["release_path"], live.api_key)[1]["state"] == "released"
            again = deliver(live, raw).json()["delivery"]
            assert raw_call(port, "POST", again["complete_path"], live.api_key)[1]["state"] == "completed"
            assert deliver(live, raw).json()["skip_reason"] == "duplicate"
        for path in ("/v1//koji/verify", "/v1/salesforce//fields", "/v1/events//no-such-key"):
            status, problem = raw_call(port, "POST" if "verify" in path else "GET", path, live.api_key)
            assert (status, problem["type"].rsplit("#", 1)[1]) == (404, "not-found"), path


def test_metrics_under_serve_sum_every_worker_whichever_answers(tmp_path):
    # prometheus_client's multiprocess mode, set up by `connector serve` with no configuration:
    # each worker counts only what it served, so a scrape answered by one worker alone would
    # fall short of N. The private directory serve made is gone when it stops.
    temp = tmp_path / "tmp"
    temp.mkdir()
    with serving(tmp_path, workers=2, TMPDIR=str(temp), LOG_LEVEL="INFO") as (port, log):
        base, headers = f"http://127.0.0.1:{port}", {"X-API-Key": SERVING_KEY, "Content-Type": "application/json"}

        def verify(i: int) -> int:
            raw = webhook(f"int_metrics_{i}")
            return requests.post(base + "/v1/koji/verify", data=raw, timeout=10,
                                 headers={**headers, "X-Koji-Signature": sign(raw, SERVING_SECRET)}).status_code

        n, verified_by = 0, set()
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len(verified_by) < 2 and n < 400:  # the second worker may still be loading the app
                assert list(pool.map(verify, range(n, n + 16))) == [200] * 16
                n += 16
                verified_by = set(re.findall(r"pid=(\d+) verified event", log.read_text()))
        assert len(verified_by) == 2  # both workers served some: neither alone has counted n
        assert len(os.listdir(temp)) == 1  # serve's own directory, the workers' files in it
        for _ in range(3):  # refused by gunicorn's worker before the app: counted by the worker
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(b"not http\r\n\r\n")
                assert raw.recv(65536).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        for _ in range(12):  # new connections: either worker may answer
            text = requests.get(base + "/metrics", headers=headers, timeout=10).text
            counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                          if line.startswith("connector_events_total{"))
            assert counted == n, text
            assert 'connector_problems_total{type="malformed-request"} 3.0' in text.splitlines(), text
        scraped_by = set(re.findall(r"pid=(\d+) request method=GET route=/metrics status=200", log.read_text()))
        assert scraped_by <= verified_by
    assert os.listdir(temp) == []


def test_metrics_under_plain_gunicorn_per_worker_without_the_variable_and_summed_with_it(tmp_path):
    with running_connector(tmp_path, workers=1) as live:  # no PROMETHEUS_MULTIPROC_DIR: this worker's own
        response = requests.get(live.base_url + "/metrics", headers=live.headers(), timeout=10)
        assert response.status_code == 200 and "connector_problems_total" in response.text
    shared = tmp_path / "prom"
    shared.mkdir()
    with running_connector(tmp_path, workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(shared)}) as live:
        assert deliver(live, webhook("int_plain_metrics")).status_code == 200
        text = requests.get(live.base_url + "/metrics", headers=live.headers(), timeout=10).text
        assert 'connector_events_total{action="update_contact",delivery="first",skip_reason="none"} 1.0' in text
    assert any(name.startswith("counter_") for name in os.listdir(shared))  # the operator's: left as it is
