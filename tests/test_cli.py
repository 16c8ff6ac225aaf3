import errno
import json
import os
import re
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from connector import cli
from connector.cli import SAMPLES, main, personalized, sample_payload
from connector.events import normalize
from connector.profile_file import load_profile
from connector.server import bind_address
from connector.settings import usable_cores
from connector.signatures import sign
from tests.fakes.loopback import LoopbackServer
from tests.live import REPO, free_port

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
    assert key != default and key.startswith(("fresh-id-1:", "fresh-id-1@"))  # a study or report: @ its time


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_serve_refuses_a_worker_count_below_one(workers, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--workers", workers])
    assert stopped.value.code == 2
    assert "--workers: must be a whole number from 1 to " in capsys.readouterr().err


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
    assert "no webhook secret" in error and "KOJI_WEBHOOK_SECRET" in error and "DATABASE_PATH" in error
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
    monkeypatch.setattr("requests.post", lambda url, data, headers, **_: sent.update(headers=headers) or
                        type("Answer", (), {"status_code": 200, "reason": "OK", "text": "{}", "ok": True,
                                            "is_redirect": False})())

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


class _Recording(LoopbackServer):
    """Answers every POST with `status` and a Location to `location`, and keeps what was posted."""

    def __init__(self, status: int = 200, location: str = "") -> None:
        self.status, self.location, self.posted = status, location, []

    def handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                server.posted.append(dict(self.headers))
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(server.status)
                if server.location:
                    self.send_header("Location", server.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        return Handler


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_send_test_event_follows_no_redirect(service_env, capsys, status):
    # Before: a 307 or 308 re-posted the signed body and the X-API-Key to the other host.
    with _Recording() as elsewhere, _Recording(status, elsewhere.base_url + "/v1/koji/verify") as redirecting:
        url = redirecting.base_url + "/v1/koji/verify"
        assert main(["send-test-event", "--url", url, "--secret", "s", "--api-key", "k" * 16]) == 1
    assert len(redirecting.posted) == 1 and elsewhere.posted == []
    error = capsys.readouterr().err
    assert error.startswith(f"connector: {url} answered {status}, a redirect, which is not followed")


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


# -- send-test-event and serve: settings, secrets, addresses -----------------------------

SERVICE_ENV = ("KOJI_WEBHOOK_SECRET", "CONNECTOR_MODE", "CONNECTOR_API_KEYS", "MAPPING_PROFILE", "QUALITY_THRESHOLD",
               "LEDGER_RETENTION_DAYS", "LEDGER_LEASE_SECONDS", "PORT", "WEB_CONCURRENCY")
DEV_SECRETS = '{"KOJI_WEBHOOK_SECRET": "whsec_dev", "CONNECTOR_API_KEYS": "ck_dev"}'


@pytest.fixture
def service_env(tmp_path, monkeypatch) -> Path:
    """A development-mode environment whose state is in tmp_path; returns the dev-secrets file."""
    for name in SERVICE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "state.sqlite3"))
    return tmp_path / "state.sqlite3.dev-secrets.json"


@pytest.fixture
def posts(monkeypatch) -> list[dict]:
    """What send-test-event posts, answered 200 without a network."""
    sent = []

    def post(url, data, headers, timeout, allow_redirects):
        sent.append({"url": url, "data": data, "headers": headers, "timeout": timeout})
        return type("Answer", (), {"status_code": 200, "reason": "OK", "text": "{}", "ok": True,
                                   "is_redirect": False})()
    monkeypatch.setattr("requests.post", post)
    return sent


@pytest.fixture
def no_gunicorn(monkeypatch):
    def refuse(*args):
        raise AssertionError("gunicorn was started")
    monkeypatch.setattr("connector.server.run_gunicorn", refuse)


def test_send_test_event_to_a_host_name_urllib3_cannot_parse_says_so_without_a_traceback(service_env, capsys):
    # Before: urllib3's LocationParseError, which is no RequestException, was a traceback.
    assert main(["send-test-event", "--url", "http://a..b/", "--secret", "s"]) == 1
    assert capsys.readouterr().err == "connector: could not reach http://a..b/: LocationParseError\n"


@pytest.mark.parametrize("problem", [{"QUALITY_THRESHOLD": "9"}, {"CONNECTOR_MODE": "production"}],
                         ids=["bad QUALITY_THRESHOLD", "production without CONNECTOR_API_KEYS"])
