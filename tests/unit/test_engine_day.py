"""Business-day roll-over in the hall's zone, and attribution of every event (node, staff, number, service)."""

from __future__ import annotations

import pytest

from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.engine.state import Ticket, TicketState
from tests.support.engine_kit import Clock, Recorder, new_engine, replayed, snapshot
from tests.support.halls import MONDAY, at, small_hall

TUESDAY = "2026-11-24"


def monday_with_every_kind_of_ticket(rec: Recorder, clock: Clock) -> dict[str, Ticket]:
    """Monday ends with a finished, a skipped, a called, a serving and a waiting ticket."""
    engine = rec.engine
    for window in (1, 2, 3):
        rec.do("sign_in", window, f"s{window}", clock())
    tickets = [rec.do("issue", "A01", clock())[0] for _ in range(5)]
    finished, skipped, called, serving, waiting = tickets
    for window, ticket in zip((1, 2, 3), (finished, skipped, serving), strict=True):
        rec.do("call", ticket.id, window, clock())
        if ticket is not skipped:
            rec.do("act", "start", ticket.id, clock(), window=window)
    rec.do("act", "finish", finished.id, clock(), window=1)
    rec.do("act", "skip", skipped.id, clock(), window=2)
    rec.do("call", called.id, 2, clock())
    assert engine.windows[2].current == called.id and engine.windows[3].current == serving.id
    return {"finished": finished, "skipped": skipped, "called": called, "serving": serving, "waiting": waiting}


def test_the_next_day_starts_clean() -> None:
    rec, clock = Recorder(new_engine(small_hall(daily_quota=5))), Clock()
    old = monday_with_every_kind_of_ticket(rec, clock)
    mark = len(rec.log)
    ticket = rec.do("issue", "A01", at(TUESDAY, "09:00"))[0]
    rolled = rec.log[mark]
    assert rolled.type == ev.DAY_ROLLED and rolled.data == {"from": MONDAY, "to": TUESDAY}
    assert ticket.number == "A001" and ticket.day == TUESDAY  # numbers restart, and the quota (5) is fresh
    engine = rec.engine
    assert list(engine.tickets) == [ticket.id]
    assert all(w.current is None for w in engine.windows.values())
    assert [line.ids() for line in engine.lines.values() if line.ids()] == [[ticket.id]]
    assert old["finished"].state is TicketState.FINISHED
    for name in ("skipped", "called", "serving", "waiting"):
        assert old[name].state is TicketState.CANCELLED and old[name].cancel_reason == "day_end", name
    with pytest.raises(QueueError) as excinfo:
        engine.act("start", old["called"].id, at(TUESDAY, "09:01"), window=2)
    assert excinfo.value.code == "ticket_not_found"


def test_the_next_day_starts_with_every_window_signed_out_and_open() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    for window in (1, 2):
        rec.do("sign_in", window, f"s{window}", clock())
    rec.do("pause", 2, clock(), reason="会议")
    rec.do("issue", "A01", at(TUESDAY, "09:00"))
    engine = rec.engine
    assert [(w.staff, w.paused, w.pause_reason) for w in engine.windows.values()] == [("", False, "")] * 4
    assert engine.active_windows("A01") == 1  # the estimate's floor, not yesterday's staff
    with pytest.raises(QueueError) as excinfo:
        engine.call_next(1, at(TUESDAY, "09:01"))
    assert excinfo.value.code == "not_signed_in"  # today's actions are never credited to yesterday's staff
    assert snapshot(replayed(engine.hall, rec.log)) == snapshot(engine)


def test_yesterdays_ticket_is_not_called_today() -> None:
    engine = new_engine()
    engine.issue("A01", at(MONDAY, "17:00"))
    engine.sign_in(1, "s1", at(TUESDAY, "08:55"))
    with pytest.raises(QueueError) as excinfo:
        engine.call_next(1, at(TUESDAY, "09:00"))
    assert excinfo.value.code == "queue_empty"


