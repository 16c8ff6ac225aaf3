"""Outbound HTTP answers read whole within a size limit and a deadline.

requests' timeout bounds each wait on the socket, not the answer: a server that sends a byte
every few seconds kept a worker for as long as it liked (on the webhook path, until gunicorn's
worker timeout killed it mid-request and Koji got a 500), and an endless answer filled the
worker's memory. Every outbound call of the service reads its answer through `fetch`:

- the whole answer must have arrived `timeout` seconds after the request was sent; each wait
  on the socket is cut to what is left. (Connecting and waiting for the status line are
  requests' own waits, `timeout` each, so a call takes at most about twice `timeout`.)
- the answer's body, decoded (a gzip answer counts as what it inflates to), holds at most
  `max_bytes`; reading stops there.
- a redirect (any 3xx) is not followed: it is AnswerIsRedirect, raised on its status line.
  Followed, a redirect from a configured host sent the call (a POST's body with its secret
  included) to a host nobody configured, whose answer was then taken for the service's, and
  each hop had a `timeout` of its own: a loop of 30 hops outlived every deadline.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

CHUNK_BYTES = 64 * 1024


class Answer(NamedTuple):
    status_code: int
    content: bytes


class AnswerTooSlow(requests.ReadTimeout):
    """The answer did not arrive whole in time: a timeout like requests' own."""


class AnswerIsRedirect(Exception):
    """The service answered with a redirect. Its Location is not repeated: it can hold anything."""

    def __init__(self, status: int):
        super().__init__(f"the service answered {status}, a redirect, which the connector does not follow")
        self.status = status


class AnswerTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the answer is larger than the {limit:,} bytes the connector reads")
        self.limit = limit


def fetch(session: requests.Session, method: str, url: str, *, timeout: float, max_bytes: int,
          **kwargs) -> Answer:
    """The status and whole body of one call. Raises what requests raises (a Timeout, a
    ConnectionError…), AnswerTooSlow (a Timeout too), AnswerTooLarge or AnswerIsRedirect."""
    deadline = time.monotonic() + timeout
    response = session.request(method, url, timeout=timeout, stream=True, allow_redirects=False,
                               hooks={"response": _refuse_redirect}, **kwargs)
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerTooLarge(max_bytes)
        return Answer(response.status_code, _body(response, deadline, max_bytes))
    finally:
        response.close()  # an answer left unread is not put back in the pool


def _refuse_redirect(response: requests.Response, **_) -> None:
    # A hook, because requests reads a redirect's whole body before it returns, even with
    # allow_redirects=False (to offer the next hop as response.next): outside `max_bytes` and the
    # deadline. The hook runs on the status line, before that read.
    if 300 <= response.status_code < 400:
        response.close()
        raise AnswerIsRedirect(response.status_code)


def _body(response: requests.Response, deadline: float, max_bytes: int) -> bytes:
    # read1: whatever has arrived, so the deadline is checked between the server's writes.
    # (requests' iter_content waits for a whole chunk, however slowly it drips.)
    chunks, size = [], 0
    while True:
        _wait_at_most(response, deadline - time.monotonic())
        try:
            chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
        except ReadTimeoutError:
            raise AnswerTooSlow("the answer did not arrive in time") from None
        except HTTPError as exc:  # cut short, undecodable: what requests calls a ConnectionError
            raise requests.ConnectionError(f"the answer broke off ({type(exc).__name__})") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(max_bytes)
        chunks.append(chunk)


def _wait_at_most(response: requests.Response, seconds: float) -> None:
    if seconds <= 0:
        raise AnswerTooSlow("the answer did not arrive in time")
    # urllib3 keeps the connection of a streamed answer until it is read; its socket's
    # timeout is what one read may wait.
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)
