"""The embedded event log: SQLite in WAL mode with one writer thread and group commit.

Requests hand their events to the writer thread and wait; the writer takes everything queued since its
last commit and writes it in one transaction (``synchronous=FULL``, so the commit is fsynced), then
wakes every waiter. Under load one fsync serves many requests; no request is answered before the
fsync that covers it.
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
from queue_server.store.base import EventStore, IdempotencyRecord, StoreError

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

BUSY_TIMEOUT_S = 5.0  # how long a write waits for another process's lock before the batch fails

_STOP = object()
_Job = tuple[Sequence[Event], IdempotencyRecord | None, asyncio.Future[None]]


class SqliteStore(EventStore):
    """One hall's log in ``<data dir>/events.sqlite3``."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={round(self.busy_timeout_s * 1000)}")
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._writer = threading.Thread(target=self._write_loop, name=f"sqlite-writer {self.path.name}")
        self._writer.start()
        await asyncio.to_thread(self._ready.wait)
        if self._open_error is not None:
            raise StoreError(f"cannot open the event log {self.path}: {self._open_error}") from self._open_error
        self._reader = self._connect()

    async def close(self) -> None:
        if self._writer is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def submit(self, events: Sequence[Event], idempotency: IdempotencyRecord | None = None) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if self._writer is None:
            done.set_exception(StoreError("the event log is closed"))
        elif not events and idempotency is None:
            done.set_result(None)
        else:
            self._jobs.put((events, idempotency, done))
        return done

    # ---- writer thread -----------------------------------------------------------------------------
    def _write_loop(self) -> None:
        try:
            conn = self._connect()
            conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as err:
            self._open_error = err
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._jobs.get()
                if first is _STOP:
                    return
                batch: list[_Job] = [first]  # type: ignore[list-item]
                stop = False
                while True:  # group commit: take everything that queued up meanwhile
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is _STOP:
                        stop = True
                        break
                    batch.append(job)  # type: ignore[arg-type]
                self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        error: BaseException | None = None
        try:
            rows = [(e.id, e.type, e.v, e.at, e.node, e.staff, e.data_json()) for events, _, _ in batch
                    for e in events]
            records = [(i.node, i.key, i.fingerprint, i.status, i.body, i.at) for _, i, _ in batch if i is not None]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO events (id, type, v, at, node, staff, data) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            if records:
                conn.executemany(
                    "INSERT OR REPLACE INTO idempotency (node, key, fingerprint, status, body, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", records)
            conn.execute("COMMIT")
        except Exception as err:  # any failure here means "not durable": never let the writer die silently
            log.critical("event log write failed, %d requests refused: %s", len(batch), err)
            error = err
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody is waiting any more
            self._loop.call_soon_threadsafe(self._settle, batch, error)

    def _settle(self, batch: list[_Job], error: BaseException | None) -> None:
        """In the loop thread: tell the listener in log order, then wake the waiters."""
        if error is None and self.on_durable is not None:
            for events, _, _ in batch:
                if events:
                    self.on_durable(events)
        for _, _, done in batch:
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(StoreError(f"the event log could not be written: {error}"))

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
