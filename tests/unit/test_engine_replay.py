"""Replay: a fresh engine applying the emitted events reaches the same state, as a restart does."""

from __future__ import annotations

import dataclasses

import pytest

from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.state import TicketState
from tests.support.appointments import checked_in
from tests.support.engine_kit import Clock, Recorder, new_engine, replayed, snapshot

TUESDAY = "2026-11-24"


def attempt(rec: Recorder, command: str, *args: object, **kwargs: object) -> object:
    """Run a command that may be refused: refusals belong in a real day too."""
    try:
        return rec.do(command, *args, **kwargs)
    except QueueError:
        return None


def busy_day(rec: Recorder, clock: Clock) -> None:
    """Every kind of command, some refused, across two business days."""
    for window in (1, 2, 4):
        rec.do("sign_in", window, f"s{window}", clock(), node=f"pad-{window}")
    tickets = [checked_in(rec, clock, service, holder) if priority == "appointment" else
               rec.do("issue", service, clock(), priority=priority, holder_key=holder, node="kiosk-1",
                      green_reason="age_60_plus" if priority == "green" else "")[0]
               for service, priority, holder in (("A01", "normal", ""), ("B01", "normal", ""), ("A01", "green", ""),
                                                 ("C01", "appointment", "h1"), ("B01", "normal", "h2"),
                                                 ("A01", "normal", "h3"), ("C01", "normal", "h4"))]
    attempt(rec, "issue", "C01", clock())  # refused: real name
    rec.do("act", "printed", tickets[0].id, clock(), node="kiosk-1")
    rec.do("act", "print_failed", tickets[1].id, clock(), node="kiosk-1", reason="paper out")
    first = rec.do("call_next", 1, clock(), node="pad-1")
    rec.do("act", "recall", first.id, clock(), window=1)
    rec.do("act", "skip", first.id, clock(), window=1)
    second = rec.do("call_next", 1, clock(), node="pad-1")
    rec.do("act", "start", second.id, clock(), window=1)
    rec.do("act", "requeue", first.id, clock(), node="kiosk-1")
    rec.do("call_next", 4, clock(), node="pad-4")
    attempt(rec, "call_next", 4, clock())  # refused: still called
    rec.do("act", "transfer", second.id, clock(), window=1, to_service="B01")
    rec.do("pause", 2, clock(), reason="会议")
    attempt(rec, "call_next", 2, clock())  # refused: paused
    rec.do("resume", 2, clock())
    called = rec.do("call", tickets[6].id, 2, clock())
    rec.do("act", "start", called.id, clock(), window=2)
    rec.do("call_next", 2, clock())  # implicit finish
    rec.do("act", "cancel", tickets[5].id, clock(), node="kiosk-1")
    rec.do("sign_in", 3, "s1", clock())  # signs s1 out of window 1
    for _ in range(3):
        attempt(rec, "call_next", 3, clock())
        current = rec.engine.windows[3].current
        if current:
            rec.do("act", "start", current, clock(), window=3)
    rec.do("sign_out", 4, clock())
    clock.set(TUESDAY, "08:30")
    attempt(rec, "issue", "A01", clock())  # refused (not open yet) but the day rolls
    clock.set(TUESDAY, "09:00")
    rec.do("issue", "A01", clock())
    rec.do("issue", "B01", clock())
    rec.do("sign_in", 2, "s2", clock())  # the new day started with every window signed out
    rec.do("call_next", 2, clock())


def test_replaying_a_busy_day_rebuilds_the_same_state() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    busy_day(rec, clock)
    assert [e.id for e in rec.log] == list(range(1, len(rec.log) + 1))  # gap-free, refusals' roll-over included
    assert sum(e.type == ev.DAY_ROLLED for e in rec.log) == 2
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)


def test_replaying_the_json_form_rebuilds_the_same_state() -> None:
    """What the store keeps is the JSON payload; a restart reads it back from rows."""
    rec, clock = Recorder(new_engine()), Clock()
    busy_day(rec, clock)
    rows = [Event.from_row(e.id, e.type, e.v, e.at, e.node, e.staff, e.data_json()) for e in rec.log]
    assert snapshot(replayed(rec.engine.hall, rows)) == snapshot(rec.engine)


def test_a_restarted_engine_decides_as_the_old_one_would_have() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    busy_day(rec, clock)
    restarted = Recorder(replayed(rec.engine.hall, rec.log))
    outcomes = []
    for recorder in (rec, restarted):
        mark, later = len(recorder.log), Clock(TUESDAY, "10:00")
        for step in range(6):
            recorder.do("issue", "A01" if step % 3 else "B01", later(), node="kiosk-1",
                        priority="green" if step == 4 else "normal",
                        green_reason="age_60_plus" if step == 4 else "")
        recorder.do("act", "start", recorder.engine.windows[2].current, later(), window=2)
        recorder.do("sign_in", 3, "s3", later())
        for window in (2, 3, 2, 3, 2):
            recorder.do("act", "start", recorder.do("call_next", window, later()).id, later(), window=window)
        outcomes.append([(e.id, e.type, e.data.get("number"), e.data.get("window"), e.data.get("reason"), e.staff)
                         for e in recorder.log[mark:]])
    assert outcomes[0] == outcomes[1]
    assert sum(kind == ev.TICKET_CALLED for _, kind, *_ in outcomes[0]) == 5


def test_apply_refuses_a_gap_and_an_unknown_type() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("issue", "A01", clock())
    fresh = QueueEngine(rec.engine.hall)
    with pytest.raises(ValueError, match="gap"):
        fresh.apply(rec.log[1])
    fresh.apply(rec.log[0])
    with pytest.raises(ValueError, match="unknown type"):
        fresh.apply(dataclasses.replace(rec.log[1], type="ticket.teleported"))
    fresh.apply(rec.log[1])
    assert snapshot(fresh) == snapshot(rec.engine)


def test_call_next_with_nobody_waiting_still_finishes_the_ticket_being_served() -> None:
    """The one refusal with a side effect: the finish rides on the error and must be made durable."""
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    ticket = rec.do("issue", "A01", clock())[0]
    rec.do("call_next", 1, clock())
    rec.do("act", "start", ticket.id, clock(), window=1)
    with pytest.raises(QueueError) as excinfo:
        rec.do("call_next", 1, clock())
    assert excinfo.value.code == "queue_empty"
    assert [(e.type, e.data["implicit"]) for e in excinfo.value.events] == [(ev.TICKET_FINISHED, True)]
    assert ticket.state is TicketState.FINISHED and rec.engine.windows[1].current is None
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)
