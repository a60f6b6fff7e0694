"""The event log's record: every change to the hall is one versioned, typed, attributed event.

The log is the truth: state, statistics and the audit trail (流程追溯) are derived by replaying it.
An event is plain JSON-able data so that every store and every client reads the same thing; new kinds
(ratings, appointments, alerts, device health) add new ``type`` values, and a changed payload bumps
``v`` so old events keep their meaning on replay.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

# Ticket lifecycle
TICKET_ISSUED = "ticket.issued"
TICKET_CALLED = "ticket.called"
TICKET_RECALLED = "ticket.recalled"
TICKET_SKIPPED = "ticket.skipped"
TICKET_REQUEUED = "ticket.requeued"
TICKET_STARTED = "ticket.started"
TICKET_FINISHED = "ticket.finished"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_CANCELLED = "ticket.cancelled"
TICKET_PRINTED = "ticket.printed"  # the kiosk's confirmation (or failure) of the paper ticket
TICKET_RETURNED = "ticket.returned"  # its window closed while it was called or served: back to the line head
# Windows and staff
WINDOW_SIGNED_IN = "window.signed_in"
WINDOW_SIGNED_OUT = "window.signed_out"
WINDOW_PAUSED = "window.paused"
WINDOW_RESUMED = "window.resumed"
STAFF_PIN_FAILED = "staff.pin_failed"  # a wrong PIN at sign-in; counted per staff id and per node
# Calendar
DAY_ROLLED = "day.rolled"
# Appointments (预约)
APPOINTMENT_BOOKED = "appointment.booked"
APPOINTMENT_CANCELLED = "appointment.cancelled"
APPOINTMENT_CHECKED_IN = "appointment.checked_in"  # the priority ticket is issued in the same command
APPOINTMENT_NO_SHOW = "appointment.no_show"
APPOINTMENT_DUE = "appointment.due"  # the slot of an early check-in started: its waiting ticket moves to the front
# 好差评 ratings and the case ledger (差评 follow-ups, 办不成事 complaints, 帮办代办 matters)
RATING_GIVEN = "rating.given"
CASE_OPENED = "case.opened"
CASE_STEP = "case.step"  # assign, start, contact, rectify, resolve, close, decline, appeal, uphold, overturn
CASE_OVERDUE = "case.overdue"  # decided on a tick: its deadline passed while it was still open
# Alerts (预警)
ALERT_RAISED = "alert.raised"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_RESOLVED = "alert.resolved"
ALERT_CLOSED = "alert.closed"
# Nodes and their devices (only transitions; heartbeats stay in memory)
DEVICE_STATE = "device.state"
# Self-service
CERTIFICATE_PRINTED = "certificate.printed"
CERTIFICATE_RATED = "certificate.rated"  # 好差评 of a delivered self-service print, asked on the kiosk after it


@dataclass(frozen=True)
class Event:
    """One durable change. ``id`` is the log position (1, 2, …), gap-free, assigned by the engine."""

    id: int
    type: str
    at: float  # UTC instant, seconds since the epoch
    data: dict[str, Any]
    node: str = ""  # which node asked
    staff: str = ""  # which staff member acted (window actions)
    v: int = SCHEMA_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "v": self.v, "at": self.at,
                "at_iso": dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat().replace("+00:00", "Z"),
                "node": self.node, "staff": self.staff, "data": self.data}

    def data_json(self) -> str:
        """The payload as the log stores it, encoded once (the engine checks it before applying)."""
        cached: str | None = self.__dict__.get("_data_json")
        if cached is None:
            cached = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
            object.__setattr__(self, "_data_json", cached)  # a cache, not state: the event stays frozen
        return cached

    @classmethod
    def from_row(cls, id: int, type: str, v: int, at: float, node: str, staff: str, data: str) -> Event:
        """An event read back from the log (a replay builds ~100,000 of them: no frozen ``__init__`` per field)."""
        try:
            payload, end = _raw_decode(data)
        except ValueError:
            payload, end = None, -1
        if end != len(data):  # not exactly one compact JSON value: json.loads gives the same error as before
            payload = json.loads(data)
        event = object.__new__(cls)
        event.__dict__.update(id=id, type=type, at=at, data=payload, node=node, staff=staff, v=v)
        return event


_raw_decode = json.JSONDecoder().raw_decode  # the log's payloads are our own compact json.dumps text