def test_send_test_event_is_not_stopped_by_settings_it_does_not_use(service_env, monkeypatch, posts, problem):
    # Before: "no webhook secret: pass --secret or set KOJI_WEBHOOK_SECRET", though it was set.
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", "whsec_from_the_environment")
    for name, value in problem.items():
        monkeypatch.setenv(name, value)

    assert main(["send-test-event", "--url", "http://127.0.0.1:9/webhook/koji"]) == 0

    body = json.dumps(sample_payload("interview.analysis_ready"), ensure_ascii=False).encode()
    assert posts[0]["headers"]["X-Koji-Signature"] == sign(body, "whsec_from_the_environment")


def test_send_test_event_names_a_setting_it_uses_that_is_wrong(service_env, monkeypatch, capsys):
    monkeypatch.setenv("CONNECTOR_MODE", "staging")
    assert main(["send-test-event", "--url", "http://127.0.0.1:9/"]) == 2
    assert capsys.readouterr().err.startswith("connector: configuration refused: CONNECTOR_MODE: ")


@pytest.mark.parametrize("content", ["garbage", "{}"])
@pytest.mark.parametrize("command", [["send-test-event", "--url", "http://127.0.0.1:9/"], ["serve", "--port", "1"]])
def test_a_damaged_dev_secrets_file_is_named_with_what_to_do(service_env, monkeypatch, capsys, no_gunicorn,
                                                             content, command):
    # Before: a JSONDecodeError or KeyError traceback (send-test-event), a RuntimeError one (serve).
    monkeypatch.setattr("connector.dev_secrets.time.sleep", lambda seconds: None)  # the wait for a writer
    service_env.write_text(content)
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"connector: {'configuration refused: ' if command[0] == 'serve' else ''}"
                            f"the development secrets file {service_env} ")
    assert "delete it, and the next `connector serve` generates new ones" in error


def test_send_test_event_shows_the_url_without_credentials_or_query(service_env, capsys):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://user:pa55word@127.0.0.1:{port}/hook/x?token=abc123#frag"
    assert main(["send-test-event", "--url", url, "--secret", "s"]) == 1
    error = capsys.readouterr().err
    assert error == f"connector: could not reach http://127.0.0.1:{port}/hook/x: ConnectionError\n"


def test_send_test_event_says_a_receiver_that_never_answers_timed_out(service_env, monkeypatch, capsys):
    assert cli.SEND_TIMEOUT_SECONDS == 10  # Koji's own wait for a webhook's answer (was 30)
    monkeypatch.setattr(cli, "SEND_TIMEOUT_SECONDS", 0.3)
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = "http://127.0.0.1:%d/hook?token=abc123" % silent.getsockname()[1]
        assert main(["send-test-event", "--url", url, "--secret", "s"]) == 1
    error = capsys.readouterr().err
    assert error == f"connector: {url.split('?')[0]} did not answer within 0.3 s, as long as Koji waits\n"


@pytest.mark.parametrize("url", ["127.0.0.1:8080/v1/koji/verify", "ftp://user:pa55word@host/x", "http://[::1/x",
                                 "http://user:pa55word@/x", "http://:8080/v1/koji/verify",
                                 "http://user:pa55word@:8080/x"])
def test_send_test_event_refuses_what_is_no_web_url_without_echoing_it(url, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["send-test-event", "--url", url])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "--url: must be an http:// or https:// URL with a host" in error and "pa55word" not in error


@pytest.mark.parametrize("url, environment, sent", [
    ("http://127.0.0.1:8080/v1/koji/verify", {}, "ck_dev"),  # the development key of the service
    ("http://127.0.0.1:8080/v1/koji/verify/", {"CONNECTOR_API_KEYS": "ck_env_1,ck_env_2"}, "ck_env_1"),
    ("https://connector.example/prefix/v1/koji/verify", {"CONNECTOR_API_KEYS": "ck_env_1"}, "ck_env_1"),
    ("http://127.0.0.1:5678/webhook/koji-interviews", {"CONNECTOR_API_KEYS": "ck_env_1"}, None),  # n8n: not its key
])
def test_send_test_event_sends_the_configured_api_key_to_the_connector_only(service_env, monkeypatch, posts,
                                                                            url, environment, sent):
    # Before: only --api-key was sent, so the connector answered 401 unless it was given.
    service_env.write_text(DEV_SECRETS)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["send-test-event", "--url", url]) == 0
    assert posts[0]["headers"].get("X-API-Key") == sent


