"""Random hall days with the hall services (hypothesis stateful): bookings, check-ins, ratings, cases, alerts, ticks.

A real QueueEngine is driven through bookings and cancellations, check-ins (early, on time, late, too
early, twice; by id, code or holder), tickets issued, called, started, finished, skipped, re-queued,
transferred and cancelled, ratings (levels 1..5, every channel, some refused), follow-up and case steps,
complaints and assisted matters, alert acknowledgements and closings, ticks, and a clock that steps
forward (seconds to a night) and back. Checked after every step, from the log itself:

- at most one rating per matter; every bad rating (level 1–2) has exactly one follow-up case, and no good
  rating has one;
- every figure of every day (counts, completion rate, ratings, satisfaction, mean level, durations) equals
  the independent recount of tests/support/figures_recount.py;
- alerts raised and resolved pair up: each id raised once, resolved at most once and never before it was
  raised, acknowledged or closed only once raised; no two open alerts for one (kind, subject); the
  engine's open conditions are the log's;
- an appointment is checked in at most once (from ``booked`` only) and yields exactly one ticket (the
  next event, priority appointment); no-show only for a booking never checked in nor cancelled;
  bookings per slot never above its capacity;
- a refused command emits nothing but a day roll-over (and call-next's documented implicit finish);
- every 10 steps and at teardown a fresh engine replaying the log rebuilds the same snapshot.

Run longer: ``HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -q tests/unit/test_engine_stateful_services.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections import Counter
from typing import Any

import hypothesis
import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from config.model import AlertThresholds, BookingRules, Hall, RatingRules, TimeRange
from queue_server.engine import events as ev
from queue_server.engine.alerts import Alert
from queue_server.engine.appointments import Appointment
from queue_server.engine.cases import CASE_ACTIONS, FOLLOWUP_ACTIONS, STEPS_BY_KIND
from queue_server.engine.errors import QueueError
from queue_server.engine.figures import Tally
from queue_server.engine.state import Ticket, TicketState
from tests.support.engine_kit import Recorder, new_engine, replayed, snapshot, with_service
from tests.support.figures_recount import Recount
from tests.support.halls import MONDAY, at, hm, small_hall, span

WINDOWS = (1, 2, 3, 4)
SERVICES = ("A01", "B01", "C01")
BOOKABLE = ("A01", "C01")
HOLDERS = ("h1", "h2", "h3", "h4")
STEPS = tuple(dict.fromkeys(FOLLOWUP_ACTIONS + CASE_ACTIONS))
REPLAY_EVERY = 10
DAY_S = 86400

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
SETTINGS = settings(
    max_examples=1000 if LONG else 100,
    stateful_step_count=100 if LONG else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def services_hall(window_hours: float, followup_days: int, hold_minutes: float) -> Hall:
    """The small hall open almost all day, A01 and C01 bookable with small slots, alert thresholds in minutes."""
    hall = small_hall(daily_quota=0)
    day = (span("00:00-12:00"), TimeRange(hm("12:30"), hm("23:59:59")))
    hall = dataclasses.replace(hall, hours=dataclasses.replace(hall.hours, weekdays=day, weekend=day),
                               ratings=RatingRules(window_hours=window_hours, followup_working_days=followup_days,
                                                   complaint_working_days=1, assisted_working_days=2),
                               alerts=AlertThresholds(long_wait_minutes=10, long_queue=3, idle_window_minutes=5,
                                                      pause_minutes=5, quota_nearly_used_percent=50,
                                                      hold_minutes=hold_minutes))
    hall = with_service(hall, "A01", appointments=True, daily_quota=8, slot_quotas=(),
                        booking=BookingRules(slot_minutes=15, capacity=1, days_ahead=1))
    return with_service(hall, "C01", booking=BookingRules(slot_minutes=30, capacity=2, days_ahead=2,
                                                          checkin_early_minutes=30, checkin_late_minutes=15,
                                                          no_show_grace_minutes=10))


class LogCheck:
    """The invariants read from the event log alone, fed event by event."""

    def __init__(self, hall: Hall) -> None:
        self.capacity = {s.code: s.booking.capacity for s in hall.services}
        self.ratings: Counter[str] = Counter()
        self.bad: set[str] = set()
        self.followups: Counter[str] = Counter()
        self.raised: dict[str, tuple[str, str]] = {}
        self.resolved: set[str] = set()
        self.acked: set[str] = set()
        self.closed: set[str] = set()
        self.open: dict[tuple[str, str], str] = {}
        self.booking: dict[str, str] = {}  # appointment → state as the log says
        self.slot_of: dict[str, tuple[str, str]] = {}
        self.in_slot: Counter[tuple[str, str]] = Counter()
        self.tickets_of: Counter[str] = Counter()
        self.expect_ticket: str | None = None  # the appointment whose ticket.issued must come next
        self.checked_ticket = ""

    def feed(self, e: Any) -> None:
        d, t = e.data, e.type
        if self.expect_ticket is not None:
            assert t == ev.TICKET_ISSUED and d["appointment_id"] == self.expect_ticket, (t, d)
            assert d["priority"] == "appointment" and d["ticket"] == self.checked_ticket, d
            self.expect_ticket = None
        if t == ev.RATING_GIVEN:
            self.ratings[d["ticket"]] += 1
            assert self.ratings[d["ticket"]] == 1, f"ticket {d['ticket']} rated twice"
            assert 1 <= d["level"] <= 5 and d["channel"] in ("pad", "kiosk", "web"), d
            if d["level"] <= 2:
                self.bad.add(d["ticket"])
        elif t == ev.CASE_OPENED and d["kind"] == "followup":
            assert d["ticket"] in self.bad, f"a follow-up of {d['ticket']} without a bad rating"
            self.followups[d["ticket"]] += 1
        elif t == ev.ALERT_RAISED:
            assert d["alert"] not in self.raised, f"alert {d['alert']} raised twice"
            key = (d["kind"], d["subject"])
            assert key not in self.open, f"two open alerts for {key}"
            self.raised[d["alert"]] = key
            self.open[key] = d["alert"]
        elif t in (ev.ALERT_RESOLVED, ev.ALERT_ACKNOWLEDGED, ev.ALERT_CLOSED):
            assert d["alert"] in self.raised, f"{t} of alert {d['alert']} never raised"
            seen = {ev.ALERT_RESOLVED: self.resolved, ev.ALERT_ACKNOWLEDGED: self.acked,
                    ev.ALERT_CLOSED: self.closed}[t]
            assert d["alert"] not in seen, f"{t} twice for alert {d['alert']}"
            seen.add(d["alert"])
            if t == ev.ALERT_RESOLVED:
                del self.open[self.raised[d["alert"]]]
            else:
                assert d["alert"] not in self.resolved, f"{t} of alert {d['alert']} after it was resolved"
        else:
            self.feed_booking(e)

    def feed_booking(self, e: Any) -> None:
        d, t = e.data, e.type
        if t == ev.APPOINTMENT_BOOKED:
            slot = (d["service"], d["slot_start"])
            self.booking[d["appointment"]], self.slot_of[d["appointment"]] = "booked", slot
            self.in_slot[slot] += 1
            assert self.in_slot[slot] <= self.capacity[d["service"]], f"slot {slot} over its capacity"
        elif t == ev.APPOINTMENT_CANCELLED:
            assert self.booking[d["appointment"]] == "booked", (d, self.booking[d["appointment"]])
            self.booking[d["appointment"]] = "cancelled"
            self.in_slot[self.slot_of[d["appointment"]]] -= 1
        elif t == ev.APPOINTMENT_CHECKED_IN:
            assert self.booking[d["appointment"]] == "booked", f"{d['appointment']} checked in twice (or late)"
            self.booking[d["appointment"]] = "checked_in"
            self.expect_ticket, self.checked_ticket = d["appointment"], d["ticket"]
        elif t == ev.APPOINTMENT_NO_SHOW:
            assert self.booking[d["appointment"]] == "booked", f"no-show of {self.booking[d['appointment']]} booking"
            self.booking[d["appointment"]] = "no_show"
            self.in_slot[self.slot_of[d["appointment"]]] -= 1  # its slot is over: the place is free, not bookable
        elif t == ev.TICKET_ISSUED and d["appointment_id"]:
            self.tickets_of[d["appointment_id"]] += 1
            assert self.tickets_of[d["appointment_id"]] == 1, f"{d['appointment_id']} gave two tickets"


class ServicesDay(RuleBasedStateMachine):
    """One hall over a few days: citizens book, check in, take numbers, get served, rate; managers follow up."""

    @initialize(start=st.sampled_from(["08:40", "11:50", "23:30"]), window_hours=st.sampled_from([2.0, 24.0]),
                followup_days=st.sampled_from([1, 2]), hold=st.sampled_from([0.0, 2.0]),
                windows=st.sets(st.sampled_from(WINDOWS), min_size=1))
    def open_hall(self, start: str, window_hours: float, followup_days: int, hold: float, windows: set[int]) -> None:
        self.hall = services_hall(window_hours, followup_days, hold)
        self.engine = new_engine(self.hall)
        self.rec = Recorder(self.engine)
        self.recount = Recount(self.hall)
        self.check = LogCheck(self.hall)
        self.now = at(MONDAY, start)
        self.steps = 0
        self.fed = 0
        for window in sorted(windows):
            self.run("sign_in", window, f"s{window}", self.now, node=f"pad-{window}")

    # ------------------------------------------------------------------ running commands
    def run(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a command; a refusal emits nothing but a day roll-over (or call-next's implicit finish)."""
        before = snapshot(self.engine)
        try:
            result = self.rec.do(command, *args, **kwargs)
            hypothesis.event(f"{command}: done")
        except QueueError as err:
            hypothesis.event(f"{command}: {err.code}")
            kinds = [e.type for e in err.events if e.type != ev.DAY_ROLLED]
            implicit = kinds == [ev.TICKET_FINISHED] and err.code == "queue_empty" and err.events[-1].data["implicit"]
            assert not kinds or implicit, (command, err.code, err.events)
            if not err.events:
                assert snapshot(self.engine) == before, f"refused {command} ({err.code}) changed the state"
            result = None
        for event in self.rec.log[self.fed:]:
            self.recount.feed(event)
            self.check.feed(event)
            if event.type == ev.ALERT_RAISED:
                hypothesis.event(f"alert {event.data['kind']}")
        self.fed = len(self.rec.log)
        return result

    def pick(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    def every_ticket(self) -> list[Ticket]:
        return [*self.engine.past.values(), *self.engine.tickets.values()]

    def upcoming_slots(self, service: str, days: int) -> list[str]:
        """The ISO starts of the service's slots on the day ``days`` after the business day."""
        engine = self.engine
        day = dt.date.fromisoformat(engine.day or MONDAY) + dt.timedelta(days=days)
        return [engine.slot_instant(day, start)[1] for start, _ in engine.booking_slots(engine.service(service), day)]

    # ------------------------------------------------------------------ the clock
    @rule(seconds=st.sampled_from([1, 30, 120, 400, 900, 1800, 3 * 3600, 9 * 3600]))
    def advance(self, seconds: int) -> None:
        self.now += seconds

    @rule(seconds=st.sampled_from([2, 90, 900, 3600, 6 * 3600]))
    def clock_back(self, seconds: int) -> None:
        """The clock steps back (an NTP correction, a PC after a power cut), maybe across midnight."""
        self.now -= seconds

    @rule(clock=st.sampled_from(["00:00", "08:50", "09:10"]), days=st.integers(1, 3))
    def next_day(self, clock: str, days: int) -> None:
        """Over the night (or a weekend) to a later day: no-shows, expired ratings, overdue cases."""
        day = dt.date.fromisoformat(self.engine.calendar.day_of(self.now)) + dt.timedelta(days=days)
        self.now = max(self.now, at(day.isoformat(), clock))

    @rule()
    def tick(self) -> None:
        self.run("tick", self.now)

    # ------------------------------------------------------------------ appointments
    @rule(service=st.sampled_from(BOOKABLE), holder=st.sampled_from(HOLDERS), days=st.integers(0, 2),
          index=st.integers(0, 60), channel=st.sampled_from(["booking-1", ""]))
    def book(self, service: str, holder: str, days: int, index: int, channel: str) -> None:
        """Book one of a day's slots (a past one is refused, as is a full slot or a second booking that day)."""
        slot = self.pick(self.upcoming_slots(service, days), index)
        if slot is not None:
            self.run("book", service, slot, self.now, holder_key=holder, holder_masked="张*", node=channel)

    @rule(service=st.sampled_from(BOOKABLE), holder=st.sampled_from(HOLDERS))
    def book_soon(self, service: str, holder: str) -> None:
        """Book the next slot after now: the one a check-in soon will be about."""
        slot = self.pick([s for s in self.upcoming_slots(service, 0) + self.upcoming_slots(service, 1)
                          if at(*s.split("T")) > self.now], 0)
        if slot is not None:
            self.run("book", service, slot, self.now, holder_key=holder, holder_masked="李*")

    @rule(index=st.integers(0, 50))
    def cancel_booking(self, index: int) -> None:
        booking = self.pick(list(self.engine.appointments.appointments.values()), index)
        if booking is not None:
            self.run("cancel_appointment", booking.id, self.now, reason="有事", node="booking-1")

    @rule(index=st.integers(0, 50), offset=st.sampled_from([None, -45, -20, 0, 1, 10, 20, 50]),
          by=st.sampled_from(["id", "code", "holder"]))
    def check_in(self, index: int, offset: int | None, by: str) -> None:
        """Check a booking in now, or at ``offset`` minutes from its slot start (the clock only moves on)."""
        booking: Appointment | None = self.pick(list(self.engine.appointments.appointments.values()), index)
        if booking is None:
            return
        if offset is not None:
            self.now = max(self.now, booking.start_at + offset * 60)
        how = {"id": {"appointment_id": booking.id}, "code": {"code": booking.code},
               "holder": {"holder_key": booking.holder_key, "service": booking.service}}[by]
        self.run("check_in", self.now, node="kiosk-1", **how)

    # ------------------------------------------------------------------ tickets and windows
    @rule(service=st.sampled_from(SERVICES), holder=st.sampled_from(("", *HOLDERS)),
          green=st.booleans())
    def issue(self, service: str, holder: str, green: bool) -> None:
        self.run("issue", service, self.now, holder_key=holder, holder_masked="王*" if holder else "",
                 node="kiosk-1", priority="green" if green else "normal", green_reason="age_60_plus" if green else "")

    @rule(window=st.sampled_from(WINDOWS), staff=st.sampled_from(["s1", "s2", "s3", "s4"]))
    def sign_in(self, window: int, staff: str) -> None:
        self.run("sign_in", window, staff, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS), staff=st.sampled_from(["s1", "s2", "s3", "s4"]))
    def take_over(self, window: int, staff: str) -> None:
        """Another member of staff signs in at a window while its matter is called or served there."""
        if self.engine.windows[window].current is not None:
            self.run("sign_in", window, staff, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS))
    def sign_out(self, window: int) -> None:
        self.run("sign_out", window, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS), pause=st.booleans())
    def pause_or_resume(self, window: int, pause: bool) -> None:
        if pause:
            self.run("pause", window, self.now, reason="会议", node=f"pad-{window}")
        else:
            self.run("resume", window, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS))
    def work(self, window: int) -> None:
        """The window's usual key: start a called ticket, otherwise call the next one."""
        current = self.engine.windows[window].current
        if current is not None and self.engine.tickets[current].state is TicketState.CALLED:
            self.run("act", "start", current, self.now, window=window, node=f"pad-{window}")
        else:
            self.run("call_next", window, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS), service=st.sampled_from(SERVICES), minutes=st.sampled_from([0, 3, 12]),
          start=st.booleans())
    def serve(self, window: int, service: str, minutes: int, start: bool) -> None:
        """A citizen served end to end: a number taken, called at the window, (started,) finished minutes later."""
        if not self.engine.windows[window].staff:
            self.run("sign_in", window, f"s{window}", self.now, node=f"pad-{window}")
        holder = f"w{self.fed}" if service == "C01" else ""
        self.run("issue", service, self.now, holder_key=holder, node="kiosk-2")
        self.now += 60
        called = self.run("call_next", window, self.now, node=f"pad-{window}")
        if called is None:
            return
        if start:
            self.run("act", "start", called.id, self.now, window=window, node=f"pad-{window}")
        self.now += minutes * 60
        self.run("act", "finish", called.id, self.now, window=window, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS), action=st.sampled_from(["finish", "finish", "skip", "recall", "start"]))
    def press(self, window: int, action: str) -> None:
        current = self.engine.windows[window].current
        if current is not None:
            self.run("act", action, current, self.now, window=window, node=f"pad-{window}")

    @rule(index=st.integers(0, 100), action=st.sampled_from(["transfer", "transfer", "requeue", "cancel"]),
          to_service=st.sampled_from(("", *SERVICES)), to_window=st.sampled_from((None, *WINDOWS)))
    def act(self, index: int, action: str, to_service: str, to_window: int | None) -> None:
        """Transfer (from its window, or waiting), re-queue or cancel any of today's tickets."""
        ticket: Ticket | None = self.pick(list(self.engine.tickets.values()), index)
        if ticket is None:
            return
        window = ticket.window if action == "transfer" else None
        self.run("act", action, ticket.id, self.now, window=window, node=f"pad-{window}" if window else "kiosk-1",
                 to_service=to_service, to_window=to_window, reason="联办")

    # ------------------------------------------------------------------ ratings, cases, alerts
    @rule(index=st.integers(0, 100), level=st.sampled_from([0, 1, 1, 2, 2, 3, 4, 5, 5, 6]),
          channel=st.sampled_from(["pad", "kiosk", "web", "sms"]),
          finished_only=st.booleans())
    def rate(self, index: int, level: int, channel: str, finished_only: bool) -> None:
        """Rate a matter: mostly finished ones (maybe again, maybe too late), sometimes any ticket, bad levels too."""
        tickets = [t for t in self.every_ticket() if not finished_only
                   or (t.state is TicketState.FINISHED and t.id not in self.engine.ratings.ratings)]
        ticket = self.pick(tickets, index)
        if ticket is not None:
            self.run("rate", ticket.id, level, channel, self.now, comment="", node="pad-1")

    @rule(index=st.integers(0, 50), step=st.integers(0, 20), any_step=st.booleans(),
          note=st.sampled_from(["", "已处理", "已处理"]), department=st.sampled_from(["", "SB", "GA", "GA", "XX"]))
    def case_step(self, index: int, step: int, any_step: bool, note: str, department: str) -> None:
        """A step of a case: one its kind has (most often one its state allows), or any step at all."""
        case = self.pick(sorted(self.engine.cases.cases.values(), key=lambda c: c.id), index)
        if case is None:
            return
        steps = STEPS_BY_KIND[case.kind]
        allowed = [name for name, (sources, _) in steps.items() if case.state in sources]
        name = self.pick(list(STEPS) if any_step else allowed or list(steps), step)
        self.run("case_step", case.id, name, self.now, note=note, department=department, node="manager-1",
                 staff="s1")

    @rule(kind=st.sampled_from(["complaint", "assisted", "followup"]), department=st.sampled_from(["", "BDC"]),
          index=st.integers(0, 100), with_ticket=st.booleans())
    def open_case(self, kind: str, department: str, index: int, with_ticket: bool) -> None:
        ticket = self.pick(self.every_ticket(), index) if with_ticket else None
        self.run("open_case", kind, self.now, subject="办不成事", department=department,
                 ticket=ticket.id if ticket else None, holder_masked="赵*", node="complaints-1")

    @rule(index=st.integers(0, 50), close=st.booleans())
    def manage_alert(self, index: int, close: bool) -> None:
        alert: Alert | None = self.pick(sorted(self.engine.alerts.alerts.values(), key=lambda a: a.id), index)
        if alert is None:
            return
        if close:
            self.run("close_alert", alert.id, "已处置", self.now, node="manager-1", staff="s1")
        else:
            self.run("ack_alert", alert.id, self.now, node="manager-1", staff="s1")

    # ------------------------------------------------------------------ invariants
    @invariant()
    def one_rating_and_one_followup_per_bad_rating(self) -> None:
        if not hasattr(self, "engine"):
            return
        check, cases = self.check, self.engine.cases
        assert set(check.followups) == check.bad and all(n == 1 for n in check.followups.values()), check.followups
        assert set(self.engine.ratings.ratings) == set(check.ratings)
        assert set(cases.followup_of) == check.bad
        for ticket, case_id in cases.followup_of.items():
            case = cases.cases[case_id]
            assert case.kind == "followup" and case.ticket == ticket
            assert case.level == self.engine.ratings.ratings[ticket].level

    @invariant()
    def figures_equal_a_recount(self) -> None:
        if not hasattr(self, "engine") or self.engine.day is None:
            return
        figures = self.engine.figures
        days = set(self.recount.days) | set(figures.closed) | {self.engine.day}
        for day in sorted(days):
            mine = self.recount.figures(day)
            theirs = {key: tally.figures() for key, tally in figures.rows(day).items()}
            empty = Tally().figures()
            for key in sorted(set(mine) | set(theirs)):
                assert theirs.get(key, empty) == mine.get(key, empty), (day, key, theirs.get(key), mine.get(key))

    @invariant()
    def open_alerts_are_the_logs(self) -> None:
        if not hasattr(self, "engine"):
            return
        assert self.engine.alerts.current == self.check.open

    @invariant()
    def bookings_are_the_logs(self) -> None:
        if not hasattr(self, "engine"):
            return
        for booking in self.engine.appointments.appointments.values():
            assert booking.state.value == self.check.booking[booking.id], booking
            if booking.state.value == "checked_in":
                assert booking.ticket and self.check.tickets_of[booking.id] == 1
        for (service, slot), taken in self.engine.appointments.slot_taken.items():
            assert taken == self.check.in_slot[(service, slot)] <= self.check.capacity[service]

    @invariant()
    def replay_rebuilds_the_state(self) -> None:
        if not hasattr(self, "engine"):
            return
        self.steps += 1
        if self.steps % REPLAY_EVERY == 0:
            assert snapshot(replayed(self.hall, self.rec.log)) == snapshot(self.engine)

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            assert snapshot(replayed(self.hall, self.rec.log)) == snapshot(self.engine)


