"""Appointments (预约): booking rules, check-in early / on time / late / twice, no-shows on the tick, replay."""

from __future__ import annotations

import dataclasses
import re

import pytest

from config.model import BookingRules, Hall
from queue_server.engine import events as ev
from queue_server.engine.appointments import NO_SHOW_DAYS, Appointment, AppointmentState
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.state import Priority, TicketState
from tests.support.engine_kit import Clock, Recorder, has_cjk, new_engine, replayed, snapshot, with_service
from tests.support.halls import MONDAY, at, small_hall

TUESDAY = "2026-11-24"
SATURDAY = "2026-11-28"
SUNDAY = "2026-11-29"


def hall(**rules: object) -> Hall:
    """The small hall, where C01 (and here B01 too) takes appointments by ``rules`` (BookingRules fields)."""
    base = small_hall()
    booking = dataclasses.replace(BookingRules(), **rules)  # type: ignore[arg-type]
    base = with_service(base, "C01", booking=booking)
    return with_service(base, "B01", appointments=True, booking=booking)


def refused(excinfo: pytest.ExceptionInfo[QueueError], code: str) -> QueueError:
    err = excinfo.value
    assert err.code == code, (err.code, err.message_en)
    assert has_cjk(err.message_zh) and err.message_en
    return err


def setup(**rules: object) -> tuple[Recorder, Clock]:
    return Recorder(new_engine(hall(**rules))), Clock(MONDAY, "08:00")


def book(rec: Recorder, slot: str, holder: str = "h1", service: str = "C01", at_: float | None = None) -> Appointment:
    now = at_ if at_ is not None else rec.engine.last_at + 1
    booked: Appointment = rec.do("book", service, slot, now, holder_key=holder, holder_masked="张*", node="web-1")
    return booked


# ---------------------------------------------------------------------------------------------- booking
def test_a_booking_has_a_six_digit_code_its_slot_and_the_contract_payload() -> None:
    rec, clock = setup()
    appointment = rec.do("book", "C01", f"{MONDAY}T10:00", clock(), holder_key="h1", holder_masked="张*",
                         node="web-1")
    assert re.fullmatch(r"\d{6}", appointment.code)
    assert (appointment.slot_start, appointment.slot_end, appointment.state) == (
        f"{MONDAY}T10:00", f"{MONDAY}T10:30", AppointmentState.BOOKED)
    event = rec.log[-1]
    assert event.type == ev.APPOINTMENT_BOOKED and event.node == "web-1"
    assert {"appointment", "service", "day", "slot_start", "slot_end", "holder_key", "holder_masked",
            "code"} <= set(event.data)
    assert event.data["day"] == MONDAY and event.data["code"] == appointment.code
    assert appointment.start_at == at(MONDAY, "10:00") and appointment.end_at == at(MONDAY, "10:30")
    assert "holder_key" not in appointment.view()


@pytest.mark.parametrize(("slot", "why"), [
    (f"{MONDAY}T12:00", "lunch"), (f"{MONDAY}T11:45", "not a slot boundary"), (f"{MONDAY}T17:30", "after hours"),
    (f"{MONDAY}T08:30", "before the first session"), (f"{SUNDAY}T10:00", "Sunday: closed"),
    (f"{MONDAY}T07:30", "in the past"), (f"{MONDAY}T08:00", "begun"),
])
def test_slots_outside_the_service_hours_or_in_the_past_are_unavailable(slot: str, why: str) -> None:
    rec, clock = setup()
    clock.set(MONDAY, "08:00")
    with pytest.raises(QueueError) as excinfo:
        rec.do("book", "C01", slot, clock.now, holder_key="h1")
    refused(excinfo, "slot_unavailable")
    assert rec.engine.appointments.appointments == {}, why


def test_saturday_slots_follow_the_weekend_sessions_and_holidays_have_none() -> None:
    rec, clock = setup(days_ahead=60)
    assert book(rec, f"{SATURDAY}T11:30", at_=clock())
    with pytest.raises(QueueError) as excinfo:
        book(rec, f"{SATURDAY}T13:30", holder="h2", at_=clock())  # weekend: mornings only
    refused(excinfo, "slot_unavailable")
    with pytest.raises(QueueError) as excinfo:
        book(rec, "2026-12-31T10:00", holder="h2", at_=clock())  # the hall's public holiday
    refused(excinfo, "slot_unavailable")


def test_a_malformed_slot_start_is_a_400() -> None:
    rec, clock = setup()
    with pytest.raises(QueueError) as excinfo:
        rec.do("book", "C01", "10:00", clock(), holder_key="h1")
    assert refused(excinfo, "invalid_slot_start").status == 400


