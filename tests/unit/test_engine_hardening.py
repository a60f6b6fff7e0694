"""Engine rules from the hardening review: time that steps back, closing windows, printing, PINs, words."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from config.model import TimeRange
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.engine.picture import PIN_FAILURES_PER_NODE, PIN_FAILURES_PER_STAFF
from queue_server.engine.state import TicketState
from queue_server.views import NOT_TODAY, ticket_view
from tests.support.engine_kit import Clock, Recorder, new_engine, replayed, snapshot
from tests.support.halls import MONDAY, at, small_hall, span

TUESDAY = "2026-11-24"


def all_day_engine() -> Recorder:
    hall = small_hall()
    all_day = TimeRange(dt.time(0, 0), dt.time.max)
    hall = dataclasses.replace(hall, hours=dataclasses.replace(hall.hours, weekdays=(all_day,)))
    return Recorder(new_engine(hall))


# ------------------------------------------------------------------ time that steps back
def test_clock_stepped_back_across_midnight_never_reopens_yesterday() -> None:
    rec = all_day_engine()
    first = rec.do("issue", "A01", at(TUESDAY, "00:05")).ticket
    assert (first.number, first.day) == ("A001", TUESDAY)
    back = rec.do("issue", "A01", at(MONDAY, "23:55")).ticket  # NTP pulled the clock back ten minutes
    assert (back.number, back.day) == ("A002", TUESDAY)
    assert rec.engine.day == TUESDAY
    assert [e.data["to"] for e in rec.log if e.type == ev.DAY_ROLLED] == [TUESDAY]
    assert rec.log[-1].at == at(MONDAY, "23:55")  # the event keeps what the clock said
    again = rec.do("issue", "A01", at(TUESDAY, "00:01")).ticket  # the clock passes midnight a second time
    assert again.number == "A003" and rec.engine.day == TUESDAY
    assert first.state is TicketState.WAITING  # the waiting citizens were not cancelled by a second roll
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)


def test_the_day_moves_on_once_the_clock_passes_the_next_midnight() -> None:
    rec = all_day_engine()
    rec.do("issue", "A01", at(TUESDAY, "00:05"))
    rec.do("issue", "A01", at(MONDAY, "22:00"))
    wednesday = rec.do("issue", "A01", at("2026-11-25", "08:00")).ticket
    assert (wednesday.number, wednesday.day) == ("A001", "2026-11-25")


def test_roll_over_on_a_tick_opens_the_new_day_without_a_command() -> None:
    rec = all_day_engine()
    ticket = rec.do("issue", "A01", at(MONDAY, "20:00")).ticket
    rec.do("roll_over", at(TUESDAY, "00:00:01"))
    assert rec.engine.day == TUESDAY and ticket.state is TicketState.CANCELLED
    assert ticket.id not in rec.engine.tickets


def test_yesterdays_ticket_stays_readable_and_says_its_day_is_over() -> None:
    rec = all_day_engine()
    ticket = rec.do("issue", "A01", at(MONDAY, "20:00")).ticket
    rec.do("roll_over", at(TUESDAY, "00:00:01"))
    found = rec.engine.find_ticket(ticket.id)
    assert found is not None and found is ticket and found.day == MONDAY
    view = ticket_view(rec.engine, found, at(TUESDAY, "08:00"))
    assert view["day_over"] is True and view["day"] == MONDAY and view["state"] == "cancelled"
    assert view["estimated_wait_s"] == 0 and view["ahead"] == 0
    with pytest.raises(QueueError):  # readable, not actionable
        rec.do("act", "cancel", ticket.id, at(TUESDAY, "08:00"))
    assert replayed(rec.engine.hall, rec.log).find_ticket(ticket.id) is not None


def test_only_a_bounded_number_of_past_days_is_kept() -> None:
    rec = all_day_engine()
    first = rec.do("issue", "A01", at(MONDAY, "10:00")).ticket
    for day in range(24, 24 + 7):
        rec.do("roll_over", at(f"2026-11-{day}", "10:00"))
    first_id = first.id
    assert rec.engine.find_ticket(first_id) is first  # seven closed days are kept
    rec.do("roll_over", at("2026-12-01", "10:00"))
    assert rec.engine.find_ticket(first_id) is None


# ------------------------------------------------------------------ a closing window strands nobody
def called_at_window_1(rec: Recorder, clock: Clock, start: bool = False) -> str:
    rec.do("sign_in", 1, "s1", clock())
    rec.do("issue", "A01", clock())
    later = rec.do("issue", "A01", clock()).ticket
    ticket = rec.do("call_next", 1, clock())
    if start:
        rec.do("act", "start", ticket.id, clock(), window=1)
    assert later.id != ticket.id
    return ticket.id


@pytest.mark.parametrize("start", [False, True], ids=["called", "serving"])
def test_signing_out_returns_the_citizen_to_the_head_of_the_line(start: bool) -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket_id = called_at_window_1(rec, clock, start)
    rec.do("sign_out", 1, clock())
    ticket = rec.engine.tickets[ticket_id]
    assert ticket.state is TicketState.WAITING and ticket.window is None
    assert rec.engine.ahead_of(ticket) == 0  # its queue time puts it first again
    assert [e.type for e in rec.log[-2:]] == [ev.TICKET_RETURNED, ev.WINDOW_SIGNED_OUT]
    rec.do("sign_in", 2, "s2", clock())
    assert rec.do("call_next", 2, clock()).id == ticket_id
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)


def test_signing_in_elsewhere_returns_the_citizen_called_at_the_old_window() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket_id = called_at_window_1(rec, clock)
    rec.do("sign_in", 2, "s1", clock())  # s1 moves to window 2: window 1 closes
    assert rec.engine.tickets[ticket_id].state is TicketState.WAITING
    assert rec.engine.windows[1].current is None and not rec.engine.windows[1].staff


# ------------------------------------------------------------------ printing
def test_printed_is_final_and_a_repeat_changes_nothing() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = rec.do("issue", "A01", clock(), node="kiosk-1").ticket
    assert ticket.issued_by == "kiosk-1"
    rec.do("act", "printed", ticket.id, clock(), node="kiosk-1")
    marks = len(rec.log)
    rec.do("act", "printed", ticket.id, clock(), node="kiosk-1")
    assert len(rec.log) == marks
    with pytest.raises(QueueError) as excinfo:
        rec.do("act", "print_failed", ticket.id, clock(), node="kiosk-1", reason="paper out")
    assert excinfo.value.code == "already_printed" and ticket.printed == "printed"


def test_a_failed_print_can_be_reprinted() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = rec.do("issue", "A01", clock(), node="kiosk-1").ticket
    rec.do("act", "print_failed", ticket.id, clock(), node="kiosk-1", reason="paper out")
    assert ticket.printed == "failed"
    rec.do("act", "printed", ticket.id, clock(), node="kiosk-1")
    assert ticket.printed == "printed"


# ------------------------------------------------------------------ text no store can keep
@pytest.mark.parametrize("text", ["\ud800", "会议\udfff"])
def test_an_unencodable_reason_is_refused_before_anything_changes(text: str) -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    before = snapshot(rec.engine)
    with pytest.raises(QueueError) as excinfo:
        rec.do("pause", 1, clock(), reason=text)
    assert excinfo.value.code == "unencodable_text" and excinfo.value.status == 400
    assert snapshot(rec.engine) == before and not rec.engine.windows[1].paused


def test_four_byte_characters_in_names_are_kept() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = rec.do("issue", "C01", clock(), holder_key="h1", holder_masked="𠀾*").ticket
    assert ticket.holder_masked == "𠀾*"


# ------------------------------------------------------------------ PIN guessing
def test_wrong_pins_lock_one_staff_id_until_the_window_passes() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    for _ in range(PIN_FAILURES_PER_STAFF):
        assert rec.engine.pin_lock("s1", "pad-1", clock.now) is None
        rec.do("pin_failed", 1, "s1", clock(), node="pad-1")
    lock = rec.engine.pin_lock("s1", "pad-2", clock.now)  # another node does not help
    assert lock is not None and lock.scope == "staff" and 1 <= lock.retry_after_s <= 300
    assert rec.engine.pin_lock("s2", "pad-3", clock.now) is None
    assert replayed(rec.engine.hall, rec.log).pin_lock("s1", "pad-2", clock.now) == lock  # durable: survives
    assert rec.engine.pin_lock("s1", "pad-1", clock(301)) is None


def test_wrong_pins_from_one_node_lock_the_node_whatever_staff_it_tries() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    for n in range(PIN_FAILURES_PER_NODE):
        rec.do("pin_failed", 1, f"guess{n}", clock(), node="manager")
    lock = rec.engine.pin_lock("s1", "manager", clock.now)
    assert lock is not None and lock.scope == "node"
    assert rec.engine.pin_lock("s1", "pad-1", clock.now) is None
    assert all(not e.staff for e in rec.log if e.type == ev.STAFF_PIN_FAILED)  # unknown ids are not recorded


def test_a_successful_sign_in_clears_the_staff_count() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    for _ in range(PIN_FAILURES_PER_STAFF - 1):
        rec.do("pin_failed", 1, "s1", clock(), node="pad-1")
    rec.do("sign_in", 1, "s1", clock(), node="pad-1")
    rec.do("pin_failed", 1, "s1", clock(), node="pad-1")
    assert rec.engine.pin_lock("s1", "pad-1", clock.now) is None


# ------------------------------------------------------------------ words
def test_the_gap_before_evening_hours_is_not_called_lunch() -> None:
    engine = new_engine()
    with pytest.raises(QueueError) as excinfo:
        engine.issue("B01", at(MONDAY, "12:30"))
    assert excinfo.value.code == "lunch_break"
    hall = small_hall()
    hall = dataclasses.replace(hall, hours=dataclasses.replace(hall.hours, extended=(span("20:00-21:00"),)))
    with pytest.raises(QueueError) as excinfo:
        new_engine(hall).issue("B01", at(MONDAY, "18:41"))
    err = excinfo.value
    assert err.code == "between_sessions" and "午间" not in err.message_zh and "lunch" not in err.message_en
    assert err.details == {"opens_at": "20:00"}


def test_closed_is_said_before_bring_your_id_card() -> None:
    with pytest.raises(QueueError) as excinfo:
        new_engine().issue("C01", at(MONDAY, "20:00"))  # a real-name service, after hours, no card
    assert excinfo.value.code == "closed_for_today"


def test_a_wait_past_closing_time_is_not_given_in_seconds() -> None:
    rec, clock = Recorder(new_engine()), Clock(clock="16:00")
    tickets = [rec.do("issue", "B01", clock()).ticket for _ in range(30)]  # 15 min each, one window
    early = ticket_view(rec.engine, tickets[1], clock.now)
    assert early["estimated_wait_s"] == 15 * 60 and "wait_note" not in early
    late = ticket_view(rec.engine, tickets[-1], clock.now)
    assert late["estimated_wait_s"] is None and late["wait_note"] == NOT_TODAY and late["ahead"] == 29


def test_cancelling_a_skipped_ticket_leaves_the_holders_new_ticket_theirs() -> None:
    """Found by the long hypothesis run: the cancel dropped the holder's *new* open ticket from the one-per-
    holder index, so a third tap issued a second open ticket for the same person and service."""
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    skipped = rec.do("issue", "C01", clock(), holder_key="h2").ticket
    rec.do("call", skipped.id, 1, clock())
    rec.do("act", "skip", skipped.id, clock(), window=1)
    fresh = rec.do("issue", "C01", clock(), holder_key="h2").ticket  # the citizen took a new number
    rec.do("act", "cancel", skipped.id, clock(), window=1)  # staff tidy up the old one
    again = rec.do("issue", "C01", clock(), holder_key="h2")  # a third tap: a reprint of the new one
    assert again.existing and again.ticket.id == fresh.id
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)
