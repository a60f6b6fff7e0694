"""What each role may see of an event on the stream: one whitelist per event type and view.

Displays and kiosks get the public view: what the wall display and a ticket's status page show
(numbers, services, windows, states, times), never the holder (``holder_key``, ``holder_masked``),
staff ids, node names or free-text reasons a person typed. Windows and managers get the staff view:
everything except ``holder_key`` (an HMAC of an ID number that no screen needs; the engine keeps it
for the one-ticket-per-holder rule). A type that is not listed here, such as one added later, is
reduced to its envelope (id, type, v, at, at_iso) with empty data in both views, so a new event
type leaks nothing until someone decides what it may show.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Any

from config.model import NodeRole
from queue_server.engine import events as ev
from queue_server.engine.events import Event


class View(StrEnum):
    """The two audiences of the event stream."""

    PUBLIC = "public"
    STAFF = "staff"


_STAFF_ROLES = frozenset({NodeRole.WINDOW, NodeRole.MANAGER})


def view_for(role: NodeRole) -> View:
    """Windows and managers see the staff view; every other role (and any future one) the public view."""
    return View.STAFF if role in _STAFF_ROLES else View.PUBLIC


# Public data fields per event type: what a wall display or a status page may show.
PUBLIC_FIELDS: dict[str, frozenset[str]] = {
    ev.TICKET_ISSUED: frozenset({"ticket", "number", "seq", "service", "day", "priority", "queue_time", "slot"}),
    ev.TICKET_CALLED: frozenset({"ticket", "window", "mode"}),
    ev.TICKET_RECALLED: frozenset({"ticket", "window"}),
    ev.TICKET_SKIPPED: frozenset({"ticket", "window"}),
    ev.TICKET_REQUEUED: frozenset({"ticket"}),
    ev.TICKET_STARTED: frozenset({"ticket", "window"}),
    ev.TICKET_FINISHED: frozenset({"ticket", "window", "implicit"}),
    ev.TICKET_TRANSFERRED: frozenset({"ticket", "from_window", "to_service", "to_window"}),
    ev.TICKET_CANCELLED: frozenset({"ticket"}),
    ev.TICKET_PRINTED: frozenset({"ticket", "ok"}),
    ev.WINDOW_SIGNED_IN: frozenset({"window"}),
    ev.WINDOW_SIGNED_OUT: frozenset({"window"}),
    ev.WINDOW_PAUSED: frozenset({"window"}),
    ev.WINDOW_RESUMED: frozenset({"window"}),
    ev.DAY_ROLLED: frozenset({"from", "to"}),
    ev.TICKET_RETURNED: frozenset({"ticket", "window"}),
    ev.STAFF_PIN_FAILED: frozenset(),
    ev.APPOINTMENT_BOOKED: frozenset({"appointment", "service", "day", "slot_start", "slot_end"}),
    ev.APPOINTMENT_CANCELLED: frozenset({"appointment", "service"}),
    ev.APPOINTMENT_CHECKED_IN: frozenset({"appointment", "service", "ticket"}),
    ev.APPOINTMENT_NO_SHOW: frozenset({"appointment", "service", "slot_start"}),
    ev.APPOINTMENT_DUE: frozenset({"appointment", "service", "ticket"}),
    ev.RATING_GIVEN: frozenset({"ticket", "level", "service", "department", "window"}),
    ev.CASE_OPENED: frozenset({"case", "kind", "department", "deadline"}),
    ev.CASE_STEP: frozenset({"case", "kind", "step", "state"}),
    ev.CASE_OVERDUE: frozenset({"case", "kind", "deadline", "department"}),
    ev.ALERT_RAISED: frozenset({"alert", "kind", "subject", "level", "figures"}),
    ev.ALERT_ACKNOWLEDGED: frozenset({"alert"}),
    ev.ALERT_RESOLVED: frozenset({"alert"}),
    ev.ALERT_CLOSED: frozenset({"alert"}),
    ev.DEVICE_STATE: frozenset({"node", "device", "kind", "state"}),  # kiosks name a working neighbour
    ev.CERTIFICATE_PRINTED: frozenset({"document_kind", "outcome"}),
    ev.CERTIFICATE_RATED: frozenset({"document_kind", "level"}),
}

# Staff data fields: the public ones plus the masked holder, appointment, decision and typed reasons.
STAFF_FIELDS: dict[str, frozenset[str]] = {
    **PUBLIC_FIELDS,
    ev.TICKET_ISSUED: PUBLIC_FIELDS[ev.TICKET_ISSUED] | {"holder_masked", "appointment_id", "green_reason"},
    ev.TICKET_CALLED: PUBLIC_FIELDS[ev.TICKET_CALLED] | {"reason"},
    ev.TICKET_TRANSFERRED: PUBLIC_FIELDS[ev.TICKET_TRANSFERRED] | {"reason"},
    ev.TICKET_CANCELLED: PUBLIC_FIELDS[ev.TICKET_CANCELLED] | {"reason"},
    ev.TICKET_PRINTED: PUBLIC_FIELDS[ev.TICKET_PRINTED] | {"reason"},
    ev.WINDOW_PAUSED: PUBLIC_FIELDS[ev.WINDOW_PAUSED] | {"reason"},
    ev.STAFF_PIN_FAILED: frozenset({"window"}),
    ev.APPOINTMENT_BOOKED: PUBLIC_FIELDS[ev.APPOINTMENT_BOOKED] | {"holder_masked"},  # never the check-in code
    ev.APPOINTMENT_CANCELLED: PUBLIC_FIELDS[ev.APPOINTMENT_CANCELLED] | {"reason"},
    ev.RATING_GIVEN: PUBLIC_FIELDS[ev.RATING_GIVEN] | {"channel", "comment", "staff", "finished_at"},
    ev.CASE_OPENED: PUBLIC_FIELDS[ev.CASE_OPENED] | {"ticket", "level", "holder_masked", "subject", "category"},
    ev.CASE_STEP: PUBLIC_FIELDS[ev.CASE_STEP] | {"ticket", "note", "department"},
    ev.ALERT_CLOSED: PUBLIC_FIELDS[ev.ALERT_CLOSED] | {"note"},
    ev.DEVICE_STATE: PUBLIC_FIELDS[ev.DEVICE_STATE] | {"reason", "since"},
    ev.CERTIFICATE_PRINTED: PUBLIC_FIELDS[ev.CERTIFICATE_PRINTED] | {"print", "holder_masked", "reason"},
    ev.CERTIFICATE_RATED: PUBLIC_FIELDS[ev.CERTIFICATE_RATED] | {"print", "channel"},
}

_FIELDS = {View.PUBLIC: PUBLIC_FIELDS, View.STAFF: STAFF_FIELDS}


def shape(event: Event, view: View) -> dict[str, Any]:
    """The event as ``view`` may see it (key order as in ``Event.as_dict``)."""
    out: dict[str, Any] = {"id": event.id, "type": event.type, "v": event.v, "at": event.at,
                           "at_iso": dt.datetime.fromtimestamp(event.at, dt.UTC).isoformat().replace("+00:00", "Z")}
    fields = _FIELDS[view].get(event.type)
    if fields is None:
        out["data"] = {}
        return out
    if view is View.STAFF:
        out["node"] = event.node
        out["staff"] = event.staff
    out["data"] = {key: value for key, value in event.data.items() if key in fields}
    return out


def render(event: Event, view: View) -> str:
    """The event's text for ``view``, in the stream's compact JSON."""
    return json.dumps(shape(event, view), ensure_ascii=False, separators=(",", ":"))
