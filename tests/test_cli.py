import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

import pytest

from connector.cli import SAMPLES, main, personalized, sample_payload
from connector.events import normalize
from connector.server import bind_address
from connector.signatures import sign
from tests.fakes.loopback import LoopbackServer

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


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_serve_refuses_a_worker_count_below_one(workers, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--workers", workers])
    assert stopped.value.code == 2
    assert "--workers: must be a whole number of at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(("host", "bind"), [("127.0.0.1", "127.0.0.1:8080"), ("::1", "[::1]:8080"),
                                             ("[::1]", "[::1]:8080"), ("localhost", "localhost:8080")])
def test_serve_binds_ipv6_addresses_in_brackets(host, bind):
    assert bind_address(host, 8080) == bind


def test_send_test_event_says_where_it_looked_for_the_development_secret(tmp_path, monkeypatch, capsys):
    for name in ("KOJI_WEBHOOK_SECRET", "CONNECTOR_MODE", "CONNECTOR_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "state.sqlite3"))

    assert main(["send-test-event", "--url", "http://127.0.0.1:9/"]) == 2

    error = capsys.readouterr().err
    assert "no webhook secret" in error
    assert str(tmp_path / "state.sqlite3.dev-secrets.json") in error


def test_serve_in_development_mode_names_a_database_path_it_cannot_use(tmp_path, monkeypatch, capsys):
    for name in ("KOJI_WEBHOOK_SECRET", "CONNECTOR_MODE", "CONNECTOR_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DATABASE_PATH", str(blocker / "state.sqlite3"))  # its "directory" is a file

    assert main(["serve", "--port", "1"]) == 2

    error = capsys.readouterr().err
    assert "configuration refused: DATABASE_PATH" in error and str(blocker) in error


def test_send_test_event_signs_with_the_development_secret_of_the_service(tmp_path, monkeypatch, capsys):
    for name in ("KOJI_WEBHOOK_SECRET", "CONNECTOR_MODE", "CONNECTOR_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "state.sqlite3"))
    (tmp_path / "state.sqlite3.dev-secrets.json").write_text(
        '{"KOJI_WEBHOOK_SECRET": "whsec_dev", "CONNECTOR_API_KEYS": "ck_dev"}')
    sent = {}
    monkeypatch.setattr("requests.post", lambda url, data, headers, timeout: sent.update(headers=headers) or
                        type("Answer", (), {"status_code": 200, "reason": "OK", "text": "{}", "ok": True})())

    assert main(["send-test-event", "--url", "http://127.0.0.1:9/"]) == 0

    body = json.dumps(personalized(sample_payload("interview.analysis_ready"), "interview.analysis_ready",
                                   email=None, event_id=None), ensure_ascii=False).encode()
    assert sent["headers"]["X-Koji-Signature"] == sign(body, "whsec_dev")


class _LongAnswer(LoopbackServer):
    """Answers every POST with more lines than a reader that stops early takes."""

    def handler_class(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                body = b"line\n" * 4000
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        return Handler


def _run_into_a_closed_pipe(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    """`connector <args> | head -1` whose reader has already gone when the command prints."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("KOJI_WEBHOOK_SECRET", "CONNECTOR_MODE", "CONNECTOR_API_KEYS", "MAPPING_PROFILE")}
    env["DATABASE_PATH"] = str(tmp_path / "state.sqlite3")
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run([sys.executable, "-m", "connector.cli", *args], stdout=writer,
                              stderr=subprocess.PIPE, env=env, timeout=60, text=True)
    finally:
        os.close(writer)


@pytest.mark.parametrize("command", ["send-test-event", "field-metadata"])
def test_output_into_a_pipe_closed_early_ends_without_a_traceback(command, tmp_path):
    if command == "send-test-event":
        with _LongAnswer() as server:
            done = _run_into_a_closed_pipe(["send-test-event", "--url", server.base_url, "--secret", "s"], tmp_path)
    else:
        done = _run_into_a_closed_pipe(["salesforce", "field-metadata", "--out", str(tmp_path / "out")], tmp_path)
    assert done.stderr == ""
    assert done.returncode == 1  # as the Python docs advise for EPIPE (docs/python signal, SIGPIPE)
