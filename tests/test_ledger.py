import errno
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest

from connector import metrics
from connector.errors import LedgerBusy, LedgerUnavailable

from connector.ledger import (COMPLETED, DUPLICATE, FIRST, IN_PROGRESS, RELEASED, RETRY, Claim, Ledger,
                              LedgerUnusable, _Checkpointer)
from live import eventually


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
    assert ledger.claim("i1:interview.completed") == Claim(FIRST, 1)
    assert ledger.claim("i1:interview.completed") == Claim(IN_PROGRESS, 1, 60.0)
    assert ledger.complete("i1:interview.completed").state == COMPLETED
    assert ledger.claim("i1:interview.completed") == Claim(DUPLICATE, 1)


def test_released_claim_is_processed_again(ledger):
    ledger.claim("k")
    assert ledger.release("k").state == RELEASED
    claim = ledger.claim("k")
    assert (claim.status, claim.attempt) == (RETRY, 2)
    # The attempt goes into delivery.attempt and the release path of every answer.
    assert ledger.claim("k") == Claim(IN_PROGRESS, 2, 60.0)
    ledger.complete("k")
    assert ledger.claim("k") == Claim(DUPLICATE, 2)


def test_expired_lease_is_processed_again(ledger, clock):
    ledger.claim("k")
    clock.now += 59
    assert ledger.claim("k").status == IN_PROGRESS
    clock.now += 2
    assert ledger.claim("k").status == RETRY


@pytest.mark.parametrize("ahead", [3600, 10 * 365 * 86400], ids=["an hour", "ten years"])
def test_a_lease_given_before_the_clock_stepped_back_is_not_live_for_the_size_of_the_step(ledger, clock, ahead):
    # Found by an audit: the lease is on the wall clock, so after a step back (an NTP correction,
    # a VM restored, a clock ten years ahead at boot) a claim whose run died held the event for
    # the size of the step: every copy was 409 event-in-progress, Koji's retries refused.
    clock.now += ahead
    ledger.claim("k")  # and its run dies
    clock.now -= ahead
    assert ledger.get("k").lease_until == clock.now  # not shown as live either
    assert ledger.claim("k") == Claim(RETRY, 2)
    assert ledger.claim("k").status == IN_PROGRESS  # the new lease is a real one
    assert ledger.release("k", attempt=1).attempts == 2  # the old run cannot free it


def test_a_step_back_shorter_than_a_lease_leaves_live_claims_live(ledger, clock):
    # Taking over every lease ending more than one lease ahead would hand a claim given just
    # before a small step back to a copy arriving just after it, beside a run still working.
    ledger.claim("k")
    clock.now -= 59
    assert ledger.claim("k").status == IN_PROGRESS
    assert ledger.get("k").lease_until == clock.now + 59 + 60


def test_a_lease_ending_exactly_two_leases_ahead_is_still_real(ledger, clock):
    # "More than two leases from now" cannot be real; exactly two is a step back of one lease,
    # and claims and GET agree that the claim is live.
    ledger.claim("k")
    clock.now -= 60
    assert ledger.get("k").lease_until == clock.now + 2 * 60
    assert ledger.claim("k").status == IN_PROGRESS


def test_release_never_reopens_a_completed_event(ledger):
    ledger.claim("k")
    ledger.complete("k")
    assert ledger.release("k").state == COMPLETED
    assert ledger.claim("k").status == DUPLICATE


def test_a_run_that_outlived_its_lease_cannot_release_the_newer_claim(ledger, clock):
    ledger.claim("k")
    clock.now += 61  # attempt 1 is still running, but its lease ran out
    assert ledger.claim("k").attempt == 2
    stale = ledger.release("k", attempt=1)
    assert (stale.state, stale.attempts) == ("claimed", 2)
    assert ledger.claim("k").status == IN_PROGRESS  # attempt 2 still holds it
    assert ledger.release("k", attempt=2).state == RELEASED


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
    # Whatever a key starts with: interview ids may start with a digit or a capital letter.
    keys = ["!:interview.completed", "0f3c9e2a:interview.completed", "A1:interview.completed", "old"]
    for key in keys:
        ledger.claim(key)
        ledger.complete(key)
    clock.now += 7 * 86400 + 1
    assert ledger.purge() == len(keys)
    assert [ledger.claim(key).status for key in keys] == [FIRST] * len(keys)


