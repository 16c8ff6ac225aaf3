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
from gunicorn.http.errors import (
    ForbiddenProxyRequest, InvalidChunkSize, InvalidHeader, InvalidRequestLine, LimitRequestHeaders,
    LimitRequestLine,
)
from prometheus_client.parser import text_string_to_metric_families

from conftest import API_KEY
from connector import metrics, server
from connector.profile_file import load_profile
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


JANE = b"jane@acme.example"
POST = b"POST /v1/koji/verify HTTP/1.1\r\nHost: x\r\n"
# Before the app sees the request. Each quotes jane's address somewhere, or sends it as the body; the
# detail says what was wrong and what to send (the limits are the worker fixture's: 200 bytes).
REFUSED_BY_GUNICORN = {
    "a header without its colon": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note " + JANE + b"\r\n\r\n",
                                   400, "malformed-request", "A header field is malformed: send each as Name: value"),
    "a control character in a header": (POST + b"X-Note: " + JANE + b"\x01\r\n\r\n", 400, "malformed-request",
                                        "no control characters in the value"),
    "a request line over the limit": (b"GET /?email=" + JANE + b"&" + b"a" * 300 + b" HTTP/1.1\r\n\r\n",
                                      414, "request-line-too-long", "is longer than 200 bytes, the server's limit"),
    "an expectation other than 100-continue": (POST + b"Expect: " + JANE + b"\r\nContent-Length: 0\r\n\r\n",
                                               417, "expectation-not-supported",
                                               "Only the expectation Expect: 100-continue is supported"),
    "not HTTP at all": (JANE + b"\r\n\r\n", 400, "malformed-request", "The request line is malformed"),
    "a bad method": (b"j@ne /healthz HTTP/1.1\r\n\r\n", 400, "malformed-request",
                     "The request method is not valid: send an upper-case method such as GET or POST."),
    "HTTP/2.0": (b"GET /" + JANE + b" HTTP/2.0\r\n\r\n", 400, "malformed-request",
                 "The request line must end in HTTP/1.1 (or HTTP/1.0)"),
    "a header over the limit": (b"GET /healthz HTTP/1.1\r\nX-Note: " + JANE + b"a" * 300 + b"\r\n\r\n",
                                431, "headers-too-large", "A header field is longer than 200 bytes"),
    "more header fields than the limit": (POST + b"".join(b"X-%d: " % n + JANE + b"\r\n" for n in range(101))
                                          + b"\r\n", 431, "headers-too-large",
                                          "The request has more than 100 header fields"),
    "a folded header": (POST + b"X-Note: a\r\n " + JANE + b"\r\n\r\n", 400, "malformed-request",
                        "(obsolete line folding): send each header field on one line"),
    "a header name that is not a token": (POST + b"X-" + JANE + b" : a\r\n\r\n", 400, "malformed-request",
                                          "A header field name is not valid"),
    "two Host headers": (POST + b"Host: " + JANE + b"\r\n\r\n", 400, "malformed-request",
                         "The request has more than one Host header: send one."),
    "a transfer coding gunicorn does not decode": (POST + b"Transfer-Encoding: " + JANE + b"\r\n\r\n",
                                                   501, "unsupported-transfer-coding", "only chunked is taken"),
    "gzip as the only transfer coding": (POST + b"Transfer-Encoding: gzip\r\n\r\n" + JANE, 400,
                                         "malformed-request", "The Transfer-Encoding must end in chunked"),
    "identity as the only transfer coding": (POST + b"Transfer-Encoding: identity\r\n\r\n" + JANE, 400,
                                             "malformed-request", "not gzip, deflate or compress"),
    "chunked before gzip": (POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + JANE, 400, "malformed-request",
                            "must end in chunked, and name it once"),
    "chunked in HTTP/1.0": (b"POST /v1/koji/verify HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + JANE, 400,
                            "malformed-request", "Transfer-Encoding: chunked needs HTTP/1.1"),
    "Content-Length beside chunked": (POST + b"Content-Length: 17\r\nTransfer-Encoding: chunked\r\n\r\n" + JANE,
                                      400, "malformed-request",
                                      "both Content-Length and Transfer-Encoding: chunked, which can be read two ways"),
    "two Content-Lengths": (POST + b"Content-Length: 17\r\nContent-Length: 17\r\n\r\n" + JANE, 400,
                            "malformed-request", "more than one Content-Length header"),
    "a Content-Length that is not a number": (POST + b"Content-Length: 1" + JANE + b"\r\n\r\n", 400,
                                              "malformed-request", "The Content-Length is not a whole number of bytes"),
}