def test_send_test_event_api_key_option_wins(service_env, posts):
    service_env.write_text(DEV_SECRETS)
    assert main(["send-test-event", "--url", "http://127.0.0.1:5678/webhook/x", "--api-key", "ck_given"]) == 0
    assert posts[0]["headers"]["X-API-Key"] == "ck_given"
    assert posts[0]["timeout"] == 10


@pytest.mark.parametrize("port", ["70000", "65536", "-1", "http"])
def test_serve_refuses_a_port_out_of_range(port, capsys):
    # Before: gunicorn's OverflowError traceback.
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--port", port])
    assert stopped.value.code == 2
    assert "--port: must be a port number from 0 to 65535" in capsys.readouterr().err


def test_serve_refuses_a_database_path_it_cannot_open_before_gunicorn_starts(service_env, tmp_path, monkeypatch,
                                                                           capsys, no_gunicorn):
    # Before: each worker refused it (one message per worker), and gunicorn exited with code 4.
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path))  # a directory
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (f"connector: configuration refused: DATABASE_PATH: {tmp_path} cannot be used "
                                       "as the ledger's SQLite database: it is a directory\n")


def test_serve_says_when_the_database_cannot_be_opened_for_lack_of_permission(service_env, tmp_path, monkeypatch,
                                                                            capsys, no_gunicorn):
    # As the Docker image's uid 10001 on a volume that root owns. The tests may run as root, whom
    # no permission stops: the refusal and the missing permission are played.
    from connector.ledger import LedgerUnusable

    def unusable(settings):
        raise LedgerUnusable(f"{settings.database_path} cannot be used as the ledger's SQLite database: "
                             "unable to open database file")
    monkeypatch.setattr(cli, "open_ledger", unusable)
    monkeypatch.setattr(cli.os, "access", lambda path, mode: Path(path) != tmp_path)
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("connector: configuration refused: DATABASE_PATH: ")
    assert (f"(uid {os.getuid()}, which runs the connector, has no permission to write to {tmp_path}; the Docker "
            "image runs as uid 10001") in error


def test_the_database_check_leaves_no_connection_open_for_gunicorn_to_fork(service_env, tmp_path):
    # A SQLite connection must not cross a fork: the workers would share its locks.
    cli._open_database(cli.load_settings())
    assert (tmp_path / "state.sqlite3").exists()
    open_files = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            open_files.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    assert not [name for name in open_files if name.startswith(str(tmp_path))]



# -- the command line itself ------------------------------------------------------------------