def test_a_live_claim_is_never_purged_and_its_attempts_keep_counting(tmp_path, clock):
    # Found by an audit: the purge went by first_seen, so a key first seen a week ago was
    # dropped under a run still working on it; the next copy was "first", attempt 1, beside
    # it, and the old run's release?attempt=1 then freed the new run's claim.
    ledger = Ledger(tmp_path / "state.sqlite3", retention_seconds=100, lease_seconds=60, clock=clock)
    ledger.claim("k")
    clock.now += 150  # the claim's lease ended and the window passed: a dead run
    assert ledger.claim("k") == Claim(RETRY, 2)  # Koji's retry takes it over
    clock.now += 30  # within the new lease; first seen 180 s ago, past the 100 s window
    assert ledger.purge() == 0
    assert ledger.claim("k").status == IN_PROGRESS
    assert ledger.release("k", attempt=1).state == "claimed"  # the dead run's release changes nothing


def test_an_event_completed_late_in_the_window_is_kept_a_window_from_then(ledger, clock):
    ledger.claim("k")
    ledger.release("k")  # skipped, say; Koji's Retry after a profile fix days later does the work
    clock.now += 6 * 86400
    assert ledger.claim("k").status == RETRY
    ledger.complete("k")
    clock.now += 2 * 86400  # 8 days after first seen, 2 after completion
    assert ledger.purge() == 0
    assert ledger.claim("k").status == DUPLICATE


def test_a_lease_that_cannot_be_real_keeps_no_row_from_the_purge(tmp_path, clock):
    # A lease of a day given before LEDGER_LEASE_SECONDS was lowered to a minute: claims now
    # take it over, and the purge, which spared it as live until it ended, agrees with them.
    path = tmp_path / "state.sqlite3"
    Ledger(path, retention_seconds=3 * 3600, lease_seconds=86400, clock=clock).claim("k")
    ledger = Ledger(path, retention_seconds=3 * 3600, lease_seconds=60, clock=clock)
    clock.now += 4 * 3600  # untouched past the retention window, under a lease 20 hours long still
    assert ledger.purge() == 1
    assert ledger.get("k") is None


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


def _db_and_wal_bytes(path):
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def test_claims_never_checkpoint_inline(tmp_path):
    # SQLite's automatic checkpoint (after 1,000 WAL pages) would copy into the database
    # file, with an fsync, inside some unlucky claim. With the checkpointer idle, the file
    # must not grow however many claims are made.
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600)
    db_before, _ = _db_and_wal_bytes(path)
    for n in range(1500):
        ledger.claim(f"i{n}:interview.completed")
    db_after, wal_after = _db_and_wal_bytes(path)
    assert wal_after > 1000 * 4096, "the claims should have filled more than an auto-checkpoint's worth"
    assert db_after == db_before


@pytest.mark.parametrize("busy_timeout", [5.0, 0.0], ids=["at the first try", "at the last try"])
def test_a_transaction_the_database_refuses_is_ledger_unavailable_and_the_next_one_works(tmp_path, clock, caplog,
                                                                                         busy_timeout):
    # Before: the raw OperationalError (a 500), and the read-only connection kept for good.
    # With no time left to wait for a lock, only the last try runs: its refusal is the same.
    ledger = Ledger(tmp_path / "state.sqlite3", retention_seconds=100, lease_seconds=60, clock=clock,
                    checkpoint_seconds=3600, busy_timeout_seconds=busy_timeout)
    ledger.claim("i1:interview.completed")

    def refused_and_logged():
        caplog.clear()
        ledger._connection().execute("PRAGMA query_only = 1")
        with caplog.at_level("ERROR", logger="connector.ledger"), \
                pytest.raises(LedgerUnavailable, match="attempt to write a readonly database"):
            ledger.complete("i1:interview.completed")
        assert [record.getMessage() for record in caplog.records if "unusable" in record.getMessage()] == [
            f"ledger database unusable: attempt to write a readonly database (DATABASE_PATH {ledger.path})"]

    refused_and_logged()
    ledger.purge()  # its own failures are left to the checkpointer's log; once it is done, a claim's are logged
    refused_and_logged()
    assert ledger.complete("i1:interview.completed").state == COMPLETED


