"""Outbound answers are read whole within a deadline and a size limit, and never followed
elsewhere (connector.bounded_http)."""
from __future__ import annotations

import gzip
import io
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from connector.bounded_http import AnswerIsRedirect, AnswerTooLarge, AnswerTooSlow, fetch
from tests.fakes.loopback import LoopbackServer


class ScriptedServer(LoopbackServer):
    """Answers every GET, `delay` seconds after it came, with `status` and `headers`, then the
    body's pieces, each after `pause` seconds, then keeps the connection open and silent for
    `hold` seconds. `paths` records what was asked."""

    def __init__(self, pieces: list[bytes], *, status: int = 200, headers: dict[str, str] | None = None,
                 delay: float = 0.0, pause: float = 0.0, hold: float = 0.0):
        self.pieces, self.status, self.headers = pieces, status, headers or {}
        self.delay, self.pause, self.hold = delay, pause, hold
        self.paths: list[str] = []

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.paths.append(self.path)
                time.sleep(server.delay)
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for piece in server.pieces:
                        time.sleep(server.pause)
                        self.wfile.write(piece)
                        self.wfile.flush()
                    time.sleep(server.hold)  # the connection stays open, silent
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what these tests want
                self.close_connection = True

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
                pass

        return Handler


def get(server: ScriptedServer, *, timeout: float = 2.0, max_bytes: int = 1000):
    with requests.Session() as session:
        return fetch(session, "GET", server.base_url + "/", timeout=timeout, max_bytes=max_bytes)


def test_a_whole_answer_is_read():
    with ScriptedServer([b'{"a": ', b"1}"], headers={"Content-Length": "8"}) as server:
        answer = get(server)
    assert answer.status_code == 200 and answer.content == b'{"a": 1}'


def test_an_answer_that_drips_gives_up_at_the_deadline_not_per_read():
    # Before: requests' timeout bounds each wait, so a byte every 0.1 s kept the call going
    # for the whole 3 s answer although the timeout was 0.5 s.
    with ScriptedServer([b"x"] * 30, headers={"Content-Length": "30"}, pause=0.1) as server:
        started = time.monotonic()
        with pytest.raises(AnswerTooSlow) as caught:
            get(server, timeout=0.5)
        took = time.monotonic() - started
    assert isinstance(caught.value, requests.Timeout)
    assert took < 1.0


def test_an_answer_that_stops_half_way_is_a_timeout():
    # requests reports a read timeout inside the body as a ConnectionError; callers tell a
    # timeout (504, "did not answer within") from a refused connection by the Timeout class.
    with ScriptedServer([b"x"], headers={"Content-Length": "30"}, hold=3) as server:
        started = time.monotonic()
        with pytest.raises(AnswerTooSlow):
            get(server, timeout=0.4)
    assert time.monotonic() - started < 1.0


def test_a_declared_length_over_the_limit_is_not_read():
    with ScriptedServer([b"x" * 2000], headers={"Content-Length": "2000"}) as server:
        with pytest.raises(AnswerTooLarge) as caught:
            get(server, max_bytes=1000)
    assert caught.value.limit == 1000 and "1,000 bytes" in str(caught.value)


def test_an_endless_answer_is_cut_at_the_limit():
    # No Content-Length, no end: before, the answer grew in memory until the read timeout.
    with ScriptedServer([b"x" * 65536] * 100_000, headers={"Connection": "close"}) as server:
        with pytest.raises(AnswerTooLarge):
            get(server, max_bytes=200_000, timeout=5)


def test_a_compressed_answer_counts_as_what_it_inflates_to():
    bomb = gzip.compress(b"0" * 5_000_000)  # about 5 kB on the wire
    with ScriptedServer([bomb], headers={"Content-Length": str(len(bomb)), "Content-Encoding": "gzip"}) as server:
        with pytest.raises(AnswerTooLarge):
            get(server, max_bytes=1_000_000)


def test_an_answer_at_the_limit_is_read():
    with ScriptedServer([b"x" * 1000], headers={"Connection": "close"}) as server:
        assert get(server, max_bytes=1000).content == b"x" * 1000


def test_a_chunked_answer_is_read_as_it_drips_in():
    pieces = [b"5\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"]
    with ScriptedServer(pieces, headers={"Transfer-Encoding": "chunked"}, pause=0.05) as server:
        assert get(server).content == b"hello world"


def test_an_answer_cut_short_is_a_connection_error_not_a_timeout():
    with ScriptedServer([b"x"], headers={"Content-Length": "30"}) as server:  # then closes
        with pytest.raises(requests.ConnectionError) as caught:
            get(server)
    assert not isinstance(caught.value, requests.Timeout)


# -- redirects --------------------------------------------------------------------------

ELSEWHERE = b'{"id": "int_1", "respondent": {"email": "someone@elsewhere.example"}}'


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_is_named_by_its_status_not_its_location(status):
    # Before: requests followed it, and the other host's answer came back as the service's.
    with ScriptedServer([ELSEWHERE], headers={"Content-Length": str(len(ELSEWHERE))}) as elsewhere:
        location = elsewhere.base_url + "/api/v1/interviews/int_1?token=in-the-location"
        with ScriptedServer([], status=status, headers={"Location": location, "Content-Length": "0"}) as server:
            with pytest.raises(AnswerIsRedirect) as caught:
                get(server)
    assert caught.value.status == status and f"answered {status}, a redirect" in str(caught.value)
    assert "127.0.0.1" not in str(caught.value) and "in-the-location" not in str(caught.value)
    assert elsewhere.paths == []


