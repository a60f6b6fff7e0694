"""An in-memory event log behind the real EventStore interface, whose commits a test can hold and release.

Not a mock: it keeps the interface's promises (submit order is log order, durable means committed, the
listener hears of every commit in order), so the service's own code runs; a test decides *when* a
commit lands (``hold()`` / ``release()``) or that it fails (``fail_next``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from queue_server.engine.events import Event
from queue_server.store.base import EventStore, IdempotencyRecord, StoreError


class MemoryStore(EventStore):
    def __init__(self, events: Sequence[Event] = (), records: Sequence[IdempotencyRecord] = ()) -> None:
        self.events: list[Event] = list(events)
        self.records: dict[tuple[str, str], IdempotencyRecord] = {(r.node, r.key): r for r in records}
        self._pending: list[tuple[Sequence[Event], IdempotencyRecord | None, asyncio.Future[None]]] = []
        self._held = False
        self.fail_next: str | None = None
        self.opened = False

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.release()
        self.opened = False

    def hold(self) -> None:
        """Commits wait (as if the disk were slow) until ``release``."""
        self._held = True

    def release(self) -> None:
        self._held = False
        pending, self._pending = self._pending, []
        for events, record, done in pending:
            self._commit(events, record, done)

    def submit(self, events: Sequence[Event], idempotency: IdempotencyRecord | None = None) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._held:
            self._pending.append((events, idempotency, done))
        else:
            asyncio.get_running_loop().call_soon(self._commit, events, idempotency, done)
        return done

    def _commit(self, events: Sequence[Event], record: IdempotencyRecord | None, done: asyncio.Future[None]) -> None:
        if self.fail_next is not None:
            reason, self.fail_next = self.fail_next, None
            done.set_exception(StoreError(reason))
            return
        self.events.extend(events)
        if record is not None:
            self.records.setdefault((record.node, record.key), record)
        if events and self.on_durable is not None:
            self.on_durable(list(events))
        done.set_result(None)

    async def read_after(self, after_id: int, limit: int = 1000) -> list[Event]:
        return [e for e in self.events if e.id > after_id][:limit]

    async def load_idempotency(self, since: float) -> list[IdempotencyRecord]:
        return [r for r in self.records.values() if r.at >= since]

    async def prune_idempotency(self, before: float) -> int:
        stale = [slot for slot, r in self.records.items() if r.at < before]
        for slot in stale:
            del self.records[slot]
        return len(stale)