def test_a_statement_refused_inside_a_transaction_is_ledger_unavailable_and_changes_nothing(ledger):
    # BEGIN IMMEDIATE went through; the UPDATE after it is refused (SQLITE_AUTH here; a full disk
    # or an I/O error alike): the transaction is undone and the caller told 503, not 500.
    ledger.claim("k")
    ledger._connection().set_authorizer(
        lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_UPDATE else sqlite3.SQLITE_OK)
    with pytest.raises(LedgerUnavailable, match="not authorized"):
        ledger.complete("k")
    assert ledger.get("k").state == "claimed"
    assert ledger.complete("k").state == COMPLETED  # on a new connection, without the refusal


def test_an_error_that_is_not_the_databases_refusal_is_not_disguised_as_unavailable(tmp_path, clock, monkeypatch,
                                                                                   caplog):
    # A mistake (here: the table dropped by hand under the service) is raised as it is, a 500 with
    # its traceback, not a 503 that tells the caller to try again later; the background purge
    # logs SQLite's own reason.
    monkeypatch.setattr("connector.ledger.PURGE_EVERY_SECONDS", 0.01)
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=60, lease_seconds=60, clock=clock, checkpoint_seconds=0.01)
    with caplog.at_level("WARNING", logger="connector.ledger"):
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE events")
        other.close()
        with pytest.raises(sqlite3.OperationalError, match="no such table: events") as caught:
            ledger.claim("k")
        assert not isinstance(caught.value, LedgerUnavailable)
        assert eventually(lambda: any("purge failed" in record.getMessage() for record in caplog.records))
        ledger.close()
    failures = [record.getMessage() for record in caplog.records if "purge failed" in record.getMessage()]
    assert failures[0].startswith("ledger purge failed: no such table: events (")


def test_a_database_locked_at_start_up_is_unusable_with_a_message_not_a_traceback(tmp_path):
    # Before: LedgerBusy escaped the start-up checks: `connector serve` printed a traceback, exit 1.
    path = tmp_path / "state.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)  # a rollback-journal file, as a copy or a restore leaves
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LedgerUnusable, match="stayed locked for 0.05 s"):
            Ledger(path, retention_seconds=100, lease_seconds=60, busy_timeout_seconds=0.05)
    finally:
        holder.execute("ROLLBACK")


def test_the_checkpointer_reopens_its_connection_and_logs_a_failure_once_per_change(tmp_path, monkeypatch, caplog):
    # Before: "ledger checkpoint failed" once a second per worker for as long as it lasted, and
    # on a connection opened while the file was read-only, which stayed so once it was fixed.
    outcomes = iter(["attempt to write a readonly database"] * 3 + ["disk I/O error", None, None])
    connections = []
    done, made = threading.Event(), threading.Event()

    def checkpoint(db):
        # The class is patched for every thread: a checkpointer another test left running must
        # not take this one's outcomes.
        made.wait(5)
        if threading.current_thread() is not checkpointer._thread:
            return None
        connections.append(db)
        outcome = next(outcomes, None)
        if len(connections) == 6:
            done.set()
        return outcome
    monkeypatch.setattr(_Checkpointer, "_checkpoint", staticmethod(checkpoint))
    sqlite3.connect(tmp_path / "state.sqlite3").close()  # the checkpointer opens a ledger, and creates none
    with caplog.at_level("WARNING", logger="connector.ledger"):
        checkpointer = _Checkpointer(str(tmp_path / "state.sqlite3"), 0.01, lambda: None)
        made.set()
        assert done.wait(5)
        checkpointer.stop()
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [
        "ledger checkpoint failed: attempt to write a readonly database",
        "ledger checkpoint failed: disk I/O error", "ledger checkpoint works again"]
    assert all(f"(DATABASE_PATH {tmp_path / 'state.sqlite3'};" in record.getMessage() for record in caplog.records[:2])
    assert len({id(db) for db in connections[:5]}) == 5  # a new connection after each failure


