"""The embedded event log: SQLite in WAL mode with one writer thread and group commit.

Requests hand their events to the writer thread and wait; the writer takes everything queued since its
last commit and writes it in one transaction (``synchronous=FULL``, so the commit is fsynced), then
wakes every waiter. Under load one fsync serves many requests; no request is answered before the
fsync that covers it.

Fail-stop lives here too: the first batch that cannot be written (the database locked past the busy
timeout, the disk full, a failing fsync) breaks the store, and from then on every job already queued and
every later one fails, so nothing after the failure becomes durable and the log never has a hole. A
restart (which replays what is durable) is the way back. The writer also refuses any event whose id does
not continue the log, so a gap cannot be written whatever the caller does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from queue_server.engine.events import Event
from queue_server.store.base import IdempotencyRecord, StoreError
from queue_server.store.batch import GroupCommitStore, Job, Outcome, Prune, Row, Write, runs

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    v INTEGER NOT NULL,
    at REAL NOT NULL,
    node TEXT NOT NULL,
    staff TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    node TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (node, key)
);
"""
# No index on idempotency.at (one B-tree write less per request): records are read once at start, and a prune
# walks rowids, which follow insertion (so time) order, stopping after one chunk of old records.

BUSY_TIMEOUT_S = 5.0  # how long a write waits for another process's lock before the batch fails
PRUNE_CHUNK_ROWS = 1000  # idempotency records deleted per transaction, so commits never wait long behind a prune

_INSERT_EVENT = "INSERT INTO events (id, type, v, at, node, staff, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
# The first durable answer for a key wins: a second one (a retry that ran again after a cancellation) is dropped.
_INSERT_RECORD = ("INSERT OR IGNORE INTO idempotency (node, key, fingerprint, status, body, at) "
                  "VALUES (?, ?, ?, ?, ?, ?)")
_PRUNE = "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE at < ? LIMIT ?)"

_STOP = object()


