"""Appointments (预约): bookings of a service's slots, check-in at a kiosk, no-shows decided by the tick.

A booking holds one place of a slot (``BookingRules.capacity`` per slot; the rest of the slot's
tickets stay for walk-ins). Its 6-digit check-in code is derived from the booking id in the command
and kept in the event, so a replay gives the same code. Check-in is the only way to an appointment
ticket: one command emits ``appointment.checked_in`` and then the ``ticket.issued`` of priority
``appointment``.

When it is called: a ticket checked in on time (from the slot start until ``checkin_late_minutes``
after it) goes to the front of its service's line at once, oldest first with green-channel tickets.
A ticket checked in early (from ``checkin_early_minutes`` before the slot start) waits as a normal
ticket in the ordinary line, in check-in order, and is moved to the front when its slot starts
(``appointment.due``, decided by the tick, so within a second of the slot start): an early arrival
never goes ahead of walk-ins before the time it booked. Earlier than that, check-in is refused with the
time to come back; later, it is refused with the offer of a normal ticket (never issued silently).
A booking not checked in by slot end + ``no_show_grace_minutes`` becomes ``no_show`` on a tick.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from config.model import Service
from queue_server.engine import events as ev
from queue_server.engine.commands import CommandBase, command
from queue_server.engine.domains import Domain
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.state import Priority, Ticket, TicketState

if TYPE_CHECKING:
    from queue_server.engine.engine import QueueEngine
    from queue_server.engine.picture import HallPicture

SLOT_FORMAT = "%Y-%m-%dT%H:%M"  # ISO local time of the hall, minutes only
NO_SHOW_DAYS = 90  # managers see each holder's no-shows over this many days
PAST_DAYS_KEPT = 7  # bookings of closed days stay readable this long (the log keeps all of them)


class AppointmentState(StrEnum):
    """Where a booking stands; only ``booked`` bookings can still be checked in, cancelled or missed."""

    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


@dataclass(slots=True)
class Appointment:
    """One booking; ``holder_key`` is the HMAC of the ID number, ``holder_masked`` the masked name."""

    id: str
    service: str
    day: str
    slot_start: str
    slot_end: str
    start_at: float  # UTC instants of the slot
    end_at: float
    holder_key: str
    holder_masked: str
    code: str
    booked_at: float
    booked_by: str
    state: AppointmentState = AppointmentState.BOOKED
    ticket: str = ""
    checked_in_at: float | None = None
    cancel_reason: str = ""

    def view(self) -> dict[str, Any]:
        """What the booking channel, the kiosk and managers see: masked data only, never the holder key."""
        return {"id": self.id, "service": self.service, "day": self.day, "slot_start": self.slot_start,
                "slot_end": self.slot_end, "state": self.state.value, "code": self.code,
                "holder_masked": self.holder_masked, "ticket": self.ticket or None, "booked_at": self.booked_at,
                "checked_in_at": self.checked_in_at, "cancel_reason": self.cancel_reason}


class CheckIn(NamedTuple):
    """The outcome of a check-in: the booking and its ticket; ``existing`` when it was checked in before."""

    appointment: Appointment
    ticket: Ticket
    existing: bool


class AppointmentBook(Domain):
    """Every booking of the recent past and the future, with the indexes the rules need (O(1) per event)."""

    name = "appointments"

    def __init__(self, picture: HallPicture) -> None:
        super().__init__(picture)
        self.appointments: dict[str, Appointment] = {}
        self.slot_taken: dict[tuple[str, str], int] = {}  # (service, slot_start) → open bookings
        self.held: dict[tuple[str, str], int] = {}  # (service, day) → open bookings: places walk-ins may not take
        self.by_holder: dict[tuple[str, str, str], str] = {}  # (holder_key, service, day) → open booking
        self.by_code: dict[str, str] = {}  # code → booked (or today's checked-in) booking
        self.no_shows: dict[str, deque[float]] = {}  # holder_key → instants of no-shows, last NO_SHOW_DAYS
        self._deadlines: list[tuple[float, str]] = []  # heap: (slot end + grace, id); stale entries popped lazily
        self._due: list[tuple[float, str]] = []  # heap: (slot start, id) of tickets checked in early
        self.waiting_due: set[str] = set()  # bookings whose early ticket still waits in the ordinary line

    # ================================================================ queries
    def get(self, appointment_id: str) -> Appointment:
        appointment = self.appointments.get(appointment_id)
        if appointment is None:
            raise QueueError("appointment_not_found", "预约不存在", "no such appointment", 404)
        return appointment

    def select(self, day: str | None, service: str | None, state: str | None) -> list[Appointment]:
        """Bookings in slot order, filtered (a listing, not a hot path: a scan of the kept bookings)."""
        chosen = [a for a in self.appointments.values() if (day is None or a.day == day)
                  and (service is None or a.service == service) and (state is None or a.state == state)]
        return sorted(chosen, key=lambda a: (a.start_at, a.service, a.booked_at, a.id))

    def no_show_count(self, holder_key: str, at: float) -> int:
        """The holder's no-shows in the last NO_SHOW_DAYS days before ``at``."""
        since = at - NO_SHOW_DAYS * 86400
        return sum(1 for t in self.no_shows.get(holder_key, ()) if t > since)

    def holder_bookings(self, holder_key: str, day: str) -> list[Appointment]:
        """The holder's open bookings of ``day`` (one per service at most)."""
        found = []
        for service in self.picture.hall.services:
            appointment_id = self.by_holder.get((holder_key, service.code, day))
            if appointment_id is not None:
                found.append(self.appointments[appointment_id])
        return found

    # ================================================================ apply
    def _on_booked(self, e: Event) -> None:
        d = e.data
        appointment = Appointment(
            id=d["appointment"], service=d["service"], day=d["day"], slot_start=d["slot_start"],
            slot_end=d["slot_end"], start_at=d["start_at"], end_at=d["end_at"], holder_key=d["holder_key"],
            holder_masked=d["holder_masked"], code=d["code"], booked_at=e.at, booked_by=e.node)
        self.appointments[appointment.id] = appointment
        slot = (appointment.service, appointment.slot_start)
        self.slot_taken[slot] = self.slot_taken.get(slot, 0) + 1
        day = (appointment.service, appointment.day)
        self.held[day] = self.held.get(day, 0) + 1
        self.by_holder[(appointment.holder_key, appointment.service, appointment.day)] = appointment.id
        self.by_code[appointment.code] = appointment.id
        grace = self.picture.service(appointment.service).booking.no_show_grace_minutes
        heapq.heappush(self._deadlines, (appointment.end_at + grace * 60, appointment.id))

    def _release(self, appointment: Appointment) -> None:
        """The booking no longer holds its slot place, its holder's day or its code."""
        slot = (appointment.service, appointment.slot_start)
        self.slot_taken[slot] -= 1
        if not self.slot_taken[slot]:
            del self.slot_taken[slot]
        day = (appointment.service, appointment.day)
        self.held[day] -= 1
        if not self.held[day]:
            del self.held[day]
        holder = (appointment.holder_key, appointment.service, appointment.day)
        if self.by_holder.get(holder) == appointment.id:
            del self.by_holder[holder]
        if self.by_code.get(appointment.code) == appointment.id:
            del self.by_code[appointment.code]

    def _on_cancelled(self, e: Event) -> None:
        appointment = self.appointments[e.data["appointment"]]
        appointment.state = AppointmentState.CANCELLED
        appointment.cancel_reason = e.data["reason"]
        self._release(appointment)

    def _on_checked_in(self, e: Event) -> None:
        appointment = self.appointments[e.data["appointment"]]
        appointment.state = AppointmentState.CHECKED_IN
        appointment.ticket = e.data["ticket"]
        appointment.checked_in_at = e.at
        if e.at < appointment.start_at:  # early: its ticket waits in the ordinary line until the slot starts
            self.waiting_due.add(appointment.id)
            heapq.heappush(self._due, (appointment.start_at, appointment.id))

    def _on_no_show(self, e: Event) -> None:
        appointment = self.appointments[e.data["appointment"]]
        appointment.state = AppointmentState.NO_SHOW
        self._release(appointment)
        self.no_shows.setdefault(appointment.holder_key, deque()).append(e.at)

    def _on_due(self, e: Event) -> None:
        """The slot of an early check-in started: its ticket, if still waiting in the ordinary line, goes first."""
        self.waiting_due.discard(e.data["appointment"])
        self._move(e.data["ticket"], rank=0)

    def _move(self, ticket_id: str, rank: int) -> None:
        picture = self.picture
        ticket = picture.tickets.get(ticket_id)
        if ticket is None or ticket.state is not TicketState.WAITING or ticket.target_window is not None:
            return
        picture._dequeue(ticket)
        ticket.rank = rank
        picture._enqueue(ticket)

    handlers: ClassVar[dict[str, Callable[..., None]]] = {
        ev.APPOINTMENT_BOOKED: _on_booked, ev.APPOINTMENT_CANCELLED: _on_cancelled,
        ev.APPOINTMENT_CHECKED_IN: _on_checked_in, ev.APPOINTMENT_NO_SHOW: _on_no_show, ev.APPOINTMENT_DUE: _on_due}

    def observes(self, type_: str) -> bool:
        return type_ in _OBSERVED

    def observe(self, event: Event) -> None:
        """An early check-in's ticket starts in the ordinary line; a day roll-over forgets what is past."""
        if event.type == ev.TICKET_ISSUED:
            appointment_id = event.data.get("appointment_id")
            if appointment_id in self.waiting_due:
                self._move(event.data["ticket"], rank=1)
        elif event.type in (ev.TICKET_CALLED, ev.TICKET_CANCELLED, ev.TICKET_TRANSFERRED):
            ticket = self.picture.tickets.get(event.data.get("ticket", ""))
            if ticket is not None and ticket.appointment_id in self.waiting_due:
                self.waiting_due.discard(ticket.appointment_id)  # called (or gone) before its slot: no move later
        elif event.type == ev.DAY_ROLLED:
            self._forget(event)

    def _forget(self, event: Event) -> None:
        today = dt.date.fromisoformat(event.data["to"])
        keep_from = (today - dt.timedelta(days=PAST_DAYS_KEPT)).isoformat()
        for appointment in list(self.appointments.values()):
            if appointment.day < today.isoformat() and appointment.state is AppointmentState.CHECKED_IN:
                if self.by_code.get(appointment.code) == appointment.id:
                    del self.by_code[appointment.code]  # a past day's code is free again
                day_key = (appointment.holder_key, appointment.service, appointment.day)
                if self.by_holder.get(day_key) == appointment.id:
                    del self.by_holder[day_key]
            if appointment.day < keep_from and appointment.state is not AppointmentState.BOOKED:
                del self.appointments[appointment.id]
        self.waiting_due.clear()  # yesterday's tickets were cancelled at the day's end
        since = event.at - NO_SHOW_DAYS * 86400
        for holder, instants in list(self.no_shows.items()):
            while instants and instants[0] <= since:
                instants.popleft()
            if not instants:
                del self.no_shows[holder]

    def tick(self, engine: QueueEngine, at: float) -> None:
        """No-shows past their grace, and early check-ins whose slot has started (heap tops only: O(1) idle)."""
        while self._due and self._due[0][0] <= at:
            appointment_id = self._due[0][1]
            if appointment_id in self.waiting_due:
                booked = self.appointments[appointment_id]
                engine._emit(ev.APPOINTMENT_DUE, at, {"appointment": appointment_id, "service": booked.service,
                                                      "ticket": booked.ticket})
            heapq.heappop(self._due)  # an index entry, settled: the event (or its absence) is what counts
        while self._deadlines and self._deadlines[0][0] <= at:
            appointment_id = self._deadlines[0][1]
            missed = self.appointments.get(appointment_id)
            if missed is not None and missed.state is AppointmentState.BOOKED:
                engine._emit(ev.APPOINTMENT_NO_SHOW, at, {
                    "appointment": appointment_id, "service": missed.service,
                    "holder_key": missed.holder_key, "slot_start": missed.slot_start})
            heapq.heappop(self._deadlines)