def test_a_path_with_characters_a_uri_escapes_is_the_same_file(tmp_path):
    # Connections after start-up open the file as a URI (mode=rw): '?', '#', '%' and spaces in
    # DATABASE_PATH must still name the very file.
    path = tmp_path / "a b?c#d%20e" / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=0.02)
    done = threading.Event()
    threading.Thread(target=lambda: (ledger.claim("i1:interview.completed"), done.set())).start()
    assert done.wait(5)
    ledger.close()
    assert sqlite3.connect(path).execute("SELECT key FROM events").fetchall() == [("i1:interview.completed",)]
    assert {p.name for p in path.parent.iterdir()} <= {"state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"}
    assert list(tmp_path.iterdir()) == [path.parent]  # no second database under an unescaped name


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_a_ledger_file_deleted_or_replaced_under_the_service_is_logged_once(tmp_path, caplog, change):
    # Before: nothing was said; the workers went on writing claims to the unlinked file, which
    # the next start did not see (every claimed event was "first" again).
    path = tmp_path / "state.sqlite3"
    with caplog.at_level("ERROR", logger="connector.ledger"):
        ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=0.02)
        ledger.claim("i1:interview.completed")
        path.unlink()
        if change == "replaced":
            path.write_bytes(b"")
        assert eventually(lambda: caplog.records)
        time.sleep(0.1)  # more rounds: still one line
        ledger.close()
    assert [record.getMessage() for record in caplog.records if record.getMessage().startswith("ledger file")] == [
        f"ledger file {path} was deleted or replaced while the service runs: claims made since are lost at "
        "the next restart; restart the service now (README, Deploying)"]
    assert path.exists() == (change == "replaced")  # the checkpointer made no new, empty database


def test_checkpointer_thread_copies_the_wal_into_the_database(tmp_path):
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=0.05)
    db_before, _ = _db_and_wal_bytes(path)
    for n in range(300):
        ledger.claim(f"i{n}:interview.completed")
    assert eventually(lambda: _db_and_wal_bytes(path)[0] > db_before)
    ledger.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM events").fetchone() == (300,)


def test_close_stops_the_background_thread_and_closes_the_connection(tmp_path):
    # `connector serve` opens the ledger, then closes it before gunicorn forks: no thread of it may
    # be left running, and no connection open (SQLite removes the WAL when the last one closes).
    path = tmp_path / "state.sqlite3"
    threads_before = set(threading.enumerate())
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600)
    ledger.claim("i1:interview.completed")
    ledger.close()
    assert set(threading.enumerate()) - threads_before == set()
    assert not path.with_name(path.name + "-wal").exists()
    shutil.copy(path, tmp_path / "copy.sqlite3")  # the database file alone, as a backup of it takes
    assert sqlite3.connect(tmp_path / "copy.sqlite3").execute("SELECT key FROM events").fetchall() == [
        ("i1:interview.completed",)]


_EXIT_PROBE = """
import sys
from connector.ledger import Ledger
ledger = Ledger(sys.argv[1], retention_seconds=100, lease_seconds=60, checkpoint_seconds=0.01)
ledger.claim("k")  # and the ledger is still referenced when the interpreter exits
"""


