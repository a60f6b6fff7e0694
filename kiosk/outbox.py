"""The node's durable outbox: what must reach the server even if the server is away when it happens.

Printed confirmations, print failures, ratings and device-health transitions are written to a small SQLite
file in the node's data directory *before* the first try, each with the Idempotency-Key it will always be
sent with, and delivered strictly in the order they were put: the head blocks the rest while the server is
unreachable, so the server sees "printed" after "issued" and a device's "down" before its "back". An item
leaves the file only when the server answered it (a success, or a refusal of the item, which no retry would
change; a refused *token* keeps everything, since the fault is the node's credentials, not the item), so
a node restart resends what was pending and the server's idempotency memory makes a resend harmless:
nothing is lost and nothing is done twice.

SQLite blocks, so every call runs on the outbox's one worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiosk.server_client import Answer, Result, Unreachable

__all__ = ["Outbox", "OutboxItem", "Sender"]

log = logging.getLogger(__name__)

RETRY_EVERY_S = 2.0  # while the server is away, how often the head is tried again

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    put_at REAL NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    last_failure TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class OutboxItem:
    """One request waiting to be delivered, exactly as it will be sent."""

    seq: int
    key: str
    kind: str  # printed, print_failed, rating, health: for the log and the screen's "3 waiting"
    method: str
    path: str
    body: Mapping[str, Any]
    tries: int = 0


class Sender(Protocol):
    """What the outbox needs of the server client."""

    async def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                      key: str | None = None) -> Result: ...


class Outbox:
    """``await Outbox.open(dir)``; ``put`` durably, ``deliver(client)`` in order, ``close`` at the end."""

    def __init__(self, path: Path, conn: sqlite3.Connection, worker: ThreadPoolExecutor) -> None:
        self.path = path
        self._conn = conn
        self._worker: ThreadPoolExecutor | None = worker
        self._lock = asyncio.Lock()  # one delivery at a time keeps the order
        self._wake = asyncio.Event()
        self.delivered = 0
        self.refused = 0

    @classmethod
    async def open(cls, data_dir: Path, name: str = "outbox.sqlite3") -> Outbox:
        """Open (or create) the outbox file in ``data_dir``."""
        data_dir = Path(data_dir)
        path = data_dir / name
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")

        def connect() -> sqlite3.Connection:
            data_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a put is on disk before the first try
            conn.execute(_SCHEMA)
            return conn

        try:
            conn = await asyncio.get_running_loop().run_in_executor(worker, connect)
        except BaseException:
            worker.shutdown(wait=True)
            raise
        return cls(path, conn, worker)

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._worker is None:
            raise RuntimeError(f"the outbox {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def close(self) -> None:
        """Close the file and stop the worker thread; idempotent."""
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        await asyncio.get_running_loop().run_in_executor(worker, self._conn.close)
        worker.shutdown(wait=True)

    # ------------------------------------------------------------------ putting
    async def put(self, kind: str, method: str, path: str, body: Mapping[str, Any], key: str) -> bool:
        """Keep one request for delivery; False when that key is already kept (a repeat is not doubled)."""
        text = json.dumps(dict(body), ensure_ascii=False, sort_keys=True)

        def insert() -> bool:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO outbox (key, kind, method, path, body, put_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, kind, method.upper(), path, text, time.time()))
            return cursor.rowcount == 1

        added: bool = await self._run(insert)
        if added:
            self._wake.set()
        return added

    async def pending(self) -> list[OutboxItem]:
        """Everything still to deliver, oldest first."""

        def select() -> list[OutboxItem]:
            rows = self._conn.execute(
                "SELECT seq, key, kind, method, path, body, tries FROM outbox ORDER BY seq").fetchall()
            return [OutboxItem(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

        items: list[OutboxItem] = await self._run(select)
        return items

    async def count(self) -> int:
        def select() -> int:
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

        n: int = await self._run(select)
        return n

    # ------------------------------------------------------------------ delivering
    async def deliver(self, sender: Sender) -> bool:
        """Send the pending items in order until done (True) or the server is unreachable (False)."""
        async with self._lock:
            for item in await self.pending():
                result = await sender.request(item.method, item.path, item.body, item.key)
                if isinstance(result, Unreachable):
                    await self._run(self._note_failure, item.seq, result.reason)
                    log.info("outbox: %d waiting; the server is unreachable (%s)", await self.count(), result.reason)
                    return False
                if result.status == 401:  # our token, not the item, is wrong: keep everything until it is fixed
                    await self._run(self._note_failure, item.seq, result.words())
                    log.error("outbox: the server does not accept this node's token (%s); %d items kept",
                              result.words(), await self.count())
                    return False
                self._answered(item, result)
                await self._run(self._remove, item.seq)
            return True

    def _answered(self, item: OutboxItem, answer: Answer) -> None:
        if answer.ok:
            self.delivered += 1
            log.debug("outbox: %s %s delivered (%d)", item.kind, item.path, answer.status)
        else:  # the server decided: another try would get the same answer, and would hold up the rest
            self.refused += 1
            log.warning("outbox: the server refused %s %s: %s", item.kind, item.path, answer.words())

    def _note_failure(self, seq: int, reason: str) -> None:
        self._conn.execute("UPDATE outbox SET tries = tries + 1, last_failure = ? WHERE seq = ?", (reason, seq))

    def _remove(self, seq: int) -> None:
        self._conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    async def run(self, sender: Sender, retry_every_s: float = RETRY_EVERY_S) -> None:
        """Deliver whenever something is put, and every ``retry_every_s`` while items wait; until cancelled."""
        while True:
            self._wake.clear()
            done = await self.deliver(sender)
            if done:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), retry_every_s)
