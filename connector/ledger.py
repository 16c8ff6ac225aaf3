"""The event ledger: which events were claimed, completed or released (docs/design.md,
"Completion protocol").

SQLite in WAL mode, one row per event key. Each state change is one `BEGIN IMMEDIATE`
transaction, so gunicorn workers (separate processes) and restarts see one truth and
exactly one of many concurrent copies of an event wins the claim.

Checkpoints (copying the WAL into the database file, with an fsync) and the purge of
expired rows run on a background thread, not inside a request: left to SQLite's automatic
checkpoint, one claim in about a hundred paid for an fsync, which took 70 % of all claim
time and up to 100 ms (docs/benchmarks.md).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import quote

from connector import metrics
from connector.errors import LedgerBusy, LedgerUnavailable

FIRST, RETRY, DUPLICATE, IN_PROGRESS = "first", "retry", "duplicate", "in_progress"
CLAIMED, COMPLETED, RELEASED = "claimed", "completed", "released"
CHECKPOINT_EVERY_SECONDS = 1.0
PURGE_EVERY_SECONDS = 60.0
PURGE_BATCH = 500  # keys per DELETE; below SQLite's 999 bound parameters of old builds
# A long purge runs on the checkpointer's thread, which meanwhile checkpoints nothing: without
# a checkpoint of its own every so many batches (10,000 keys), purging 2 million expired rows
# left a WAL of 366 MB.
PURGE_CHECKPOINT_EVERY_BATCHES = 20
# After a checkpoint SQLite reuses the WAL from its start; this caps the file it leaves behind.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# A WAL still this long after a passive checkpoint is not being reset (see _Checkpointer).
RESTART_AFTER_WAL_FRAMES = 1000
# How long the checkpointer keeps trying a RESTART checkpoint before the next round.
RESTART_WAIT_SECONDS = 0.1
# Reads of the database file come from a memory map instead of a read() per page; SQLite maps
# no more than the file holds, so this only bounds the address space used.
MMAP_BYTES = 256 * 1024 * 1024
# Waiting for the write lock. SQLite's own busy handler sleeps 1 ms, then 2, 5, 10 ms…, but a
# claim holds the lock for tens of microseconds: under load one claim in twenty slept a
# millisecond for a lock that was free again long before (docs/benchmarks.md). So the
# ledger's connections do not use it: they wait in Python, in steps from 20 µs, doubling up
# to 2 ms, and give up after 5 s: a claim holds the lock for microseconds, so a lock held that
# long is another process's (a backup, a sqlite3 shell). The caller is then answered 503
# (errors.LedgerBusy) well inside Koji's patience and gunicorn's 30 s worker timeout, which
# a wait of 30 s used to reach, ending in a 500.
BUSY_TIMEOUT_SECONDS = 5.0
FIRST_BUSY_WAIT_SECONDS = 0.00002
LONGEST_BUSY_WAIT_SECONDS = 0.002

log = logging.getLogger(__name__)
T = TypeVar("T")

# WITHOUT ROWID: the rows live in the key's own B-tree, so a claim writes one tree, not a
# table plus its key index. No index on first_seen either: the purge, once a minute, scans a
# table that holds a week of events, while every claim would pay to keep an index current.
# (Databases made by earlier versions keep their rowid table and index; the SQL is the same.)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    updated REAL NOT NULL,
    lease_until REAL NOT NULL
) WITHOUT ROWID;
"""

# What the table must be for the statements below, whatever made it: (column, position in the
# primary key). Its name and shape, nothing more: an earlier version's rowid table passes too.
_EVENTS_COLUMNS = "SELECT name, pk FROM pragma_table_info('events')"
_LEDGER_COLUMNS = {("key", 1), ("state", 0), ("attempts", 0), ("first_seen", 0), ("updated", 0), ("lease_until", 0)}

# A key seen for the first time (nearly every claim): a plain insert, about 4 µs cheaper than
# the upsert below, whose RETURNING clause SQLite runs through a temporary result table.
_CLAIM_NEW = """
INSERT OR IGNORE INTO events (key, state, attempts, first_seen, updated, lease_until)
VALUES (?, 'claimed', 1, ?, ?, ?)
"""