def test_a_process_that_never_closes_the_ledger_still_exits(tmp_path):
    # A command that opens the ledger and ends without close(): its background thread must not
    # keep the interpreter alive.
    done = subprocess.run([sys.executable, "-c", _EXIT_PROBE, str(tmp_path / "state.sqlite3")],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_background_thread_purges_once_a_minute_not_every_round(tmp_path):
    # A purge reads the whole table (a week of events): once a minute, not at every checkpoint.
    purges = []

    def clock():  # the purge reads the clock once; nothing else runs on the checkpointer's thread
        if threading.current_thread() is not threading.main_thread():
            purges.append(time.monotonic())
        return 1_000_000.0

    ledger = Ledger(tmp_path / "state.sqlite3", retention_seconds=60, lease_seconds=60, clock=clock,
                    checkpoint_seconds=0.01)
    assert eventually(lambda: purges)  # at once, in the first round
    time.sleep(0.2)  # twenty rounds more
    ledger.close()
    assert len(purges) == 1


_FORK_PROBE = """
import os, sys
from connector.ledger import FIRST, IN_PROGRESS, Ledger
ledger = Ledger(sys.argv[1], retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600)
parent_connection = ledger._connection()
ledger.claim("parent:interview.completed")
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:  # the child: report, then leave without running the parent's clean-up
    try:
        fresh = getattr(ledger._local, "db", None) is None
        status = ledger.claim("child:interview.completed").status
        os.write(write_end, f"{fresh} {status} {ledger._connection() is not parent_connection}".encode())
    finally:
        os._exit(0)
os.close(write_end)
os.waitpid(pid, 0)
print(os.read(read_end, 100).decode())
print(ledger._connection() is parent_connection, ledger.claim("child:interview.completed").status == IN_PROGRESS)
ledger.close()
"""


def test_a_forked_child_opens_its_own_connection(tmp_path):
    # gunicorn forks workers from a master that may have built the app (--preload): an SQLite
    # connection must not be shared across that fork. Run in a fresh interpreter, whose only
    # other thread is this ledger's (idle) checkpointer, so the fork cannot catch a lock held.
    done = subprocess.run([sys.executable, "-c", _FORK_PROBE, str(tmp_path / "state.sqlite3")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == [f"True {FIRST} True", "True True"]


def _wal_restarts_so_far(path):
    # SQLite adds one to salt-1 in the WAL header (bytes 16-19) each time the WAL starts over.
    return int.from_bytes(path.with_name(path.name + "-wal").read_bytes()[16:20], "big")


def test_the_wal_starts_over_under_sustained_claims(tmp_path):
    # Two writers that never stop, about 5,000 claims a second between them (a backfill, a
    # replay): some claim always lands while a passive checkpoint copies, so without the
    # RESTART checkpoint the WAL never starts again from its beginning and holds every claim
    # (about 55 MB here). With it the WAL starts over about every 1,000 pages and stays near
    # 6 MB. Its size is not asserted: a checkpoint's fsync that stalls for half a second on
    # this VM's disk lets the claims meanwhile take it past 30 MB now and then. The restarts
    # are what the fix guarantees, and they are counted.
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=0.05)
    claims_each = 4000
    ledger.claim("first:interview.completed")
    restarts_before = _wal_restarts_so_far(path)

    def claim_many(worker):
        for n in range(claims_each):
            ledger.claim(f"w{worker}-{n}:interview.completed")
            time.sleep(0.0002)

    threads = [threading.Thread(target=claim_many, args=(worker,)) for worker in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    restarts = (_wal_restarts_so_far(path) - restarts_before) % 2**32
    ledger.close()
    assert restarts >= 3, f"the WAL started over {restarts} time(s) in {2 * claims_each} claims"
    assert sqlite3.connect(path).execute("SELECT count(*) FROM events").fetchone() == (2 * claims_each + 1,)


def test_a_reader_that_stays_cannot_stall_claims_behind_a_restart_checkpoint(tmp_path):
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600)
    for n in range(1500):  # a WAL long enough for a RESTART checkpoint
        ledger.claim(f"i{n}:interview.completed")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()  # holds its snapshot
    checkpoint = threading.Thread(target=_Checkpointer._checkpoint, args=(_Checkpointer.connect(str(path)),))
    checkpoint.start()
    time.sleep(0.05)
    claim = threading.Thread(target=ledger.claim, args=("after:interview.completed",))
    started = time.monotonic()
    claim.start()
    claim.join(timeout=2)
    waited = time.monotonic() - started
    reader.execute("COMMIT")  # lets everything go, also when the assertion below fails
    checkpoint.join()
    claim.join()
    # Each RESTART try gives up at once: the claim waits milliseconds, not a busy handler's second.
    assert waited < 0.5, f"the claim waited {waited:.1f} s behind the checkpoint"
    assert ledger.get("after:interview.completed").state == "claimed"


def test_a_checkpoint_that_fails_answers_sqlites_reason(tmp_path):
    # The reason goes into the checkpointer's "ledger checkpoint failed: …" line.
    ledger = Ledger(tmp_path / "state.sqlite3", retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600)
    db = _Checkpointer.connect(ledger.path)
    ledger.close()
    db.close()
    with pytest.raises(sqlite3.Error) as refused:
        db.execute("SELECT 1")
    assert _Checkpointer._checkpoint(db) == str(refused.value)


def test_a_long_wal_gets_one_restart_checkpoint_per_round(tmp_path):
    # Past 1,000 pages a RESTART checkpoint lets the WAL start over; it holds writers back while it
    # runs, so once it has succeeded it is not tried again until the next round.
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600)
    for n in range(1500):
        ledger.claim(f"i{n}:interview.completed")
    db, statements = _Checkpointer.connect(str(path)), []
    db.set_trace_callback(lambda statement: statements.append(statement.upper()))
    restarts_before = _wal_restarts_so_far(path)
    assert _Checkpointer._checkpoint(db) is None
    ledger.claim("after:interview.completed")
    assert _wal_restarts_so_far(path) != restarts_before  # the WAL started over
    assert sum("WAL_CHECKPOINT(RESTART)" in statement for statement in statements) == 1
    db.close()
    ledger.close()


class LockHolder:
    """Another connection holding the write lock, as a second worker in mid-claim does."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("BEGIN IMMEDIATE")

    def release(self):
        self.db.execute("ROLLBACK")


def test_nothing_runs_in_the_background_before_start_up_has_checked_the_table(tmp_path, caplog):
    # Found by mutation testing (a flaky test): the checkpointer started with start-up's first
    # connection, before the table was made and checked. When start-up waited for a lock for
    # longer than a round (a backup holding it, say), its purge ran against a database with no
    # ledger in it and logged "ledger purge failed: no such table: events".
    path = tmp_path / "state.sqlite3"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchone()  # an empty database, locked below
    holder, starting, read_in_the_background = LockHolder(path), True, []

    def clock():
        if starting:
            read_in_the_background.append(threading.current_thread().name)
        return 1_000_000.0

    def sleep(seconds):  # the first wait for the lock lasts a hundred checkpoint rounds
        if holder.db.in_transaction:
            time.sleep(0.3)
            holder.release()

    with caplog.at_level("WARNING", logger="connector.ledger"):
        ledger = Ledger(path, retention_seconds=60, lease_seconds=60, clock=clock, checkpoint_seconds=0.003,
                        sleep=sleep)
        starting = False
        assert ledger.claim("k").status == FIRST
        ledger.close()
    assert read_in_the_background == []
    assert caplog.records == []


@pytest.mark.parametrize("operation", ["claim", "complete"])
def test_a_held_write_lock_is_waited_out_in_steps_far_below_a_millisecond(tmp_path, operation):
    # SQLite's own busy handler sleeps at least 1 ms, for a lock a claim holds for tens of µs.
    path, waits, holder = tmp_path / "state.sqlite3", [], None

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 4:
            holder.release()

    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600, sleep=sleep)
    ledger.claim("k")
    holder = LockHolder(path)
    if operation == "claim":
        assert ledger.claim("other").status == FIRST
    else:
        assert ledger.complete("k").state == COMPLETED
    assert waits == [0.00002, 0.00004, 0.00008, 0.00016]


def test_a_lock_held_past_the_busy_timeout_fails_the_claim_and_changes_nothing(tmp_path):
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=60, checkpoint_seconds=3600,
                    busy_timeout_seconds=0.05)
    holder = LockHolder(path)
    started = time.monotonic()
    with pytest.raises(LedgerBusy) as caught:  # answered 503 ledger-busy, with Retry-After
        ledger.claim("k")
    assert (caught.value.status, caught.value.headers["Retry-After"]) == (503, "30")
    waited = time.monotonic() - started
    holder.release()
    assert 0.05 <= waited < 1
    assert ledger.get("k") is None
    assert ledger.claim("k").status == FIRST


def test_a_database_made_by_an_earlier_version_still_works(tmp_path, clock):
    # Earlier versions made a rowid table with an index on first_seen.
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE events (key TEXT PRIMARY KEY, state TEXT NOT NULL, attempts INTEGER NOT NULL,
                             first_seen REAL NOT NULL, updated REAL NOT NULL, lease_until REAL NOT NULL);
        CREATE INDEX events_first_seen ON events(first_seen);
        INSERT INTO events VALUES ('done:interview.completed', 'completed', 1, 999999.0, 999999.0, 999999.0);
    """)
    db.close()
    ledger = Ledger(path, retention_seconds=7 * 86400, lease_seconds=60, clock=clock)
    assert ledger.claim("done:interview.completed").status == DUPLICATE
    assert ledger.claim("new:interview.completed").status == FIRST
    clock.now += 7 * 86400 + 1
    assert ledger.purge() == 2