def test_a_redirect_loop_is_one_call_within_the_deadline():
    # Before: each of requests' 30 hops had a timeout of its own; a loop of 0.2 s hops took
    # about 6 s with a timeout of 1 s (1.5 s hops with HTTP_TIMEOUT_SECONDS=2: 46.6 s).
    with ScriptedServer([], status=302, headers={"Content-Length": "0", "Connection": "close"}, delay=0.2) as server:
        server.headers["Location"] = server.base_url + "/again"
        started = time.monotonic()
        with pytest.raises(AnswerIsRedirect):
            get(server, timeout=1)
        took = time.monotonic() - started
    assert server.paths == ["/"] and took < 1.0


def test_a_redirect_is_refused_on_its_status_line_however_slowly_its_body_drips():
    # requests reads a redirect's whole body even when it follows none (for response.next):
    # refused only after that read, a body of a byte every 0.1 s kept the call for 3 s.
    with ScriptedServer([ELSEWHERE], headers={"Content-Length": str(len(ELSEWHERE))}) as elsewhere:
        headers = {"Location": elsewhere.base_url + "/", "Content-Length": "30"}
        with ScriptedServer([b"x"] * 30, status=302, headers=headers, pause=0.1) as server:
            started = time.monotonic()
            with pytest.raises(AnswerIsRedirect):
                get(server, timeout=0.5)
            took = time.monotonic() - started
    assert took < 1.0 and elsewhere.paths == []  # refused after its body: 3 s


def test_a_whole_answer_is_read_within_a_timeout_under_a_second():
    with ScriptedServer([b"ok"], headers={"Content-Length": "2"}) as server:
        assert get(server, timeout=0.5) == (200, b"ok")


def test_the_status_line_is_waited_for_no_longer_than_the_timeout():
    with ScriptedServer([b"ok"], headers={"Content-Length": "2"}, delay=2) as server:
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            get(server, timeout=0.4)
        took = time.monotonic() - started
    assert took < 1.6  # 2 s if the wait were not bounded


def test_a_read_after_a_slow_piece_waits_only_for_what_is_left_of_the_deadline():
    # One byte at 0.6 s, then silence: the next read may wait 0.4 s more, not a whole timeout.
    with ScriptedServer([b"x"], headers={"Content-Length": "30"}, pause=0.6, hold=3) as server:
        started = time.monotonic()
        with pytest.raises(AnswerTooSlow) as caught:
            get(server, timeout=1.0)
        took = time.monotonic() - started
    assert str(caught.value) == "the answer did not arrive in time"
    assert took < 1.4


def test_the_callers_arguments_are_sent_with_the_request():
    with ScriptedServer([b"ok"], headers={"Content-Length": "2"}) as server:
        with requests.Session() as session:
            fetch(session, "GET", server.base_url + "/", timeout=2, max_bytes=10, params={"q": "1"})
    assert server.paths == ["/?q=1"]


def test_a_declared_length_over_the_limit_is_refused_before_the_body_arrives():
    # The answer says 2,000 bytes, then stalls after 10: refused on the header, not after a timeout.
    with ScriptedServer([b"x" * 10], headers={"Content-Length": "2000"}, hold=3) as server:
        started = time.monotonic()
        with pytest.raises(AnswerTooLarge):
            get(server, max_bytes=1000, timeout=2)
    assert time.monotonic() - started < 1.5


def test_an_answer_declared_at_the_limit_is_read():
    with ScriptedServer([b"x" * 1000], headers={"Content-Length": "1000"}) as server:
        assert get(server, max_bytes=1000).content == b"x" * 1000


@pytest.mark.parametrize("status", [300, 399])
def test_every_3xx_is_a_redirect(status):
    with ScriptedServer([], status=status, headers={"Content-Length": "0"}) as server:
        with pytest.raises(AnswerIsRedirect) as caught:
            get(server)
    assert caught.value.status == status


@pytest.mark.parametrize("status", [299, 400])
def test_a_status_outside_3xx_is_an_answer(status):
    with ScriptedServer([b"no"], status=status, headers={"Content-Length": "2"}) as server:
        assert get(server) == (status, b"no")


def test_an_answer_cut_short_names_what_broke_it_off():
    with ScriptedServer([b"x"], headers={"Content-Length": "30"}) as server:  # then closes
        with pytest.raises(requests.ConnectionError) as caught:
            get(server)
    assert str(caught.value) == "the answer broke off (ProtocolError)"


class _LateSession(requests.Session):
    """Its status line comes after the whole deadline (requests' waits are `timeout` each)."""

    def request(self, method, url, **kwargs):
        time.sleep(kwargs["timeout"] + 0.05)
        response = requests.Response()
        response.status_code, response.raw = 200, io.BytesIO(b"")
        return response


def test_an_answer_whose_status_line_came_after_the_deadline_is_not_read():
    with _LateSession() as session, pytest.raises(AnswerTooSlow) as caught:
        fetch(session, "GET", "http://127.0.0.1:9/", timeout=0.1, max_bytes=10)
    assert str(caught.value) == "the answer did not arrive in time"
