"""Issuing tickets: numbering per service and day, quotas, real-name and one open ticket per holder."""

from __future__ import annotations

import pytest

from config.model import SlotQuota
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.engine.state import Priority, TicketState
from tests.support.appointments import book, checked_in
from tests.support.engine_kit import Clock, Recorder, has_cjk, new_engine, with_service
from tests.support.halls import MONDAY, at, small_hall, span


def refusal(excinfo: pytest.ExceptionInfo[QueueError], code: str) -> QueueError:
    """The refusal, checked for its code and for words in both languages."""
    err = excinfo.value
    assert err.code == code
    assert has_cjk(err.message_zh), err.message_zh
    assert err.message_en and err.message_en.isascii(), err.message_en
    return err


def test_numbers_run_from_001_per_service_independently() -> None:
    engine, clock = new_engine(), Clock()
    numbers = [engine.issue(code, clock()).outcome.ticket.number for code in ("A01", "A01", "B01", "A01", "B01")]
    assert numbers == ["A001", "A002", "B001", "A003", "B002"]


def test_numbers_widen_past_999_without_a_duplicate() -> None:
    engine, clock = new_engine(), Clock(clock="10:30")  # outside A01's 09:00-10:00 slot quota
    numbers = [engine.issue("A01", clock(0.01)).outcome.ticket.number for _ in range(1002)]
    assert numbers[998:] == ["A999", "A1000", "A1001", "A1002"]
    assert len(set(numbers)) == len(numbers)


def test_widened_numbers_are_called_after_a999_not_sorted_as_text() -> None:
    engine, clock = new_engine(), Clock(clock="10:30")
    tickets = [engine.issue("A01", clock(0.01)).outcome.ticket for _ in range(1001)]
    for ticket in tickets[:998]:
        engine.act("cancel", ticket.id, clock(0.01))
    engine.sign_in(1, "s1", clock())
    first = engine.call_next(1, clock()).outcome
    engine.act("start", first.id, clock())
    second = engine.call_next(1, clock()).outcome
    engine.act("start", second.id, clock())
    third = engine.call_next(1, clock()).outcome
    assert [first.number, second.number, third.number] == ["A999", "A1000", "A1001"]


def test_daily_quota_refuses_with_its_code_and_words() -> None:
    engine, clock = new_engine(small_hall(daily_quota=2)), Clock(clock="10:30")
    engine.issue("A01", clock())
    engine.issue("A01", clock())
    with pytest.raises(QueueError) as excinfo:
        engine.issue("A01", clock())
    err = refusal(excinfo, "daily_quota_reached")
    assert "号源已满" in err.message_zh and "2 tickets" in err.message_en
    assert err.details == {"quota": 2}
    assert engine.issue("B01", clock()).outcome.ticket.number == "B001"  # other services are not affected


def test_daily_quota_counts_cancelled_tickets_and_ignores_reprints() -> None:
    hall = with_service(small_hall(), "C01", daily_quota=2)
    engine, clock = new_engine(hall), Clock(clock="10:30")
    first = engine.issue("C01", clock(), holder_key="h1").outcome.ticket
    again, existing = engine.issue("C01", clock(), holder_key="h1").outcome
    assert existing and again is first  # a reprint takes no quota
    engine.act("cancel", first.id, clock())
    engine.issue("C01", clock(), holder_key="h2")
    with pytest.raises(QueueError) as excinfo:
        engine.issue("C01", clock(), holder_key="h3")
    refusal(excinfo, "daily_quota_reached")


def test_slot_quota_refuses_inside_the_slot_only() -> None:
    hall = with_service(small_hall(), "A01", slot_quotas=(SlotQuota(span("09:00-10:00"), 2),))
    engine = new_engine(hall)
    engine.issue("A01", at(MONDAY, "09:10"))
    engine.issue("A01", at(MONDAY, "09:20"))
    with pytest.raises(QueueError) as excinfo:
        engine.issue("A01", at(MONDAY, "09:59"))
    err = refusal(excinfo, "slot_quota_reached")
    assert "09:00-10:00" in err.message_zh and err.details == {"slot": "09:00-10:00", "quota": 2}
    assert engine.issue("A01", at(MONDAY, "10:00")).outcome.ticket.number == "A003"  # the next hour has no slot quota