def test_purge_removes_more_than_one_batch_and_keeps_recent_events(ledger, clock):
    for n in range(1203):
        ledger.claim(f"old{n}:interview.completed")
    clock.now += 3600
    ledger.claim("recent:interview.completed")
    clock.now += 7 * 86400 - 1800  # the old ones are past the window, the recent one is not
    assert ledger.purge() == 1203
    assert ledger.get("recent:interview.completed") is not None
    assert ledger.get("old0:interview.completed") is None


def test_the_purge_holds_one_batch_of_keys_at_a_time_and_keeps_the_wal_short(tmp_path, clock, monkeypatch):
    # Found by an audit: the purge read every expired key into a list first (392 MB per worker
    # for 2 million rows, about 170 B a key), and checkpointed nothing until it was done (a WAL
    # of 366 MB): it runs on the checkpointer's own thread.
    monkeypatch.setattr("connector.ledger.PURGE_BATCH", 100)
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=100, lease_seconds=1000, clock=clock, checkpoint_seconds=3600)
    then = clock.now
    clock.now += 200
    keys = [f"i{n:05d}:interview.completed" for n in range(20_400)]
    rows = [(key, "completed", 1, then, then, then) for key in keys[:20_000]]  # past the window
    rows += [(key, "completed", 1, clock.now - 10, clock.now - 10, clock.now - 10) for key in keys[20_000::2]]
    rows += [(key, "claimed", 1, then, then, then + 1000) for key in keys[20_001::2]]  # old, but live
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", sorted(rows))  # expired and kept mixed
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tracemalloc.start()
    try:
        removed = ledger.purge()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert removed == 20_000
    all_keys = sum(sys.getsizeof(key) for key in keys[:20_000])
    assert peak < all_keys / 10, f"the purge held {peak} bytes; all the expired keys take {all_keys}"
    wal = path.with_name(path.name + "-wal").stat().st_size
    assert wal < 2 * 1024 * 1024, f"a WAL of {wal} bytes after purging 20,000 rows"
    assert sqlite3.connect(path).execute("SELECT count(*), min(key) FROM events").fetchone() == (400, keys[20_000])


