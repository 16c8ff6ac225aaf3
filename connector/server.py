"""Run the app under gunicorn from `connector serve`, and the worker class that serves it
(plain gunicorn: `-k connector.server.ProblemJsonWorker`): gunicorn's own refusals are
problem+json, and a slow client holds no worker."""
from __future__ import annotations

import errno
import json
import os
import re
import selectors
import socket
import time
from http import HTTPStatus

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.sync import SyncWorker

from connector.errors import (
    PROBLEM_MEDIA_TYPE, HeadersTooLarge, MalformedRequest, Problem, RequestTimeout, TransferCodingNotImplemented,
)

WORKER_CLASS = "connector.server.ProblemJsonWorker"
# How long a client may send nothing before its request is whole. Koji sends its whole webhook
# at once; well under gunicorn's worker timeout (30 s), which would kill the worker instead.
CLIENT_TIMEOUT_SECONDS = 10.0

# What gunicorn refuses itself, by the status it picks. Its message is left out: it quotes
# the request line or a header, which may hold an address or a token.
_GUNICORN_REFUSALS: dict[int, type[Problem]] = {
    400: MalformedRequest, 431: HeadersTooLarge, 501: TransferCodingNotImplemented, 500: Problem,
}
_write_html_error = util.write_error


def _write_problem(sock, status: int, reason: str, message: str) -> None:
    problem = _GUNICORN_REFUSALS.get(status)
    if problem is None:  # 403 for a PROXY line or TLS, neither of which serve turns on
        _write_html_error(sock, status, reason, message)
        return
    _send_problem(sock, problem(), reason)


