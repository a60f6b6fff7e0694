"""The hall's picture as the event log paints it: tickets, waiting lines, windows, counters.

``apply`` is the only place this state changes, and it is all a restart does, so the state after a
replay is the state before the crash. Commands (queue_server/engine/engine.py) read the picture to
decide, then emit events that come back through ``apply``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from config.model import Hall, Service, Window
from queue_server.engine import events as ev
from queue_server.engine.calendar import HallCalendar
from queue_server.engine.cases import CaseLedger
from queue_server.engine.domains import Domain
from queue_server.engine.errors import QueueError, not_found
from queue_server.engine.events import Event
from queue_server.engine.figures import Figures
from queue_server.engine.ratings import RatingBook
from queue_server.engine.state import (
    OPEN_STATES,
    Priority,
    Ticket,
    TicketState,
    WaitingLine,
    WindowState,
    priority_rank,
)

D = TypeVar("D", bound=Domain)
PAST_DAYS_KEPT = 7  # closed days whose tickets stay readable (the status page behind a printed QR code)
PIN_FAILURES_PER_STAFF = 5  # wrong PINs for one staff id within PIN_FAILURE_WINDOW_S before a lock
PIN_FAILURES_PER_NODE = 10  # wrong PINs from one node (whatever staff id it tries) before a lock
PIN_FAILURE_WINDOW_S = 300.0


@dataclass(frozen=True)
class PinLock:
    """Sign-in is locked for a while: by too many wrong PINs for this staff id, or from this node."""

    scope: str  # "staff" | "node"
    retry_after_s: int


class HallPicture:
    """One hall's live state for the current business day (history stays in the log)."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.calendar = HallCalendar(hall)
        self._services = {s.code: s for s in hall.services}
        self._windows_cfg = {w.number: w for w in hall.windows}
        self._staff = {s.id: s for s in hall.staff}
        self.windows = {w.number: WindowState(w.number) for w in hall.windows}
        self.tickets: dict[str, Ticket] = {}
        self.lines: dict[tuple[str, int], WaitingLine] = {
            (s.code, rank): WaitingLine() for s in hall.services for rank in (0, 1)}
        self.window_lines: dict[int, WaitingLine] = {w.number: WaitingLine() for w in hall.windows}
        self.day: str | None = None
        self.last_event_id = 0
        self.last_at = 0.0  # the latest instant in the log (the clock may have stepped back since)
        self._numbers: dict[str, int] = {}  # prefix → last number today
        self._issued: dict[str, int] = {}  # service → tickets issued today
        self._slot_issued: dict[tuple[str, int], int] = {}
        self._holders: dict[tuple[str, str], str] = {}  # (holder_key, service) → open ticket id
        self._active: dict[str, int] | None = None  # cache of active_windows, reset by window events
        self.past: dict[str, Ticket] = {}  # tickets of the last PAST_DAYS_KEPT closed days, read-only
        self._past_days: deque[list[str]] = deque()
        self._pin_failures: dict[tuple[str, str], deque[float]] = {}  # ("staff"|"node", name) → instants
        self.domains: list[Domain] = []
        self._domain_handlers: dict[str, Callable[[Event], None]] = {}
        self._observers: list[Domain] = []
        self._observers_of: dict[str, list[Domain]] = {}  # event type → the observers that want it (cache)
        # domains: self.name = self._add(Name(self)), see queue_server/engine/domains.py
        self.ratings = self._add(RatingBook(self))
        self.cases = self._add(CaseLedger(self))
        from queue_server.engine.appointments import AppointmentBook  # here: its command mixin imports the picture
        self.appointments = self._add(AppointmentBook(self))
        self.figures = self._add(Figures(self))
        from queue_server.engine.alerts import AlertBoard  # here, not at the top: alerts.py imports commands.py
        from queue_server.engine.audit import TicketIndex
        from queue_server.engine.nodes import NodeBoard
        self.nodes: NodeBoard = self._add(NodeBoard(self))
        self.alerts: AlertBoard = self._add(AlertBoard(self))  # after nodes: its tick reads their faults
        self.audit: TicketIndex = self._add(TicketIndex(self))
        from queue_server.engine.certificates import CertificateLedger
        self.certificates: CertificateLedger = self._add(CertificateLedger(self))

    def _add(self, domain: D) -> D:
        """Register a domain: its event types, and whether it watches every event."""
        self.domains.append(domain)
        for type_, method in type(domain).handlers.items():
            if type_ in self._domain_handlers or type_ in _APPLY:
                raise ValueError(f"event type {type_!r} has two owners")
            self._domain_handlers[type_] = method.__get__(domain)
        if type(domain).observe is not Domain.observe:
            self._observers.append(domain)
            self._observers_of = {}
        return domain

    @property
    def _observers(self) -> list[Domain]:
        return self.__observers

    @_observers.setter
    def _observers(self, observers: list[Domain]) -> None:
        self.__observers = observers
        self._observers_of = {}

    # ================================================================ queries
    def ticket(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise not_found("号票", "ticket", "ticket_not_found")
        return ticket

    def find_ticket(self, ticket_id: str) -> Ticket | None:
        """Today's ticket, or one of a recently closed day (its ``day`` says which), for reading only."""
        return self.tickets.get(ticket_id) or self.past.get(ticket_id)

    def pin_lock(self, staff_id: str, node: str, at: float) -> PinLock | None:
        """Whether sign-in is locked now for this staff id (known ids only) or from this node."""
        for scope, name, allowed in (("staff", staff_id, PIN_FAILURES_PER_STAFF),
                                     ("node", node, PIN_FAILURES_PER_NODE)):
            recent = [t for t in self._pin_failures.get((scope, name), ()) if at - t < PIN_FAILURE_WINDOW_S]
            if name and len(recent) >= allowed:
                return PinLock(scope, max(1, int(PIN_FAILURE_WINDOW_S - (at - recent[-allowed])) + 1))
        return None

    def service(self, code: str) -> Service:
        service = self._services.get(code)
        if service is None:
            raise QueueError("unknown_service", f"没有「{code}」这项业务", f"unknown service {code!r}", 404)
        return service

    def window_config(self, number: int) -> Window:
        window = self._windows_cfg.get(number)
        if window is None:
            raise QueueError("unknown_window", f"没有 {number} 号窗口", f"unknown window {number}", 404)
        return window

    def waiting_count(self, service: str) -> int:
        return len(self.lines[(service, 0)]) + len(self.lines[(service, 1)])

    def ahead_of(self, ticket: Ticket) -> int:
        """People ahead of a waiting ticket in its line (0 when called or done)."""
        if ticket.state is not TicketState.WAITING:
            return 0
        if ticket.target_window is not None:
            return self.window_lines[ticket.target_window].ahead_of(ticket)
        ahead = self.lines[(ticket.service, ticket.rank)].ahead_of(ticket)
        if ticket.rank == 1:
            ahead += len(self.lines[(ticket.service, 0)])
        return ahead

    def active_windows(self, service: str) -> int:
        """Windows that could call ``service`` now (signed in, not paused); at least 1 for estimates.

        Counted for all services at once and kept until a window event changes the answer."""
        if self._active is None:
            self._active = {code: 0 for code in self._services}
            for number, cfg in self._windows_cfg.items():
                if self.windows[number].staff and not self.windows[number].paused:
                    for ws in cfg.services:
                        self._active[ws.service] += 1
        return max(self._active.get(service, 0), 1)

    def estimated_wait_s(self, service: str, ahead: int) -> int:
        minutes = self.service(service).expected_minutes
        return round(ahead * minutes * 60 / self.active_windows(service))


    def _heads(self, window: int) -> list[Ticket]:
        heads = []
        for ws in self._windows_cfg[window].services:
            for rank in (0, 1):
                head = self.lines[(ws.service, rank)].head()
                if head is not None:
                    heads.append(self.tickets[head])
        return heads

    # ================================================================ apply
    def apply(self, event: Event) -> None:
        """Change state by one event; the only place state changes, and what a restart replays."""
        if event.id != self.last_event_id + 1:
            raise ValueError(f"event {event.id} applied after {self.last_event_id}: the log has a gap")
        handler = _APPLY.get(event.type)
        if handler is not None:
            handler(self, event)
        else:
            domain_handler = self._domain_handlers.get(event.type)
            if domain_handler is None:
                raise ValueError(f"event {event.id} has unknown type {event.type!r}")
            domain_handler(event)
        self.last_event_id = event.id
        self.last_at = max(self.last_at, event.at)
        observers = self._observers_of.get(event.type)
        if observers is None:
            observers = self._observers_of[event.type] = [d for d in self._observers if d.observes(event.type)]
        for observer in observers:
            observer.observe(event)

    def _line_of(self, ticket: Ticket) -> WaitingLine:
        if ticket.target_window is not None:
            return self.window_lines[ticket.target_window]
        return self.lines[(ticket.service, ticket.rank)]

    def _enqueue(self, ticket: Ticket) -> None:
        ticket.state = TicketState.WAITING
        self._line_of(ticket).push(ticket)

    def _dequeue(self, ticket: Ticket) -> None:
        self._line_of(ticket).discard(ticket.id)

    def _close(self, ticket: Ticket, state: TicketState) -> None:
        """Move a ticket to a state in which it no longer holds a window or a line place."""
        if ticket.state is TicketState.WAITING:
            self._dequeue(ticket)
        if ticket.window is not None and self.windows[ticket.window].current == ticket.id:
            self.windows[ticket.window].current = None
        ticket.state = state
        if state not in OPEN_STATES and ticket.holder_key:
            self._release_holder(ticket)

    def _release_holder(self, ticket: Ticket) -> None:
        """The holder's open ticket of this service is no longer this one (if it still was: a skipped ticket
        cancelled later must not release the new ticket the holder took meanwhile)."""
        key = (ticket.holder_key, ticket.service)
        if self._holders.get(key) == ticket.id:
            del self._holders[key]

    def _on_day_rolled(self, e: Event) -> None:
        for ticket in list(self.tickets.values()):
            if ticket.state in OPEN_STATES or ticket.state is TicketState.SKIPPED:
                self._close(ticket, TicketState.CANCELLED)
                ticket.cancel_reason = "day_end"
        self._past_days.append(list(self.tickets))
        self.past.update(self.tickets)  # the live picture is today's; the log keeps all history
        while len(self._past_days) > PAST_DAYS_KEPT:
            for ticket_id in self._past_days.popleft():
                self.past.pop(ticket_id, None)
        self.tickets = {}
        self.lines = {key: WaitingLine() for key in self.lines}
        self.window_lines = {key: WaitingLine() for key in self.window_lines}
        for number in self.windows:  # a new day starts with every window closed: staff sign in afresh
            self.windows[number] = WindowState(number)
        self._active = None
        self._numbers.clear()
        self._issued.clear()
        self._slot_issued.clear()
        self._holders.clear()
        self.day = e.data["to"]

    def _on_issued(self, e: Event) -> None:
        d = e.data
        service = self._services[d["service"]]
        prio = Priority(d["priority"])
        ticket = Ticket(id=d["ticket"], number=d["number"], service=service.code, day=d["day"], priority=prio,
                        issued_at=e.at, queue_time=d["queue_time"], seq=e.id, holder_key=d["holder_key"],
                        holder_masked=d["holder_masked"], appointment_id=d["appointment_id"],
                        rank=priority_rank(prio, self.hall.policy.green_first), issued_by=e.node)
        self.tickets[ticket.id] = ticket  # seq is the issue event's id: issue order across services, not the number
        self._numbers[service.prefix] = d["seq"]
        self._issued[service.code] = self._issued.get(service.code, 0) + 1
        if d.get("slot") is not None:
            key = (service.code, d["slot"])
            self._slot_issued[key] = self._slot_issued.get(key, 0) + 1
        if ticket.holder_key:
            self._holders[(ticket.holder_key, service.code)] = ticket.id
        self._enqueue(ticket)

    def _on_called(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        window = e.data["window"]
        if e.data["mode"] == "next":
            heads = self._heads(window)
            for head in heads:  # the starvation counters: heads overtaken by a later ticket
                if head.id != ticket.id and (head.queue_time, head.seq) < (ticket.queue_time, ticket.seq):
                    head.bypassed += 1
            if e.data["reason"] == "weighted":
                self._advance_credits(window, heads, ticket.service)
        self._dequeue(ticket)
        ticket.state = TicketState.CALLED
        ticket.window = window
        ticket.target_window = None
        ticket.staff = e.staff
        ticket.called_at = e.at
        ticket.bypassed = 0
        state = self.windows[window]
        state.current = ticket.id
        state.last_call_at = e.at

    def _advance_credits(self, window: int, heads: list[Ticket], chosen: str) -> None:
        credits = self.windows[window].credits
        active = {t.service for t in heads if t.rank == 1}
        weights = {ws.service: ws.weight for ws in self._windows_cfg[window].services if ws.service in active}
        for service, weight in weights.items():
            credits[service] = credits.get(service, 0) + weight
        credits[chosen] = credits.get(chosen, 0) - sum(weights.values())

    def _on_recalled(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        ticket.recalls += 1
        ticket.called_at = e.at

    def _on_skipped(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        self._close(ticket, TicketState.SKIPPED)
        ticket.skipped_at = e.at

    def _on_requeued(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        ticket.requeues += 1
        ticket.window = None
        ticket.recalls = 0
        if ticket.holder_key:
            self._holders[(ticket.holder_key, ticket.service)] = ticket.id
        self._enqueue(ticket)

    def _on_started(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        ticket.state = TicketState.SERVING
        ticket.started_at = e.at

    def _on_finished(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        self._close(ticket, TicketState.FINISHED)
        ticket.finished_at = e.at

    def _on_transferred(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        if ticket.state is TicketState.WAITING:
            self._dequeue(ticket)
        elif ticket.window is not None and self.windows[ticket.window].current == ticket.id:
            self.windows[ticket.window].current = None
        if ticket.holder_key:
            self._release_holder(ticket)
            self._holders[(ticket.holder_key, e.data["to_service"])] = ticket.id
        ticket.service = e.data["to_service"]
        ticket.target_window = e.data["to_window"]
        ticket.window = None
        ticket.transfers += 1
        ticket.recalls = 0
        self._enqueue(ticket)

    def _on_cancelled(self, e: Event) -> None:
        ticket = self.tickets[e.data["ticket"]]
        self._close(ticket, TicketState.CANCELLED)
        ticket.cancel_reason = e.data["reason"]

    def _on_printed(self, e: Event) -> None:
        self.tickets[e.data["ticket"]].printed = "printed" if e.data["ok"] else "failed"

    def _on_returned(self, e: Event) -> None:
        """Back to the line it was called from, with its queue time: at or near the head."""
        ticket = self.tickets[e.data["ticket"]]
        self._close(ticket, TicketState.WAITING)
        ticket.window = None
        ticket.staff = ""
        ticket.called_at = None
        ticket.started_at = None
        ticket.recalls = 0
        self._enqueue(ticket)

    def _on_pin_failed(self, e: Event) -> None:
        for key in (("staff", e.staff), ("node", e.node)):
            if not key[1]:
                continue
            failures = self._pin_failures.setdefault(key, deque())
            failures.append(e.at)
            while failures and e.at - failures[0] >= PIN_FAILURE_WINDOW_S:
                failures.popleft()

    def _on_signed_in(self, e: Event) -> None:
        self._active = None
        self.windows[e.data["window"]].staff = e.staff
        self._pin_failures.pop(("staff", e.staff), None)

    def _on_signed_out(self, e: Event) -> None:
        self._active = None
        self.windows[e.data["window"]].staff = ""

    def _on_paused(self, e: Event) -> None:
        self._active = None
        state = self.windows[e.data["window"]]
        state.paused, state.pause_reason, state.paused_at = True, e.data["reason"], e.at

    def _on_resumed(self, e: Event) -> None:
        self._active = None
        state = self.windows[e.data["window"]]
        state.paused, state.pause_reason, state.paused_at = False, "", None


_APPLY: dict[str, Callable[[HallPicture, Event], None]] = {
    ev.DAY_ROLLED: HallPicture._on_day_rolled,
    ev.TICKET_ISSUED: HallPicture._on_issued,
    ev.TICKET_CALLED: HallPicture._on_called,
    ev.TICKET_RECALLED: HallPicture._on_recalled,
    ev.TICKET_SKIPPED: HallPicture._on_skipped,
    ev.TICKET_REQUEUED: HallPicture._on_requeued,
    ev.TICKET_STARTED: HallPicture._on_started,
    ev.TICKET_FINISHED: HallPicture._on_finished,
    ev.TICKET_TRANSFERRED: HallPicture._on_transferred,
    ev.TICKET_CANCELLED: HallPicture._on_cancelled,
    ev.TICKET_PRINTED: HallPicture._on_printed,
    ev.TICKET_RETURNED: HallPicture._on_returned,
    ev.STAFF_PIN_FAILED: HallPicture._on_pin_failed,
    ev.WINDOW_SIGNED_IN: HallPicture._on_signed_in,
    ev.WINDOW_SIGNED_OUT: HallPicture._on_signed_out,
    ev.WINDOW_PAUSED: HallPicture._on_paused,
    ev.WINDOW_RESUMED: HallPicture._on_resumed,
}
