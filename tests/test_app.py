"""create_app(): what it refuses to start with, and how (exit code 4 stops gunicorn); and
connector.server, the gunicorn worker and master `connector serve` runs, driven in-process."""
import io
import json
import logging
import os
import socket
import threading
import time
from http import HTTPStatus

import pytest
from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.arbiter import Arbiter
from gunicorn.config import Config
from gunicorn.http.errors import ForbiddenProxyRequest
from pydantic import SecretStr

from conftest import API_KEY
from connector import create_app, metrics, server
from connector.app import APP_LOAD_ERROR
from connector.profile import load_profile
from connector.server import ProblemJsonWorker
from connector.settings import Mode, Settings


def production(database_path) -> Settings:
    return Settings(connector_mode="production", koji_webhook_secret=[SecretStr("whsec_app_0123456789")],
                    connector_api_keys=[SecretStr("ck_app_0123456789")], database_path=database_path)


def test_a_missing_database_directory_is_created_in_production_mode(tmp_path):
    app = create_app(production(tmp_path / "data" / "state.sqlite3"))
    assert (tmp_path / "data" / "state.sqlite3").exists()
    assert app.test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize("mode", ["production", "development"])
def test_a_database_path_that_cannot_be_used_stops_the_app_naming_database_path(tmp_path, capsys, mode):
    settings = production(tmp_path)  # a directory
    settings.connector_mode = Mode(mode)
    with pytest.raises(SystemExit) as caught:
        create_app(settings)
    assert caught.value.code == APP_LOAD_ERROR
    err = capsys.readouterr().err
    assert f"configuration refused: DATABASE_PATH: {tmp_path} cannot be used" in err
    assert "it is a directory" in err and "DEVELOPMENT MODE" not in err


def test_a_mapping_profile_that_cannot_be_used_stops_the_app_naming_the_line(tmp_path, capsys):
    # Plain gunicorn reads the profile in each worker: exit 4 stops it rather than a restart loop.
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfields: [{name: X__c, type: txt}]\n")
    settings = production(tmp_path / "state.sqlite3")
    settings.mapping_profile = bad
    with pytest.raises(SystemExit) as caught:
        create_app(settings)
    assert caught.value.code == APP_LOAD_ERROR
    assert f"connector: mapping profile refused: {bad}:" in capsys.readouterr().err


