"""Random days at the hall (hypothesis stateful): the engine's invariants hold after every command.

Checked after every step: numbers are unique and gap-free per service and day; every ticket of the day is in
exactly one state and, if waiting, in exactly one waiting line; a called or serving ticket is the current
ticket of exactly one window (its own) and no window holds a ticket in any other state; one open ticket per
holder and service; quotas are never exceeded; people ahead and active windows agree with a recount; a
refused command changes nothing (but a day roll-over it carried, and the one documented side effect); the
starvation bound; and every 10 steps and at the end, a fresh engine replaying the emitted events rebuilds
the same state.

The starvation bound asserted: a waiting ticket at the head of a line that a window serves (its service's
line at a window configured for that service, or the line of tickets transferred to that window) is
overtaken by ``call_next`` at such windows, with a ticket queued later (queue time, then issue order), at
most ``policy.max_bypass`` times before it is itself called. This is the engine docstring's rule 1, exactly:
the engine decides and applies in one step, so no window can overtake a ticket that has reached the bound.
Calls of a specific ticket (the staff's explicit choice) are outside the bound; see the report.

The clock also steps back, by seconds or hours and across midnight both ways: the business day only
moves forward, so Monday is never reopened and no number is issued twice on a day.

Run longer: ``HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -q tests/unit/test_engine_stateful.py``.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from typing import Any

import hypothesis
import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from config.model import QueuePolicy, SlotQuota, TimeRange
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.engine.state import OPEN_STATES, Ticket, TicketState
from tests.support.engine_kit import Recorder, new_engine, replayed, snapshot, with_service
from tests.support.halls import MONDAY, at, hm, small_hall, span

TUESDAY = "2026-11-24"
WINDOWS = (1, 2, 3, 4)  # 1-3 general (A01 weight 2, B01, C01), 4 dedicated to B01
SERVICES = ("A01", "B01", "C01")
HOLDERS = ("", "h1", "h2", "h3")
ACTIONS = ("recall", "skip", "requeue", "start", "finish", "transfer", "cancel", "printed", "print_failed")
REPLAY_EVERY = 10

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
SETTINGS = settings(
    max_examples=2000 if LONG else 200,
    stateful_step_count=120 if LONG else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def machine_hall(policy: QueuePolicy, daily_quota: int) -> Any:
    """The small hall open almost all day (the hours rules have their own tests), with a tight slot quota."""
    hall = small_hall(policy=policy, daily_quota=daily_quota)
    hours = dataclasses.replace(hall.hours, weekdays=(span("00:00-12:00"), TimeRange(hm("12:30"), hm("23:59:59"))))
    hall = dataclasses.replace(hall, hours=hours)
    return with_service(hall, "A01", slot_quotas=(SlotQuota(span("09:00-09:30"), 4),))


def green_reason(priority: str) -> str:
    """The kiosk's reason for a green-channel ticket (a claimed "appointment" stays a refused claim)."""
    return "age_60_plus" if priority == "green" else ""


def line_key(ticket: Ticket, issue_order: dict[str, int]) -> tuple[float, int]:
    """When a ticket joined the queue: its queue time, then the order in which tickets were issued."""
    return (ticket.queue_time, issue_order[ticket.id])