def test_real_name_service_needs_a_holder_key() -> None:
    engine, clock = new_engine(), Clock()
    with pytest.raises(QueueError) as excinfo:
        engine.issue("C01", clock())
    refusal(excinfo, "real_name_required")
    ticket = engine.issue("C01", clock(), holder_key="hmac-1", holder_masked="张*").outcome.ticket
    assert ticket.number == "C001" and ticket.holder_masked == "张*"


def test_second_issue_for_the_same_holder_and_service_returns_the_open_ticket() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    first, existing = rec.do("issue", "C01", clock(), holder_key="h1")
    assert not existing
    issued_before = len(rec.log)
    again, existing = rec.do("issue", "C01", clock(), holder_key="h1")
    assert existing and again.id == first.id
    assert len(rec.log) == issued_before  # nothing new is logged: it is a reprint


def test_holder_gets_a_new_ticket_for_another_service() -> None:
    engine, clock = new_engine(), Clock()
    first = engine.issue("C01", clock(), holder_key="h1").outcome.ticket
    other, existing = engine.issue("A01", clock(), holder_key="h1").outcome
    assert not existing and other.id != first.id and other.number == "A001"


@pytest.mark.parametrize("close", ["finish", "cancel"])
def test_holder_gets_a_new_ticket_once_the_old_one_is_closed(close: str) -> None:
    engine, clock = new_engine(), Clock()
    engine.sign_in(1, "s1", clock())
    first = engine.issue("C01", clock(), holder_key="h1").outcome.ticket
    if close == "finish":
        engine.call_next(1, clock())
        engine.act("start", first.id, clock(), window=1)
        engine.act("finish", first.id, clock(), window=1)
    else:
        engine.act("cancel", first.id, clock())
    second, existing = engine.issue("C01", clock(), holder_key="h1").outcome
    assert not existing and second.number == "C002"


def test_appointment_priority_is_refused_where_no_appointments_are_taken() -> None:
    engine, clock = new_engine(), Clock()
    with pytest.raises(QueueError) as excinfo:
        book(engine, clock, "A01")
    refusal(excinfo, "appointments_not_taken")
    ticket = checked_in(engine, clock, "C01")
    appointment = engine.appointments.get(ticket.appointment_id)
    assert ticket.priority is Priority.APPOINTMENT and ticket.rank == 0 and appointment.ticket == ticket.id


def test_unknown_priority_and_service_are_refused() -> None:
    engine, clock = new_engine(), Clock()
    with pytest.raises(QueueError) as excinfo:
        engine.issue("A01", clock(), priority="vip")
    refusal(excinfo, "invalid_priority")
    with pytest.raises(QueueError) as excinfo:
        engine.issue("Z99", clock())
    refusal(excinfo, "unknown_service")


def test_people_ahead_count_green_tickets_ahead_of_a_normal_one() -> None:
    engine, clock = new_engine(), Clock()
    first = engine.issue("A01", clock()).outcome.ticket
    second = engine.issue("A01", clock()).outcome.ticket
    green = engine.issue("A01", clock(), priority="green", green_reason="age_60_plus").outcome.ticket
    assert engine.ahead_of(green) == 0
    assert engine.ahead_of(first) == 1  # the later green ticket goes first
    assert engine.ahead_of(second) == 2
    assert engine.ahead_of(engine.issue("B01", clock()).outcome.ticket) == 0  # other services' lines do not count


