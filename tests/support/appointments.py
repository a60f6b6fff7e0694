"""Appointment tickets for engine tests, obtained the only way there is: book a slot, then check in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_server.engine.appointments import Appointment
from queue_server.engine.engine import QueueEngine
from queue_server.engine.state import Ticket
from tests.support.engine_kit import Clock, Recorder


def next_slot(engine: QueueEngine, service: str, now: float, *, days: int = 0) -> str:
    """The ISO local start of the first bookable slot of ``service`` after ``now`` (``days`` later)."""
    local = engine.calendar.local(now)
    for offset in range(days, days + 14):
        day = local.date() + dt.timedelta(days=offset)
        for start, _end in engine.booking_slots(engine.service(service), day):
            instant, text = engine.slot_instant(day, start)
            if instant > now:
                return text
    raise AssertionError(f"{service} has no slot in the next two weeks")


def book(runner: QueueEngine | Recorder, clock: Clock, service: str = "C01", holder_key: str = "h1",
         **kwargs: Any) -> Appointment:
    """Book the next slot of ``service`` for ``holder_key`` now."""
    rec = runner if isinstance(runner, Recorder) else Recorder(runner)
    now = clock()
    slot = next_slot(rec.engine, service, now)
    appointment: Appointment = rec.do("book", service, slot, now, holder_key=holder_key, holder_masked="张*",
                                      **kwargs)
    return appointment


def checked_in(runner: QueueEngine | Recorder, clock: Clock, service: str = "C01", holder_key: str = "h1",
               node: str = "kiosk-1") -> Ticket:
    """A checked-in appointment ticket: booked now, checked in just after its slot starts (the clock moves on)."""
    rec = runner if isinstance(runner, Recorder) else Recorder(runner)
    appointment = book(rec, clock, service, holder_key)
    clock.now = max(clock.now, appointment.start_at)
    ticket: Ticket = rec.do("check_in", clock(), appointment_id=appointment.id, node=node).ticket
    return ticket