@pytest.mark.parametrize("request_bytes, status, slug, said", REFUSED_BY_GUNICORN.values(), ids=REFUSED_BY_GUNICORN)
def test_the_workers_own_refusals_are_problem_json_that_say_what_and_quote_nothing(worker, caplog, request_bytes,
                                                                                   status, slug, said):
    status_line, headers, body = served(worker, request_bytes)
    # The status's own phrase: gunicorn says "Bad Request" for its 431 and 501 too.
    assert status_line == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    assert headers == {"Connection": "close", "Content-Type": "application/problem+json",
                       "Content-Length": str(len(body))}
    problem = json.loads(body)
    assert (problem["status"], problem["type"].rsplit("#", 1)[1]) == (status, slug)
    # Before: the title again. gunicorn's message quotes the request: the detail is fixed words instead.
    assert said in problem["detail"] and problem["detail"] != problem["title"]
    assert b"jane" not in body and b"acme" not in body and b"@" not in body
    # gunicorn's own line for it names the client by its address (connector.logs drops the quote)
    assert any(record.getMessage().startswith("Invalid request from ip=127.0.0.1: ") for record in caplog.records)


@pytest.mark.parametrize("request_bytes, status, slug, said", REFUSED_BY_GUNICORN.values(), ids=REFUSED_BY_GUNICORN)
def test_the_workers_own_refusals_are_counted_by_their_problem_type(worker, request_bytes, status, slug, said):
    before = problems_counted()
    served(worker, request_bytes)
    assert {slug: 1} == {type_: count - before[type_] for type_, count in problems_counted().items()
                         if count != before[type_]}


@pytest.mark.parametrize("settings, line, fields, field_size", [
    ({}, 4094, 100, 8190),  # gunicorn's defaults, as README and problems.md give them
    ({"limit_request_line": 0, "limit_request_fields": 0, "limit_request_field_size": 0}, None, 32768, 8190),
    ({"limit_request_line": 9000, "limit_request_fields": 40000}, 8190, 32768, 8190),
    ({"limit_request_line": 100, "limit_request_fields": 20, "limit_request_field_size": 300}, 100, 20, 300),
], ids=["defaults", "zero", "over gunicorn's maximum", "set"])
def test_the_limits_a_refusal_names_are_the_ones_gunicorn_applies(settings, line, fields, field_size):
    # gunicorn.http.message: 0 or less, or more than its maximum, is its maximum (the default for a field's size).
    config = Config()
    for name, value in settings.items():
        config.set(name, value)
    too_long = server.refusal_detail(LimitRequestLine(9000, line), config)
    assert too_long == ("The request line (method, path, query and version) "
                        + (f"is longer than {line:,} bytes, the server's limit" if line else "is too long")  # 0: none
                        + ": shorten the path or the query.")
    assert server.refusal_detail(LimitRequestHeaders("limit request headers fields"), config) == (
        f"The request has more than {fields:,} header fields, the server's limit: send fewer.")
    assert f"longer than {field_size:,} bytes" in server.refusal_detail(
        LimitRequestHeaders("limit request headers fields size"), config)
    assert f"at most {fields:,} fields of at most {field_size:,} bytes" in server.refusal_detail(
        LimitRequestHeaders("max buffer headers"), config)


def test_a_refusal_gunicorns_parser_may_name_otherwise_still_gets_fixed_words():
    # gunicorn_h1c, gunicorn's optional C parser, raises the same classes with its own texts.
    config = Config()
    for error in (LimitRequestHeaders("jane@acme.example"), InvalidHeader("X-Note jane@acme.example"),
                  InvalidHeader("CONTENT-LENGTH"),  # a line "CONTENT-LENGTH" without its colon: no request
                  InvalidRequestLine("jane@acme.example"), InvalidChunkSize(b"jane@acme.example")):
        detail = server.refusal_detail(error, config)
        assert detail and "jane" not in detail
    assert server.refusal_detail(InvalidHeader("CONTENT-LENGTH"), config).startswith("A header field is malformed")


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


@pytest.mark.parametrize("refusal", [None, "mapping profile refused: bad.yaml:2", "bad.yaml:2: one\nbad.yaml:5: two"],
                         ids=["accepted", "refused", "refused twice"])
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
        shown = refusal.replace("\n", " | ")  # one line: a log record is one line
        assert logged.count(f"reload refused, the workers go on as they were: {shown}\n") == 1


def test_a_worker_builds_the_app_with_the_profile_the_master_accepted(monkeypatch, tmp_path):
    for name, value in {"CONNECTOR_MODE": "production", "KOJI_WEBHOOK_SECRET": "whsec_app_0123456789",
                        "CONNECTOR_API_KEYS": "ck_app_0123456789", "DATABASE_PATH": str(tmp_path / "s.sqlite3"),
                        "MAPPING_PROFILE": str(tmp_path / "edited-since.yaml")}.items():  # not read
        monkeypatch.setenv(name, value)
    profile = load_profile(None)
    app = server._Gunicorn({}, profile, lambda: "not asked").load()
    assert app.extensions["connector"].profile is profile
