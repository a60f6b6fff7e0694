"""The hall service: the façade the routes call. It runs engine commands, makes their events durable,
then answers and broadcasts.

Order of a command: the engine decides and applies in memory (no await in between, so two windows can
never pick the same ticket), the answer is presented from that same instant, the events go to the
store's group commit, and only when they are on disk is the request answered and the event broadcast.
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

from config.model import Hall, Node, NodeRole
from config.secrets import hash_pin, verify_pin
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks.alerts import AlertsDesk
from queue_server.desks.appointments import AppointmentDesk
from queue_server.desks.audit import AuditDesk
from queue_server.desks.cases import CaseDesk
from queue_server.desks.nodes import NodesDesk
from queue_server.desks.ratings import RatingDesk
from queue_server.desks.stats import StatsDesk
from queue_server.engine.decision import Decision, Issued
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.state import Ticket, TicketState
from queue_server.store.base import EventStore, IdempotencyRecord, StoreError
from queue_server.views import queue_view, ticket_view, window_view
from queue_server.ws.hub import Hub

log = logging.getLogger(__name__)

IDEMPOTENCY_HORIZON_S = 48 * 3600
REPLAY_PAGE = 5000
TICK_S = 1.0  # how often the service lets time act (the day roll-over in a quiet hall)
PRUNE_EVERY_S = 3600.0
TICKET_ACTIONS = ("call", *sorted(QueueEngine.ACTIONS))  # the one list the routes and OpenAPI use
KIOSK_ACTIONS = frozenset({"requeue", "cancel", "printed", "print_failed"})
LIST_LIMIT = 200
LIST_LIMIT_MAX = 1000

T = TypeVar("T")
R = TypeVar("R")


class StoreFailed(QueueError):
    def __init__(self, reason: str) -> None:
        super().__init__("store_unavailable", "系统存储故障，暂停服务，请联系管理员",
                         f"the event log cannot be written ({reason}); the server refuses commands until restarted",
                         503)


def _refused(zh: str, en: str) -> QueueError:
    return QueueError("forbidden", zh, en, 403)


class HallService(RatingDesk, CaseDesk, AppointmentDesk, StatsDesk, AlertsDesk, NodesDesk, AuditDesk):
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
        self._inflight: dict[tuple[str, str], tuple[asyncio.Future[None], IdempotencyRecord]] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._clock_behind = False
        self._last_prune = 0.0
        self._decoy_pin_hash = hash_pin(secrets.token_hex(8))  # unknown staff ids cost one KDF too
        self._staff = {s.id: s for s in hall.staff}
        store.on_durable = self._on_durable

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
            await self.run(self.engine.tick)
            await self.watch_nodes()  # node silence: heartbeats are in memory, the engine decides on them
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

    def _submit(self, events: list[Event], record: IdempotencyRecord | None = None) -> asyncio.Future[None]:
        """Queue events for the log now (submit order is log order); settle memory when they are durable.

        The settling runs as a callback, not after an ``await``, so a request cancelled meanwhile (a
        client that went away, a shutdown) still leaves its idempotency answer in memory: a retry then
        gets the durable answer instead of a second ticket.
        """
        done = self.store.submit(events, record)
        if record is not None:
            self._inflight[(record.node, record.key)] = (done, record)
        done.add_done_callback(functools.partial(self._settled, record))
        return done

    def _settled(self, record: IdempotencyRecord | None, done: asyncio.Future[None]) -> None:
        if record is not None:
            self._inflight.pop((record.node, record.key), None)
        if done.cancelled():
            self._fail(StoreError("a log write was cancelled"))
            return
        err = done.exception()
        if err is not None:
            self._fail(err)
        elif record is not None:
            self._idempotency[(record.node, record.key)] = record

    async def _wait(self, done: asyncio.Future[None]) -> None:
        try:
            await asyncio.shield(done)
        except StoreError as err:
            raise StoreFailed(str(err)) from err

    async def command(self, decide: Callable[[float], Decision[T]], present: Callable[[T], Answer], *,
                       node: str = "", key: str | None = None, fingerprint: bytes = b"") -> Answer:
        """Run one engine command at most once per (node, key) and answer only what is durable.

        A retry with the same key gets the first answer again, byte for byte; a concurrent retry waits
        for the first to finish; the same key with a different request is refused.
        """
        if not key:
            return await self._execute(decide, present)
        slot = (node, key)
        digest = hashlib.sha256(fingerprint).hexdigest()
        if slot in self._idempotency:
            return self._replayed(self._idempotency[slot], digest)
        pending = self._inflight.get(slot)
        if pending is not None:  # the first is being written: its answer, once durable (the record is final)
            done, record = pending
            await self._wait(done)
            return self._replayed(record, digest)
        return await self._execute(decide, present, lambda answer, at: IdempotencyRecord(
            node, key, digest, answer.status, answer.body, at))

    async def run(self, decide: Callable[[float], Decision[T]]) -> T:
        """Run one engine command and return its outcome once its events are durable."""
        return await self._execute(decide, lambda outcome: outcome)

    async def _execute(self, decide: Callable[[float], Decision[T]], present: Callable[[T], R],
                       remember: Callable[[R, float], IdempotencyRecord] | None = None) -> R:
        """Decide now, present from the same instant, then wait until the log holds what the answer rests on."""
        if self.broken:
            raise StoreFailed(self.broken)
        at = self._now()
        try:
            decision = decide(at)
        except QueueError as err:
            basis = self.engine.last_event_id
            if err.events:  # a day roll-over or an implicit finish decided before the refusal
                self._submit(err.events)
            await self._durable(basis)  # the refusal rests on what the log holds
            raise
        result = present(decision.outcome)
        record = remember(result, at) if remember is not None else None
        await self._wait(self._submit(decision.events, record))
        return result

    async def read(self, present: Callable[[], Answer]) -> Answer:
        """Answer a read from the picture now, sent once everything it shows is durable."""
        answer = present()
        await self._durable(self.engine.last_event_id)
        return answer

    @staticmethod
    def _replayed(record: IdempotencyRecord, fingerprint: str) -> Answer:
        if record.fingerprint != fingerprint:
            raise QueueError("idempotency_key_reused", "同一请求编号用于了不同的请求",
                             "this Idempotency-Key was already used for a different request", 422)
        return Answer(record.status, record.body)

    # ================================================================ commands
    def _ticket_answer(self, ticket: Ticket, *, staff: bool, status: int = 200, **extra: Any) -> Answer:
        view = ticket_view(self.engine, ticket, self.clock(), staff=staff)
        view.update(extra)
        return _answer(view, status)

    async def issue(self, node: Node, key: str | None, fingerprint: bytes, *, service: str, priority: str,
                    holder_key: str, holder_masked: str, appointment_id: str, green_reason: str = "") -> Answer:
        """A kiosk (or a manager) takes a ticket; a holder's second tap gets the open ticket again (200).

        A window or a manager may assert the green channel's staff reasons; a kiosk only its own."""

        def present(issued: Issued) -> Answer:
            return self._ticket_answer(issued.ticket, staff=False, status=200 if issued.existing else 201,
                                       existing=issued.existing, rating_url=self.rating_url(issued.ticket.id))

        return await self.command(
            lambda at: self.engine.issue(service, at, priority=priority, node=node.name, holder_key=holder_key,
                                         holder_masked=holder_masked, appointment_id=appointment_id,
                                         green_reason=green_reason,
                                         by_staff=node.role in (NodeRole.WINDOW, NodeRole.MANAGER)),
            present, node=node.name, key=key, fingerprint=fingerprint)

    async def call_next(self, node: Node, key: str | None, fingerprint: bytes, window: int) -> Answer:
        return await self.command(lambda at: self.engine.call_next(window, at, node=node.name),
                                   lambda ticket: self._ticket_answer(ticket, staff=True),
                                   node=node.name, key=key, fingerprint=fingerprint)

    async def ticket_action(self, node: Node, key: str | None, fingerprint: bytes, action: str, ticket_id: str, *,
                            window: int | None, to_service: str, to_window: int | None, reason: str) -> Answer:
        """One action on one ticket, by a node allowed to take it (checked against the ticket as it is now)."""
        if action not in TICKET_ACTIONS:
            raise QueueError("unknown_action", "未知操作",
                             f"unknown action {action!r} (known: {', '.join(TICKET_ACTIONS)})", 404)

        def decide(at: float) -> Decision[Ticket]:
            acting = self._acting_window(node, action, self.engine.ticket(ticket_id), window)
            if action == "call":
                assert acting is not None
                return self.engine.call(ticket_id, acting, at, node=node.name)
            return self.engine.act(action, ticket_id, at, window=acting, node=node.name, to_service=to_service,
                                   to_window=to_window, reason=reason)

        return await self.command(decide, lambda ticket: self._ticket_answer(ticket, staff=True),
                                   node=node.name, key=key, fingerprint=fingerprint)

    @staticmethod
    def _acting_window(node: Node, action: str, ticket: Ticket, window: int | None) -> int | None:
        """Who may act on a ticket: a window on its own citizens, a kiosk on the tickets it issued."""
        if node.role is NodeRole.MANAGER:
            if action == "call" and window is None:
                raise QueueError("missing_field", "缺少窗口号", "field 'window' is required to call a ticket", 400,
                                 {"field": "window"})
            return window
        if node.role is NodeRole.WINDOW:
            if window is not None and window != node.window:
                raise _refused(f"本终端属于 {node.window} 号窗口，不能操作 {window} 号窗口",
                               f"this node belongs to window {node.window}, not window {window}")
            free_to_take = action in ("call", "requeue") or (action == "transfer" and ticket.state is
                                                             TicketState.WAITING)
            if not free_to_take and ticket.window != node.window:
                where_zh = f"由 {ticket.window} 号窗口办理" if ticket.window else "不在本窗口"
                where_en = f"is at window {ticket.window}" if ticket.window else f"is {ticket.state.value}, not at " \
                                                                                  "your window"
                raise _refused(f"{ticket.number} 号{where_zh}，本窗口不能操作",
                               f"ticket {ticket.number} {where_en}; window {node.window} cannot {action} it")
            return node.window
        if node.role is NodeRole.KIOSK and action in KIOSK_ACTIONS:
            if action in ("printed", "print_failed") and ticket.issued_by != node.name:
                raise _refused("只有出票的取号机可以报告打印结果",
                               f"only the kiosk that issued ticket {ticket.number} reports its printing")
            if action == "cancel" and ticket.state is not TicketState.WAITING:
                raise _refused("取号机只能取消等候中的号", "a kiosk may only cancel a waiting ticket")
            return None
        raise _refused(f"「{node.role.value}」角色不能执行此操作", f"role {node.role.value} may not {action} a ticket")

    async def window_command(self, node: Node, verb: str, window: int, reason: str = "") -> Answer:
        """pause (with a reason), resume or sign-out; answers the window's state."""
        engine = self.engine
        commands: dict[str, Callable[[float], Decision[Any]]] = {
            "pause": lambda at: engine.pause(window, at, reason=reason, node=node.name),
            "resume": lambda at: engine.resume(window, at, node=node.name),
            "sign-out": lambda at: engine.sign_out(window, at, node=node.name),
        }
        return await self.command(commands[verb], lambda _: _answer(window_view(engine, window)))

    async def sign_in(self, node: Node, window: int, staff_id: str, pin: str) -> Answer:
        """Staff sign in with a PIN: wrong PINs count per staff id and per node, durably; a lock says how long."""
        engine = self.engine
        engine.window_config(window)
        lock = engine.pin_lock(staff_id if staff_id in self._staff else "", node.name, self._now())
        if lock is not None:
            raise self._locked(lock.retry_after_s)
        staff = self._staff.get(staff_id)
        ok = await asyncio.to_thread(verify_pin, pin, staff.pin_hash if staff else self._decoy_pin_hash)
        if not ok or staff is None:
            await self.run(lambda at: engine.pin_failed(window, staff_id, at, node=node.name))
            raise QueueError("wrong_pin", "工号或密码错误", "unknown staff id or wrong PIN", 401)
        return await self.command(lambda at: engine.sign_in(window, staff_id, at, node=node.name),
                                   lambda _: _answer(window_view(engine, window)))

    @staticmethod
    def _locked(retry_after_s: int) -> QueueError:
        return QueueError("too_many_attempts", f"密码错误次数过多，请 {retry_after_s} 秒后再试",
                          f"too many wrong PINs; try again in {retry_after_s} s", 429, {"retry_after_s": retry_after_s})

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

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        """The public view of today's ticket or a recent day's (``day_over`` then says the day has ended)."""
        ticket = self.engine.find_ticket(ticket_id)
        if ticket is None:
            raise QueueError("ticket_not_found", "号票不存在", "ticket does not exist", 404)
        view = ticket_view(self.engine, ticket, self.clock())
        await self._durable(self.engine.last_event_id)
        return view

    async def tickets(self, *, staff: bool, state: str | None, service: str | None, after: str | None,
                      limit: int) -> Answer:
        """Today's tickets in queue order, a page at a time; ``next`` is the cursor of the following page."""
        def present() -> Answer:
            cursor = _parse_cursor(after)
            chosen = sorted((t for t in self.engine.tickets.values()
                             if (state is None or t.state == state) and (service is None or t.service == service)
                             and (cursor is None or t.sort_key > cursor)), key=lambda t: t.sort_key)
            page = chosen[:limit]
            now = self.clock()
            more = len(chosen) > limit
            return _answer({"tickets": [ticket_view(self.engine, t, now, staff=staff) for t in page],
                            "next": _cursor(page[-1]) if more else None})

        return await self.read(present)

    async def windows(self, *, staff: bool) -> Answer:
        """Every window's state; who is signed in (a staff id) only for windows and managers."""
        def present() -> Answer:
            views = [window_view(self.engine, w.number) for w in self.hall.windows]
            if not staff:
                for view in views:
                    view["staff"] = ""
                    view["signed_in"] = bool(self.engine.windows[view["number"]].staff)
            return _answer({"windows": views})

        return await self.read(present)

    async def queues(self) -> Answer:
        return await self.read(lambda: _answer({"day": self.engine.day, "last_event_id": self.last_durable_id,
                                                 "queues": [queue_view(self.engine, s.code)
                                                            for s in self.hall.services]}))


def _cursor(ticket: Ticket) -> str:
    rank, queue_time, seq = ticket.sort_key
    return f"{rank}_{queue_time!r}_{seq}"


def _parse_cursor(text: str | None) -> tuple[int, float, int] | None:
    if text is None:
        return None
    try:
        rank, queue_time, seq = text.split("_")
        return int(rank), float(queue_time), int(seq)
    except ValueError:
        raise QueueError("invalid_cursor", "分页游标无效", "after must be the 'next' cursor of a previous page",
                         400) from None
