"""The hall service: the façade the routes call (its per-domain methods are the desks in queue_server/desks/;
this module is the machinery they share). It runs engine commands, makes their events durable, then answers
and broadcasts.

Order of a command: at the store's turn (at once for SQLite; under the hall's lock after catching up with
the other instances for a shared PostgreSQL log) the engine decides and applies in memory (no await in
between, so two windows can never pick the same ticket), the answer is presented from that same instant,
the events go to the store's group commit, and only when they are on disk is the request answered and the
event broadcast.
Reads and refusals rest on durable events too: they are computed at once and sent when the commit in
flight that they depend on is on disk. If the log cannot be written, the in-memory picture is ahead of
the disk, so the service refuses every further command (fail-stop) until a restart replays the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from config.model import Hall
from config.secrets import hash_pin
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks.alerts import AlertsDesk
from queue_server.desks.appointments import AppointmentDesk
from queue_server.desks.audit import AuditDesk
from queue_server.desks.cases import CaseDesk
from queue_server.desks.certificates import CertificatesDesk
from queue_server.desks.nodes import NodesDesk
from queue_server.desks.ratings import RatingDesk
from queue_server.desks.stats import StatsDesk
from queue_server.desks.tickets import TicketDesk
from queue_server.engine.decision import Decision
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.store.base import EventStore, IdempotencyRecord, NotDecided, StoreError, Verdict
from queue_server.ws.hub import Hub

log = logging.getLogger(__name__)

IDEMPOTENCY_HORIZON_S = 48 * 3600
REPLAY_PAGE = 5000
TICK_S = 1.0  # how often the service lets time act (the day roll-over in a quiet hall)
PRUNE_EVERY_S = 3600.0

T = TypeVar("T")
R = TypeVar("R")


class StoreFailed(QueueError):
    def __init__(self, reason: str) -> None:
        super().__init__("store_unavailable", "系统存储故障，暂停服务，请联系管理员",
                         f"the event log cannot be written ({reason}); the server refuses commands until restarted",
                         503)


class StoreUnreachable(QueueError):
    """The shared log could not give this command its turn (lock, session): nothing was decided; retry."""

    def __init__(self, reason: str) -> None:
        super().__init__("store_unavailable", "系统存储暂时不可用，请稍后重试",
                         f"the event log cannot be reached ({reason}); nothing was decided, try again", 503)


class HallService(TicketDesk, RatingDesk, CaseDesk, AppointmentDesk, StatsDesk, AlertsDesk, NodesDesk, AuditDesk,
                  CertificatesDesk):
    """One hall's engine, log and hub, and the idempotency memory of its API."""

    def __init__(self, hall: Hall, store: EventStore, *, clock: Callable[[], float] = time.time) -> None:
        self.hall = hall
        self.store = store
        self.clock = clock
        self.engine = QueueEngine(hall)
        self.hub = Hub()
        self.last_durable_id = 0
        self.broken: str | None = None
        self.damage: list[str] = []  # what a replay found wrong with the log, in words
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[Verdict]] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._clock_behind = False
        self._last_prune = 0.0
        self._decoy_pin_hash = hash_pin(secrets.token_hex(8))  # unknown staff ids cost one KDF too
        self._staff = {s.id: s for s in hall.staff}
        store.on_durable = self._on_durable
        store.on_catch_up = self._caught_up

    # ================================================================ life cycle
    async def start(self) -> None:
        """Open the log and replay it: the state is whatever the durable events say. Then let time act."""
        await self.store.open()
        started = time.perf_counter()
        count = await self.replay()
        for record in await self.store.load_idempotency(self.clock() - IDEMPOTENCY_HORIZON_S):
            self._idempotency[(record.node, record.key)] = record
        log.info("replayed %d events in %.3f s; last event %d", count, time.perf_counter() - started,
                 self.last_durable_id)
        await self.store.follow()
        self._last_prune = self.clock()  # load_idempotency already left out what is past the horizon
        self._ticker = asyncio.create_task(self._tick_loop(), name="hall tick")
        self._start_stats_feed()

    async def replay(self) -> int:
        """Apply every durable event; the cyclic GC is paused meanwhile (a day's replay only allocates).

        A damaged log (a hole in the ids, an event that refers to something the log lacks) does not keep
        the hall down: every durable event stays in the log and counts for numbering, what could not be
        applied is named in the log and in ``damage`` (health shows it), and the hall starts.
        """
        count = 0
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            page = await self.store.read_after(self.engine.last_event_id, REPLAY_PAGE)
            while page:
                # the next page's SQL runs in the store's thread while this page is applied on the loop
                following = asyncio.ensure_future(self.store.read_after(page[-1].id, REPLAY_PAGE))
                for event in page:
                    self._replay_one(event)
                count += len(page)
                page = await following
        finally:
            if gc_was_enabled:
                gc.enable()
        self.last_durable_id = self.engine.last_event_id
        return count

    def _replay_one(self, event: Event) -> None:
        engine = self.engine
        if event.id != engine.last_event_id + 1:
            self._damaged(f"events {engine.last_event_id + 1}..{event.id - 1} are missing from the log "
                          "(never made durable); replay goes on after them")
            engine.last_event_id = event.id - 1
        try:
            engine.apply(event)
        except (KeyError, ValueError, TypeError) as err:
            self._damaged(f"event {event.id} ({event.type}) could not be applied ({err!r}); it stays in the log "
                          "but the hall's state does not include it")
            engine.last_event_id = event.id

    def _damaged(self, what: str) -> None:
        self.damage.append(what)
        log.error("the event log is damaged: %s", what)

    async def stop(self) -> None:
        """Stop the tick, close every WebSocket with a reason, then the log (in-flight commands answered)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self._stop_stats_feed()
        await self.hub.close_all("server shutting down")
        await self.store.close()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except QueueError as err:  # fail-stop already logged; keep ticking so health stays honest
                log.debug("tick refused: %s", err)
            except Exception:  # a bug here must not stop time for the hall: say it, tick again
                log.exception("the hall tick failed")

    async def tick(self) -> None:
        """What time does by itself: the new business day at midnight even if nobody asks, and every timer of
        the domains (no-shows, overdue cases, alerts); only what they decide becomes events."""
        now = self._now()
        if self.broken is None:
            await self.run(self.time_passes)
        if now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            await self._prune_idempotency(now - IDEMPOTENCY_HORIZON_S)

    async def _prune_idempotency(self, before: float) -> None:
        """Forget retry answers past the horizon, in memory and on disk (the store does it off the loop)."""
        stale = [slot for slot, record in self._idempotency.items() if record.at < before]
        for slot in stale:
            del self._idempotency[slot]
        try:
            removed = await self.store.prune_idempotency(before)
        except StoreError as err:  # not a lost write: the records stay until the next try
            log.warning("could not prune idempotency records on disk (will try again): %s", err)
            return
        if stale or removed:
            log.info("pruned %d idempotency records from memory and %d from disk", len(stale), removed)

    def _now(self) -> float:
        """The clock, watched: a step back is logged once (the engine keeps the business day from going back)."""
        now = self.clock()
        last = self.engine.last_at
        if now < last - 1.0:
            if not self._clock_behind:
                self._clock_behind = True
                log.warning("the clock stepped back %.0f s behind the last event; the business day stays %s "
                            "and events keep the clock's instants", last - now, self.engine.day)
        elif self._clock_behind:
            self._clock_behind = False
            log.info("the clock has caught up with the event log again")
        return now

    # ================================================================ durability
    def _caught_up(self, events: Sequence[Event]) -> None:
        """Events another instance made durable: applied in log order (what is applied already is skipped),
        then published as this instance's own are."""
        fresh = [e for e in events if e.id > self.engine.last_event_id]
        if not fresh:
            return
        for event in fresh:
            self._replay_one(event)
        self._on_durable(fresh)

    def _on_durable(self, events: Sequence[Event]) -> None:
        self.last_durable_id = events[-1].id
        self.hub.publish(events)
        if self._waiters:
            still = []
            for event_id, waiter in self._waiters:
                if event_id <= self.last_durable_id:
                    if not waiter.done():
                        waiter.set_result(None)
                else:
                    still.append((event_id, waiter))
            self._waiters = still

    async def fresh(self) -> None:
        """Before a read: on a log other instances share, apply what they wrote first (a client reads its own
        writes whichever instance answers: a ticket issued on one is found on the next); nothing for SQLite.
        A failed read of the log leaves the answer to what is applied here."""
        try:
            await self.store.refresh()
        except StoreError as err:
            log.warning("could not read the event log before answering a read: %s", err)

    async def catch_up_to(self, event_id: int) -> None:
        """Before serving a client that resumes after ``event_id``: if this instance has not applied that far
        (the client came from another instance of a shared log), read the log once; a failed read leaves the
        answer to what is applied here."""
        if event_id > self.last_durable_id:
            await self.fresh()

    async def _durable(self, event_id: int) -> None:
        """Wait until the log holds every event up to ``event_id`` (the basis of an answer)."""
        if event_id <= self.last_durable_id:
            return
        if self.broken:
            raise StoreFailed(self.broken)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((event_id, waiter))
        await asyncio.shield(waiter)

    def _fail(self, err: BaseException) -> None:
        if self.broken is None:
            self.broken = str(err)
            log.critical("refusing commands from now on: %s", err)
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(StoreFailed(self.broken))
                waiter.exception()  # retrieved: a reader that went away must not leave an unread failure
        self._waiters = []

    def _settled(self, slot: tuple[str, str] | None, done: asyncio.Future[Verdict]) -> None:
        """Settle memory when a decision is durable (a callback, not after an ``await``, so a request cancelled
        meanwhile, a client that went away or a shutdown, still leaves its idempotency answer in memory: a
        retry then gets the durable answer instead of a second ticket)."""
        if slot is not None and self._inflight.get(slot) is done:
            del self._inflight[slot]
        if done.cancelled():
            self._fail(StoreError("a log write was cancelled"))
            return
        err = done.exception()
        if isinstance(err, NotDecided):  # nothing was decided or written: only these requests are refused
            return
        if err is not None:
            self._fail(err)
            return
        record = done.result().record
        if record is not None:
            self._idempotency[(record.node, record.key)] = record

    async def _wait(self, done: asyncio.Future[Verdict]) -> Verdict:
        try:
            return await asyncio.shield(done)
        except NotDecided as err:
            raise StoreUnreachable(str(err)) from err
        except StoreError as err:
            raise StoreFailed(str(err)) from err

    async def command(self, decide: Callable[[float], Decision[T]], present: Callable[[T], Answer], *,
                       node: str = "", key: str | None = None, fingerprint: bytes = b"") -> Answer:
        """Run one engine command at most once per (node, key) and answer only what is durable.

        A retry with the same key gets the first answer again, byte for byte (whichever instance gave it: a
        shared store looks the key up in the shared records at the command's turn); a concurrent retry waits
        for the first to finish; the same key with a different request is refused.
        """
        if not key:
            return await self._execute(decide, present)
        slot = (node, key)
        digest = hashlib.sha256(fingerprint).hexdigest()
        pending = self._inflight.get(slot)
        if pending is not None:  # the first is being decided or written: its answer, once durable
            verdict = await self._wait(pending)
            if verdict.record is not None:  # taken from the verdict: the callback filing it may not have run yet
                await self._durable(verdict.basis)
                return self._replayed(verdict.record, digest)
        if slot in self._idempotency:
            return self._replayed(self._idempotency[slot], digest)

        def replay(prior: IdempotencyRecord) -> Answer:
            self._idempotency[slot] = prior  # kept by another instance: remembered here too
            return self._replayed(prior, digest)

        return await self._execute(decide, present, lambda answer, at: IdempotencyRecord(
            node, key, digest, answer.status, answer.body, at), slot=slot, replay=replay)

    async def run(self, decide: Callable[[float], Decision[T]]) -> T:
        """Run one engine command and return its outcome once its events are durable."""
        return await self._execute(decide, lambda outcome: outcome)

    async def _execute(self, decide: Callable[[float], Decision[T]], present: Callable[[T], R],
                       remember: Callable[[R, float], IdempotencyRecord] | None = None, *,
                       slot: tuple[str, str] | None = None,
                       replay: Callable[[IdempotencyRecord], R] | None = None) -> R:
        """Decide at the store's turn, present from the same instant, answer once the log holds what it rests on.

        The store says when the turn is (at once for SQLite; under the hall's lock after catching up for a
        log that other instances share); the decision itself never awaits, so two windows can never pick the
        same ticket. A refusal is answered once the events it rests on are durable.
        """
        def decider(prior: IdempotencyRecord | None) -> Verdict:
            try:
                if prior is not None and replay is not None:
                    return Verdict(result=replay(prior), basis=self.engine.last_event_id)
                at = self._now()
                try:
                    decision = decide(at)
                except QueueError as err:  # a day roll-over or an implicit finish may precede the refusal
                    return Verdict(err.events, error=err, basis=self.engine.last_event_id)
                result = present(decision.outcome)
                record = remember(result, at) if remember is not None else None
                return Verdict(decision.events, record, result, basis=self.engine.last_event_id)
            except Exception as err:  # a bug answers this request alone (a 500), as on the caller's stack
                return Verdict(error=err, basis=self.engine.last_event_id)

        if self.broken:
            raise StoreFailed(self.broken)
        done = self.store.decide(decider, slot)
        if slot is not None:
            self._inflight[slot] = done
        done.add_done_callback(functools.partial(self._settled, slot))
        verdict = await self._wait(done)
        await self._durable(verdict.basis)
        if verdict.error is not None:
            raise verdict.error
        return verdict.result  # type: ignore[return-value]  # what present or replay returned

    async def read(self, present: Callable[[], Answer]) -> Answer:
        """Answer a read from the picture now, sent once everything it shows is durable."""
        await self.fresh()
        answer = present()
        await self._durable(self.engine.last_event_id)
        return answer

    @staticmethod
    def _replayed(record: IdempotencyRecord, fingerprint: str) -> Answer:
        if record.fingerprint != fingerprint:
            raise QueueError("idempotency_key_reused", "同一请求编号用于了不同的请求",
                             "this Idempotency-Key was already used for a different request", 422)
        return Answer(record.status, record.body)

    # ================================================================ reads
    async def health(self) -> Answer:
        body: dict[str, Any] = {"status": "failed" if self.broken else "ok", "hall": self.hall.name,
                                "last_event_id": self.last_durable_id, "day": self.engine.day,
                                "subscribers": self.hub.client_count}
        if self.broken:
            body["reason"] = self.broken
        if self.damage:
            body["log_damage"] = self.damage
        return _answer(body, 503 if self.broken else 200)