ServicesDay.TestCase.settings = SETTINGS
TestServicesDay = ServicesDay.TestCase


def test_a_matter_finished_after_a_takeover_counts_for_who_finished_it() -> None:
    """Found by the machine's recount: s2 takes over window 1 mid-matter and finishes it; s2 gets the rating too."""
    rec = Recorder(new_engine())
    rec.do("sign_in", 1, "s1", at(MONDAY, "09:00"))
    ticket = rec.do("issue", "A01", at(MONDAY, "09:01")).ticket
    rec.do("call_next", 1, at(MONDAY, "09:02"))
    rec.do("act", "start", ticket.id, at(MONDAY, "09:03"), window=1)
    rec.do("sign_in", 1, "s2", at(MONDAY, "09:04"))
    rec.do("act", "finish", ticket.id, at(MONDAY, "09:05"), window=1)
    assert rec.do("rate", ticket.id, 5, "pad", at(MONDAY, "09:06")).staff == "s2"
    s1, s2 = (rec.engine.figures.tally(("staff", s)).figures() for s in ("s1", "s2"))
    assert (s2["finished"], s2["handling_s"]["p50"], s2["ratings"]["5"]) == (1, 120, 1)
    assert (s1["called"], s1["finished"], s1["handling_s"]["p50"]) == (1, 0, None)
    recount = Recount(rec.engine.hall)
    for event in rec.log:
        recount.feed(event)
    assert recount.figures(MONDAY)[("staff", "s2")] == s2