# A key already there: claimed again only if it was released or its lease ran out.
# A lease that ends later than :unreal, two leases from now, cannot be real: the wall clock
# has stepped back since it was given (an NTP correction, a VM restored), and it would hold
# the event for the size of the step (a step of an hour refused every copy for an hour; a
# clock ten years ahead at boot kept a claim for years). So it counts as run out. Not one
# lease from now: a step back of half a second would then free the claims of the last half
# second, whose runs are still working, to any copy arriving meanwhile; a step back shorter
# than a lease only lengthens the leases given before it by the step. After
# LEDGER_LEASE_SECONDS is lowered, a lease given before is taken over early, by at most the
# difference: acceptable, the shorter lease is what the operator chose.
_CLAIM = """
INSERT INTO events (key, state, attempts, first_seen, updated, lease_until)
VALUES (:key, 'claimed', 1, :now, :now, :lease)
ON CONFLICT (key) DO UPDATE SET state = 'claimed', attempts = attempts + 1, updated = :now, lease_until = :lease
WHERE events.state = 'released'
   OR (events.state = 'claimed' AND (events.lease_until <= :now OR events.lease_until > :unreal))
RETURNING attempts
"""

# Expired: untouched for the retention window, and under no lease that can be real (see _CLAIM);
# the parameters are the cutoff, now and the end after which a lease cannot be real.
_EXPIRED = "updated < ? AND (lease_until <= ? OR lease_until > ?)"

# The next batch of expired keys after a key, in key order: each read goes on from where the
# last one stopped, so the purge reads the table once, however many batches it takes.
_EXPIRED_KEYS = f"SELECT key FROM events WHERE key > ? AND {_EXPIRED} ORDER BY key LIMIT ?"

_RECORD = "SELECT key, state, attempts, first_seen, updated, lease_until FROM events WHERE key = ?"


class LedgerUnusable(Exception):
    """The database file cannot be created or opened as the ledger; the message names the
    file and the reason."""


@dataclass(frozen=True)
class Claim:
    status: str       # first | retry | duplicate | in_progress
    attempt: int
    lease_left: float | None = None  # in_progress: seconds until the other copy's claim runs out


@dataclass(frozen=True)
class EventRecord:
    key: str
    state: str
    attempts: int
    first_seen: float
    updated: float
    lease_until: float