def test_a_slot_holds_its_capacity_and_a_cancel_frees_a_place() -> None:
    rec, clock = setup(capacity=2)
    first = book(rec, f"{MONDAY}T10:00", "h1", at_=clock())
    book(rec, f"{MONDAY}T10:00", "h2", at_=clock())
    with pytest.raises(QueueError) as excinfo:
        book(rec, f"{MONDAY}T10:00", "h3", at_=clock())
    assert refused(excinfo, "slot_full").details == {"slot_start": f"{MONDAY}T10:00", "capacity": 2}
    assert book(rec, f"{MONDAY}T10:30", "h3", at_=clock())  # the next slot has room
    rec.do("cancel_appointment", first.id, clock(), reason="行程变更")
    assert rec.log[-1].type == ev.APPOINTMENT_CANCELLED and rec.log[-1].data["reason"] == "行程变更"
    assert book(rec, f"{MONDAY}T10:00", "h4", at_=clock())


def test_one_booking_per_holder_service_and_day() -> None:
    rec, clock = setup()
    first = book(rec, f"{MONDAY}T10:00", "h1", at_=clock())
    with pytest.raises(QueueError) as excinfo:
        book(rec, f"{MONDAY}T14:00", "h1", at_=clock())
    assert refused(excinfo, "already_booked").details["appointment"] == first.id
    assert book(rec, f"{MONDAY}T14:00", "h1", service="B01", at_=clock())  # another service
    assert book(rec, f"{TUESDAY}T10:00", "h1", at_=clock())  # another day
    rec.do("cancel_appointment", first.id, clock())
    assert book(rec, f"{MONDAY}T14:00", "h1", at_=clock())  # cancelled: the day is free again


def test_booking_opens_days_ahead() -> None:
    rec, clock = setup(days_ahead=7)
    assert book(rec, "2026-11-30T10:00", at_=clock())  # Monday + 7
    with pytest.raises(QueueError) as excinfo:
        book(rec, "2026-12-01T10:00", holder="h2", at_=clock())  # Monday + 8
    assert refused(excinfo, "booking_not_open").details == {"opens_on": "2026-11-24"}


def test_services_without_appointments_take_no_bookings() -> None:
    rec, clock = setup()
    with pytest.raises(QueueError) as excinfo:
        book(rec, f"{MONDAY}T10:00", service="A01", at_=clock())
    refused(excinfo, "appointments_not_taken")


def test_check_in_codes_are_unique_among_open_bookings_and_decided_in_the_event() -> None:
    rec, clock = setup(capacity=50, days_ahead=30)
    codes = [book(rec, f"{MONDAY}T{h:02d}:{m:02d}", f"h{n}", at_=clock()).code
             for n, (h, m) in enumerate((h, m) for h in (9, 10, 11, 14, 15, 16) for m in (0, 30))]
    assert len(set(codes)) == len(codes)
    assert [e.data["code"] for e in rec.log if e.type == ev.APPOINTMENT_BOOKED] == codes


# ---------------------------------------------------------------------------------------------- check-in
def test_too_early_is_refused_with_the_time_to_come_back() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    mark = len(rec.log)
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "09:29"), appointment_id=appointment.id)
    err = refused(excinfo, "checkin_too_early")
    assert err.details == {"come_back_at": f"{MONDAY}T09:30", "slot_start": f"{MONDAY}T10:00"}
    assert "09:30" in err.message_zh and len(rec.log) == mark


def test_on_time_one_command_emits_the_check_in_then_the_appointment_ticket_called_first() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    clock.set(MONDAY, "09:50")
    walk_in = rec.do("issue", "C01", clock(), holder_key="h9")[0]
    mark = len(rec.log)
    outcome = rec.do("check_in", at(MONDAY, "10:05"), code=appointment.code, node="kiosk-1")
    assert [e.type for e in rec.log[mark:]] == [ev.APPOINTMENT_CHECKED_IN, ev.TICKET_ISSUED]
    checked, issued = rec.log[mark:]
    assert checked.data["ticket"] == issued.data["ticket"] == outcome.ticket.id
    assert issued.data["priority"] == "appointment" and issued.data["appointment_id"] == appointment.id
    assert not outcome.existing and outcome.appointment.state is AppointmentState.CHECKED_IN
    assert outcome.ticket.priority is Priority.APPOINTMENT and outcome.ticket.holder_key == "h1"
    rec.do("sign_in", 1, "s1", at(MONDAY, "10:06"))
    assert rec.do("call_next", 1, at(MONDAY, "10:07")).id == outcome.ticket.id
    assert rec.engine.tickets[walk_in.id].state is TicketState.WAITING