def test_the_purge_logs_how_many_events_it_removed(ledger, clock, caplog):
    # Before: the count was dropped, and nothing showed retention working.
    for n in range(3):
        ledger.claim(f"i{n}:interview.completed")
        ledger.complete(f"i{n}:interview.completed")
    purged_before = _purged_events_total()
    with caplog.at_level("INFO", logger="connector.ledger"):
        assert ledger.purge() == 0
        clock.now += 7 * 86400 + 1
        assert ledger.purge() == 3
    assert [record.getMessage() for record in caplog.records] == ["ledger purge removed 3 events untouched for 7 days"]
    assert _purged_events_total() - purged_before == 3  # connector_ledger_purged_events_total, in /metrics


def _purged_events_total():
    text = metrics.exposition()[0].decode()
    return float(next(line.split()[-1] for line in text.splitlines()
                      if line.startswith("connector_ledger_purged_events_total ")))


def test_a_failing_purge_is_logged_once_per_change_of_reason(tmp_path, clock, monkeypatch, caplog):
    # Before: "ledger purge failed" and "ledger database unusable" every minute per worker for as
    # long as the ledger could not be written.
    monkeypatch.setattr("connector.ledger.PURGE_EVERY_SECONDS", 0.01)
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=60, lease_seconds=60, clock=clock, checkpoint_seconds=0.01)
    for n in range(3):
        ledger.claim(f"i{n}:interview.completed")
    clock.now += 61
    tries = []
    writable = Ledger._connection

    def read_only(self):  # as a file made read-only would refuse the purge's DELETE
        tries.append(1)
        db = writable(self)
        db.execute("PRAGMA query_only = 1")
        return db
    with caplog.at_level("INFO", logger="connector.ledger"):
        monkeypatch.setattr(Ledger, "_connection", read_only)
        assert eventually(lambda: len(tries) > 30)  # a dozen purges or more
        monkeypatch.setattr(Ledger, "_connection", writable)
        assert eventually(lambda: ledger.get("i0:interview.completed") is None)
        ledger.close()
    assert [record.getMessage() for record in caplog.records] == [
        "ledger purge failed: The event ledger's database cannot be used now (attempt to write a readonly "
        f"database); nothing was changed. Try again later. (DATABASE_PATH {path}; tried every minute; logged "
        "again when the reason changes)",
        "ledger purge removed 3 events untouched for 0.000694444 days", "ledger purge works again"]


def test_the_background_thread_purges_expired_events(tmp_path, clock, monkeypatch):
    monkeypatch.setattr("connector.ledger.PURGE_EVERY_SECONDS", 0.05)
    path = tmp_path / "state.sqlite3"
    ledger = Ledger(path, retention_seconds=60, lease_seconds=60, clock=clock, checkpoint_seconds=0.05)
    ledger.claim("old:interview.completed")
    clock.now += 61
    assert eventually(lambda: ledger.get("old:interview.completed") is None)
    ledger.close()