class SqliteStore(GroupCommitStore):
    """One hall's log in ``<data dir>/events.sqlite3``."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 prune_chunk_rows: int = PRUNE_CHUNK_ROWS) -> None:
        super().__init__()
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.prune_chunk_rows = prune_chunk_rows
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._last_id = 0  # the last durable event id; read and written by the writer thread only

    @property
    def where(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={round(self.busy_timeout_s * 1000)}")
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name=f"sqlite-writer {self.path.name}")
        self._writer.start()
        await asyncio.to_thread(self._ready.wait)
        if self._open_error is not None:
            await asyncio.to_thread(self._writer.join)
            self._writer = None
            raise StoreError(f"cannot open the event log {self.path}: {self._open_error}") from self._open_error
        self._reader = self._connect()

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _writing(self) -> bool:
        return self._writer is not None

    def _enqueue(self, job: Job) -> None:
        self._jobs.put(job)

    # ---- writer thread -----------------------------------------------------------------------------
    def _write_loop(self) -> None:
        try:
            conn = self._connect()
            conn.executescript(SCHEMA)
            self._last_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        except (sqlite3.Error, OSError) as err:
            self._open_error = err
            self._ready.set()
            return
        self._ready.set()
        try:
            stop = False
            while not stop:
                jobs = [self._jobs.get()]
                while jobs[-1] is not _STOP:  # group commit: take everything that queued up meanwhile
                    try:
                        jobs.append(self._jobs.get_nowait())
                    except queue.Empty:
                        break
                if jobs[-1] is _STOP:
                    jobs.pop()
                    stop = True
                self._run(conn, jobs)  # type: ignore[arg-type]
        finally:
            self._refuse_leftovers()
            try:
                conn.close()
            except sqlite3.Error as err:
                log.warning("closing the event log %s failed: %s", self.path, err)

    def _run(self, conn: sqlite3.Connection, jobs: list[Job]) -> None:
        """Commit runs of writes as one batch each, a prune chunk in its place; never let the writer die."""
        try:
            for run in runs(jobs):
                if isinstance(run, Prune):
                    self._prune_chunk(conn, run)
                else:  # only writes: this store decides on the caller's stack (EventStore.decide)
                    self._commit(conn, [job for job in run if isinstance(job, Write)])
        except Exception as err:  # a bug, not a disk fault: still refuse rather than hang the waiters
            log.exception("the event log writer failed")
            self._break(f"the writer failed: {err!r}")
            self._post([], [(job.done, self._broken_error(), None) for job in jobs])

    def _commit(self, conn: sqlite3.Connection, batch: list[Write]) -> None:
        """One transaction for every job of the batch that can be written; each waiter told how its job went."""
        if not batch:
            return
        plan = self._plan(batch, self._last_id)
        durable: list[Sequence[Event]] = []
        if plan.ready:
            try:
                ignored = self._transaction(conn, plan.rows, plan.records)
            except Exception as err:  # any failure here means "not durable": the store is broken from here on
                self._failed(plan, err)
            else:
                self._last_id = plan.next_id - 1
                durable = self._committed(plan, ignored)
        self._post(durable, plan.outcomes)

    @staticmethod
    def _transaction(conn: sqlite3.Connection, rows: list[Row],
                     records: list[IdempotencyRecord]) -> list[tuple[str, str]]:
        """Write the rows and answers in one fsynced transaction; returns the (node, key) answers already kept."""
        ignored: list[tuple[str, str]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT_EVENT, rows)
            if records:
                values = [(r.node, r.key, r.fingerprint, r.status, r.body, r.at) for r in records]
                if conn.executemany(_INSERT_RECORD, values).rowcount < len(values):  # rare: find which were kept
                    ignored = [(v[0], v[1]) for v in values if conn.execute(
                        "SELECT fingerprint, status, body, at FROM idempotency WHERE node = ? AND key = ?",
                        v[:2]).fetchone() != v[2:]]
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return ignored

    def _prune_chunk(self, conn: sqlite3.Connection, job: Prune) -> None:
        """Delete one bounded chunk; a full chunk goes back in the queue, behind what waits to be committed."""
        if self.broken is not None:
            self._post([], [(job.done, self._broken_error(), None)])
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            deleted = conn.execute(_PRUNE, (job.before, self.prune_chunk_rows)).rowcount
            conn.execute("COMMIT")
        except Exception as err:  # no promise rests on a prune: refuse this one, the store stays usable
            _rollback(conn)
            log.warning("pruning idempotency records before %s failed: %s", job.before, err)
            self._post([], [(job.done, StoreError(f"idempotency records could not be pruned: {err}"), None)])
            return
        job.deleted += deleted
        if deleted == self.prune_chunk_rows:
            self._jobs.put(job)
        else:
            self._post([], [(job.done, None, job.deleted)])

    def _refuse_leftovers(self) -> None:
        """After the stop: whatever is still queued is told the log is closed (nobody waits forever)."""
        outcomes: list[Outcome] = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if isinstance(job, Write | Prune):
                outcomes.append((job.done, StoreError("the event log is closed"), None))
        if outcomes:
            self._post([], outcomes)

    def _post(self, durable: list[Sequence[Event]], outcomes: list[Outcome]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody is waiting any more
            self._loop.call_soon_threadsafe(self._settle, durable, outcomes)

    # ---- readers -----------------------------------------------------------------------------------
    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        if self._reader is None:
            raise StoreError("the event log is closed")
        with self._reader_lock:
            return self._reader.execute(sql, params).fetchall()

    async def read_after(self, after_id: int, limit: int = 1000) -> list[Event]:
        rows = await asyncio.to_thread(
            self._read, "SELECT id, type, v, at, node, staff, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit))
        return [Event.from_row(*row) for row in rows]  # type: ignore[arg-type]

    async def load_idempotency(self, since: float) -> list[IdempotencyRecord]:
        rows = await asyncio.to_thread(
            self._read, "SELECT node, key, fingerprint, status, body, at FROM idempotency WHERE at >= ?", (since,))
        return [IdempotencyRecord(*row) for row in rows]  # type: ignore[arg-type]


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failing rollback (disk gone) must not kill the writer."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as err:
            log.warning("rollback failed: %s", err)