@pytest.mark.parametrize("argv, said", [
    ([], "the following arguments are required: command"),
    (["send-test-event"], "the following arguments are required: --url"),
    (["send-test-event", "--url", "http://127.0.0.1:9/", "--type", "interview.bogus"], "argument --type: invalid choice"),
    (["serve", "--workers", "1.5"], "argument --workers: must be a whole number from 1 to "),
])
def test_a_command_line_that_is_not_one_says_what_is_wrong_under_the_commands_name(argv, said, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: connector ") and said in error


@pytest.fixture
def cores(monkeypatch):
    """Say the machine gives the connector 4 cores (so at most 16 workers)."""
    monkeypatch.setattr("connector.settings.usable_cores", lambda: 4)


@pytest.mark.parametrize("argv, host, port, workers", [
    (["serve"], "127.0.0.1", None, None),  # this machine only, unless told otherwise; see below for the rest
    (["serve", "--host", "0.0.0.0", "--port", "0", "--workers", "1"], "0.0.0.0", 0, 1),
    (["serve", "--port", "65535", "--workers", "16"], "127.0.0.1", 65535, 16),
])
def test_serve_takes_the_whole_range_of_its_options_and_defaults_to_this_machine(argv, host, port, workers, cores):
    args = cli.build_parser().parse_args(argv)
    assert (args.host, args.port, args.workers) == (host, port, workers)


def test_serve_refuses_more_workers_than_the_cores_can_use_saying_the_limit_and_why(service_env, cores, capsys,
                                                                                    no_gunicorn):
    # Before: --workers 1000 forked a thousand workers on a 2-core machine.
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--workers", "17"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert ("argument --workers: must be a whole number from 1 to 16, not '17' (4 per CPU core, and this machine "
            "gives the connector 4: more workers would only compete for them and for memory)") in error


def test_the_usable_cores_are_this_machines():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


# -- serve: what reaches gunicorn, and what stops it first --------------------------------------

@pytest.fixture
def gunicorn_runs(monkeypatch) -> list[tuple]:
    """What `connector serve` would start gunicorn with, recorded instead."""
    runs = []
    monkeypatch.setattr("connector.server.run_gunicorn", lambda *args: runs.append(args))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return runs


def test_serve_starts_gunicorn_with_its_options_the_profile_and_the_check_for_reloads(service_env, monkeypatch, capsys,
                                                                                    gunicorn_runs):
    profile_path = REPO / "examples" / "profiles" / "survey-scores.yaml"
    monkeypatch.setenv("MAPPING_PROFILE", str(profile_path))
    monkeypatch.setenv("LOG_LEVEL", "warning")
    port = free_port()
    assert main(["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "3"]) == 0
    [(host, bound, workers, level, profile, start_up_check)] = gunicorn_runs
    assert (host, bound, workers, level) == ("127.0.0.1", port, 3, "WARNING")
    assert profile == load_profile(profile_path) != load_profile(None)
    assert start_up_check() == profile
    # First start in development mode: the generated values, once, as the workers will use them.
    first = capsys.readouterr().err
    stored = json.loads(service_env.read_text())
    for name, value in stored.items():
        assert f"{name}={value}" in first
    assert main(["serve", "--port", str(port)]) == 0
    again = capsys.readouterr().err
    assert "DEVELOPMENT MODE" in again and str(service_env) in again
    assert not [value for value in stored.values() if value in again]


def test_serve_refuses_a_port_another_process_listens_on(service_env, capsys, no_gunicorn):
    # Tests listen on 127.0.0.1 only (a CI machine may have no IPv6 loopback).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"connector: cannot listen on 127.0.0.1:{port}: another process is listening there")
    assert "--port" in error


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "http://127.0.0.1", "no-such-host.invalid"])
def test_serve_refuses_a_host_it_cannot_listen_on_in_one_line(service_env, capsys, no_gunicorn, host):
    # Found by an audit: gunicorn tried five times, logged each, and exited 1.
    assert main(["serve", "--host", host, "--port", str(free_port())]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"connector: cannot listen on {host}:") and error.count("\n") == 1
    assert "--host takes an address or a name of this machine" in error


def test_serve_refuses_a_multiprocess_directory_that_is_not_one_and_warns_of_one_with_files(
        service_env, tmp_path, monkeypatch, capsys, gunicorn_runs):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert main(["serve", "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.startswith(
        f"connector: configuration refused: PROMETHEUS_MULTIPROC_DIR {tmp_path / 'missing'} is not a directory")
    used = tmp_path / "used"
    used.mkdir()
    for n in range(2):
        (used / f"counter_{n}.db").write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(used))
    assert main(["serve", "--port", str(free_port())]) == 0
    assert "connector: warning: PROMETHEUS_MULTIPROC_DIR holds 2 file(s) already" in capsys.readouterr().err
    assert len(gunicorn_runs) == 1 and sorted(os.listdir(used)) == ["counter_0.db", "counter_1.db"]


def test_serve_says_when_the_development_secrets_cannot_be_kept(service_env, tmp_path, monkeypatch, capsys,
                                                               no_gunicorn):
    # The ledger opened (start-up check), but the secrets file beside it cannot be created.
    def refused(path, flags, mode=0o777):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    monkeypatch.setattr("connector.dev_secrets.os.open", refused)
    assert main(["serve", "--port", str(free_port())]) == 2
    assert capsys.readouterr().err == (f"connector: configuration refused: DATABASE_PATH {tmp_path / 'state.sqlite3'}: "
                                       f"cannot keep the development secrets there ({os.strerror(errno.EACCES)})\n")


@pytest.mark.parametrize("exists", [True, False])
def test_the_permission_hint_names_the_database_or_else_its_directory(tmp_path, monkeypatch, exists):
    database = tmp_path / "state.sqlite3"
    if exists:
        database.write_bytes(b"")
    monkeypatch.setattr(cli.os, "access", lambda path, mode: False)
    assert f"has no permission to write to {database if exists else tmp_path};" in cli._permission_hint(database)


# -- send-test-event: what is posted ---------------------------------------------------------

def test_send_test_event_posts_the_signed_event_the_options_describe(service_env, posts, capsys):
    assert main(["send-test-event", "--url", "http://127.0.0.1:9/hook", "--type", "study.published",
                 "--interview-id", "study-fresh-1", "--secret", "whsec_given_0123"]) == 0
    assert main(["send-test-event", "--url", "http://127.0.0.1:9/hook", "--type", "interview.completed",
                 "--email", "jöns@exämple.se", "--secret", "whsec_given_0123"]) == 0
    study, interview = posts
    for sent in posts:
        assert sent["headers"]["X-Koji-Signature"] == sign(sent["data"], "whsec_given_0123")
        assert sent["headers"]["Content-Type"] == "application/json"
    assert normalize(json.loads(study["data"]))["event"]["key"].startswith("study-fresh-1@")  # @ its time
    assert "jöns@exämple.se".encode() in interview["data"]  # UTF-8, as Koji sends it, not \u escapes
    assert normalize(json.loads(interview["data"]))["respondent"]["email"] == "jöns@exämple.se"
    assert capsys.readouterr().out == "200 OK\n{}\n" * 2


@pytest.mark.parametrize("event_type", PERSON_TYPES)
def test_send_test_event_email_replaces_every_email_the_sample_carries(event_type):
    payload = personalized(sample_payload(event_type), event_type, email="me@mine.example", event_id=None)
    assert set(re.findall(r"[\w.+-]+@[\w.-]+", json.dumps(payload))) == {"me@mine.example"}
    people = [payload["data"].get(person) for person in ("respondent", "participant")]
    assert all(person["email"] == "me@mine.example" for person in people if isinstance(person, dict))


def test_send_test_event_of_a_ping_takes_the_options_without_a_traceback(service_env, posts):
    assert main(["send-test-event", "--url", "http://127.0.0.1:9/", "--type", "ping", "--email", "me@mine.example",
                 "--interview-id", "p-1", "--secret", "s"]) == 0
    assert json.loads(posts[0]["data"])["type"] == "ping"


def test_send_test_event_in_production_never_signs_with_a_development_secret(service_env, monkeypatch, capsys, posts):
    service_env.write_text(DEV_SECRETS)  # left from development
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    assert main(["send-test-event", "--url", "http://127.0.0.1:9/v1/koji/verify"]) == 2
    assert posts == []
    error = capsys.readouterr().err
    assert "KOJI_WEBHOOK_SECRET" in error and "dev-secrets" not in error


@pytest.mark.parametrize("url, environment, options", [
    ("http://127.0.0.1:5678/webhook/koji", {}, ["--secret", "whsec_given"]),  # no key is sent to n8n
    ("http://127.0.0.1:8080/v1/koji/verify", {"KOJI_WEBHOOK_SECRET": "whsec_env", "CONNECTOR_API_KEYS": "ck_env_1"}, []),
])
def test_send_test_event_reads_no_development_secret_it_does_not_need(service_env, monkeypatch, posts,
                                                                      url, environment, options):
    monkeypatch.setattr("connector.dev_secrets.time.sleep", lambda seconds: None)
    service_env.write_text("garbage")  # would stop it, were it read
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["send-test-event", "--url", url, *options]) == 0
    assert len(posts) == 1


