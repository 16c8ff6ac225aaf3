"""Prometheus metrics, served at `GET /metrics` (API key required) by prometheus_client.

What is counted: requests by route rule, method and status, their duration by route, the
verify/map answers by decision, the problem+json refusals by slug, and the rows the ledger
purge removed. Every label value comes from a small set the connector chose (a Flask rule or
"(no route)", a known method or "other", a status code, a decision, a problem slug), never
from what a caller sent: a path, a key or an e-mail in a label would leave the service in
every scrape, and each new value would be one more series kept forever.

Several gunicorn workers: prometheus_client's multiprocess mode, where each worker writes
its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape sums them, so /metrics answers
the same whichever worker serves it. prometheus_client picks how it keeps values (in
memory, or in those files) once, when `prometheus_client.values` is imported, from that
variable. So this module imports prometheus_client only in `init_app` (inside the workers,
which `connector serve` starts with the variable set: `multiprocess_directory`), never at
import time: the master, and anything it imports, never loads it. Without the variable
(plain gunicorn not given one, the tests) the values are this process's own.

No gauge is used, so nothing needs `multiprocess.mark_process_dead` when a worker exits:
that call removes the files of live gauges only, and the counters and histogram of a worker
that exited must keep counting in the sums (a counter that drops would read as a reset)."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, request

from connector.logs import STARTED_ENVIRON_KEY, route_rule, shown_method

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds. The connector answers in about a millisecond; a slow one is a ledger wait (up to
# 5 s) or an upstream call (HTTP_TIMEOUT_SECONDS).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0)
NONE = "none"  # a label with nothing to say: no skip reason, no delivery (map)

_recorder: _Recorder | None = None  # one per process: prometheus_client's metrics are process-wide


class MetricsUnusable(Exception):
    """PROMETHEUS_MULTIPROC_DIR names no directory; the message says so."""


def multiprocess_dir_problem() -> str | None:
    """Why PROMETHEUS_MULTIPROC_DIR cannot be used, or None (also when it is not set)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given and not os.path.isdir(given):
        return (f"{MULTIPROC_ENV} {given} is not a directory: create it (empty) or leave the "
                "variable unset (connector serve then makes one of its own)")
    return None


def leftover_files() -> int:
    """How many files an operator's PROMETHEUS_MULTIPROC_DIR already holds (0 when unset)."""
    given = os.environ.get(MULTIPROC_ENV)
    return len(os.listdir(given)) if given and os.path.isdir(given) else 0


@contextmanager
def multiprocess_directory() -> Iterator[str]:
    """For `connector serve`, around gunicorn's run: PROMETHEUS_MULTIPROC_DIR for the workers.

    The operator's when set (prometheus_client's docs ask for it to be emptied before each
    start: that is theirs to do, as the directory may be shared with something else). Else a
    fresh private one, removed when the master ends. Removed by the master only: a worker is
    forked inside this block and unwinds through it when it exits."""
    if os.environ.get(MULTIPROC_ENV):
        yield os.environ[MULTIPROC_ENV]
        return
    created, owner = tempfile.mkdtemp(prefix="connector-metrics-"), os.getpid()
    os.environ[MULTIPROC_ENV] = created
    try:
        yield created
    finally:
        if os.getpid() == owner:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(created, ignore_errors=True)


class _Recorder:
    def __init__(self) -> None:
        problem = multiprocess_dir_problem()
        if problem:
            raise MetricsUnusable(problem)
        # Here, not at the module's top: see the module's docstring.
        from prometheus_client import CollectorRegistry, Counter, Histogram, values

        from connector.errors import Problem

        # What prometheus_client chose when it was first imported, not what the variable says
        # now: values kept in memory are exposed from memory, whatever was set since.
        self.multiprocess = bool(getattr(values.ValueClass, "_multiprocess", False))
        self.registry = CollectorRegistry()
        self.requests = Counter("connector_requests_total", "HTTP requests answered by the app",
                                ["route", "method", "status"], registry=self.registry)
        self.duration = Histogram("connector_request_duration_seconds", "Time the app took to answer",
                                  ["route"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.events = Counter("connector_events_total", "verify and map answers, by decision",
                              ["action", "skip_reason", "delivery"], registry=self.registry)
        self.problems = Counter("connector_problems_total",
                                "problem+json refusals answered (by the app or its gunicorn worker), by type",
                                ["type"], registry=self.registry)
        self.purged = Counter("connector_ledger_purged_events_total", "Ledger rows the retention purge removed",
                              registry=self.registry)
        # The children are resolved once per label set (.labels() costs microseconds a call),
        # and kept by values that are themselves from fixed sets, so these stay small.
        self._per_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._per_answer: dict[tuple[str, str, str], Any] = {}
        self._per_problem: dict[str, Any] = {}
        # Every known problem at 0 from the start, so an alert's rate() sees the first one.
        pending = [Problem]
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            self.problem(cls.slug, 0)

    def request_done(self, status: int) -> None:
        key = (route_rule(), shown_method(request.method), status)
        children = self._per_request.get(key)
        if children is None:
            children = self._per_request[key] = (self.requests.labels(key[0], key[1], str(status)),
                                                 self.duration.labels(key[0]))
        children[0].inc()
        started = request.environ.get(STARTED_ENVIRON_KEY)  # connector.logs's clock
        if started is not None:
            children[1].observe(time.perf_counter() - started)

    def answer(self, action: str, skip_reason: str | None, delivery: str | None) -> None:
        key = (action, skip_reason or NONE, delivery or NONE)
        child = self._per_answer.get(key)
        if child is None:
            child = self._per_answer[key] = self.events.labels(*key)
        child.inc()

    def problem(self, slug: str, amount: int = 1) -> None:
        child = self._per_problem.get(slug)
        if child is None:
            child = self._per_problem[slug] = self.problems.labels(slug)
        child.inc(amount)

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if not self.multiprocess:
            return generate_latest(self.registry)
        # Each scrape reads every worker's files (prometheus_client's documented way).
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def _get() -> _Recorder:
    global _recorder
    if _recorder is None:
        _recorder = _Recorder()
    return _recorder


def init_app(app: Flask) -> None:
    """Count every request the app answers (a refusal too: after_request runs for the error
    handlers' answers), timed by connector.logs's clock. Raises MetricsUnusable for a
    PROMETHEUS_MULTIPROC_DIR that is not a directory."""
    recorder = _get()

    @app.after_request
    def _count_request(response: Response) -> Response:
        recorder.request_done(response.status_code)
        return response


# Called from where the values are known; a no-op in a process with no app (the master).

def count_answer(answer: dict[str, Any]) -> None:
    if _recorder is not None:
        _recorder.answer(answer["action"], answer["skip_reason"], (answer.get("delivery") or {}).get("status"))


def count_problem(slug: str) -> None:
    if _recorder is not None:
        _recorder.problem(slug)


def count_purged(rows: int) -> None:
    if _recorder is not None and rows:
        _recorder.purged.inc(rows)


def exposition() -> tuple[bytes, str]:
    """The text for GET /metrics and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return _get().exposition(), CONTENT_TYPE_LATEST
