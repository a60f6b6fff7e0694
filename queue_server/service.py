"""The hall service: runs engine commands, makes their events durable, then answers and broadcasts.

Order of a command: the engine decides and applies in memory (no await in between, so two windows can
never pick the same ticket), the events go to the store's group commit, and only when they are on
disk is the request answered and the event broadcast. If the log cannot be written, the in-memory
picture is ahead of the disk, so the service refuses every further command (fail-stop) until a restart
replays the log.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from config.model import Hall
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.store.base import EventStore, IdempotencyRecord, StoreError
from queue_server.ws.hub import Hub

log = logging.getLogger(__name__)

IDEMPOTENCY_HORIZON_S = 48 * 3600
REPLAY_PAGE = 5000


class StoreFailed(QueueError):
    def __init__(self, reason: str) -> None:
        super().__init__("store_unavailable", "系统存储故障，暂停服务，请联系管理员",
                         f"the event log cannot be written ({reason}); the server refuses commands until restarted",
                         503)


class HallService:
    """One hall's engine, log and hub, and the idempotency memory of its API."""

    def __init__(self, hall: Hall, store: EventStore, *, clock: Callable[[], float] = time.time) -> None:
        self.hall = hall
        self.store = store
        self.clock = clock
        self.engine = QueueEngine(hall)
        self.hub = Hub()
        self.last_durable_id = 0
        self.broken: str | None = None
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[tuple[int, str]]] = {}
        store.on_durable = self._on_durable

    async def start(self) -> None:
        """Open the log and replay it: the state is whatever the durable events say."""
        await self.store.open()
        started = time.perf_counter()
        count = await self.replay()
        for record in await self.store.load_idempotency(self.clock() - IDEMPOTENCY_HORIZON_S):
            self._idempotency[(record.node, record.key)] = record
        log.info("replayed %d events in %.3f s; last event %d", count, time.perf_counter() - started,
                 self.last_durable_id)

    async def replay(self) -> int:
        """Apply every durable event; the cyclic GC is paused meanwhile (a day's replay only allocates)."""
        count = 0
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            while True:
                page = await self.store.read_after(self.engine.last_event_id, REPLAY_PAGE)
                if not page:
                    break
                for event in page:
                    self.engine.apply(event)
                count += len(page)
        finally:
            if gc_was_enabled:
                gc.enable()
        self.last_durable_id = self.engine.last_event_id
        return count

    async def stop(self) -> None:
        """Close every WebSocket with a reason, then the log (after in-flight commands were answered)."""
        await self.hub.close_all("server shutting down")
        await self.store.close()

    def _on_durable(self, events: list[Event]) -> None:
        self.last_durable_id = events[-1].id
        self.hub.publish(events)

    async def run(self, command: Callable[[], Any]) -> Any:
        """Run one engine command; returns its result once its events are durable."""
        if self.broken:
            raise StoreFailed(self.broken)
        outcome = self._decide(command)
        if isinstance(outcome, list):  # window commands return only their events
            await self._persist(outcome)
            return None
        *result, events = outcome
        await self._persist(events)
        return result[0] if len(result) == 1 else tuple(result)

    async def _persist(self, events: list[Event], idem: IdempotencyRecord | None = None) -> None:
        try:
            await self.store.submit(events, idem)
        except StoreError as err:
            self._fail(err)
            raise StoreFailed(str(err)) from err

    def _fail(self, err: BaseException) -> None:
        self.broken = str(err)
        log.critical("refusing commands from now on: %s", err)

    def _persist_later(self, events: list[Event]) -> None:
        """Queue events now (keeping log order) without waiting: for events decided before a refusal."""
        done = self.store.submit(events)
        done.add_done_callback(lambda f: None if f.cancelled() or f.exception() is None else self._fail(f.exception()))

    async def run_idempotent(self, node: str, key: str | None, fingerprint_source: bytes,
                             respond: Callable[[], Any]) -> tuple[int, str]:
        """Run ``respond`` (which returns (status, json body, events)) at most once per (node, key).

        A retry with the same key gets the first answer again, byte for byte; a concurrent retry waits
        for the first to finish; the same key with a different request is refused.
        """
        if self.broken:
            raise StoreFailed(self.broken)
        if not key:
            status, body, events = self._decide(respond)
            await self._persist(events)
            return status, body
        fingerprint = hashlib.sha256(fingerprint_source).hexdigest()
        slot = (node, key)
        known = self._idempotency.get(slot)
        if known is not None:
            return self._replayed(known, fingerprint)
        pending = self._inflight.get(slot)
        if pending is not None:
            await asyncio.shield(pending)
            return self._replayed(self._idempotency[slot], fingerprint)
        future: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        try:
            status, body, events = self._decide(respond)
            record = IdempotencyRecord(node, key, fingerprint, status, body, self.clock())
            await self._persist(events, record)
            self._idempotency[slot] = record
            future.set_result((status, body))
            return status, body
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved here so an unawaited failure is not reported twice
            raise
        finally:
            self._inflight.pop(slot, None)

    def _decide(self, command: Callable[[], Any]) -> Any:
        """Run an engine command (no await: nothing else can interleave while it decides)."""
        try:
            return command()
        except QueueError as err:
            if err.events:  # a day roll-over decided before the refusal must still be made durable
                self._persist_later(err.events)
            raise

    @staticmethod
    def _replayed(record: IdempotencyRecord, fingerprint: str) -> tuple[int, str]:
        if record.fingerprint != fingerprint:
            raise QueueError("idempotency_key_reused", "同一请求编号用于了不同的请求",
                             "this Idempotency-Key was already used for a different request", 422)
        return record.status, record.body


def dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