def test_yesterdays_holder_may_take_a_ticket_today() -> None:
    engine = new_engine()
    monday = engine.issue("C01", at(MONDAY, "10:00"), holder_key="h1").outcome.ticket
    tuesday, existing = engine.issue("C01", at(TUESDAY, "10:00"), holder_key="h1").outcome
    assert not existing and tuesday.id != monday.id and tuesday.number == "C001"


def test_a_refused_first_command_of_the_day_still_hands_over_the_roll_over() -> None:
    rec = Recorder(new_engine())
    rec.do("issue", "A01", at(MONDAY, "10:00"))
    with pytest.raises(QueueError) as excinfo:
        rec.do("issue", "A01", at(TUESDAY, "08:00"))
    err = excinfo.value
    assert err.code == "not_open_yet"
    assert [e.type for e in err.events] == [ev.DAY_ROLLED] and err.events[0].data["to"] == TUESDAY
    assert rec.engine.day == TUESDAY and not rec.engine.tickets
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)


def test_the_day_turns_at_local_midnight_not_utc() -> None:
    rec = Recorder(new_engine())
    rec.do("sign_in", 1, "s1", at(MONDAY, "07:59"))
    rec.do("sign_in", 1, "s1", at(MONDAY, "08:01"))  # 00:01 UTC: still Monday in Beijing
    rec.do("sign_in", 1, "s1", at(MONDAY, "23:59:59"))
    assert [e.type for e in rec.log].count(ev.DAY_ROLLED) == 1
    rec.do("sign_in", 1, "s1", at(TUESDAY, "00:00"))
    assert rec.log[-2].type == ev.DAY_ROLLED and rec.engine.day == TUESDAY


def test_roll_over_command_closes_the_day_without_other_changes() -> None:
    engine = new_engine()
    ticket = engine.issue("A01", at(MONDAY, "10:00")).outcome.ticket
    assert engine.roll_over(at(MONDAY, "23:00")).events == []
    events = engine.roll_over(at(TUESDAY, "00:00:01")).events
    assert [e.type for e in events] == [ev.DAY_ROLLED]
    assert ticket.state is TicketState.CANCELLED and not engine.tickets


def test_every_event_is_attributed() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock(), node="pad-1")
    rec.do("sign_in", 2, "s2", clock(), node="pad-2")
    first = rec.do("issue", "A01", clock(), node="kiosk-1")[0]
    rec.do("act", "printed", first.id, clock(), node="kiosk-1")
    second = rec.do("issue", "B01", clock(), node="kiosk-1")[0]
    rec.do("call_next", 1, clock(), node="pad-1")
    rec.do("act", "recall", first.id, clock(), window=1, node="pad-1")
    rec.do("act", "skip", first.id, clock(), window=1, node="pad-1")
    rec.do("act", "requeue", first.id, clock(), window=1, node="pad-1")
    rec.do("call", first.id, 1, clock(), node="pad-1")
    rec.do("act", "start", first.id, clock(), window=1, node="pad-1")
    rec.do("act", "transfer", first.id, clock(), window=1, node="pad-1", to_window=2)
    rec.do("call_next", 2, clock(), node="pad-2")
    rec.do("act", "finish", first.id, clock(), window=2, node="pad-2")
    rec.do("call_next", 2, clock(), node="pad-2")
    rec.do("act", "cancel", second.id, clock(), window=2, node="pad-2", reason="left")
    window_staff = {"pad-1": "s1", "pad-2": "s2"}
    for event in rec.log:
        if event.type == ev.DAY_ROLLED:
            continue
        assert event.node, event
        if event.type.startswith("ticket."):
            ticket = first if event.data["ticket"] == first.id else second
            assert event.data["number"] == ticket.number and event.data["service"] == ticket.service, event
        if event.node in window_staff:  # a window acted: its signed-in staff is on the event
            assert event.staff == window_staff[event.node], event