def test_early_check_in_waits_as_a_normal_ticket_until_its_slot_starts() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    rec.do("issue", "C01", at(MONDAY, "09:35"), holder_key="h8")  # a walk-in before the check-in
    outcome = rec.do("check_in", at(MONDAY, "09:40"), appointment_id=appointment.id)
    later = rec.do("issue", "C01", at(MONDAY, "09:45"), holder_key="h9")[0]
    engine = rec.engine
    assert outcome.ticket.rank == 1 and engine.ahead_of(outcome.ticket) == 1  # in check-in order, no sooner
    rec.do("tick", at(MONDAY, "09:59:59"))
    assert not [e for e in rec.log if e.type == ev.APPOINTMENT_DUE]
    rec.do("tick", at(MONDAY, "10:00"))
    due = [e for e in rec.log if e.type == ev.APPOINTMENT_DUE]
    assert [e.data["ticket"] for e in due] == [outcome.ticket.id]
    assert outcome.ticket.rank == 0 and engine.ahead_of(outcome.ticket) == 0
    rec.do("tick", at(MONDAY, "10:00:01"))
    assert len([e for e in rec.log if e.type == ev.APPOINTMENT_DUE]) == 1  # once
    rec.do("sign_in", 1, "s1", at(MONDAY, "10:01"))
    assert rec.do("call_next", 1, at(MONDAY, "10:02")).id == outcome.ticket.id
    assert engine.tickets[later.id].state is TicketState.WAITING


def test_an_early_ticket_called_before_its_slot_is_not_moved_later() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    outcome = rec.do("check_in", at(MONDAY, "09:40"), appointment_id=appointment.id)
    rec.do("sign_in", 1, "s1", at(MONDAY, "09:41"))
    assert rec.do("call_next", 1, at(MONDAY, "09:42")).id == outcome.ticket.id  # nobody else waits
    rec.do("tick", at(MONDAY, "10:00"))
    assert not [e for e in rec.log if e.type == ev.APPOINTMENT_DUE]


def test_too_late_is_refused_with_the_offer_of_a_normal_ticket_never_issued_silently() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    mark = len(rec.log)
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:15:01"), appointment_id=appointment.id)
    err = refused(excinfo, "checkin_too_late")
    assert err.details == {"offer": "normal_ticket", "service": "C01", "slot_start": f"{MONDAY}T10:00"}
    assert len(rec.log) == mark and not rec.engine.tickets
    ticket, existing = rec.do("issue", "C01", at(MONDAY, "10:16"), holder_key="h1")  # the offer, taken
    assert ticket.priority is Priority.NORMAL and not existing


def test_the_late_bound_is_inclusive() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    outcome = rec.do("check_in", at(MONDAY, "10:15"), appointment_id=appointment.id)
    assert outcome.ticket.rank == 0


def test_checked_in_twice_gives_the_same_ticket_and_no_event() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    first = rec.do("check_in", at(MONDAY, "10:01"), appointment_id=appointment.id)
    mark = len(rec.log)
    for again in (rec.do("check_in", at(MONDAY, "10:02"), code=first.appointment.code),
                  rec.do("check_in", at(MONDAY, "10:40"), holder_key="h1")):  # even after the late bound
        assert again.existing and again.ticket.id == first.ticket.id
    assert len(rec.log) == mark


def test_check_in_by_holder_key_needs_the_service_when_the_holder_booked_two() -> None:
    rec, clock = setup()
    c01 = book(rec, f"{MONDAY}T10:00", "h1", "C01", at_=clock())
    book(rec, f"{MONDAY}T10:00", "h1", "B01", at_=clock())
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:01"), holder_key="h1")
    assert sorted(refused(excinfo, "appointment_ambiguous").details["services"]) == ["B01", "C01"]
    outcome = rec.do("check_in", at(MONDAY, "10:01"), holder_key="h1", service="C01")
    assert outcome.appointment.id == c01.id
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:01"), holder_key="h2")
    refused(excinfo, "appointment_not_found")
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:01"), code="000000" if c01.code != "000000" else "000001")
    refused(excinfo, "appointment_not_found")


def test_a_holder_with_an_open_ticket_of_the_service_cancels_it_before_checking_in() -> None:
    rec, clock = setup()
    appointment = book(rec, f"{MONDAY}T10:00", at_=clock())
    ticket = rec.do("issue", "C01", at(MONDAY, "09:55"), holder_key="h1")[0]
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:01"), appointment_id=appointment.id)
    assert refused(excinfo, "holder_has_ticket").details["ticket"] == ticket.id
    rec.do("act", "cancel", ticket.id, at(MONDAY, "10:02"))
    assert rec.do("check_in", at(MONDAY, "10:03"), appointment_id=appointment.id).ticket.rank == 0


