"""The appointment desk of the hall service: booking, cancelling, check-in and the listings managers read."""

from __future__ import annotations

from typing import Any

from config.model import Node, NodeRole
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks import DeskBase
from queue_server.engine.appointments import NO_SHOW_DAYS, Appointment, CheckIn
from queue_server.views import ticket_view


def appointment_view(appointment: Appointment, *, code: bool = False) -> dict[str, Any]:
    """A booking as the API shows it: masked data only; the check-in code only in the booking's own answer."""
    view = appointment.view()
    if not code:
        del view["code"]
    return view


class AppointmentDesk(DeskBase):
    """HallService's part for appointments (预约); every command durable before it is answered."""

    async def book(self, node: Node, key: str | None, fingerprint: bytes, *, service: str,
                   slot_start: str, holder_key: str, holder_masked: str) -> Answer:
        """The booking channel (or a manager) books a slot; 201 with the 6-digit check-in code."""
        hall = self
        return await hall.command(
            lambda at: hall.engine.book(service, slot_start, at, holder_key=holder_key, holder_masked=holder_masked,
                                        node=node.name),
            lambda appointment: _answer(appointment_view(appointment, code=True), 201),
            node=node.name, key=key, fingerprint=fingerprint)

    async def cancel_appointment(self, node: Node, key: str | None, fingerprint: bytes,
                                 appointment_id: str, reason: str) -> Answer:
        hall = self
        return await hall.command(
            lambda at: hall.engine.cancel_appointment(appointment_id, at, reason=reason, node=node.name),
            lambda appointment: _answer(appointment_view(appointment)),
            node=node.name, key=key, fingerprint=fingerprint)

    async def check_in(self, node: Node, key: str | None, fingerprint: bytes, *, appointment_id: str = "",
                       code: str = "", holder_key: str = "", service: str = "") -> Answer:
        """A kiosk checks a booking in: 201 with the appointment ticket, 200 with the same ticket again."""
        hall = self

        def present(outcome: CheckIn) -> Answer:
            view = ticket_view(hall.engine, outcome.ticket, hall.clock())
            view.update(existing=outcome.existing, appointment=appointment_view(outcome.appointment))
            return _answer(view, 200 if outcome.existing else 201)

        return await hall.command(
            lambda at: hall.engine.check_in(at, appointment_id=appointment_id, code=code, holder_key=holder_key,
                                            service=service, node=node.name),
            present, node=node.name, key=key, fingerprint=fingerprint)

    async def appointments(self, node: Node, *, day: str | None, service: str | None,
                           state: str | None) -> Answer:
        """Bookings in slot order; a manager also sees each holder's no-shows of the last 90 days."""
        hall = self
        def present() -> Answer:
            book, now = hall.engine.appointments, hall.clock()
            rows = []
            for appointment in book.select(day, service, state):
                row = appointment_view(appointment)
                if node.role is NodeRole.MANAGER:
                    row["holder_no_shows"] = book.no_show_count(appointment.holder_key, now)
                rows.append(row)
            return _answer({"appointments": rows})

        return await hall.read(present)

    async def appointment(self, appointment_id: str) -> Answer:
        hall = self
        return await hall.read(lambda: _answer(appointment_view(hall.engine.appointments.get(appointment_id))))

    async def no_shows(self, holder_key: str) -> Answer:
        """One holder's no-shows over the last 90 days (the holder key is the HMAC, never an ID number)."""
        hall = self
        return await hall.read(lambda: _answer({
            "holder_key": holder_key, "days": NO_SHOW_DAYS,
            "no_shows": hall.engine.appointments.no_show_count(holder_key, hall.clock())}))