def _send_problem(sock, problem: Problem, reason: str | None = None) -> None:
    reason = reason or HTTPStatus(problem.status).phrase
    body = json.dumps(problem.to_dict()).encode()
    head = (f"HTTP/1.1 {problem.status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ProblemJsonWorker(SyncWorker):
    """gunicorn's sync worker, except that

    - a request is read in full before the worker takes it up, from many connections at once,
      so clients that send slowly or stop half-way (two of them used to stall a two-worker
      service for 30 s) hold no worker; one silent for CLIENT_TIMEOUT_SECONDS gets 408;
    - its own refusals (a request line or headers over its limits, bytes that are not HTTP)
      are problem+json like every other refusal."""

    def run(self) -> None:
        if self.cfg.is_ssl:  # TLS bytes cannot be read ahead; `connector serve` serves plain HTTP
            super().run()
            return
        with selectors.DefaultSelector() as selector:
            _Arrivals(self, selector).serve()

    def handle(self, listener, client, addr) -> None:
        # The request has arrived (or TLS): the timeout only bounds a read the app does beyond it.
        client.settimeout(CLIENT_TIMEOUT_SECONDS)
        super().handle(listener, client, addr)

    def handle_error(self, req, client, addr, exc) -> None:
        # gunicorn writes these through util.write_error. A sync worker handles one request
        # at a time, so swapping it for the length of this call affects nothing else.
        util.write_error = _write_problem
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = _write_html_error


class _Arrivals:
    """The worker's loop: accept connections and read their requests as bytes come, without
    blocking, then hand each whole request to gunicorn's handling (sync, one at a time)."""

    def __init__(self, worker: ProblemJsonWorker, selector: selectors.BaseSelector) -> None:
        self.worker, self.selector = worker, selector
        self.pending: set[_Arrival] = set()
        self.accepting = False
        # A body is read ahead up to what the app takes; past that the app refuses it (413).
        self.body_limit = getattr(worker.wsgi, "config", {}).get("MAX_CONTENT_LENGTH") or 1 << 20

    def serve(self) -> None:
        worker = self.worker
        self.selector.register(worker.PIPE[0], selectors.EVENT_READ)  # signals wake the loop
        try:
            while worker.alive:
                worker.notify()
                self._accept_while_room()
                self._turn()
                if not worker.is_parent_alive():
                    return
        finally:
            for arrival in list(self.pending):
                self._drop(arrival)
                arrival.client.close()

    def _turn(self) -> None:
        longest = self.worker.timeout or 0.5  # gunicorn's heartbeat interval, as SyncWorker waits
        deadline = min((a.deadline for a in self.pending), default=time.monotonic() + longest)
        wait = max(0.0, min(deadline - time.monotonic(), longest))
        whole = []
        for key, _ in self.selector.select(wait):
            if key.fileobj == self.worker.PIPE[0]:
                _drain(self.worker.PIPE[0])
            elif key.data is None:
                self._accept(key.fileobj)
            elif key.data.receive():
                self._drop(key.data)
                whole.append(key.data)
        now = time.monotonic()  # after reading, so a client that has just sent is not timed out
        for arrival in [a for a in self.pending if a.deadline <= now]:
            self._drop(arrival)
            arrival.time_out(self.worker.log)
        for arrival in whole:
            self.worker.notify()
            if arrival.framing.refusal is not None:
                arrival.refuse(arrival.framing.refusal, self.worker.log)
            else:
                self.worker.handle(arrival.listener, arrival.hand_over(), arrival.addr)

    def _accept_while_room(self) -> None:
        room = len(self.pending) < self.worker.cfg.worker_connections
        if room != self.accepting:
            for listener in self.worker.sockets:
                if room:
                    listener.setblocking(False)
                    self.selector.register(listener, selectors.EVENT_READ)
                else:
                    self.selector.unregister(listener)
            self.accepting = room

    def _accept(self, listener) -> None:
        try:
            client, addr = listener.accept()
        except OSError as exc:  # another worker took it, or it was gone already
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        arrival = _Arrival(listener, client, addr, self.worker.cfg, self.body_limit)
        self.pending.add(arrival)
        self.selector.register(arrival.client, selectors.EVENT_READ, arrival)

    def _drop(self, arrival: _Arrival) -> None:
        self.pending.discard(arrival)
        self.selector.unregister(arrival.client)


def _drain(pipe: int) -> None:
    try:
        while os.read(pipe, 4096):
            pass
    except BlockingIOError:
        pass


class _Arrival:
    """One connection whose request is still arriving."""

    def __init__(self, listener, client: socket.socket, addr, cfg, body_limit: int) -> None:
        self.listener, self.addr = listener, addr
        self.client = _ReadAheadSocket(fileno=client.detach())
        self.client.setblocking(False)
        self.data = bytearray()
        self.framing = _Framing(cfg, addr, body_limit)
        self.deadline = time.monotonic() + CLIENT_TIMEOUT_SECONDS

    def receive(self) -> bool:
        """Read what has come; True once gunicorn should take the request up: it is whole, or
        it cannot become a request (gunicorn or the app refuses it), or the client closed."""
        try:
            chunk = self.client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True  # reset: gunicorn's own read meets the error and closes quietly
        if not chunk:
            return True  # a request cut short is refused (or, without a whole head, closed) as it is
        self.data += chunk
        self.deadline = time.monotonic() + CLIENT_TIMEOUT_SECONDS
        settled = self.framing.settled(self.data)
        if not settled and self.framing.expects_continue and not self.client.continued:
            self.client.continue_()  # the client waits for it before it sends the body
        return settled

    def hand_over(self) -> socket.socket:
        self.client.ahead = bytes(self.data)
        return self.client

    def time_out(self, log) -> None:
        """Answer 408 if the client sent part of a request, then close. One log line, which quotes
        nothing of the request (so do the others here)."""
        if self.data:
            log.warning("Request timed out from ip=%s: nothing for %g s after %d bytes; answered 408",
                        self.ip, CLIENT_TIMEOUT_SECONDS, len(self.data))
            self._answer(RequestTimeout.silent_for(CLIENT_TIMEOUT_SECONDS))
        else:
            log.info("Connection from ip=%s sent nothing for %g s; closed", self.ip, CLIENT_TIMEOUT_SECONDS)
        util.close(self.client)

    def refuse(self, problem: Problem, log) -> None:
        log.warning("Invalid request from ip=%s: %s; answered %d", self.ip, problem.slug, problem.status)
        self._answer(problem)
        util.close(self.client)

    @property
    def ip(self) -> str:
        return self.addr[0] if self.addr else ""

    def _answer(self, problem: Problem) -> None:
        try:
            _send_problem(self.client, problem)
        except OSError:
            pass  # gone already


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _ReadAheadSocket(socket.socket):
    """A client socket whose first bytes were read already: recv hands them out first. If the
    read-ahead told the client to continue, gunicorn's own 100 Continue is not sent again."""

    ahead = b""
    continued = False

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self.ahead:
            data, self.ahead = self.ahead[:bufsize], self.ahead[bufsize:]
            return data
        return super().recv(bufsize, flags)

    def continue_(self) -> None:
        self.continued = True
        try:
            super().send(_CONTINUE)
        except OSError:
            pass  # gone: the next read says so

    def send(self, data, flags: int = 0) -> int:
        if self.continued and data == _CONTINUE:
            self.continued = False
            return len(data)
        return super().send(data, flags)


_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]+)(?:[ \t]*;[^\r\n]*)?\r\n")
_CHUNK_SIZE_START = re.compile(rb"([0-9A-Fa-f]+(?:[ \t]*(?:;[^\r\n]*)?)?\r?)?")  # of a line not all there
_LONGEST_CHUNK_SIZE_LINE = 4096


