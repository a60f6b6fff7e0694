"""Every event store behind one test kit, so one test body runs on SQLite and on PostgreSQL.

A kit opens the store under test and looks at what is really on disk through a connection of its own
(never through the store), and holds the log's write lock from another session as a second process would:
SQLite's ``BEGIN EXCLUSIVE``, PostgreSQL's ``LOCK TABLE events IN EXCLUSIVE MODE`` (which blocks INSERT).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from queue_server.store.batch import GroupCommitStore
from queue_server.store.postgres import PostgresStore
from queue_server.store.sqlite import SqliteStore
from queue_server.store.url import PostgresUrl


class WriteLock:
    """Another session holding the log's write lock until ``release()`` (or the end of the block)."""

    def __init__(self, release: Any) -> None:
        self._release = release
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._release()


class StoreKit:
    """What a store test needs from a backend."""

    name = ""
    lock_failure = ""  # a regex the failure of a write that waited out the lock timeout matches

    def make(self, *, lock_timeout_s: float = 5.0, prune_chunk_rows: int = 1000) -> GroupCommitStore:
        raise NotImplementedError

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[WriteLock]:
        raise NotImplementedError
        yield  # pragma: no cover

    def ids(self) -> list[int]:
        """The event ids on disk, in order."""
        return [row[0] for row in self._query("SELECT id FROM events ORDER BY id")]

    def records(self) -> dict[tuple[str, str], str]:
        """(node, key) → body of the idempotency records on disk."""
        return {(node, key): body for node, key, body in self._query("SELECT node, key, body FROM idempotency")}


class SqliteKit(StoreKit):
    name = "sqlite"
    lock_failure = "locked"

    def __init__(self, path: Path) -> None:
        self.path = path

    def make(self, *, lock_timeout_s: float = 5.0, prune_chunk_rows: int = 1000) -> SqliteStore:
        return SqliteStore(self.path, busy_timeout_s=lock_timeout_s, prune_chunk_rows=prune_chunk_rows)

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            return conn.execute(sql).fetchall()

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[WriteLock]:
        holder = sqlite3.connect(self.path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            lock = WriteLock(lambda: holder.execute("ROLLBACK"))
            yield lock
            lock.release()
        finally:
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()


class PostgresKit(StoreKit):
    name = "postgresql"
    lock_failure = "lock timeout"

    def __init__(self, url: str) -> None:
        self.url = url

    def make(self, *, lock_timeout_s: float = 5.0, prune_chunk_rows: int = 1000) -> PostgresStore:
        return PostgresStore(PostgresUrl.parse(self.url), lock_timeout_s=lock_timeout_s,
                             prune_chunk_rows=prune_chunk_rows)

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]  # the kit's own constants

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[WriteLock]:
        with psycopg.connect(self.url) as holder:  # not autocommit: the lock lasts until the rollback
            holder.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            lock = WriteLock(holder.rollback)
            try:
                yield lock
            finally:
                lock.release()
