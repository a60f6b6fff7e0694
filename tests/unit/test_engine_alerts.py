"""预警 rules in the engine: each raised once, no flapping within the hold time, resolved, attributed, replayed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from config.model import AlertThresholds, Hall
from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.nodes import DeviceReport
from tests.support.engine_kit import Clock, Recorder, counting_ids, isolated, replayed, snapshot
from tests.support.halls import small_hall

MINUTE = 60.0


def hall_with(*kinds: str, daily_quota: int = 0, **thresholds: Any) -> Hall:
    return dataclasses.replace(small_hall(daily_quota=daily_quota),
                               alerts=AlertThresholds(kinds=kinds, **thresholds))


OTHER_DOMAINS = (ev.RATING_GIVEN, ev.CASE_OPENED, ev.CASE_STEP, ev.CASE_OVERDUE)  # their owners' own tests


class Hall_:
    """An engine on a hall, a recorder of its log and a clock, with one-line steps."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.engine = QueueEngine(hall, id_factory=counting_ids())
        isolated(self.engine, *OTHER_DOMAINS)
        self.rec = Recorder(self.engine)
        self.clock = Clock()

    def tick(self, step_s: float = 1.0) -> list[Event]:
        before = len(self.rec.log)
        self.rec.do("tick", self.clock(step_s))
        return [e for e in self.rec.log[before:] if e.type.startswith("alert.")]

    def do(self, command: str, *args: Any, **kwargs: Any) -> Any:
        outcome = self.rec.do(command, *args, at=self.clock(), **kwargs)
        return outcome.ticket if command == "issue" else outcome

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        """Log an event of another domain (a rating, a case step) as its command would."""
        self.rec.do("roll_over", self.clock())
        self.engine._out = []
        self.engine._emit(type_, self.clock.now, data)
        self.rec.log.extend(self.engine._take())

    def alerts(self, kind: str | None = None) -> list[Any]:
        return [a for a in self.engine.alerts.listed() if kind is None or a.kind == kind]


def kinds_of(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.type, e.data.get("kind", "")) for e in events]


def assert_replays(h: Hall_) -> None:
    """A restart's replay of the log rebuilds the same picture, alerts and their watch included."""
    again = QueueEngine(h.hall)
    isolated(again, *OTHER_DOMAINS)
    for event in h.rec.log:
        again.apply(event)
    assert snapshot(again) == snapshot(h.engine)


# ---------------------------------------------------------------------------------------------- long wait
def test_a_long_wait_is_raised_once_resolved_after_the_hold_and_a_return_within_it_is_the_same_alert() -> None:
    h = Hall_(hall_with("long_wait", long_wait_minutes=10, hold_minutes=5))
    ticket = h.do("issue", "A01")
    assert h.tick(10 * MINUTE - 2) == []  # not yet longer than 10 minutes
    raised = h.tick(5)
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "long_wait")]
    assert raised[0].data["subject"] == f"ticket:{ticket.id}"
    assert raised[0].data["figures"]["number"] == "A001" and raised[0].data["figures"]["waited_s"] > 600
    assert all(h.tick() == [] for _ in range(5))  # raised once, not every second

    h.do("sign_in", 1, "s1")
    h.do("call_next", 1)
    assert h.tick() == []  # cleared, but held
    h.do("sign_out", 1)  # the called citizen goes back to the head of the line, waiting again
    assert h.tick(4 * MINUTE) == []  # it came back within the hold: the same alert, still open
    assert [a.state for a in h.alerts()] == ["open"]

    h.do("sign_in", 1, "s1")
    h.do("call_next", 1)
    assert h.tick() == []  # clear from this tick on
    assert h.tick(5 * MINUTE - 2) == []
    resolved = h.tick(2)
    assert kinds_of(resolved) == [(ev.ALERT_RESOLVED, "")] and resolved[0].data["alert"] == raised[0].data["alert"]
    assert [a.state for a in h.alerts()] == ["resolved"]
    assert h.tick(MINUTE) == []
    assert_replays(h)


def test_a_finished_ticket_resolves_its_long_wait_at_once() -> None:
    h = Hall_(hall_with("long_wait", long_wait_minutes=1))
    ticket = h.do("issue", "A01")
    assert len(h.tick(2 * MINUTE)) == 1
    h.do("sign_in", 1, "s1")
    h.do("call_next", 1)
    h.do("act", "finish", ticket.id, window=1)
    assert kinds_of(h.tick()) == [(ev.ALERT_RESOLVED, "")]
    assert_replays(h)


