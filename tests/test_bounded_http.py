"""Outbound answers are read whole within a deadline and a size limit (connector.bounded_http)."""
from __future__ import annotations

import gzip
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from connector.bounded_http import AnswerTooLarge, AnswerTooSlow, fetch
from tests.fakes.loopback import LoopbackServer


class ScriptedServer(LoopbackServer):
    """Answers every GET with 200 and `headers`, then the body's pieces, each after `pause`
    seconds, then keeps the connection open and silent for `hold` seconds."""

    def __init__(self, pieces: list[bytes], *, headers: dict[str, str] | None = None, pause: float = 0.0,
                 hold: float = 0.0):
        self.pieces, self.headers, self.pause, self.hold = pieces, headers or {}, pause, hold

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
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