class Ledger:
    def __init__(self, path: Path | str, *, retention_seconds: float, lease_seconds: float,
                 clock: Callable[[], float] = time.time,
                 checkpoint_seconds: float = CHECKPOINT_EVERY_SECONDS,
                 busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.path = str(path)
        self.retention_seconds = retention_seconds
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.busy_timeout_seconds, self._sleep = busy_timeout_seconds, sleep
        self._local = threading.local()
        self.checkpoint_seconds = checkpoint_seconds
        self._checkpointer: _Checkpointer | None = None
        # SQLite connections must not cross a fork (gunicorn forks its workers from a master
        # that may have built the app): a child starts with none. Registered, not checked per
        # claim, because os.getpid() is a system call.
        forget = weakref.WeakMethod(self._forget_connections)  # weak: the hook outlives the Ledger
        os.register_at_fork(after_in_child=partial(_call_if_alive, forget))
        self._opened = False
        self._open()
        self._opened = True
        # Only now: started before the table was made and checked, its purge ran against a
        # database with no ledger in it (or with another program's table named events)
        # whenever start-up waited for a lock longer than a round.
        self._ensure_checkpointer()

    def _open(self) -> None:
        """Create the file (and its directory) if need be, and the table: a file that cannot be
        the ledger is refused now, at start-up, rather than on every claim."""
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._when_free(lambda db: db.executescript(_SCHEMA))  # idempotent; runs its own transaction
            columns = self._when_free(lambda db: db.execute(_EVENTS_COLUMNS).fetchall())
        except (OSError, sqlite3.Error, LedgerUnavailable) as exc:
            self.close()
            cause = exc.__cause__ if isinstance(exc, LedgerUnavailable) else exc
            raise LedgerUnusable(f"{self.path} cannot be used as the ledger's SQLite database: "
                                 f"{_why_unusable(Path(self.path), cause)}") from None
        except LedgerBusy as exc:
            self.close()
            raise LedgerUnusable(f"{self.path}: {exc.detail}") from None
        if set(columns) != _LEDGER_COLUMNS:
            # Another program's database (n8n's, in a shared volume) with a table of the same
            # name: CREATE TABLE IF NOT EXISTS leaves it, and every claim would fail with a 500.
            self.close()
            found = ", ".join(sorted(name for name, _ in columns))
            raise LedgerUnusable(f"{self.path} cannot be used as the ledger's SQLite database: it already has a "
                                 f"table named events that is not the connector's (columns: {found}); is it "
                                 "another program's database? Give DATABASE_PATH a file of its own")

    def claim(self, key: str) -> Claim:
        now = self.clock()
        # Each statement is atomic, so the write lock is held for microseconds and of many
        # concurrent copies exactly one inserts (or re-claims) the row.
        lease = now + self.lease_seconds
        if self._when_free(lambda db: db.execute(_CLAIM_NEW, (key, now, now, lease)).rowcount):
            return Claim(FIRST, 1)
        row = self._fetchone(_CLAIM, {"key": key, "now": now, "lease": lease, "unreal": self._unreal(now)})
        if row is not None:
            return Claim(FIRST if row[0] == 1 else RETRY, row[0])
        current = self._fetchone("SELECT state, attempts, lease_until FROM events WHERE key = ?", (key,))
        if current is not None and current[0] == COMPLETED:
            return Claim(DUPLICATE, current[1])
        # Claimed by another copy (or changed in between): answering "in progress" makes the
        # chain fail and Koji retry later, which is always safe.
        if current is None:
            return Claim(IN_PROGRESS, 1)
        return Claim(IN_PROGRESS, current[1], min(current[2], self._unreal(now)) - now)

    def complete(self, key: str) -> EventRecord | None:
        return self._set_state(key, COMPLETED)

    def release(self, key: str, attempt: int | None = None) -> EventRecord | None:
        """Drop a live claim so the next copy is processed; a completed event stays completed.

        With ``attempt``, only that attempt's claim is dropped: a run that outlived its lease
        must not free the claim of the newer copy now doing the work (a third copy would
        then run beside it and post twice)."""
        return self._set_state(key, RELEASED, unless=COMPLETED, attempt=attempt)

    def get(self, key: str) -> EventRecord | None:
        row = self._fetchone(_RECORD, (key,))
        if row is None:
            return None
        record, now = EventRecord(*row), self.clock()
        if record.state == CLAIMED and record.lease_until > self._unreal(now):
            # A lease that cannot be real has run out (see _CLAIM), so it is not shown as live:
            # the next copy takes the event over.
            record = replace(record, lease_until=now)
        return record

    def purge(self, now: float | None = None) -> int:
        """Drop events untouched for the retention window whose lease has ended (or cannot be
        real, see _CLAIM); return how many.

        By the last change, not the first sighting: an event claimed again or completed on the
        window's last day is kept a window from then, and a live claim is never dropped (before,
        a key first seen a week ago was purged under a run still working on it, and the next
        copy was `first`, attempt 1, beside it).
        A batch of expired keys at a time is found in a read (which never blocks claims in WAL
        mode), then deleted by key in a transaction of its own, so the write lock is held for
        milliseconds even when a week of events expires at once. Only one batch of keys is in
        memory: reading all of them first took 392 MB per worker for 2 million expired rows.

        Its failures are not logged here: the checkpointer logs them once per change of reason
        (_FailureLog), where _raise_unusable would have logged one every minute."""
        now = self.clock() if now is None else now
        expired = (now - self.retention_seconds, now, self._unreal(now))
        removed, batches, after = 0, 0, ""  # no event key is empty
        self._local.purging = True
        try:
            while True:
                batch = [row[0] for row in self._when_free(lambda db: db.execute(
                    _EXPIRED_KEYS, (after, *expired, PURGE_BATCH)).fetchall())]
                if not batch:
                    break
                with self._transaction() as tx:  # the same test again: a key may have changed since the read
                    removed += tx.execute(f"DELETE FROM events WHERE {_EXPIRED} "
                                          f"AND key IN ({', '.join('?' * len(batch))})", (*expired, *batch)).rowcount
                if len(batch) < PURGE_BATCH:
                    break
                after, batches = batch[-1], batches + 1
                if batches % PURGE_CHECKPOINT_EVERY_BATCHES == 0:
                    # What it cannot copy now, the checkpointer's next round copies (and logs).
                    _Checkpointer._checkpoint(self._connection())
        finally:
            self._local.purging = False
            if removed:  # also what a purge cut short by a failure removed
                metrics.count_purged(removed)
                log.info("ledger purge removed %d events untouched for %g days", removed,
                         self.retention_seconds / 86400)
        return removed

    def _unreal(self, now: float) -> float:
        """The time after which no lease given by this clock can end (see _CLAIM)."""
        return now + 2 * self.lease_seconds

    def _set_state(self, key: str, state: str, unless: str | None = None,
                   attempt: int | None = None) -> EventRecord | None:
        now = self.clock()
        with self._transaction() as db:
            db.execute("UPDATE events SET state = ?, updated = ?, lease_until = ? "
                       "WHERE key = ? AND state != ? AND (? IS NULL OR attempts = ?)",
                       (state, now, now, key, unless or "", attempt, attempt))
            row = db.execute(_RECORD, (key,)).fetchone()  # what this transaction left
        return EventRecord(*row) if row else None

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # Created at start-up only (_open): a file deleted under the service is then a
            # refusal (LedgerUnavailable, "unable to open database file"), not an empty ledger
            # in which every event counts as new.
            mode = "rw" if self._opened else "rwc"
            db = sqlite3.connect(f"file:{quote(self.path)}?mode={mode}", uri=True, timeout=0,
                                 isolation_level=None)  # waits: _when_free
            self._when_free(lambda _: db.execute("PRAGMA journal_mode=WAL"), db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            self._local.db = db
            if self._opened:  # a forked worker's first connection; at start-up, __init__ starts it
                self._ensure_checkpointer()
        return db

    def _forget_connections(self) -> None:
        self._local = threading.local()

    def _ensure_checkpointer(self) -> None:
        # One per process: a gunicorn worker forked from a preloaded master has no threads.
        if self._checkpointer is None or self._checkpointer.pid != os.getpid():
            # A weak reference, so the thread does not keep a dropped Ledger alive.
            self._checkpointer = _Checkpointer(self.path, self.checkpoint_seconds, weakref.WeakMethod(self.purge))
            weakref.finalize(self, self._checkpointer.stop)

    def close(self) -> None:
        """Stop the checkpointer (it checkpoints a last time) and close this thread's connection
        (`connector serve` opens the ledger before gunicorn forks, and a SQLite connection must
        not cross a fork); other threads' connections close with their threads."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            db.close()

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._connection(), self._when_free, self._raise_unusable)

    def _fetchone(self, sql: str, parameters) -> tuple | None:
        return self._when_free(lambda db: db.execute(sql, parameters).fetchone())

    def _when_free(self, statement: Callable[[sqlite3.Connection], T], db: sqlite3.Connection | None = None) -> T:
        """Run `statement` (one autocommit statement, or BEGIN IMMEDIATE), again after a short
        wait each time it finds the database locked. A statement refused as busy changed
        nothing, so running it again is safe."""
        for wait in _busy_waits(self.busy_timeout_seconds):
            try:
                return statement(db or self._connection())
            except sqlite3.DatabaseError as exc:
                if not _is_busy(exc):
                    self._raise_unusable(exc)
            self._sleep(wait)
        try:
            return statement(db or self._connection())  # the last try
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                raise LedgerBusy(self.busy_timeout_seconds) from None
            self._raise_unusable(exc)

    def _raise_unusable(self, exc: sqlite3.DatabaseError) -> NoReturn:
        """A statement's failure other than a lock. A database that cannot be written now
        (read-only, disk full, an I/O error, a damaged file) is LedgerUnavailable, a 503 the
        operator can fix, not an unexpected 500; anything else (a mistake in the SQL) is
        raised as it is.

        This thread's connection is dropped either way: one SQLite opened while the file was
        not writable stays read-only (after a chmod, every request still failed until a
        restart), and closing it ends a transaction the failure left open."""
        self._drop_connection()
        if type(exc) is sqlite3.DatabaseError or (isinstance(exc, sqlite3.OperationalError)
                                                   and _sqlite_code(exc) in _UNUSABLE_CODES):
            # Not while opening: _open raises LedgerUnusable, which its caller reports as the one
            # message of a refused start-up (a log line before it, unformatted as logging is not
            # set up yet, said the same thing less precisely).
            if self._opened and not getattr(self._local, "purging", False):
                log.error("ledger database unusable: %s (DATABASE_PATH %s)", exc, self.path)
            raise LedgerUnavailable(str(exc)) from exc
        raise exc

    def _drop_connection(self) -> None:
        db = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            db.close()


def _sqlite_code(exc: sqlite3.Error) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code: READONLY_DBMOVED is READONLY…


def _is_busy(exc: sqlite3.Error) -> bool:
    return _sqlite_code(exc) == sqlite3.SQLITE_BUSY  # also BUSY_SNAPSHOT…


# What the file or the disk refuses, not the SQL: read-only, full, an I/O error, damaged, not
# a database, gone (CANTOPEN), locked by a lock of another kind (PROTOCOL, LOCKED).
_UNUSABLE_CODES = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT,
                   sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_LOCKED,
                   sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}


def _why_unusable(path: Path, exc: OSError | sqlite3.Error) -> str:
    if _answered(path.is_dir):
        return "it is a directory"  # SQLite only says "unable to open database file"
    if isinstance(exc, OSError):  # from creating the directory
        existing = next((parent for parent in path.parents if _answered(parent.exists)), None)
        if existing is not None and not existing.is_dir():
            return f"{existing} is a file, not a directory"
        return f"its directory {path.parent} cannot be created: {exc.strerror or type(exc).__name__}"
    return str(exc)  # e.g. "file is not a database", "unable to open database file"


def _answered(question: Callable[[], bool]) -> bool:
    """Path.is_dir() or exists(), False where they would raise: for a name the file system
    refuses to look up (a name too long, say) they raise, and start-up ended in a traceback
    instead of saying why the path cannot be the ledger."""
    try:
        return question()
    except OSError:
        return False


def _busy_waits(timeout: float) -> Iterator[float]:
    """The pauses between tries while the database is locked: 20 µs, doubling, at most 2 ms,
    until `timeout` seconds have passed since the first try."""
    deadline = time.monotonic() + timeout
    wait = FIRST_BUSY_WAIT_SECONDS
    while time.monotonic() < deadline:
        yield wait
        wait = min(wait * 2, LONGEST_BUSY_WAIT_SECONDS)


def _call_if_alive(method: weakref.WeakMethod) -> None:
    bound = method()
    if bound is not None:
        bound()


class _Transaction:
    """BEGIN IMMEDIATE takes the write lock up front, so read-then-write is atomic."""

    def __init__(self, db: sqlite3.Connection, when_free: Callable, raise_unusable: Callable) -> None:
        self.db, self.when_free, self.raise_unusable = db, when_free, raise_unusable

    def __enter__(self) -> sqlite3.Connection:
        # Once BEGIN IMMEDIATE holds the write lock, nothing in the transaction can be busy.
        self.when_free(lambda db: db.execute("BEGIN IMMEDIATE"))
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            # Through when_free: a COMMIT the disk refuses is LedgerUnavailable too.
            self.when_free(lambda db: db.execute("COMMIT"), self.db)
            return
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the failed statement ended the transaction already
        if isinstance(exc, sqlite3.DatabaseError) and not _is_busy(exc):
            self.raise_unusable(exc)  # a statement inside the transaction the disk refused


class _Checkpointer:
    """A daemon thread that checkpoints the WAL now and then on its own connection, and
    purges expired rows once a minute.

    sqlite3 releases the GIL while SQLite works, so requests go on during the fsync. PASSIVE
    never waits for readers or writers; what it cannot copy now, it copies next time.

    A writer starts the WAL again from its beginning only if, when it begins, everything in
    the WAL has been copied. Under sustained load (a backfill, a replay, a benchmark) some
    worker has always written since the last copy, so the WAL never restarts: it grew by a
    page or more per claim (350 MB after 100,000 claims), and every claim then wrote to
    fresh file blocks the kernel had to zero first (a quarter of a claim's CPU). When a
    passive checkpoint leaves a long WAL, a RESTART checkpoint holds writers back for the few
    milliseconds it needs to copy the rest, so the next claim starts the WAL afresh."""

    def __init__(self, path: str, every_seconds: float, purge: Callable[[], Callable[[], int] | None]) -> None:
        self.path, self.every_seconds, self.pid, self.purge = path, every_seconds, os.getpid(), purge
        self._file = _identity(path)  # the file this process's connections have open
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        next_purge = 0.0  # at once: a restart after a long pause finds expired rows
        checkpoint_failed = _FailureLog("checkpoint", "every second", self.path)
        purge_failed = _FailureLog("purge", "every minute", self.path)
        try:
            while not self._stopping.wait(self.every_seconds):
                db = db or self._connect_or_none()
                failure = self._checkpoint(db) if db else "unable to open database file"
                checkpoint_failed(failure)
                if failure is not None and db is not None:
                    # Opened again next round: a connection made while the file was not
                    # writable stays read-only after the operator has fixed it.
                    db.close()
                    db = None
                self._notice_the_file_changing()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                    purge_failed(self._purge())
            if db is not None:
                self._checkpoint(db)
        finally:
            if db is not None:
                db.close()

    def _notice_the_file_changing(self) -> None:
        """Log, once, that DATABASE_PATH was deleted or replaced under this process: its
        connections go on writing to the file they opened, which no restart will see (the
        claims are forgotten: a copy of an event then counts as new), and SQLite says nothing."""
        if self._file is not None and _identity(self.path) != self._file:
            log.error("ledger file %s was deleted or replaced while the service runs: claims made since are "
                      "lost at the next restart; restart the service now (README, Deploying)", self.path)
            self._file = None  # said once

    def _connect_or_none(self) -> sqlite3.Connection | None:
        try:
            return self.connect(self.path)
        except sqlite3.Error:  # its directory is gone, say: said by the checkpoint's failure
            return None

    def _purge(self) -> str | None:
        """Purge; why that failed, if it did (it is tried again next minute)."""
        purge = self.purge()
        if purge is None:  # the Ledger is gone
            return None
        try:
            purge()
        except (sqlite3.Error, LedgerBusy, LedgerUnavailable) as exc:  # raised out of it, the thread would end
            return str(getattr(exc, "detail", exc))
        return None

    @staticmethod
    def connect(path: str) -> sqlite3.Connection:
        # No busy handler (timeout 0): see _restart. mode=rw: opened again after a failure, it
        # must not create an empty database where the ledger's file was deleted.
        return sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=0, isolation_level=None,
                               check_same_thread=False)

    @staticmethod
    def _checkpoint(db: sqlite3.Connection) -> str | None:
        """Checkpoint; SQLite's message if that failed (it is tried again next round)."""
        try:
            _, wal_frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if wal_frames > RESTART_AFTER_WAL_FRAMES:
                _restart(db)
        except sqlite3.Error as exc:  # a busy or vanished file: try again next time
            return str(exc)
        return None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class _FailureLog:
    """Logs the failures of a task the checkpointer repeats (the checkpoint, the purge) once per
    change of reason, and its recovery: once a second or a minute per worker, an unchanged
    failure would bury every other line."""

    def __init__(self, task: str, tried: str, path: str) -> None:
        self.task, self.tried, self.path = task, tried, path
        self.failing: str | None = None  # the failure last logged

    def __call__(self, failure: str | None) -> None:
        if failure == self.failing:
            return
        self.failing = failure
        if failure is None:
            log.warning("ledger %s works again", self.task)
        else:
            log.warning("ledger %s failed: %s (DATABASE_PATH %s; tried %s; logged again when the reason changes)",
                        self.task, failure, self.path, self.tried)


def _restart(db: sqlite3.Connection) -> None:
    """A RESTART checkpoint, tried in the same short steps as a claim (_busy_waits) for at most
    RESTART_WAIT_SECONDS; then the next round tries again.

    With no busy handler, a try that finds the write lock taken, or a reader still on the WAL,
    gives up at once and lets writers go on; one that succeeds holds them back for the few
    milliseconds the copy takes. In SQLite's busy handler, a RESTART holds the write lock while
    it waits for readers to leave the WAL: with a reader that stays (a sqlite3 shell left open
    on the file), claims waited up to the whole 0.1 s each round, and one claim 512 ms over
    five rounds; with short tries the longest claim took 1.1 ms (docs/benchmarks.md)."""
    for wait in _busy_waits(RESTART_WAIT_SECONDS):
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        if not busy:
            return
        time.sleep(wait)