def test_only_tickets_past_the_threshold_are_alerted_each_once() -> None:
    h = Hall_(hall_with("long_wait", long_wait_minutes=5))
    first = h.do("issue", "A01")
    h.tick(3 * MINUTE)
    second = h.do("issue", "B01")
    raised = h.tick(2 * MINUTE + 1)
    assert [e.data["subject"] for e in raised] == [f"ticket:{first.id}"]
    raised = h.tick(3 * MINUTE)
    assert [e.data["subject"] for e in raised] == [f"ticket:{second.id}"]
    assert len(h.alerts("long_wait")) == 2


# ---------------------------------------------------------------------------------------------- long queue
def test_a_long_queue_clears_and_returns_within_the_hold_as_the_same_alert() -> None:
    h = Hall_(hall_with("long_queue", long_queue=2, hold_minutes=5))
    tickets = [h.do("issue", "A01") for _ in range(3)]
    raised = h.tick()
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "long_queue")]
    assert raised[0].data["subject"] == "service:A01" and raised[0].data["figures"]["waiting"] == 3
    h.do("act", "cancel", tickets[0].id)
    assert h.tick(2 * MINUTE) == []
    h.do("issue", "A01")
    assert h.tick(4 * MINUTE) == []  # back above within the hold: no second alert, none resolved
    h.do("act", "cancel", tickets[1].id)
    assert h.tick() == []
    assert h.tick(5 * MINUTE - 2) == []
    assert kinds_of(h.tick(2)) == [(ev.ALERT_RESOLVED, "")]
    assert len(h.alerts()) == 1
    assert_replays(h)


# ---------------------------------------------------------------------------------------------- windows
def test_a_window_paused_too_long_while_people_wait() -> None:
    h = Hall_(hall_with("window_paused", pause_minutes=10, hold_minutes=1))
    h.do("sign_in", 2, "s2")
    h.do("pause", 2, reason="会议")
    assert h.tick(30 * MINUTE) == []  # paused, but nobody is waiting for its services
    h.do("issue", "B01")
    assert h.tick(10 * MINUTE - 5) == []  # counted from when people started waiting
    raised = h.tick(10)
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "window_paused")]
    assert raised[0].data["subject"] == "window:2" and raised[0].data["figures"]["reason"] == "会议"
    h.do("resume", 2)
    h.do("call_next", 2)
    assert h.tick() == []  # clear from this tick on
    assert h.tick(MINUTE - 2) == []
    assert kinds_of(h.tick(2)) == [(ev.ALERT_RESOLVED, "")]
    assert_replays(h)


def test_a_signed_in_window_idle_while_people_wait() -> None:
    h = Hall_(hall_with("window_idle", idle_window_minutes=15, hold_minutes=1))
    h.do("sign_in", 3, "s3")
    h.tick(20 * MINUTE)  # idle in an empty hall: nobody to call, no alert
    h.do("issue", "A01")
    assert h.tick(15 * MINUTE - 5) == []
    raised = h.tick(10)
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "window_idle")] and raised[0].data["subject"] == "window:3"
    h.do("call_next", 3)
    assert h.tick() == []
    assert kinds_of(h.tick(MINUTE)) == [(ev.ALERT_RESOLVED, "")]
    assert_replays(h)


# ---------------------------------------------------------------------------------------------- devices, nodes
def test_device_reports_become_events_on_transitions_only_and_a_lasting_fault_is_alerted() -> None:
    h = Hall_(hall_with("device_fault", device_fault_seconds=60, hold_minutes=1))
    printer = DeviceReport("ticket_printer", "escpos", "ready", "ok", 100.0)
    h.do("report_devices", "kiosk-1", [printer])
    h.do("report_devices", "kiosk-1", [printer])
    h.do("report_devices", "kiosk-1", [dataclasses.replace(printer, reason="still ok", since=200.0)])
    assert [e.type for e in h.rec.log].count(ev.DEVICE_STATE) == 1
    out = dataclasses.replace(printer, state="fault", reason="paper out")
    h.do("report_devices", "kiosk-1", [out])
    assert h.tick(59) == []
    raised = h.tick(2)
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "device_fault")]
    assert raised[0].data["subject"] == "node:kiosk-1/ticket_printer" and raised[0].data["level"] == "critical"
    h.do("report_devices", "kiosk-1", [printer])
    assert h.tick() == []
    assert h.tick(MINUTE - 2) == []
    assert kinds_of(h.tick(2)) == [(ev.ALERT_RESOLVED, "")]
    states = [e.data["state"] for e in h.rec.log if e.type == ev.DEVICE_STATE]
    assert states == ["ready", "fault", "ready"]
    assert_replays(h)