class _Framing:
    """Whether the bytes so far hold a whole request, by gunicorn's reading of the head and by the
    body's framing (Content-Length, or chunked: RFC 9112, section 7.1). Linear in the bytes: the
    head is parsed when it may be whole, chunk sizes are followed as they come.

    Only whether to take the request up is decided here; gunicorn and the app read it again, and
    refuse what is wrong with it."""

    def __init__(self, cfg, addr, body_limit: int) -> None:
        self.cfg, self.addr, self.body_limit = cfg, addr, body_limit
        self.searched = 0  # where the search for the head's (or the trailers') end goes on
        self.next_look = 1024  # the head is parsed when it may be whole, or at each doubling
        self.body_start: int | None = None
        self.length: int | None = None  # Content-Length framing (gunicorn reads none as 0)
        self.next_chunk = 0  # chunked framing: where the next chunk-size line starts
        self.expects_continue = False
        self.refusal: Problem | None = None  # what the worker answers itself, the request being hopeless

    def settled(self, data: bytearray) -> bool:
        if self.body_start is None and not self._head(data):
            return False
        if len(data) - self.body_start > self.body_limit:
            return True  # the app refuses it (413)
        if self.length is not None:
            return len(data) - self.body_start >= self.length
        return self._chunks(data)

    def _head(self, data: bytearray) -> bool:
        end = self._find_blank_line(data, 0)
        if end < 0 and len(data) < self.next_look:
            return False
        self.next_look = 2 * len(data)
        try:
            request = Request(self.cfg, IterUnreader([bytes(data if end < 0 else data[:end])]), self.addr)
        except (StopIteration, NoMoreData):
            return False  # not all there yet
        except Exception:  # gunicorn refuses it (400, 431, 501)
            self.body_start, self.length = len(data), 0
            return True
        self.body_start = self.next_chunk = self.searched = end
        self.length = getattr(request.body.reader, "length", None)  # None: chunked
        if self.length is not None and self.length > self.body_limit:
            self.length = 0  # the app refuses it without reading the body (413)
        self.expects_continue = self.length != 0 and request.version >= (1, 1) and any(
            name == "EXPECT" and value.lower() == "100-continue" for name, value in request.headers)
        return True

    def _find_blank_line(self, data: bytearray, start: int) -> int:
        """The end of the first CRLF CRLF at or after `start`, or -1; each byte is searched once."""
        found = data.find(b"\r\n\r\n", max(start, self.searched - 3))
        self.searched = len(data)
        return found + 4 if found >= 0 else -1

    def _chunks(self, data: bytearray) -> bool:
        while True:
            line = _CHUNK_SIZE_LINE.match(data, self.next_chunk, self.next_chunk + _LONGEST_CHUNK_SIZE_LINE)
            if line is None:
                return self._partial_chunk_size(bytes(data[self.next_chunk:self.next_chunk + _LONGEST_CHUNK_SIZE_LINE]))
            size = int(line.group(1), 16)
            if size == 0:  # the last chunk, then trailer fields up to an empty line
                trailers = line.end()
                return data[trailers:trailers + 2] == b"\r\n" or self._find_blank_line(data, trailers) >= 0
            end = line.end() + size + 2
            if len(data) < end:
                return False
            if data[end - 2:end] != b"\r\n":
                return True  # gunicorn's reading says so at once, and the app refuses it (400)
            self.next_chunk = end

    def _partial_chunk_size(self, line: bytes) -> bool:
        if b"\r\n" in line:
            return True  # malformed: gunicorn's reading says so at once, and the app refuses it (400)
        if len(line) < _LONGEST_CHUNK_SIZE_LINE and _CHUNK_SIZE_START.fullmatch(line):
            return False  # not all there yet
        # gunicorn would wait for the line's end, holding the worker, to find what is clear now.
        self.refusal = MalformedRequest("The chunked body is malformed: a chunk does not start with its "
                                        "size in hexadecimal digits. Nothing was processed.")
        return True


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from connector import create_app
        return create_app()


def bind_address(host: str, port: int) -> str:
    """gunicorn's `bind`: an IPv6 address goes in brackets, or its colons read as the port's."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def run_gunicorn(host: str, port: int, workers: int, log_level: str = "INFO") -> None:
    _Gunicorn({
        "bind": bind_address(host, port),
        "workers": workers,
        "loglevel": log_level.lower(),  # LOG_LEVEL quiets gunicorn's own lines too
        "worker_class": WORKER_CLASS,
        # Koji waits 10 s for an answer; a request that takes longer is already lost.
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
    }).run()