def test_enrichment_without_a_key_stops_the_app(tmp_path, monkeypatch, capsys):
    for name, value in {"CONNECTOR_MODE": "production", "KOJI_WEBHOOK_SECRET": "whsec_app_0123456789",
                        "CONNECTOR_API_KEYS": "ck_app_0123456789",
                        "DATABASE_PATH": str(tmp_path / "s.sqlite3"), "KOJI_ENRICH": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KOJI_API_KEY", raising=False)
    with pytest.raises(SystemExit) as caught:
        create_app()
    assert caught.value.code == APP_LOAD_ERROR
    assert "configuration refused: KOJI_ENRICH=true needs KOJI_API_KEY" in capsys.readouterr().err


def test_a_metrics_directory_that_is_not_one_stops_the_app_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(metrics, "_recorder", None)  # one per process: this app's is made afresh
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(SystemExit) as caught:
        create_app(production(tmp_path / "state.sqlite3"))
    assert caught.value.code == APP_LOAD_ERROR
    assert f"configuration refused: PROMETHEUS_MULTIPROC_DIR {tmp_path / 'missing'} is not a directory" \
        in capsys.readouterr().err


def test_development_mode_prints_the_secrets_it_generates_once(tmp_path, capsys):
    def development() -> Settings:
        return Settings(connector_mode="development", koji_webhook_secret=[], connector_api_keys=[],
                        database_path=tmp_path / "state.sqlite3")
    settings = development()
    client = create_app(settings).test_client()
    printed = capsys.readouterr().err
    api_key = settings.connector_api_keys[0].get_secret_value()
    assert "DEVELOPMENT MODE" in printed and f"CONNECTOR_API_KEYS={api_key}" in printed
    assert f"KOJI_WEBHOOK_SECRET={settings.koji_webhook_secret[0].get_secret_value()}" in printed
    assert client.get("/v1/salesforce/fields", headers={"X-API-Key": api_key}).status_code == 200
    create_app(development())  # a restart, or the next worker: the same secrets, not printed again
    assert api_key not in capsys.readouterr().err


def test_every_configured_secret_is_masked_should_a_log_line_carry_it(tmp_path):
    secrets = {"koji_webhook_secret": [SecretStr("whsec_masked_0123456789")],
               "connector_api_keys": [SecretStr("ck_masked_0123456789")],
               "koji_api_key": SecretStr("koji_masked_0123456789"),
               "salesforce_client_secret": SecretStr("sf_masked_0123456789")}
    create_app(Settings(connector_mode="production", database_path=tmp_path / "state.sqlite3",
                        salesforce_domain_url="https://example.my.salesforce.com", salesforce_client_id="id",
                        **secrets))
    written = io.StringIO()
    logging.getLogger("connector").handlers[0].setStream(written)  # the connector's handler, after its filter
    logging.getLogger("connector.test").warning("upstream said %s", " ".join(
        value.get_secret_value() for values in secrets.values() for value in (values if isinstance(values, list)
                                                                            else [values])))
    assert "upstream said" in written.getvalue() and "masked_0123456789" not in written.getvalue()


# --- connector.server: the gunicorn worker, driven in-process over a socket pair -------------------
# tests/test_gunicorn.py starts real gunicorn; these reach the same code where a mutation test sees it.

@pytest.fixture
def gunicorn_loggers():
    """gunicorn's Logger sets up the process-wide gunicorn.* loggers: they are put back after."""
    loggers = [logging.getLogger(name) for name in ("gunicorn.error", "gunicorn.access")]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    yield
    for logger, (handlers, propagate, level) in zip(loggers, saved):
        for handler in set(logger.handlers) - set(handlers):
            handler.close()
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(level)


@pytest.fixture
def worker(app, gunicorn_loggers):
    """A ProblemJsonWorker serving the test app, as gunicorn's master would build it (not forked)."""
    config = Config()
    config.set("limit_request_line", 200)  # small limits: the worker reads each request whole,
    config.set("limit_request_field_size", 200)  # so closing the socket loses no unread bytes
    worker = ProblemJsonWorker(0, os.getpid(), [], None, 30, config, glogging.Logger(config))
    worker.wsgi = app
    yield worker
    worker.tmp.close()


def served(worker, request: bytes, *, finished: bool = True) -> tuple[str, dict[str, str], bytes]:
    """What the worker answers to `request` on one connection: (status line, headers, body)."""
    ours, theirs = socket.socketpair()
    with ours:
        ours.sendall(request)
        if finished:
            ours.shutdown(socket.SHUT_WR)
        handling = threading.Thread(target=worker.handle, args=(theirs, theirs, ("127.0.0.1", 50000)))  # closes theirs
        handling.start()
        handling.join(5)
        if handling.is_alive():  # still waiting on us: end the stream so it returns, and fail
            ours.shutdown(socket.SHUT_WR)
            handling.join()
            pytest.fail("the worker was still waiting on the client after 5 s")
        answer = b""
        while chunk := ours.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n") if head else [""]
    return status, dict(line.split(": ", 1) for line in lines), body


REFUSED_BY_GUNICORN = {  # before the app sees the request; each quotes jane's address somewhere
    "a header without its colon": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note jane@acme.example\r\n\r\n",
                                   400, "malformed-request"),
    "a request line over the limit": (b"GET /?email=jane@acme.example&" + b"a" * 300 + b" HTTP/1.1\r\n\r\n",
                                      400, "malformed-request"),
    "not HTTP at all": (b"jane@acme.example\r\n\r\n", 400, "malformed-request"),
    "a header over the limit": (b"GET /healthz HTTP/1.1\r\nX-Note: jane@acme.example" + b"a" * 300 + b"\r\n\r\n",
                                431, "headers-too-large"),
    "a transfer coding gunicorn does not decode": (
        b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: jane@acme.example\r\n\r\n",
        501, "unsupported-transfer-coding"),
}