def test_a_missing_directory_is_created(tmp_path):
    ledger = Ledger(tmp_path / "new" / "deeper" / "state.sqlite3", retention_seconds=100, lease_seconds=60)
    assert ledger.claim("k").status == FIRST
    ledger.close()


def _not_sqlite(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 100)
    return path


def _under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "state.sqlite3"


def _in_a_directory_that_cannot_be_made(tmp_path):
    return tmp_path / ("x" * 300) / "state.sqlite3"  # a name longer than a file system allows


@pytest.mark.parametrize("make_path, reason", [
    (lambda tmp_path: tmp_path, "it is a directory"),
    (_not_sqlite, "file is not a database"),
    (_under_a_file, "file, not a directory"),
    (_in_a_directory_that_cannot_be_made, "cannot be created: " + os.strerror(errno.ENAMETOOLONG)),
], ids=["directory", "not sqlite", "under a file", "directory cannot be made"])
def test_a_path_that_cannot_be_the_ledger_is_refused_with_the_path_and_why(tmp_path, make_path, reason):
    path = make_path(tmp_path)
    with pytest.raises(LedgerUnusable) as caught:
        Ledger(path, retention_seconds=100, lease_seconds=60)
    # The reason ends the message: not a request's 503 text that says to try again later.
    assert str(path) in str(caught.value) and str(caught.value).endswith(reason)


@pytest.mark.parametrize("make_path", [lambda tmp_path: tmp_path, _not_sqlite], ids=["directory", "not sqlite"])
def test_a_path_refused_at_start_up_is_not_also_logged(tmp_path, caplog, make_path):
    # Found by a user-side audit: `connector serve` printed "ledger database unusable: …" (an
    # unformatted log line, logging not being set up yet) before its one message of refusal.
    # The caller reports LedgerUnusable; a failure at run time is still logged (see above).
    with caplog.at_level("DEBUG", logger="connector.ledger"), pytest.raises(LedgerUnusable):
        Ledger(make_path(tmp_path), retention_seconds=100, lease_seconds=60)
    assert [record.getMessage() for record in caplog.records] == []


@pytest.mark.parametrize("foreign_table, columns", [
    ("CREATE TABLE events (name TEXT, id INTEGER PRIMARY KEY)", "id, name"),
    # The connector's columns, but another key: ON CONFLICT (key) would fail on every copy.
    ("CREATE TABLE events (key TEXT, state TEXT, attempts INTEGER, first_seen REAL, updated REAL, lease_until REAL)",
     "attempts, first_seen, key, lease_until, state, updated"),
], ids=["other columns", "no primary key"])
def test_another_programs_database_with_a_table_named_events_is_refused_at_start_up(tmp_path, foreign_table,
                                                                                     columns):
    path = tmp_path / "database.sqlite"
    with sqlite3.connect(path) as other:
        other.execute(foreign_table)
    other.close()
    with pytest.raises(LedgerUnusable) as caught:
        Ledger(path, retention_seconds=100, lease_seconds=60)
    assert str(path) in str(caught.value) and "table named events that is not the connector's" in str(caught.value)
    # Its columns help tell whose it is; the variable to change is named.
    assert f"(columns: {columns})" in str(caught.value) and "DATABASE_PATH" in str(caught.value)
    with sqlite3.connect(path) as other:  # left as it was
        assert other.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0] == foreign_table
    other.close()


def test_a_ledger_made_by_an_earlier_version_rowid_table_and_all_is_still_opened(tmp_path):
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as earlier:
        earlier.execute("CREATE TABLE events (key TEXT PRIMARY KEY, state TEXT NOT NULL, attempts INTEGER NOT NULL, "
                        "first_seen REAL NOT NULL, updated REAL NOT NULL, lease_until REAL NOT NULL)")
        earlier.execute("INSERT INTO events VALUES ('k', 'completed', 1, 1.0, 1.0, 61.0)")
    earlier.close()
    ledger = Ledger(path, retention_seconds=10**10, lease_seconds=60)
    assert ledger.claim("k").status == DUPLICATE and ledger.claim("new").status == FIRST
    ledger.close()