def test_a_reader_that_left_ends_the_command_quietly_with_exit_code_1(tmp_path, monkeypatch):
    # In process, so that the handling is seen; the subprocess test above shows it end to end.
    def reader_gone(args):
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
    monkeypatch.setattr(cli, "_send_test_event", reader_gone)
    with open(tmp_path / "stdout", "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        assert main(["send-test-event", "--url", "http://127.0.0.1:9/", "--secret", "s"]) == 1
        os.write(stdout.fileno(), b"written at exit")  # goes nowhere now: no second EPIPE
    assert (tmp_path / "stdout").read_text() == ""


# -- serve: PORT and WEB_CONCURRENCY (the Docker image's variables) ------------------------------

@pytest.fixture
def any_port(monkeypatch):
    """Say every port can be listened on (the default 8080 may be taken on this machine)."""
    monkeypatch.setattr(cli, "_cannot_listen", lambda host, port: None)


@pytest.mark.parametrize("environment, argv, port, workers", [
    ({}, [], 8080, 2),
    ({"PORT": "", "WEB_CONCURRENCY": ""}, [], 8080, 2),  # empty is unset, as for every setting
    ({"PORT": " 18150 ", "WEB_CONCURRENCY": "3"}, [], 18150, 3),
    ({"PORT": "18150", "WEB_CONCURRENCY": "3"}, ["--port", "18151", "--workers", "1"], 18151, 1),  # options win
])
def test_serve_takes_port_and_workers_from_the_environment_when_not_given(service_env, monkeypatch, gunicorn_runs,
                                                                          any_port, cores, environment, argv,
                                                                          port, workers):
    # Found by an audit: the image passed an empty WEB_CONCURRENCY on as `--workers ""`, refused.
    for name in ("PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *argv]) == 0
    [(_, bound, started, *_)] = gunicorn_runs
    assert (bound, started) == (port, workers)


@pytest.mark.parametrize("name, value, said", [
    ("PORT", "http", "PORT: must be a port number from 0 to 65535, not 'http'"),
    ("PORT", "70000", "PORT: must be a port number from 0 to 65535, not '70000'"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY: must be a whole number from 1 to 16, not '0'"),
    ("WEB_CONCURRENCY", "1000", "WEB_CONCURRENCY: must be a whole number from 1 to 16, not '1000' (4 per CPU core"),
])
def test_serve_refuses_a_bad_port_or_worker_count_from_the_environment_naming_the_variable(
        service_env, monkeypatch, capsys, no_gunicorn, cores, name, value, said):
    # Found by an audit: the Docker user saw `argument --workers: …`, an option they never typed.
    monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"connector: configuration refused: {said}") and "--" not in error.split("(")[0]
    assert error.count("\n") == 1


# -- send-test-event: a URL ending in a slash, options that need no setting ---------------------

@pytest.fixture
def not_found(monkeypatch) -> list[str]:
    """send-test-event's posts, answered 404 as the connector answers an unknown path."""
    sent = []

    def post(url, data, headers, timeout, allow_redirects):
        sent.append(url)
        return type("Answer", (), {"status_code": 404, "reason": "NOT FOUND", "text": "{}", "ok": False,
                                   "is_redirect": False})()
    monkeypatch.setattr("requests.post", post)
    return sent


def test_send_test_event_says_a_url_answered_404_ends_in_a_slash(service_env, not_found, capsys):
    # Found by an audit: …/v1/koji/verify/ got the API key and a bare 404.
    assert main(["send-test-event", "--url", "http://127.0.0.1:9/v1/koji/verify/?t=x", "--secret", "s",
                 "--api-key", "k"]) == 1
    assert capsys.readouterr().err == ("connector: http://127.0.0.1:9/v1/koji/verify/ answered 404, and it ends in a "
                                       "slash: try --url without the slash at the end\n")
    for url in ("http://127.0.0.1:9/v1/koji/verify", "http://127.0.0.1:9/"):  # no slash to blame
        assert main(["send-test-event", "--url", url, "--secret", "s", "--api-key", "k"]) == 1
        assert capsys.readouterr().err == ""


@pytest.mark.parametrize("url, options", [
    ("http://127.0.0.1:9/v1/koji/verify", ["--secret", "whsec_given", "--api-key", "ck_given"]),
    ("http://127.0.0.1:9/webhook/koji", ["--secret", "whsec_given"]),  # n8n: no key to send
])
def test_send_test_event_given_all_it_needs_reads_no_setting(service_env, monkeypatch, posts, url, options):
    # Found by an audit: DATABASE_PATH=:memory: stopped it, though it reads that path only to
    # find development secrets, which the options make unneeded.
    monkeypatch.setenv("DATABASE_PATH", ":memory:")
    monkeypatch.setenv("CONNECTOR_MODE", "staging")
    assert main(["send-test-event", "--url", url, *options]) == 0
    assert posts[0]["headers"]["X-Koji-Signature"] == sign(posts[0]["data"], "whsec_given")
    assert posts[0]["headers"].get("X-API-Key") == ("ck_given" if "--api-key" in options else None)


@pytest.mark.parametrize("name, option", [("PORT", ["--port", "18152"]), ("WEB_CONCURRENCY", ["--workers", "1"])])
def test_a_bad_variable_does_not_stop_serve_when_its_option_is_given(service_env, monkeypatch, gunicorn_runs,
                                                                      any_port, cores, name, option):
    # Found by an audit: README says the variables are read only when the options are absent.
    for variable in ("PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(name, "abc")
    assert main(["serve", *option]) == 0
    assert len(gunicorn_runs) == 1