def test_estimated_wait_divides_by_active_windows() -> None:
    engine, clock = new_engine(), Clock()
    assert engine.estimated_wait_s("A01", 3) == 3 * 5 * 60  # nobody signed in: estimate as one window
    engine.sign_in(1, "s1", clock())
    engine.sign_in(2, "s2", clock())
    assert engine.estimated_wait_s("A01", 3) == 3 * 5 * 60 // 2
    engine.pause(2, clock(), reason="会议")
    assert engine.estimated_wait_s("A01", 3) == 3 * 5 * 60
    engine.sign_in(4, "s4", clock())  # the dedicated B window does not serve A01
    assert engine.estimated_wait_s("A01", 3) == 3 * 5 * 60
    assert engine.estimated_wait_s("B01", 2) == 2 * 15 * 60 // 2


def test_printed_and_print_failed_flags() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = rec.do("issue", "A01", clock(), node="kiosk-1")[0]
    assert ticket.printed == "pending"
    rec.do("act", "print_failed", ticket.id, clock(), node="kiosk-1", reason="paper out")
    assert ticket.printed == "failed"
    assert rec.log[-1].type == ev.TICKET_PRINTED and rec.log[-1].data["reason"] == "paper out"
    rec.do("act", "printed", ticket.id, clock(), node="kiosk-1")
    assert ticket.printed == "printed" and rec.log[-1].data["ok"] is True
    assert ticket.state is TicketState.WAITING  # printing does not move the ticket


def test_issued_event_carries_node_number_service_and_day() -> None:
    rec = Recorder(new_engine())
    rec.do("issue", "B01", at(MONDAY, "09:05"), node="kiosk-2")
    rolled, issued = rec.log
    assert rolled.type == ev.DAY_ROLLED and rolled.data == {"from": None, "to": MONDAY}
    assert issued.type == ev.TICKET_ISSUED and issued.node == "kiosk-2"
    assert issued.data["number"] == "B001" and issued.data["service"] == "B01" and issued.data["day"] == MONDAY


def test_requeue_is_refused_when_the_holder_took_a_new_ticket_meanwhile() -> None:
    engine, clock = new_engine(), Clock()
    engine.sign_in(1, "s1", clock())
    skipped = engine.issue("C01", clock(), holder_key="h1").outcome.ticket
    engine.call_next(1, clock())
    engine.act("skip", skipped.id, clock(), window=1)
    fresh, existing = engine.issue("C01", clock(), holder_key="h1").outcome  # the holder came back and took a number
    assert not existing
    with pytest.raises(QueueError) as excinfo:
        engine.act("requeue", skipped.id, clock())
    err = refusal(excinfo, "holder_has_ticket")
    assert err.details == {"ticket": fresh.id, "number": fresh.number}
    assert skipped.state is TicketState.SKIPPED
    assert engine.issue("C01", clock(), holder_key="h1").outcome.ticket.id == fresh.id


def test_transfer_is_refused_onto_a_service_the_holder_already_queues_for() -> None:
    engine, clock = new_engine(), Clock()
    queued = engine.issue("C01", clock(), holder_key="h1").outcome.ticket
    other = engine.issue("A01", clock(), holder_key="h1").outcome.ticket
    with pytest.raises(QueueError) as excinfo:
        engine.act("transfer", other.id, clock(), to_service="C01")
    assert refusal(excinfo, "holder_has_ticket").details == {"ticket": queued.id, "number": queued.number}
    assert other.service == "A01" and other.state is TicketState.WAITING
    engine.act("transfer", other.id, clock(), to_service="B01")  # another service is fine
    assert engine.issue("B01", clock(), holder_key="h1").outcome.ticket.id == other.id


def test_transfer_to_a_window_within_the_same_service_is_not_a_duplicate() -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("C01", clock(), holder_key="h1").outcome.ticket
    engine.act("transfer", ticket.id, clock(), to_window=2)
    assert ticket.target_window == 2 and engine.issue("C01", clock(), holder_key="h1").outcome.ticket.id == ticket.id