def test_cancelled_bookings_cannot_check_in_and_checked_in_ones_cannot_be_cancelled() -> None:
    rec, clock = setup()
    gone = book(rec, f"{MONDAY}T10:00", "h1", at_=clock())
    kept = book(rec, f"{MONDAY}T10:00", "h2", at_=clock())
    rec.do("cancel_appointment", gone.id, clock())
    mark = len(rec.log)
    assert rec.do("cancel_appointment", gone.id, clock()).state is AppointmentState.CANCELLED
    assert len(rec.log) == mark  # a second cancel changes nothing
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:01"), appointment_id=gone.id)
    refused(excinfo, "appointment_cancelled")
    rec.do("check_in", at(MONDAY, "10:01"), appointment_id=kept.id)
    with pytest.raises(QueueError) as excinfo:
        rec.do("cancel_appointment", kept.id, at(MONDAY, "10:02"))
    refused(excinfo, "appointment_not_open")


# ---------------------------------------------------------------------------------------------- no-shows
def test_a_booking_not_checked_in_by_slot_end_plus_grace_becomes_a_no_show_on_the_tick() -> None:
    rec, clock = setup(no_show_grace_minutes=15)
    missed = book(rec, f"{MONDAY}T10:00", "h1", at_=clock())
    came = book(rec, f"{MONDAY}T10:00", "h2", at_=clock())
    rec.do("check_in", at(MONDAY, "10:05"), appointment_id=came.id)
    rec.do("tick", at(MONDAY, "10:44:59"))
    assert not [e for e in rec.log if e.type == ev.APPOINTMENT_NO_SHOW]
    rec.do("tick", at(MONDAY, "10:45"))
    rec.do("tick", at(MONDAY, "10:46"))
    no_shows = [e for e in rec.log if e.type == ev.APPOINTMENT_NO_SHOW]
    assert [e.data for e in no_shows] == [{"appointment": missed.id, "service": "C01", "holder_key": "h1",
                                           "slot_start": f"{MONDAY}T10:00"}]
    book_ = rec.engine.appointments
    assert missed.state is AppointmentState.NO_SHOW and book_.no_show_count("h1", at(MONDAY, "11:00")) == 1
    assert book_.no_show_count("h2", at(MONDAY, "11:00")) == 0
    assert book_.no_show_count("h1", at(MONDAY, "10:45") + NO_SHOW_DAYS * 86400 + 1) == 0  # 90 days on
    with pytest.raises(QueueError) as excinfo:
        rec.do("check_in", at(MONDAY, "10:50"), appointment_id=missed.id)
    refused(excinfo, "checkin_too_late")
    assert book(rec, f"{MONDAY}T14:00", "h1", at_=at(MONDAY, "11:00"))  # the missed day is free again


def test_no_shows_of_a_quiet_night_come_on_the_next_tick_after_the_day_rolls() -> None:
    rec, clock = setup()
    missed = book(rec, f"{MONDAY}T17:00", "h1", at_=clock())
    rec.do("tick", at(TUESDAY, "08:00"))
    types = [e.type for e in rec.log]
    assert types[-2:] == [ev.DAY_ROLLED, ev.APPOINTMENT_NO_SHOW]
    assert missed.state is AppointmentState.NO_SHOW


# ---------------------------------------------------------------------------------------------- replay
def busy_booking_day(rec: Recorder, clock: Clock) -> None:
    """Bookings, refusals, cancels, check-ins early / on time / late / twice, no-shows, across two days."""
    def attempt(command: str, *args: object, **kwargs: object) -> object:
        try:
            return rec.do(command, *args, **kwargs)
        except QueueError:
            return None

    early = book(rec, f"{MONDAY}T10:00", "h1", at_=clock())
    on_time = book(rec, f"{MONDAY}T10:00", "h2", at_=clock())
    missed = book(rec, f"{MONDAY}T10:30", "h3", at_=clock())
    cancelled = book(rec, f"{MONDAY}T11:00", "h4", at_=clock())
    book(rec, f"{TUESDAY}T10:00", "h5", at_=clock())
    attempt("book", "C01", f"{MONDAY}T12:00", clock(), holder_key="h6")
    rec.do("cancel_appointment", cancelled.id, clock(), reason="改期")
    rec.do("sign_in", 1, "s1", at(MONDAY, "09:30"))
    rec.do("issue", "A01", at(MONDAY, "09:31"))
    rec.do("check_in", at(MONDAY, "09:40"), appointment_id=early.id)
    attempt("check_in", at(MONDAY, "09:41"), appointment_id=on_time.id)
    rec.do("tick", at(MONDAY, "10:00"))
    rec.do("check_in", at(MONDAY, "10:02"), code=on_time.code)
    rec.do("check_in", at(MONDAY, "10:03"), holder_key="h2")
    rec.do("call_next", 1, at(MONDAY, "10:04"))
    rec.do("tick", at(MONDAY, "11:15"))
    attempt("check_in", at(MONDAY, "11:16"), appointment_id=missed.id)
    rec.do("tick", at(TUESDAY, "09:00"))
    rec.do("check_in", at(TUESDAY, "09:45"), holder_key="h5")