_OBSERVED = frozenset({ev.TICKET_ISSUED, ev.TICKET_CALLED, ev.TICKET_CANCELLED, ev.TICKET_TRANSFERRED, ev.DAY_ROLLED})


def _minutes(moment: dt.time) -> int:
    """Minutes since midnight; the end of day (24:00) is 1440."""
    return 1440 if moment == dt.time.max else moment.hour * 60 + moment.minute


def _check_code(appointment_id: str, taken: dict[str, str]) -> str:
    """A 6-digit code derived from the booking id, the first not held by another open booking."""
    for attempt in itertools.count():
        digest = hashlib.sha256(f"{appointment_id}:{attempt}".encode()).digest()
        code = f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"
        if code not in taken:
            return code
    raise AssertionError("unreachable")


class AppointmentCommands(CommandBase):
    """Booking, cancelling and checking in; mixed into QueueEngine (which provides the ticket issuing core)."""

    appointments: AppointmentBook

    if TYPE_CHECKING:
        def _admit(self, service: Service, at: float, holder_key: str, *, booked: bool = False) -> int | None: ...

        def _emit_issued(self, service: Service, at: float, priority: Priority, slot: int | None, *, node: str,
                         holder_key: str, holder_masked: str, appointment_id: str = "", green_reason: str = "",
                         ticket_id: str = "") -> Ticket: ...

    # ---------------------------------------------------------------- slots
    def booking_slots(self, service: Service, day: dt.date) -> Iterator[tuple[int, int]]:
        """The bookable slots of ``day`` as (start, end) minutes since midnight: whole slots of the sessions."""
        length = service.booking.slot_minutes
        for span in self.calendar.sessions(service, day):
            start, end = _minutes(span.start), _minutes(span.end)
            if span.start.second or span.start.microsecond:
                start += 1
            while start + length <= end:
                yield start, start + length
                start += length

    def _is_slot(self, service: Service, day: dt.date, minute: int) -> bool:
        length = service.booking.slot_minutes
        for span in self.calendar.sessions(service, day):
            start = _minutes(span.start) + (1 if span.start.second or span.start.microsecond else 0)
            if start <= minute and (minute - start) % length == 0 and minute + length <= _minutes(span.end):
                return True
        return False

    def slot_instant(self, day: dt.date, minute: int) -> tuple[float, str]:
        """The UTC instant and the ISO local text of ``minute`` after the start of ``day`` (1440: next midnight)."""
        local = (dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)).replace(tzinfo=self.calendar.zone)
        return local.timestamp(), local.strftime(SLOT_FORMAT)

    # ---------------------------------------------------------------- commands
    @command
    def book(self, service_code: str, slot_start: str, at: float, *, holder_key: str, holder_masked: str = "",
             node: str = "") -> Appointment:
        """Book one place of a slot for a holder, by the service's BookingRules (refusals in the module docs)."""
        service = self.service(service_code)
        if not service.appointments:
            raise QueueError("appointments_not_taken", f"「{service.name}」不接受预约",
                             f"{service.name_en or service.code} takes no appointments", 422)
        if not holder_key:
            raise QueueError("holder_required", "预约需要办事人身份标识", "a booking needs the holder_key", 422)
        try:
            start_local = dt.datetime.strptime(slot_start, SLOT_FORMAT)
        except ValueError:
            raise QueueError("invalid_slot_start", "预约时段格式错误", "slot_start must be local time as "
                             "YYYY-MM-DDTHH:MM", 400, {"field": "slot_start"}) from None
        day, minute = start_local.date(), start_local.hour * 60 + start_local.minute
        rules = service.booking
        start_at, start_text = self.slot_instant(day, minute)
        end_at, end_text = self.slot_instant(day, minute + rules.slot_minutes)
        if start_at <= at:
            raise QueueError("slot_unavailable", "该时段已过，请选择以后的时段",
                             f"the slot {slot_start} has already begun or passed", 409, {"slot_start": slot_start})
        assert self.day is not None
        opens_on = day - dt.timedelta(days=rules.days_ahead)
        if opens_on > dt.date.fromisoformat(self.day):
            raise QueueError("booking_not_open", f"{day.isoformat()} 的预约尚未开放，{opens_on.isoformat()} 起可约",
                             f"bookings for {day.isoformat()} open on {opens_on.isoformat()} "
                             f"({rules.days_ahead} days ahead)", 409, {"opens_on": opens_on.isoformat()})
        if not self._is_slot(service, day, minute):
            raise QueueError("slot_unavailable", f"「{service.name}」在 {slot_start} 没有可预约的时段",
                             f"{service.name_en or service.code} has no {rules.slot_minutes}-minute slot starting "
                             f"{slot_start} (outside its hours or not a slot boundary)", 409,
                             {"slot_start": slot_start})
        other = self.appointments.by_holder.get((holder_key, service.code, day.isoformat()))
        if other is not None:
            raise QueueError("already_booked", f"该办事人当天已预约「{service.name}」",
                             f"the holder already has a booking for {service.name_en or service.code} that day", 409,
                             {"appointment": other, "slot_start": self.appointments.appointments[other].slot_start})
        if self.appointments.slot_taken.get((service.code, start_text), 0) >= rules.capacity:
            raise QueueError("slot_full", f"{slot_start} 时段已约满", f"all {rules.capacity} places of the slot "
                             f"{slot_start} are booked", 409, {"slot_start": slot_start, "capacity": rules.capacity})
        appointment_id = self._new_id()
        self._emit(ev.APPOINTMENT_BOOKED, at, {
            "appointment": appointment_id, "service": service.code, "day": day.isoformat(),
            "slot_start": start_text, "slot_end": end_text, "start_at": start_at, "end_at": end_at,
            "holder_key": holder_key, "holder_masked": holder_masked,
            "code": _check_code(appointment_id, self.appointments.by_code)}, node)
        return self.appointments.appointments[appointment_id]

    @command
    def cancel_appointment(self, appointment_id: str, at: float, *, reason: str = "", node: str = "") -> Appointment:
        """Cancel a booking not yet checked in (cancelling a cancelled one again changes nothing)."""
        appointment = self.appointments.get(appointment_id)
        if appointment.state is AppointmentState.CANCELLED:
            return appointment
        if appointment.state is not AppointmentState.BOOKED:
            raise QueueError("appointment_not_open", f"预约状态为「{appointment.state.value}」，不能取消",
                             f"the appointment is {appointment.state.value}; it cannot be cancelled", 409,
                             {"state": appointment.state.value})
        self._emit(ev.APPOINTMENT_CANCELLED, at, {"appointment": appointment.id, "service": appointment.service,
                                                  "reason": reason or "cancelled"}, node)
        return appointment

    def find_booking(self, *, appointment_id: str = "", code: str = "", holder_key: str = "",
                     service: str = "") -> Appointment:
        """The booking a kiosk means: by id, by its check-in code, or the holder's booking today (+ service)."""
        book = self.appointments
        if appointment_id:
            return book.get(appointment_id)
        if code:
            found = book.by_code.get(code)
            if found is None:
                raise QueueError("appointment_not_found", "预约码无效", "no open appointment has this code", 404)
            return book.appointments[found]
        assert self.day is not None
        candidates = [a for a in book.holder_bookings(holder_key, self.day) if not service or a.service == service]
        if not candidates:
            raise QueueError("appointment_not_found", "未找到该办事人今天的预约",
                             "the holder has no appointment today" + (f" for {service}" if service else ""), 404)
        if len(candidates) > 1:
            raise QueueError("appointment_ambiguous", "该办事人今天有多个预约，请选择业务",
                             "the holder has several appointments today; give the service", 409,
                             {"services": [a.service for a in candidates]})
        return candidates[0]

    @command
    def check_in(self, at: float, *, appointment_id: str = "", code: str = "", holder_key: str = "",
                 service: str = "", node: str = "") -> CheckIn:
        """Check a booking in and issue its appointment ticket (or give the ticket of an earlier check-in)."""
        appointment = self.find_booking(appointment_id=appointment_id, code=code, holder_key=holder_key,
                                        service=service)
        if appointment.state is AppointmentState.CHECKED_IN:
            ticket = self.find_ticket(appointment.ticket)
            if ticket is None:
                raise QueueError("appointment_checked_in", "该预约已签到", "the appointment was checked in already",
                                 409, {"ticket": appointment.ticket})
            return CheckIn(appointment, ticket, True)
        if appointment.state is AppointmentState.CANCELLED:
            raise QueueError("appointment_cancelled", "该预约已取消", "the appointment was cancelled", 409)
        cfg = self.service(appointment.service)
        rules = cfg.booking
        opens = appointment.start_at - rules.checkin_early_minutes * 60
        if at < opens:
            come_back = self.calendar.local(opens).strftime(SLOT_FORMAT)
            raise QueueError("checkin_too_early", f"签到时间未到，请于 {come_back} 后签到",
                             f"too early to check in; come back from {come_back}", 409,
                             {"come_back_at": come_back, "slot_start": appointment.slot_start})
        if appointment.state is AppointmentState.NO_SHOW or at > appointment.start_at + rules.checkin_late_minutes * 60:
            raise QueueError("checkin_too_late", "已超过预约签到时间，预约作废；可改取普通号排队",
                             f"too late to check in for the {appointment.slot_start} slot; a normal ticket of "
                             f"{cfg.name_en or cfg.code} can be taken instead", 409,
                             {"offer": "normal_ticket", "service": cfg.code, "slot_start": appointment.slot_start})
        other_id = self._holders.get((appointment.holder_key, cfg.code))
        if other_id is not None:
            other = self.tickets[other_id]
            raise QueueError("holder_has_ticket", f"该办事人已持有 {other.number} 号（同一业务），请先取消再签到",
                             f"the holder already has ticket {other.number} for this service; cancel it to check in",
                             409, {"ticket": other.id, "number": other.number})
        slot = self._admit(cfg, at, appointment.holder_key, booked=True)  # nothing emitted on refusal
        ticket_id = self._new_id()
        self._emit(ev.APPOINTMENT_CHECKED_IN, at, {"appointment": appointment.id, "service": cfg.code,
                                                   "ticket": ticket_id}, node)
        ticket = self._emit_issued(cfg, at, Priority.APPOINTMENT, slot, node=node, holder_key=appointment.holder_key,
                                   holder_masked=appointment.holder_masked, appointment_id=appointment.id,
                                   ticket_id=ticket_id)
        return CheckIn(appointment, ticket, False)