def test_device_reports_are_checked() -> None:
    h = Hall_(hall_with())
    with pytest.raises(QueueError) as err:
        h.do("report_devices", "kiosk-1", [DeviceReport("p", "escpos", "broken")])
    assert err.value.code == "invalid_device_state"
    with pytest.raises(QueueError) as err:
        h.do("report_devices", "kiosk-1", [DeviceReport("p", "escpos", "ready")] * 2)
    assert err.value.code == "duplicate_device"


def test_a_silent_node_is_decided_by_the_engine_from_what_the_service_saw() -> None:
    h = Hall_(hall_with("node_silent", node_silent_seconds=90, hold_minutes=1))
    seen = h.clock.now
    assert [e for e in h.do("check_nodes", {"kiosk-1": seen}) or h.rec.log if e.type.startswith("alert")] == []
    h.clock(91)
    h.do("check_nodes", {"kiosk-1": seen})
    raised = [e for e in h.rec.log if e.type == ev.ALERT_RAISED]
    assert raised[0].data["subject"] == "node:kiosk-1" and raised[0].data["figures"]["silent_s"] >= 91
    assert h.tick(MINUTE * 5) == []  # the tick leaves node silence to check_nodes
    h.do("check_nodes", {"kiosk-1": h.clock.now})
    h.clock(MINUTE)
    h.do("check_nodes", {"kiosk-1": h.clock.now})
    assert [e.type for e in h.rec.log if e.type.startswith("alert")] == [ev.ALERT_RAISED, ev.ALERT_RESOLVED]
    assert_replays(h)


# ---------------------------------------------------------------------------------------------- ratings, cases, quota
def test_a_bad_rating_is_raised_at_once_and_resolved_when_its_followup_closes() -> None:
    h = Hall_(hall_with("bad_rating", "followup_overdue"))
    h.emit(ev.RATING_GIVEN, {"ticket": "tx", "level": 4, "channel": "pad", "comment": "", "service": "A01",
                             "department": "SB", "window": 1, "staff": "s1", "finished_at": 0.0})
    assert h.tick() == []
    h.emit(ev.RATING_GIVEN, {"ticket": "ty", "level": 1, "channel": "pad", "comment": "太慢", "service": "A01",
                             "department": "SB", "window": 1, "staff": "s1", "finished_at": 0.0})
    raised = h.tick()
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "bad_rating")]
    assert raised[0].data["subject"] == "ticket:ty" and raised[0].data["level"] == "critical"
    assert "comment" not in raised[0].data["figures"]  # the citizen's words stay with the rating
    h.emit(ev.CASE_OPENED, {"case": "c1", "kind": "followup", "ticket": "ty", "level": 1, "holder_masked": "",
                            "subject": "", "category": "", "department": "SB", "deadline": "2026-11-30"})
    h.emit(ev.CASE_OVERDUE, {"case": "c1", "kind": "followup", "deadline": "2026-11-30", "department": "SB"})
    assert kinds_of(h.tick()) == [(ev.ALERT_RAISED, "followup_overdue")]
    h.emit(ev.CASE_STEP, {"case": "c1", "kind": "followup", "ticket": "ty", "step": "contact", "state": "contacted",
                          "note": "", "department": None})
    assert h.tick(MINUTE * 10) == []
    h.emit(ev.CASE_STEP, {"case": "c1", "kind": "followup", "ticket": "ty", "step": "close", "state": "closed",
                          "note": "已整改", "department": None})
    assert kinds_of(h.tick()) == [(ev.ALERT_RESOLVED, ""), (ev.ALERT_RESOLVED, "")]  # at once: neither returns
    assert_replays(h)


def test_a_daily_quota_nearly_used() -> None:
    h = Hall_(hall_with("quota_nearly_used", daily_quota=10, quota_nearly_used_percent=80))
    for _ in range(7):
        h.do("issue", "A01")
    assert h.tick() == []
    h.do("issue", "A01")
    raised = h.tick()
    assert kinds_of(raised) == [(ev.ALERT_RAISED, "quota_nearly_used")]
    assert raised[0].data["figures"] == {"service": "A01", "issued": 8, "quota": 10, "percent": 80}
    h.clock.set("2026-11-24", "08:00")
    assert kinds_of(h.tick()) == [(ev.ALERT_RESOLVED, "")]  # the new day empties the quota
    assert_replays(h)


def test_kinds_not_listed_are_not_raised() -> None:
    h = Hall_(hall_with("long_queue", long_wait_minutes=1, long_queue=1))
    h.do("issue", "A01")
    assert h.tick(10 * MINUTE) == []