def test_replay_rebuilds_the_same_bookings_tickets_and_indexes() -> None:
    rec, clock = setup()
    busy_booking_day(rec, clock)
    assert {e.type for e in rec.log} >= {ev.APPOINTMENT_BOOKED, ev.APPOINTMENT_CANCELLED, ev.APPOINTMENT_CHECKED_IN,
                                         ev.APPOINTMENT_NO_SHOW, ev.APPOINTMENT_DUE, ev.DAY_ROLLED}
    rows = [Event.from_row(e.id, e.type, e.v, e.at, e.node, e.staff, e.data_json()) for e in rec.log]
    again = replayed(rec.engine.hall, rows)
    assert snapshot(again) == snapshot(rec.engine)
    assert again.appointments.no_show_count("h3", at(TUESDAY, "10:00")) == 1


def test_a_replayed_engine_decides_the_same_ticks_and_check_ins() -> None:
    rec, clock = setup()
    busy_booking_day(rec, clock)
    restarted = Recorder(replayed(rec.engine.hall, rec.log))
    outcomes = []
    for recorder in (rec, restarted):
        mark = len(recorder.log)
        late = book(recorder, f"{TUESDAY}T14:00", "h7", at_=at(TUESDAY, "10:00"))
        early = recorder.do("check_in", at(TUESDAY, "13:31"), code=late.code)
        recorder.do("tick", at(TUESDAY, "14:00"))
        recorder.do("tick", at(TUESDAY, "14:45"))
        ids = {late.id: "booking", early.ticket.id: "ticket"}  # the two engines draw different random ids
        outcomes.append([(e.type, e.at, {k: ids.get(v, v) for k, v in e.data.items() if k != "code"})
                         for e in recorder.log[mark:] if not e.type.startswith("alert.")])  # alerts: own tests
    assert outcomes[0] == outcomes[1]


# ---------------------------------------------------------------------------------------------- held places
def test_todays_bookings_hold_their_places_from_walk_ins_and_check_in_uses_them() -> None:
    """B01's daily quota is 3 and two citizens booked today: walk-ins get one ticket; the booked get theirs."""
    rec = Recorder(new_engine(with_service(hall(), "B01", daily_quota=3)))
    first = book(rec, f"{MONDAY}T14:00", "h1", "B01", at(MONDAY, "08:00"))
    second = book(rec, f"{MONDAY}T14:00", "h2", "B01", at(MONDAY, "08:01"))
    rec.do("issue", "B01", at(MONDAY, "09:00"))
    with pytest.raises(QueueError) as excinfo:
        rec.do("issue", "B01", at(MONDAY, "09:01"))
    assert refused(excinfo, "daily_quota_reached").details["held_for_appointments"] == 2
    for booking in (first, second):
        ticket = rec.do("check_in", at(MONDAY, "14:01"), appointment_id=booking.id).ticket
        assert ticket.priority is Priority.APPOINTMENT
    assert rec.engine._issued["B01"] == 3  # never more than the quota
    rec.do("cancel_appointment", book(rec, f"{TUESDAY}T14:00", "h3", "B01", at(MONDAY, "15:00")).id,
           at(MONDAY, "15:01"))
    assert snapshot(replayed(rec.engine.hall, rec.log)) == snapshot(rec.engine)


def test_a_cancelled_or_missed_booking_gives_its_place_back_to_walk_ins() -> None:
    rec = Recorder(new_engine(with_service(hall(), "B01", daily_quota=2)))
    booked = book(rec, f"{MONDAY}T14:00", "h1", "B01", at(MONDAY, "08:00"))
    rec.do("issue", "B01", at(MONDAY, "09:00"))
    with pytest.raises(QueueError):
        rec.do("issue", "B01", at(MONDAY, "09:01"))
    rec.do("cancel_appointment", booked.id, at(MONDAY, "10:00"))
    assert rec.do("issue", "B01", at(MONDAY, "10:01")).ticket.number == "B002"
