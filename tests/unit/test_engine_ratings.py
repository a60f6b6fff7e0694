"""好差评 and the case ledger in the engine: one rating per matter, each 差评 one follow-up, every step, replay."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from config.model import HallHours, RatingRules
from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.state import Ticket
from tests.support.engine_kit import Clock, Recorder, new_engine, replayed, snapshot
from tests.support.halls import MONDAY, at, small_hall

D = dt.date.fromisoformat


def hall_with_new_year():  # type: ignore[no-untyped-def]
    """The small hall (open on Saturdays) with New Year holidays and a make-up Sunday (调休)."""
    hall = small_hall()
    hours = dataclasses.replace(hall.hours, holidays=(D("2026-12-31"), D("2027-01-01")),
                                workdays=(D("2027-01-03"),))
    assert isinstance(hours, HallHours)
    return dataclasses.replace(hall, hours=hours)


def finished(rec: Recorder, clock: Clock, service: str = "A01", window: int = 1) -> Ticket:
    """A matter issued, called, started and finished at ``window`` (signed in as s<window>)."""
    if not rec.engine.windows[window].staff:
        rec.do("sign_in", window, f"s{window}", clock(), node=f"pad-{window}")
    ticket = rec.do("issue", service, clock(), node="kiosk-1")[0]
    rec.do("call", ticket.id, window, clock(), node=f"pad-{window}")
    rec.do("act", "start", ticket.id, clock(), window=window)
    rec.do("act", "finish", ticket.id, clock(), window=window, node=f"pad-{window}")
    return ticket


def refused(rec: Recorder, command: str, *args: object, **kwargs: object) -> QueueError:
    with pytest.raises(QueueError) as caught:
        rec.do(command, *args, **kwargs)
    return caught.value


def test_a_finished_matter_is_rated_once_and_credited_to_who_finished_it() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = finished(rec, clock, window=2)
    rating = rec.do("rate", ticket.id, 4, "pad", clock(), node="pad-2")
    assert (rating.level, rating.window, rating.staff, rating.service, rating.department) == (4, 2, "s2", "A01", "SB")
    given = [e for e in rec.log if e.type == ev.RATING_GIVEN]
    assert len(given) == 1 and given[0].data["staff"] == "s2" and given[0].data["finished_at"] == ticket.finished_at
    assert refused(rec, "rate", ticket.id, 5, "pad", clock()).code == "already_rated"
    assert not rec.engine.cases.cases  # a good rating opens nothing


def test_only_a_finished_matter_within_the_window_can_be_rated() -> None:
    hall = dataclasses.replace(small_hall(), ratings=RatingRules(window_hours=2))
    rec, clock = Recorder(new_engine(hall)), Clock()
    rec.do("sign_in", 1, "s1", clock())
    waiting = rec.do("issue", "A01", clock())[0]
    err = refused(rec, "rate", waiting.id, 5, "kiosk", clock())
    assert (err.code, err.status) == ("not_finished", 409)
    assert refused(rec, "rate", "nope", 5, "kiosk", clock()).code == "ticket_not_found"
    done = finished(rec, clock)
    clock(2 * 3600 + 1)
    assert refused(rec, "rate", done.id, 5, "kiosk", clock()).code == "rating_expired"
    other = finished(rec, clock)
    assert refused(rec, "rate", other.id, 6, "kiosk", clock()).code == "invalid_level"
    assert refused(rec, "rate", other.id, 5, "phone", clock()).code == "invalid_channel"
    assert not rec.engine.ratings.ratings


def test_a_transferred_matter_is_credited_to_the_last_window() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    for window in (1, 2):
        rec.do("sign_in", window, f"s{window}", clock())
    ticket = rec.do("issue", "A01", clock())[0]
    rec.do("call", ticket.id, 1, clock())
    rec.do("act", "transfer", ticket.id, clock(), window=1, to_service="B01", to_window=2)
    rec.do("call_next", 2, clock())
    rec.do("act", "finish", ticket.id, clock(), window=2)
    rating = rec.do("rate", ticket.id, 3, "pad", clock())
    assert (rating.window, rating.staff, rating.service, rating.department) == (2, "s2", "B01", "BDC")


def test_every_bad_rating_opens_exactly_one_followup_with_a_working_day_deadline() -> None:
    rec, clock = Recorder(new_engine()), Clock()  # Monday 2026-11-23
    levels = [1, 2, 3, 4, 5, 2]
    tickets = [finished(rec, clock) for _ in levels]
    for ticket, level in zip(tickets, levels, strict=True):
        rec.do("rate", ticket.id, level, "kiosk", clock(), node="kiosk-1")
    cases = rec.engine.cases.cases
    bad = {t.id for t, level in zip(tickets, levels, strict=True) if level <= 2}
    assert {c.ticket for c in cases.values()} == bad and len(cases) == len(bad)
    assert all(c.kind == "followup" and c.state == "open" and c.deadline == "2026-11-30" for c in cases.values())
    assert sorted(c.level or 0 for c in cases.values()) == [1, 2, 2]
    assert set(rec.engine.cases.followup_of) == bad


def test_the_deadline_counts_in_the_halls_zone_across_weekend_holidays_and_a_makeup_workday() -> None:
    hall = hall_with_new_year()
    rec, clock = Recorder(new_engine(hall)), Clock("2026-12-24", "16:00")
    ticket = finished(rec, clock)
    clock.set("2026-12-25", "00:30")  # still Thursday in UTC: the Beijing day is Friday
    rec.do("rate", ticket.id, 1, "web", clock())
    (case,) = rec.engine.cases.cases.values()
    # Mon 28, Tue 29, Wed 30, (Thu 31, Fri 1 holidays, Sat 2), Sun 3 worked, Mon 4
    assert case.deadline == "2027-01-04"
    rec2, clock2 = Recorder(new_engine(hall)), Clock("2026-12-24", "16:00")
    other = finished(rec2, clock2)
    rec2.do("rate", other.id, 2, "web", clock2())
    assert next(iter(rec2.engine.cases.cases.values())).deadline == "2027-01-03"


def test_a_followup_goes_open_contacted_rectified_closed_each_step_attributed() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = finished(rec, clock)
    rec.do("rate", ticket.id, 1, "pad", clock())
    case_id = rec.engine.cases.followup_of[ticket.id]
    assert refused(rec, "case_step", case_id, "close", clock()).code == "invalid_case_state"
    assert refused(rec, "case_step", case_id, "assign", clock()).code == "unknown_step"
    for step, state in (("contact", "contacted"), ("rectify", "rectified"), ("close", "closed")):
        case = rec.do("case_step", case_id, step, clock(), note=f"{step} done", node="pad-1", staff="s1")
        assert case.state == state
    assert [(s.step, s.state, s.note, s.node, s.staff) for s in case.steps] == [
        ("contact", "contacted", "contact done", "pad-1", "s1"),
        ("rectify", "rectified", "rectify done", "pad-1", "s1"), ("close", "closed", "close done", "pad-1", "s1")]
    assert refused(rec, "case_step", case_id, "appeal", clock()).code == "invalid_case_state"


def test_an_appeal_upheld_resumes_and_one_overturned_leaves_the_satisfaction_figure() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    first, second = finished(rec, clock), finished(rec, clock)
    for ticket in (first, second):
        rec.do("rate", ticket.id, 2, "pad", clock())
    upheld, overturned = (rec.engine.cases.followup_of[t.id] for t in (first, second))
    rec.do("case_step", upheld, "contact", clock(), note="called the citizen")
    assert rec.do("case_step", upheld, "appeal", clock(), note="not our fault").state == "appealed"
    assert rec.do("case_step", upheld, "uphold", clock(), note="it was").state == "contacted"
    assert refused(rec, "case_step", upheld, "appeal", clock()).code == "already_appealed"
    rec.do("case_step", overturned, "appeal", clock(), note="the citizen rated the wrong window")
    assert rec.do("case_step", overturned, "overturn", clock(), note="agreed").state == "overturned"
    ratings = rec.engine.ratings.ratings
    assert ratings[second.id].overturned and not ratings[second.id].counted
    assert ratings[first.id].counted
    assert any(e.type == ev.RATING_GIVEN and e.data["ticket"] == second.id for e in rec.log)  # the event stays


def test_complaints_and_assisted_matters_run_their_states_and_figures() -> None:
    rec, clock = Recorder(new_engine()), Clock()  # Monday; complaint 5, assisted 10 working days
    complaint = rec.do("open_case", "complaint", clock(), subject="材料不全被退回", category="办不成事",
                       holder_masked="张*", node="manager")
    assisted = rec.do("open_case", "assisted", clock(), subject="代办营业执照", department="SB")
    declined = rec.do("open_case", "complaint", clock(), subject="重复反映")
    assert (complaint.state, complaint.deadline, assisted.deadline) == ("registered", "2026-11-30", "2026-12-07")
    assert refused(rec, "open_case", "followup", clock(), subject="x").code == "invalid_kind"
    assert refused(rec, "open_case", "complaint", clock(), subject="").code == "subject_required"
    assert refused(rec, "case_step", complaint.id, "assign", clock()).code == "department_required"
    assert refused(rec, "case_step", complaint.id, "start", clock()).code == "invalid_case_state"
    rec.do("case_step", complaint.id, "assign", clock(), department="BDC", note="交不动产")
    assert complaint.department == "BDC"
    for step in ("start", "resolve", "close"):
        rec.do("case_step", complaint.id, step, clock(), note=step)
    assert complaint.state == "closed"
    assert refused(rec, "case_step", declined.id, "decline", clock()).code == "reason_required"
    rec.do("case_step", declined.id, "decline", clock(), note="重复")
    rows = {(r["kind"], r["department"]): r for r in rec.engine.cases.figures(MONDAY, MONDAY)}
    assert rows[("complaint", "BDC")] == {"kind": "complaint", "department": "BDC", "registered": 1, "resolved": 1,
                                          "resolved_on_time": 1, "withdrawn": 0, "resolution_rate": 1.0}
    assert rows[("complaint", "")]["withdrawn"] == 1 and rows[("complaint", "")]["resolution_rate"] is None
    assert rows[("assisted", "SB")]["resolution_rate"] == 0.0
    assert rec.engine.cases.figures("2026-11-24", "2026-11-30") == []


def test_case_overdue_once_after_the_end_of_the_deadline_day_in_the_halls_zone() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    case = rec.do("open_case", "complaint", clock(), subject="s")
    done = rec.do("open_case", "complaint", clock(), subject="t")
    rec.do("case_step", done.id, "decline", clock(), note="not ours")
    assert case.deadline == "2026-11-30"
    rec.do("tick", at("2026-11-30", "23:59:59"))
    assert not any(e.type == ev.CASE_OVERDUE for e in rec.log)
    rec.do("tick", at("2026-12-01", "00:00:01"))
    rec.do("tick", at("2026-12-01", "00:00:02"))
    overdue = [e for e in rec.log if e.type == ev.CASE_OVERDUE]
    assert [e.data["case"] for e in overdue] == [case.id] and case.overdue
    assert overdue[0].data["deadline"] == "2026-11-30"


def busy_ledger(rec: Recorder, clock: Clock) -> None:
    """Ratings, follow-ups in every state, cases, a day roll-over and an overdue tick."""
    tickets = [finished(rec, clock, window=1 + i % 2) for i in range(6)]
    for ticket, level in zip(tickets, (1, 2, 2, 5, 3, 1), strict=True):
        rec.do("rate", ticket.id, level, "pad", clock(), comment="评价")
    ids = [rec.engine.cases.followup_of[t.id] for t in (tickets[0], tickets[1], tickets[2])]
    rec.do("case_step", ids[0], "contact", clock(), note="a")
    rec.do("case_step", ids[1], "appeal", clock(), note="b")
    rec.do("case_step", ids[1], "overturn", clock(), note="c")
    case = rec.do("open_case", "assisted", clock(), subject="代办")
    rec.do("case_step", case.id, "assign", clock(), department="GA")
    late = finished(rec, clock)
    clock.set("2026-11-24", "08:50")
    rec.do("rate", late.id, 2, "kiosk", clock())  # a ticket of the day before
    rec.do("tick", at("2026-12-09", "00:00:01"))


def test_replay_rebuilds_ratings_cases_and_figures() -> None:
    engine = new_engine()
    rec, clock = Recorder(engine), Clock()
    busy_ledger(rec, clock)
    assert any(e.type == ev.CASE_OVERDUE for e in rec.log)
    again = replayed(engine.hall, rec.log)
    assert snapshot(again) == snapshot(engine)
    assert again.cases.figures("2026-11-01", "2026-12-31") == engine.cases.figures("2026-11-01", "2026-12-31")


def test_a_refused_rating_or_step_changes_nothing() -> None:
    engine: QueueEngine = new_engine()
    rec, clock = Recorder(engine), Clock()
    ticket = finished(rec, clock)
    rec.do("rate", ticket.id, 1, "pad", clock())
    before = snapshot(engine)
    for command, args in (("rate", (ticket.id, 1, "pad")), ("case_step", ("nope", "close")),
                          ("case_step", (engine.cases.followup_of[ticket.id], "uphold"))):
        refused(rec, command, *args, clock())
    assert snapshot(engine) == before