# ---------------------------------------------------------------------------------------------- manager steps
def test_ack_and_close_are_attributed_and_a_closed_alert_holds_its_condition() -> None:
    h = Hall_(hall_with("long_queue", long_queue=1, hold_minutes=1))
    h.do("issue", "A01")
    h.do("issue", "A01")
    alert_id = h.tick()[0].data["alert"]
    acked = h.do("ack_alert", alert_id, node="manager", staff="m1")
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_staff) == ("acknowledged", "manager", "m1")
    h.do("ack_alert", alert_id, node="manager")  # again: the same, no second event
    assert [e.type for e in h.rec.log].count(ev.ALERT_ACKNOWLEDGED) == 1
    with pytest.raises(QueueError) as err:
        h.do("close_alert", alert_id, " ", node="manager")
    assert err.value.code == "note_required"
    closed = h.do("close_alert", alert_id, "已增开窗口", node="manager")
    assert (closed.state, closed.closed_by, closed.note) == ("closed", "manager", "已增开窗口")
    assert h.tick(10 * MINUTE) == []  # the line is still long: not raised again while closed
    with pytest.raises(QueueError) as err:
        h.do("ack_alert", alert_id, node="manager")
    assert (err.value.code, err.value.status) == ("alert_not_open", 409)
    with pytest.raises(QueueError) as err:
        h.do("ack_alert", "nope", node="manager")
    assert err.value.code == "alert_not_found"
    for ticket in list(h.engine.tickets.values()):
        h.do("act", "cancel", ticket.id)
    h.tick()
    resolved = h.tick(MINUTE)
    assert kinds_of(resolved) == [(ev.ALERT_RESOLVED, "")]
    alert = h.engine.alerts.alert(alert_id)
    assert alert.state == "closed" and alert.resolved_at == resolved[0].at  # stays closed, records the clearing
    h.do("issue", "A01")
    h.do("issue", "A01")
    assert kinds_of(h.tick()) == [(ev.ALERT_RAISED, "long_queue")]  # a new condition later: a new alert
    assert_replays(h)


# ---------------------------------------------------------------------------------------------- replay
def _scripted_day(h: Hall_, start: int = 0, stop: int | None = None) -> None:
    steps = [
        lambda: h.do("issue", "A01"), lambda: h.do("issue", "A01"), lambda: h.tick(MINUTE),
        lambda: h.do("sign_in", 1, "s1"), lambda: h.tick(2 * MINUTE), lambda: h.do("call_next", 1),
        lambda: h.do("report_devices", "kiosk-1", [DeviceReport("printer", "escpos", "fault", "cover open")]),
        lambda: h.tick(2 * MINUTE), lambda: h.do("issue", "A01"), lambda: h.tick(MINUTE),
        lambda: h.do("act", "start", h.engine.windows[1].current, window=1), lambda: h.do("call_next", 1),
        lambda: h.tick(3 * MINUTE), lambda: h.tick(3 * MINUTE),
    ]
    for step in steps[start:stop]:
        step()


def test_replay_gives_the_same_alerts_at_the_same_instants_and_a_restart_continues_them() -> None:
    hall = hall_with("long_wait", "long_queue", "window_idle", "device_fault", long_wait_minutes=1, long_queue=1,
                     idle_window_minutes=1, device_fault_seconds=30, hold_minutes=2)
    straight = Hall_(hall)
    _scripted_day(straight)
    alert_events = [(e.type, e.at, e.data) for e in straight.rec.log if e.type.startswith("alert.")]
    assert {e[2].get("kind") for e in alert_events if e[0] == ev.ALERT_RAISED} == {
        "long_wait", "long_queue", "window_idle", "device_fault"}
    assert ev.ALERT_RESOLVED in {e[0] for e in alert_events}
    assert_replays(straight)

    twice = Hall_(hall)  # the same commands give the same log, event for event
    _scripted_day(twice)
    assert [e.as_dict() for e in twice.rec.log] == [e.as_dict() for e in straight.rec.log]

    # A restart after the third tick (no hold pending then): replay, and the rest of the day gives the same alerts.
    restarted = Hall_(hall)
    _scripted_day(restarted, stop=8)
    engine = replayed(hall, restarted.rec.log)
    engine._new_id = restarted.engine._new_id
    log = restarted.rec.log
    restarted.engine, restarted.rec = engine, Recorder(engine)
    restarted.rec.log = log
    _scripted_day(restarted, start=8)
    assert [(e.type, e.at, e.data) for e in restarted.rec.log if e.type.startswith("alert.")] == alert_events
