import multiprocessing

import pytest

from connector.ledger import COMPLETED, DUPLICATE, FIRST, IN_PROGRESS, RELEASED, RETRY, Ledger


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(tmp_path, clock):
    return Ledger(tmp_path / "state.sqlite3", retention_seconds=7 * 86400, lease_seconds=60, clock=clock)


def test_first_claim_then_in_progress_then_duplicate_after_completion(ledger):
    assert ledger.claim("i1:interview.completed").status == FIRST
    assert ledger.claim("i1:interview.completed").status == IN_PROGRESS
    assert ledger.complete("i1:interview.completed").state == COMPLETED
    assert ledger.claim("i1:interview.completed").status == DUPLICATE


def test_released_claim_is_processed_again(ledger):
    ledger.claim("k")
    assert ledger.release("k").state == RELEASED
    claim = ledger.claim("k")
    assert (claim.status, claim.attempt) == (RETRY, 2)


def test_expired_lease_is_processed_again(ledger, clock):
    ledger.claim("k")
    clock.now += 59
    assert ledger.claim("k").status == IN_PROGRESS
    clock.now += 2
    assert ledger.claim("k").status == RETRY


def test_release_never_reopens_a_completed_event(ledger):
    ledger.claim("k")
    ledger.complete("k")
    assert ledger.release("k").state == COMPLETED
    assert ledger.claim("k").status == DUPLICATE


def test_unknown_keys(ledger):
    assert ledger.get("nope") is None
    assert ledger.complete("nope") is None
    assert ledger.release("nope") is None


def test_state_survives_a_restart(tmp_path, clock):
    path = tmp_path / "state.sqlite3"
    first = Ledger(path, retention_seconds=100, lease_seconds=60, clock=clock)
    first.claim("k")
    first.complete("k")
    again = Ledger(path, retention_seconds=100, lease_seconds=60, clock=clock)
    assert again.claim("k").status == DUPLICATE


def test_entries_older_than_the_retention_window_are_purged(ledger, clock):
    ledger.claim("old")
    ledger.complete("old")
    clock.now += 7 * 86400 + 1
    assert ledger.purge() == 1
    assert ledger.claim("old").status == FIRST


def _claim_in_process(path, key, queue):
    queue.put(Ledger(path, retention_seconds=100, lease_seconds=60).claim(key).status)


def test_concurrent_processes_get_exactly_one_first(tmp_path):
    path = str(tmp_path / "state.sqlite3")
    Ledger(path, retention_seconds=100, lease_seconds=60)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_claim_in_process, args=(path, "same:event", queue)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    statuses = sorted(queue.get(timeout=5) for _ in workers)
    assert statuses.count(FIRST) == 1
    assert statuses.count(IN_PROGRESS) == 7
