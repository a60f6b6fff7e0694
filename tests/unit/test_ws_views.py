"""The stream's views: one whitelist per event type, unknown types reduced to their envelope."""

from __future__ import annotations

import json

import pytest

from config.model import NodeRole
from queue_server.engine import events as ev
from queue_server.engine.events import Event
from queue_server.ws.views import PUBLIC_FIELDS, STAFF_FIELDS, View, render, shape, view_for

ISSUED = Event(7, ev.TICKET_ISSUED, 1_700_000_000.5, {
    "ticket": "t7", "number": "A007", "seq": 7, "service": "A01", "day": "2026-11-23", "priority": "normal",
    "queue_time": 1_700_000_000.5, "holder_key": "ab" * 32, "holder_masked": "张*", "appointment_id": "ap-1",
    "slot": None}, node="kiosk-1")
TYPES = [getattr(ev, name) for name in dir(ev) if name.isupper() and isinstance(getattr(ev, name), str)
         and "." in getattr(ev, name)]


def test_roles() -> None:
    assert view_for(NodeRole.KIOSK) is View.PUBLIC and view_for(NodeRole.DISPLAY) is View.PUBLIC
    assert view_for(NodeRole.WINDOW) is View.STAFF and view_for(NodeRole.MANAGER) is View.STAFF


@pytest.mark.parametrize("event_type", TYPES)
def test_every_known_type_has_both_whitelists(event_type: str) -> None:
    assert event_type in PUBLIC_FIELDS and event_type in STAFF_FIELDS
    assert PUBLIC_FIELDS[event_type] <= STAFF_FIELDS[event_type]
    assert "holder_key" not in STAFF_FIELDS[event_type]
    assert not {"holder_masked", "appointment_id", "reason"} & PUBLIC_FIELDS[event_type]


def test_public_view_of_an_issued_ticket() -> None:
    out = shape(ISSUED, View.PUBLIC)
    assert set(out) == {"id", "type", "v", "at", "at_iso", "data"}
    assert out["data"] == {"ticket": "t7", "number": "A007", "seq": 7, "service": "A01", "day": "2026-11-23",
                           "priority": "normal", "queue_time": 1_700_000_000.5, "slot": None}


def test_staff_view_keeps_everything_but_the_holder_key() -> None:
    out = shape(ISSUED, View.STAFF)
    assert out["node"] == "kiosk-1" and out["staff"] == ""
    assert out["data"] == {k: v for k, v in ISSUED.data.items() if k != "holder_key"}
    # Same text shape as the log's own serialisation, minus the removed field.
    assert list(json.loads(render(ISSUED, View.STAFF))) == list(ISSUED.as_dict())


@pytest.mark.parametrize("view", list(View))
def test_an_unknown_type_leaks_nothing(view: View) -> None:
    future = Event(9, "queue.forecast", 1.0, {"holder_key": "x", "staff_name": "王五", "text": "secret"},
                   node="manager-1", staff="s009")
    assert shape(future, view) == {"id": 9, "type": "queue.forecast", "v": 1, "at": 1.0,
                                   "at_iso": "1970-01-01T00:00:01Z", "data": {}}


def test_a_new_field_on_a_known_type_is_not_shown() -> None:
    called = Event(3, ev.TICKET_CALLED, 1.0, {"ticket": "t1", "window": 2, "mode": "next", "reason": "weighted",
                                              "holder_phone": "138"}, staff="s002")
    assert shape(called, View.PUBLIC)["data"] == {"ticket": "t1", "window": 2, "mode": "next"}
    assert "holder_phone" not in shape(called, View.STAFF)["data"]