@pytest.mark.parametrize("request_bytes, status, slug", REFUSED_BY_GUNICORN.values(), ids=REFUSED_BY_GUNICORN)
def test_the_workers_own_refusals_are_problem_json_that_quote_nothing(worker, caplog, request_bytes, status, slug):
    status_line, headers, body = served(worker, request_bytes)
    # The status's own phrase: gunicorn says "Bad Request" for its 431 and 501 too.
    assert status_line == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    assert headers == {"Connection": "close", "Content-Type": "application/problem+json",
                       "Content-Length": str(len(body))}
    problem = json.loads(body)
    assert (problem["status"], problem["type"].rsplit("#", 1)[1]) == (status, slug)
    assert problem["detail"] == problem["title"]  # gunicorn's message quotes the request: left out
    assert b"jane" not in body
    # gunicorn's own line for it names the client by its address (connector.logs drops the quote)
    assert any(record.getMessage().startswith("Invalid request from ip=127.0.0.1: ") for record in caplog.records)


def test_a_path_outside_script_name_is_a_400_that_names_it(worker, monkeypatch):
    # gunicorn answered "500 Bad Request" (ConfigurationProblem), its detail lost.
    monkeypatch.setenv("SCRIPT_NAME", "/connector")  # gunicorn's own variable
    status_line, _, body = served(worker, b"GET /v1/events/jane@acme.example HTTP/1.1\r\nHost: x\r\n\r\n")
    problem = json.loads(body)
    assert (status_line, problem["type"].rsplit("#", 1)[1]) == ("HTTP/1.1 400 Bad Request", "malformed-request")
    assert "SCRIPT_NAME" in problem["detail"] and b"jane" not in body
    assert served(worker, b"GET /connector/healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == "HTTP/1.1 200 OK"


def test_an_unexpected_error_is_a_500_problem_and_a_forbidden_one_stays_gunicorns(worker):
    for error, status, content_type in [(RuntimeError("jane@acme.example"), 500, "application/problem+json"),
                                        (ForbiddenProxyRequest("203.0.113.9"), 403, "text/html")]:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            worker.handle_error(None, theirs, ("127.0.0.1", 50000), error)
            theirs.shutdown(socket.SHUT_WR)
            head = ours.recv(65536).split(b"\r\n\r\n")[0].decode()
        assert head.startswith(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"), head
        assert f"\r\nContent-Type: {content_type}\r\n" in head
        assert "jane" not in head
    assert gunicorn_util.write_error is server._write_html_error  # put back for anything else


@pytest.mark.parametrize("request_bytes, status_line", [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", ""),  # headers without their end: closed, no answer
    (b"POST /v1/salesforce/map HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n"
     b"X-API-Key: " + API_KEY.encode() + b"\r\n\r\n{", "http/1.1 408 request timeout"),
], ids=["headers", "body"])
def test_a_client_that_stalls_is_let_go_after_the_read_timeout(worker, monkeypatch, request_bytes, status_line):
    monkeypatch.setattr(server, "CLIENT_TIMEOUT_SECONDS", 0.2)  # 10 s in service
    started = time.monotonic()
    assert served(worker, request_bytes, finished=False)[0].lower() == status_line
    assert time.monotonic() - started < 5


def test_connector_serve_runs_gunicorn_with_the_connectors_worker_logger_and_timeouts(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    ran = []
    monkeypatch.setattr(server._Gunicorn, "run", lambda self: ran.append(
        (self.cfg, self.profile, self.start_up_check(), os.environ.get("PROMETHEUS_MULTIPROC_DIR"))))
    profile = load_profile(None)
    server.run_gunicorn("::1", 8080, 3, "WARNING", profile, lambda: "what a reload would find")
    [(config, given_profile, reload_check, multiprocess_dir)] = ran
    assert reload_check == "what a reload would find"  # the master asks it before a reload
    assert config.bind == ["[::1]:8080"] and config.workers == 3 and config.loglevel == "warning"
    assert (config.worker_class_str, config.logger_class) == (server.WORKER_CLASS, server.GunicornLogger)
    # Koji waits 10 s for an answer: a request still running at 30 s is lost anyway.
    assert (config.timeout, config.graceful_timeout, config.accesslog) == (30, 10, None)
    assert given_profile is profile  # the workers take it from the master, not from the file
    assert multiprocess_dir and "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # the workers' metrics, summed


def test_a_master_that_cannot_start_says_why_in_one_line_and_exits_1(monkeypatch, capsys, gunicorn_loggers):
    def refuse(self):
        raise RuntimeError("Connection in use: ('127.0.0.1', 8080)")
    monkeypatch.setattr(server._CheckedReloadArbiter, "run", refuse)
    monkeypatch.setenv("SERVER_SOFTWARE", "")  # the arbiter sets it: put back after
    profile = load_profile(None)
    with pytest.raises(SystemExit) as caught:
        server._Gunicorn({"bind": "127.0.0.1:8080"}, profile, lambda: profile).run()
    assert caught.value.code == 1
    assert capsys.readouterr().err.strip() == "Error: Connection in use: ('127.0.0.1', 8080)"  # no traceback


@pytest.mark.parametrize("refusal", [None, "mapping profile refused: bad.yaml:2"], ids=["accepted", "refused"])
def test_a_reload_goes_ahead_only_with_a_profile_the_new_workers_accept(monkeypatch, capsys, gunicorn_loggers,
                                                                        refusal):
    old, new = load_profile(None), load_profile(None)
    reloads = []
    monkeypatch.setattr(Arbiter, "reload", lambda self: reloads.append(self.app.profile))
    monkeypatch.setenv("SERVER_SOFTWARE", "")  # the arbiter sets it: put back after
    arbiter = server._CheckedReloadArbiter(server._Gunicorn(
        {"bind": "127.0.0.1:0", "logger_class": server.LOGGER_CLASS}, old, lambda: refusal or new))
    arbiter.reload()
    logged = capsys.readouterr().err
    if refusal is None:
        assert reloads == [new] and "reload refused" not in logged
    else:
        assert reloads == [] and arbiter.app.profile is old
        assert logged.count(f"reload refused, the workers go on as they were: {refusal}") == 1


def test_a_worker_builds_the_app_with_the_profile_the_master_accepted(monkeypatch, tmp_path):
    for name, value in {"CONNECTOR_MODE": "production", "KOJI_WEBHOOK_SECRET": "whsec_app_0123456789",
                        "CONNECTOR_API_KEYS": "ck_app_0123456789", "DATABASE_PATH": str(tmp_path / "s.sqlite3"),
                        "MAPPING_PROFILE": str(tmp_path / "edited-since.yaml")}.items():  # not read
        monkeypatch.setenv(name, value)
    profile = load_profile(None)
    app = server._Gunicorn({}, profile, lambda: "not asked").load()
    assert app.extensions["connector"].profile is profile


def test_gunicorns_logger_passes_on_every_other_error_whole(tmp_path, gunicorn_loggers):
    # Only the master's own SIGTERM of a worker is quieted; any other call reaches gunicorn's
    # logger as it was made: a message that is not a string, arguments, a traceback.
    config = Config()
    config.set("logger_class", server.LOGGER_CLASS)
    config.set("errorlog", str(tmp_path / "error.log"))
    log = config.logger_class(config)
    log.stopped_by_master.add(7)
    try:
        raise ValueError("the traceback")
    except ValueError:
        log.error("Worker (pid:%s) exited with code %s", 7, 1, exc_info=True)
    log.error(LookupError("not a string"))
    written = (tmp_path / "error.log").read_text()
    assert "Worker (pid:7) exited with code 1" in written and "ValueError: the traceback" in written
    assert "level=ERROR" in written and "not a string" in written