class HallDay(RuleBasedStateMachine):
    """One simulated hall: random commands from kiosks and windows as the clock runs, once across midnight."""

    @initialize(max_bypass=st.integers(1, 3), recall_limit=st.integers(0, 2), requeue_limit=st.integers(0, 2),
                requeue_window=st.sampled_from([1.0, 30.0]), green_first=st.booleans(),
                daily_quota=st.sampled_from([0, 6]), start=st.sampled_from(["08:55", "11:50", "23:40"]),
                windows=st.sets(st.sampled_from(WINDOWS), min_size=1),
                tickets=st.lists(st.tuples(st.sampled_from(SERVICES), st.sampled_from(["normal", "green"]),
                                           st.sampled_from(HOLDERS[1:])), max_size=8))
    def open_hall(self, max_bypass: int, recall_limit: int, requeue_limit: int, requeue_window: float,
                  green_first: bool, daily_quota: int, start: str, windows: set[int],
                  tickets: list[tuple[str, str, str]]) -> None:
        """The hall opens with staff at some windows and a few citizens already waiting, so calls start early."""
        policy = QueuePolicy(recall_limit=recall_limit, requeue_limit=requeue_limit,
                             requeue_window_minutes=requeue_window, max_bypass=max_bypass, green_first=green_first)
        self.hall = machine_hall(policy, daily_quota)
        self.engine = new_engine(self.hall)
        self.rec = Recorder(self.engine)
        self.now = at(MONDAY, start)
        self.crossed = False
        self.steps = 0
        self.numbers: dict[str, set[str]] = {}  # day → every number issued that day
        self.issue_order: dict[str, int] = {}  # ticket id → id of its ticket.issued event
        self.overtaken: Counter[str] = Counter()  # ticket id → overtakes while at a line's head
        for window in sorted(windows):
            self.run("sign_in", window, f"s{window}", self.now, node=f"pad-{window}")
        for service, priority, holder in tickets:
            self.now += 1
            self.run("issue", service, self.now, priority=priority, holder_key=holder, node="kiosk-1",
                     green_reason=green_reason(priority))

    # ------------------------------------------------------------------ running commands
    def run(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a command; a refusal must leave the state as it was, apart from a day roll-over it carried."""
        before = snapshot(self.engine)
        mark = len(self.rec.log)
        try:
            result = self.rec.do(command, *args, **kwargs)
            hypothesis.event(f"{command} {args[0] if command == 'act' else ''}: done")
        except QueueError as err:
            hypothesis.event(f"{command} {args[0] if command == 'act' else ''}: {err.code}")
            kinds = [e.type for e in err.events if e.type != ev.DAY_ROLLED]
            # the one refusal with a side effect: call-next finishes the ticket being served, then finds nobody
            implicit = kinds == [ev.TICKET_FINISHED] and err.code == "queue_empty" and err.events[-1].data["implicit"]
            assert not kinds or implicit, (err.code, err.events)
            if not err.events:
                assert snapshot(self.engine) == before, f"refused {command} ({err.code}) changed the state"
            result = None
        self.observe(self.rec.log[mark:])
        return result

    def observe(self, events: list[Any]) -> None:
        """Book-keeping from the emitted events: numbers per day, issue order, and resets of overtake counts."""
        for event in events:
            if event.type == ev.DAY_ROLLED:
                assert event.data["from"] is None or event.data["to"] > event.data["from"], event.data
                self.overtaken.clear()
                hypothesis.event(f"day rolled to {event.data['to']}")
            elif event.type == ev.TICKET_ISSUED:
                seen = self.numbers.setdefault(event.data["day"], set())
                assert event.data["number"] not in seen, f"{event.data['number']} issued twice on {event.data['day']}"
                seen.add(event.data["number"])
                self.issue_order[event.data["ticket"]] = event.id
            elif event.type == ev.TICKET_CALLED:
                self.overtaken.pop(event.data["ticket"], None)

    def ticket_id(self, index: int) -> str:
        ids = list(self.engine.tickets)
        return ids[index % len(ids)] if ids else "no-such-ticket"

    def visible_heads(self, window: int) -> list[Ticket]:
        """Heads of the lines ``window`` calls from: its services' lines and the line transferred to it."""
        cfg = self.engine.window_config(window)
        lines = [line for (service, _), line in self.engine.lines.items() if cfg.serves(service)]
        lines.append(self.engine.window_lines[window])
        return [self.engine.tickets[head] for line in lines if (head := line.head()) is not None]

    # ------------------------------------------------------------------ rules
    @rule(seconds=st.sampled_from([0, 1, 5, 30, 120, 600, 1900]))
    def advance(self, seconds: int) -> None:
        self.now += seconds

    @precondition(lambda self: not self.crossed)
    @rule(offset=st.integers(-2, 2))
    def midnight(self, offset: int) -> None:
        """Jump to around local midnight; the next command (whatever it is) belongs to Monday or Tuesday."""
        self.crossed = True
        self.now = max(self.now, at(TUESDAY, "00:00") + offset)

    @rule(seconds=st.sampled_from([2, 90, 900, 3600, 6 * 3600]))
    def clock_back(self, seconds: int) -> None:
        """The clock steps back (an NTP correction, a PC after a power cut), maybe across midnight."""
        self.now -= seconds

    @precondition(lambda self: self.engine.day == TUESDAY)
    @rule(offset=st.integers(1, 600))
    def back_across_midnight(self, offset: int) -> None:
        """From Tuesday the clock steps back into Monday evening: Monday must never be reopened."""
        self.now = at(TUESDAY, "00:00") - offset

    @rule(service=st.sampled_from(SERVICES), priority=st.sampled_from(["normal", "normal", "green", "appointment"]),
          holder=st.sampled_from(HOLDERS))
    def issue(self, service: str, priority: str, holder: str) -> None:
        self.run("issue", service, self.now, priority=priority, holder_key=holder, node="kiosk-1",
                 holder_masked="张*" if holder else "", green_reason=green_reason(priority))

    @rule(tickets=st.lists(st.tuples(st.sampled_from(SERVICES), st.sampled_from(["normal", "normal", "green"])),
                           min_size=1, max_size=6))
    def crowd(self, tickets: list[tuple[str, str]]) -> None:
        """Several citizens take numbers within a few seconds (some at the same instant)."""
        for index, (service, priority) in enumerate(tickets):
            self.now += index % 2
            holder = f"c{len(self.issue_order)}" if service == "C01" else ""
            self.run("issue", service, self.now, priority=priority, holder_key=holder, node="kiosk-2",
                     green_reason=green_reason(priority))

    @rule(window=st.sampled_from(WINDOWS))
    def work(self, window: int) -> None:
        """One press of the window's usual key: start a called ticket, otherwise call the next one."""
        current = self.engine.windows[window].current
        if current is not None and self.engine.tickets[current].state is TicketState.CALLED:
            self.run("act", "start", current, self.now, window=window, node=f"pad-{window}")
        else:
            self.call_next(window)

    @rule(window=st.sampled_from(WINDOWS), staff=st.sampled_from(["s1", "s2", "s3", "s4"]))
    def sign_in(self, window: int, staff: str) -> None:
        self.run("sign_in", window, staff, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS))
    def sign_out(self, window: int) -> None:
        self.run("sign_out", window, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS), reason=st.sampled_from(["", "会议", "会议"]))
    def pause(self, window: int, reason: str) -> None:
        self.run("pause", window, self.now, reason=reason, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS))
    def resume(self, window: int) -> None:
        self.run("resume", window, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS))
    def call_next(self, window: int) -> None:
        day = self.engine.day
        heads = self.visible_heads(window)
        called = self.run("call_next", window, self.now, node=f"pad-{window}")
        if called is None or self.engine.day != day:
            return
        for head in heads:
            if head.id != called.id and line_key(head, self.issue_order) < line_key(called, self.issue_order):
                self.overtaken[head.id] += 1
                hypothesis.event(f"overtaken {self.overtaken[head.id]} of {self.hall.policy.max_bypass}")
                assert self.overtaken[head.id] <= self.hall.policy.max_bypass, (
                    f"{head.number} overtaken {self.overtaken[head.id]} times (bound "
                    f"{self.hall.policy.max_bypass}); last by {called.number} at window {window}")

    @rule(index=st.integers(0, 200), window=st.sampled_from(WINDOWS))
    def call(self, index: int, window: int) -> None:
        self.run("call", self.ticket_id(index), window, self.now, node=f"pad-{window}")

    @rule(window=st.sampled_from(WINDOWS), action=st.sampled_from(["start", "start", "finish", "skip", "recall"]))
    def press(self, window: int, action: str) -> None:
        """The window's staff press a key for the ticket at their window (the usual flow)."""
        current = self.engine.windows[window].current
        if current is not None:
            self.run("act", action, current, self.now, window=window, node=f"pad-{window}")

    @rule(index=st.integers(0, 200))
    def come_back(self, index: int) -> None:
        """A skipped citizen comes back to the kiosk and asks to re-queue."""
        skipped = [t.id for t in self.engine.tickets.values() if t.state is TicketState.SKIPPED]
        if skipped:
            self.run("act", "requeue", skipped[index % len(skipped)], self.now, node="kiosk-1")

    @rule(action=st.sampled_from(ACTIONS), index=st.integers(0, 200),
          who=st.sampled_from(("own", "own", "kiosk", "any")), other=st.sampled_from(WINDOWS),
          to_service=st.sampled_from(("", *SERVICES)), to_window=st.sampled_from((None, *WINDOWS)))
    def act(self, action: str, index: int, who: str, other: int, to_service: str, to_window: int | None) -> None:
        """Any action on any ticket, from its own window, a kiosk (no window) or some other window."""
        ticket_id = self.ticket_id(index)
        if ticket_id not in self.engine.tickets:
            return
        own = self.engine.tickets[ticket_id].window
        window = {"own": own if own is not None else other, "kiosk": None, "any": other}[who]
        node = f"pad-{window}" if window is not None else "kiosk-1"
        self.run("act", action, ticket_id, self.now, window=window, node=node, to_service=to_service,
                 to_window=to_window, reason="测试")

    # ------------------------------------------------------------------ invariants
    @invariant()
    def one_place_per_ticket(self) -> None:
        if not hasattr(self, "engine"):
            return
        engine = self.engine
        memberships: Counter[str] = Counter()
        for line in (*engine.lines.values(), *engine.window_lines.values()):
            memberships.update(line.ids())
        currents = Counter(w.current for w in engine.windows.values() if w.current is not None)
        for ticket in engine.tickets.values():
            assert ticket.day == engine.day
            assert isinstance(ticket.state, TicketState)
            expected_lines = 1 if ticket.state is TicketState.WAITING else 0
            assert memberships[ticket.id] == expected_lines, (ticket.number, ticket.state, memberships[ticket.id])
            if ticket.state is TicketState.WAITING:
                assert ticket.id in engine._line_of(ticket)
            if ticket.state in (TicketState.CALLED, TicketState.SERVING):
                assert currents[ticket.id] == 1, f"{ticket.number} is {ticket.state} at {currents[ticket.id]} windows"
                assert ticket.window is not None and engine.windows[ticket.window].current == ticket.id
            else:
                assert currents[ticket.id] == 0, f"{ticket.number} is {ticket.state} yet a window's current ticket"
        assert set(memberships) <= set(engine.tickets) and set(currents) <= set(engine.tickets)

    @invariant()
    def numbers_unique_and_gap_free(self) -> None:
        if not hasattr(self, "engine"):
            return
        by_prefix: dict[str, list[int]] = {}
        for ticket in self.engine.tickets.values():
            prefix = ticket.number.rstrip("0123456789")
            by_prefix.setdefault(prefix, []).append(int(ticket.number[len(prefix):]))
        for prefix, values in by_prefix.items():
            assert sorted(values) == list(range(1, len(values) + 1)), (prefix, sorted(values))

    @invariant()
    def one_open_ticket_per_holder_and_service(self) -> None:
        if not hasattr(self, "engine"):
            return
        open_ = Counter((t.holder_key, t.service) for t in self.engine.tickets.values()
                        if t.holder_key and t.state in OPEN_STATES)
        assert all(count == 1 for count in open_.values()), open_

    @invariant()
    def quotas_hold(self) -> None:
        if not hasattr(self, "engine"):
            return
        issued = Counter(t.number[0] for t in self.engine.tickets.values())
        quota = self.hall.service("A01").daily_quota
        if quota:
            assert issued["A"] <= quota
        assert all(count <= 4 for (service, _), count in self.engine._slot_issued.items() if service == "A01")

    @invariant()
    def figures_match_a_recount(self) -> None:
        """People ahead and active windows (both kept incrementally or cached) agree with a count from scratch."""
        if not hasattr(self, "engine"):
            return
        engine = self.engine
        for ticket in engine.tickets.values():
            if ticket.state is not TicketState.WAITING:
                assert engine.ahead_of(ticket) == 0
                continue
            if ticket.target_window is not None:
                line = engine.window_lines[ticket.target_window]
                expected = sum(1 for tid in line.ids() if engine.tickets[tid].sort_key < ticket.sort_key)
            else:
                expected = sum(1 for other in engine.tickets.values() if other.state is TicketState.WAITING
                               and other.target_window is None and other.service == ticket.service
                               and other.sort_key < ticket.sort_key)
            assert engine.ahead_of(ticket) == expected, (ticket.number, engine.ahead_of(ticket), expected)
        for service in SERVICES:
            active = sum(1 for w in self.hall.windows if w.serves(service) and engine.windows[w.number].staff
                         and not engine.windows[w.number].paused)
            assert engine.active_windows(service) == max(active, 1), service

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


HallDay.TestCase.settings = SETTINGS
TestHallDay = HallDay.TestCase
