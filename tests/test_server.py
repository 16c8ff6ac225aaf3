"""connector.server: the gunicorn worker, driven in-process over a socket pair, and `connector serve`'s
gunicorn. tests/test_gunicorn.py starts real gunicorn; these reach the same code where a mutation test sees it."""
import json
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
from prometheus_client.parser import text_string_to_metric_families

from conftest import API_KEY
from connector import metrics, server
from connector.profile import load_profile
from connector.server import ProblemJsonWorker


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
                                      414, "request-line-too-long"),
    "an expectation other than 100-continue": (
        b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\nExpect: jane@acme.example\r\nContent-Length: 0\r\n\r\n",
        417, "expectation-not-supported"),
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


@pytest.mark.parametrize("request_bytes, status, slug", REFUSED_BY_GUNICORN.values(), ids=REFUSED_BY_GUNICORN)
def test_the_workers_own_refusals_are_counted_by_their_problem_type(worker, request_bytes, status, slug):
    before = problems_counted()
    served(worker, request_bytes)
    assert {slug: 1} == {type_: count - before[type_] for type_, count in problems_counted().items()
                         if count != before[type_]}


def problems_counted() -> dict[str, float]:
    """connector_problems_total by type, as GET /metrics shows it."""
    families = text_string_to_metric_families(metrics.exposition()[0].decode())
    return {sample.labels["type"]: sample.value for family in families if family.name == "connector_problems"
            for sample in family.samples if sample.name == "connector_problems_total"}


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
    assert config.control_socket_disable is True  # one path per user: a second service would take it over
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
