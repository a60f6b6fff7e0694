"""预警: alert rules decided on the tick, each alert raised once, acknowledged, resolved or closed, all as events.

The life of an alert. A rule names a condition by ``(kind, subject)`` (``("long_wait", "ticket:<id>")``,
``("window_idle", "window:3")``). When a condition starts and no alert holds that key, ``alert.raised``
is logged with its level and the figures of that instant. A manager may acknowledge it
(``alert.acknowledged``) or close it by hand with a note (``alert.closed``); either way the alert keeps
the key until its condition clears, so a closed alert does not come straight back on the next tick.
When the condition has stayed clear for ``hold_minutes`` the alert is resolved (``alert.resolved``; a
closed alert stays closed but records when its condition cleared) and the key is free: a condition that
clears and returns within the hold time is therefore the same alert, never a second one (no flapping).
Conditions that cannot come back once gone resolve at once: a ticket finished, cancelled or gone with its
day, a bad rating whose follow-up closed, an overdue case that was resolved, closed or declined, a
daily quota (it only empties at the day's end).

Rules (only the kinds in ``alerts.kinds`` are evaluated; thresholds from ``Hall.alerts``):
- ``long_wait``: a waiting ticket whose queue time (kept across transfer and re-queue) is more than
  ``long_wait_minutes`` ago. The board keeps its own heap of (queue time, ticket) fed by the ticket
  events, so a tick looks only at tickets that just crossed the threshold and at those already alerted.
- ``long_queue``: a service's line (both ranks) longer than ``long_queue``.
- ``window_paused`` / ``window_idle``: a signed-in window paused, or calling nobody (nothing called or
  served), for more than ``pause_minutes`` / ``idle_window_minutes``, counted from the later of the pause
  (or its last call, finish, skip, transfer, sign-in, resume) and the moment a service it serves last
  started having people waiting; so an idle window in an empty hall is not alerted the instant a
  citizen arrives.
- ``device_fault``: a device reported ``fault`` or ``disconnected`` for more than ``device_fault_seconds``
  (by the server's clock at the transition, not the node's).
- ``node_silent``: a watched node not heard for more than ``node_silent_seconds``. Heartbeats are not
  events; the service passes what it knows (node → last seen) to ``check_nodes`` every second, and the
  engine decides with the threshold, so what is decided is logged and what is not cannot drift.
- ``bad_rating``: a rating of level 1 or 2, raised on the next tick (critical for 1); resolved when the
  follow-up case of that ticket reaches state ``closed``.
- ``followup_overdue`` / ``case_overdue``: a ``case.overdue`` event (a follow-up, or another case kind);
  resolved when the case is resolved, closed or declined.
- ``quota_nearly_used``: a service's tickets today at ``quota_nearly_used_percent`` of its daily quota.

Levels are fixed when raised: critical for device faults, silent nodes, overdue cases and level-1
ratings, warning for the rest. Replay: every decision is an event, so a replay rebuilds every alert with
the same states at the same instants. What a replay does not rebuild is an unfinished hold timer (kept
in memory by the tick): after a restart the hold starts again, so an alert may resolve up to
``hold_minutes`` later than it would have, never twice and never lost.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from queue_server.engine import events as ev
from queue_server.engine.commands import CommandBase, command
from queue_server.engine.domains import Domain
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.ratings import BAD_LEVELS
from queue_server.engine.state import TicketState

if TYPE_CHECKING:
    from queue_server.engine.engine import QueueEngine

ALERT_STATES = ("open", "acknowledged", "resolved", "closed")
NODE_KINDS = frozenset({"node_silent"})  # decided by check_nodes, with what the service knows
ONCE_KINDS = frozenset({"bad_rating", "followup_overdue", "case_overdue", "quota_nearly_used"})  # cannot return
CASE_DONE = frozenset({"resolved", "closed", "declined"})
FINISHED_DAYS_KEPT = 7  # resolved alerts stay listed for this many day roll-overs
Key = tuple[str, str]  # (kind, subject)
Condition = tuple[str, dict[str, Any]]  # (level, figures)


@dataclass
class Alert:
    """One alert and its life; attributed to the node (and staff, if any) of each step."""

    id: str
    kind: str
    subject: str
    level: str
    figures: dict[str, Any]
    raised_at: float
    state: str = "open"
    acknowledged_at: float | None = None
    acknowledged_by: str = ""
    acknowledged_staff: str = ""
    resolved_at: float | None = None  # when its condition cleared (also recorded for a closed alert)
    closed_at: float | None = None
    closed_by: str = ""
    closed_staff: str = ""
    note: str = ""

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "subject": self.subject, "level": self.level,
                "figures": self.figures, "state": self.state, "raised_at": self.raised_at,
                "acknowledged_at": self.acknowledged_at, "acknowledged_by": self.acknowledged_by,
                "acknowledged_staff": self.acknowledged_staff, "resolved_at": self.resolved_at,
                "closed_at": self.closed_at, "closed_by": self.closed_by, "closed_staff": self.closed_staff,
                "note": self.note}


@dataclass
class _Watch:
    """What the rules keep from the events so a tick need not scan the day (all rebuilt by replay)."""

    waiting: list[tuple[float, int, str]] = field(default_factory=list)  # heap of (queue_time, seq, ticket)
    waiting_since: dict[str, float] = field(default_factory=dict)  # service → since when someone waits
    activity: dict[int, float] = field(default_factory=dict)  # window → its last call, finish, sign-in …
    bad: dict[str, Condition] = field(default_factory=dict)  # ticket → its bad rating, until followed up
    followups: dict[str, str] = field(default_factory=dict)  # followup case → ticket
    overdue: dict[str, tuple[str, Condition]] = field(default_factory=dict)  # case → (kind, condition)


_OBSERVED = frozenset({ev.WINDOW_SIGNED_IN, ev.WINDOW_RESUMED, ev.DAY_ROLLED, ev.RATING_GIVEN, ev.CASE_OPENED,
                       ev.CASE_STEP, ev.CASE_OVERDUE})
_ENTERS_LINE = frozenset({ev.TICKET_ISSUED, ev.TICKET_REQUEUED, ev.TICKET_TRANSFERRED, ev.TICKET_RETURNED})
_CHANGES_LINES = _ENTERS_LINE | {ev.TICKET_CALLED, ev.TICKET_CANCELLED}  # the others leave every line as it was


class AlertBoard(Domain):
    """Every alert of the last days, the key each open condition holds, and the rules' incremental watch."""

    name = "alerts"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.alerts: dict[str, Alert] = {}
        self.current: dict[Key, str] = {}  # condition → the alert that holds it (raised, not yet resolved)
        self.watch = _Watch()
        self._clear_since: dict[str, float] = {}  # alert → since when its condition is clear (tick memory)
        self._finished_today: list[str] = []
        self._finished_days: deque[list[str]] = deque()

    # ================================================================ apply
    def _on_raised(self, e: Event) -> None:
        d = e.data
        alert = Alert(d["alert"], d["kind"], d["subject"], d["level"], d["figures"], e.at)
        self.alerts[alert.id] = alert
        self.current[(alert.kind, alert.subject)] = alert.id

    def _on_acknowledged(self, e: Event) -> None:
        alert = self.alerts[e.data["alert"]]
        alert.state, alert.acknowledged_at, alert.acknowledged_by, alert.acknowledged_staff = (
            "acknowledged", e.at, e.node, e.staff)

    def _on_resolved(self, e: Event) -> None:
        alert = self.alerts[e.data["alert"]]
        alert.resolved_at = e.at
        if alert.state != "closed":
            alert.state = "resolved"
        key = (alert.kind, alert.subject)
        if self.current.get(key) == alert.id:
            del self.current[key]
        self._clear_since.pop(alert.id, None)
        self._finished_today.append(alert.id)

    def _on_closed(self, e: Event) -> None:
        alert = self.alerts[e.data["alert"]]
        alert.state, alert.closed_at, alert.closed_by, alert.closed_staff, alert.note = (
            "closed", e.at, e.node, e.staff, e.data["note"])

    handlers: ClassVar = {ev.ALERT_RAISED: _on_raised, ev.ALERT_ACKNOWLEDGED: _on_acknowledged,
                          ev.ALERT_RESOLVED: _on_resolved, ev.ALERT_CLOSED: _on_closed}

    # ================================================================ observe (O(1) or O(log n) per event)
    def observes(self, type_: str) -> bool:
        return type_.startswith("ticket.") or type_ in _OBSERVED

    def observe(self, event: Event) -> None:
        type_, d, watch = event.type, event.data, self.watch
        if type_.startswith("ticket."):
            self._observe_ticket(event)
        elif type_ in (ev.WINDOW_SIGNED_IN, ev.WINDOW_RESUMED):
            watch.activity[d["window"]] = event.at
        elif type_ == ev.DAY_ROLLED:
            self.watch = _Watch(bad=watch.bad, followups=watch.followups, overdue=watch.overdue)
            self._finished_days.append(self._finished_today)
            self._finished_today = []
            while len(self._finished_days) > FINISHED_DAYS_KEPT:
                for alert_id in self._finished_days.popleft():
                    alert = self.alerts.get(alert_id)
                    if alert is not None and alert.resolved_at is not None:
                        del self.alerts[alert_id]
        elif type_ == ev.RATING_GIVEN:
            if d["level"] in BAD_LEVELS:
                figures = {k: d.get(k) for k in ("ticket", "number", "level", "channel", "service", "department",
                                                 "window", "staff")}
                watch.bad[d["ticket"]] = ("critical" if d["level"] == 1 else "warning", figures)
        elif type_ == ev.CASE_OPENED:
            if d["kind"] == "followup" and d.get("ticket"):
                watch.followups[d["case"]] = d["ticket"]
        elif type_ == ev.CASE_STEP:
            self._observe_case_step(d)
        elif type_ == ev.CASE_OVERDUE:
            kind = "followup_overdue" if d["kind"] == "followup" else "case_overdue"
            figures = {k: d.get(k) for k in ("case", "kind", "deadline", "department")}
            watch.overdue[d["case"]] = (kind, ("critical", figures))

    def _observe_ticket(self, event: Event) -> None:
        d, watch, picture = event.data, self.watch, self.picture
        ticket = picture.tickets.get(d.get("ticket", ""))
        if ticket is None:
            return
        if event.type in _ENTERS_LINE and ticket.state is TicketState.WAITING:
            heapq.heappush(watch.waiting, (ticket.queue_time, ticket.seq, ticket.id))
        window = d.get("window") or d.get("from_window") or ticket.window
        if window is not None and event.type != ev.TICKET_ISSUED:
            watch.activity[window] = event.at
        if event.type not in _CHANGES_LINES:  # a print, recall, start, finish or skip: no line changed
            return
        service, to_service = d.get("service"), d.get("to_service")
        if service is not None:
            self._note_waiting(service, event.at)
        if to_service is not None and to_service != service:
            self._note_waiting(to_service, event.at)

    def _note_waiting(self, service: str, at: float) -> None:
        """Since when a service has people waiting (kept while its lines are not empty)."""
        lines = self.picture.lines
        if (service, 0) not in lines:  # not a configured service
            return
        if lines[(service, 0)] or lines[(service, 1)]:
            self.watch.waiting_since.setdefault(service, at)
        else:
            self.watch.waiting_since.pop(service, None)

    def _observe_case_step(self, d: dict[str, Any]) -> None:
        watch = self.watch
        if d.get("state") == "closed" and d["case"] in watch.followups:
            watch.bad.pop(watch.followups.pop(d["case"]), None)
        if d.get("state") in CASE_DONE:
            watch.overdue.pop(d["case"], None)

    # ================================================================ queries
    def listed(self, state: str | None = None) -> list[Alert]:
        """Alerts newest first, optionally of one state."""
        chosen = [a for a in self.alerts.values() if state is None or a.state == state]
        return sorted(chosen, key=lambda a: (-a.raised_at, a.id))

    def alert(self, alert_id: str) -> Alert:
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise QueueError("alert_not_found", "预警不存在", f"no alert {alert_id!r}", 404)
        return alert

    # ================================================================ tick
    def tick(self, engine: QueueEngine, at: float) -> None:
        """Evaluate every rule but node silence at ``at`` and log what starts and what has cleared."""
        kinds = set(self.picture.hall.alerts.kinds) - NODE_KINDS
        active: dict[Key, Condition] = {}
        gone: set[Key] = set()  # conditions that cannot come back: resolve without the hold
        if "long_wait" in kinds:
            self._long_wait(at, active, gone)
        if "long_queue" in kinds:
            self._long_queue(active)
        if kinds & {"window_paused", "window_idle"}:
            self._windows(at, active, kinds)
        if "device_fault" in kinds:
            self._device_faults(at, active)
        if "quota_nearly_used" in kinds:
            self._quotas(active)
        if "bad_rating" in kinds:
            active.update({("bad_rating", f"ticket:{t}"): cond for t, cond in self.watch.bad.items()})
        for case, (kind, cond) in self.watch.overdue.items():
            if kind in kinds:
                active[(kind, f"case:{case}")] = cond
        self._reconcile(engine, at, active, gone, lambda kind: kind not in NODE_KINDS)

    def check_nodes(self, engine: QueueEngine, at: float, last_seen: Mapping[str, float]) -> None:
        """The node_silent rule, on what the service knows of heartbeats (node → last seen instant)."""
        active: dict[Key, Condition] = {}
        limit = self.picture.hall.alerts.node_silent_seconds
        if "node_silent" in self.picture.hall.alerts.kinds:
            for node, seen in sorted(last_seen.items()):
                if at - seen > limit:
                    active[("node_silent", f"node:{node}")] = ("critical", {
                        "node": node, "last_seen": seen, "silent_s": round(at - seen), "threshold_s": limit})
        self._reconcile(engine, at, active, set(), lambda kind: kind in NODE_KINDS)

    def _reconcile(self, engine: QueueEngine, at: float, active: dict[Key, Condition], gone: set[Key],
                   evaluated: Any) -> None:
        for key, (level, figures) in active.items():
            alert_id = self.current.get(key)
            if alert_id is None:
                engine._emit(ev.ALERT_RAISED, at, {"alert": engine._new_id(), "kind": key[0], "subject": key[1],
                                                   "level": level, "figures": figures})
            else:
                self._clear_since.pop(alert_id, None)
        hold_s = self.picture.hall.alerts.hold_minutes * 60
        for key, alert_id in list(self.current.items()):
            if key in active or not evaluated(key[0]):
                continue
            since = self._clear_since.setdefault(alert_id, at)
            if key in gone or key[0] in ONCE_KINDS or at - since >= hold_s:
                engine._emit(ev.ALERT_RESOLVED, at, {"alert": alert_id})

    # ---------------------------------------------------------------- rules
    def _long_wait(self, at: float, active: dict[Key, Condition], gone: set[Key]) -> None:
        tickets = self.picture.tickets
        threshold_s = self.picture.hall.alerts.long_wait_minutes * 60

        def condition(ticket: Any) -> Condition:
            return ("warning", {"ticket": ticket.id, "number": ticket.number, "service": ticket.service,
                                "waited_s": round(at - ticket.queue_time), "threshold_s": threshold_s})

        for kind, subject in self.current:
            if kind != "long_wait":
                continue
            ticket = tickets.get(subject.removeprefix("ticket:"))
            if ticket is None or ticket.state in (TicketState.FINISHED, TicketState.CANCELLED):
                gone.add((kind, subject))
            elif ticket.state is TicketState.WAITING and at - ticket.queue_time > threshold_s:
                active[(kind, subject)] = condition(ticket)
        heap = self.watch.waiting
        while heap and at - heap[0][0] > threshold_s:
            queue_time, _, ticket_id = heapq.heappop(heap)
            ticket = tickets.get(ticket_id)
            if ticket is not None and ticket.state is TicketState.WAITING and ticket.queue_time == queue_time:
                active.setdefault(("long_wait", f"ticket:{ticket_id}"), condition(ticket))

    def _long_queue(self, active: dict[Key, Condition]) -> None:
        limit = self.picture.hall.alerts.long_queue
        for service in self.picture.hall.services:
            waiting = self.picture.waiting_count(service.code)
            if waiting > limit:
                active[("long_queue", f"service:{service.code}")] = (
                    "warning", {"service": service.code, "waiting": waiting, "threshold": limit})

    def _windows(self, at: float, active: dict[Key, Condition], kinds: set[str]) -> None:
        rules = self.picture.hall.alerts
        since_waiting = self.watch.waiting_since
        for cfg in self.picture.hall.windows:
            state = self.picture.windows[cfg.number]
            if not state.staff:
                continue
            starts = [since_waiting[ws.service] for ws in cfg.services if ws.service in since_waiting]
            if not starts:
                continue
            waiting_from = min(starts)
            if state.paused and "window_paused" in kinds:
                since, limit_s, kind = max(state.paused_at or at, waiting_from), rules.pause_minutes * 60, \
                    "window_paused"
            elif not state.paused and state.current is None and "window_idle" in kinds:
                since = max(self.watch.activity.get(cfg.number, waiting_from), waiting_from)
                limit_s, kind = rules.idle_window_minutes * 60, "window_idle"
            else:
                continue
            if at - since > limit_s:
                active[(kind, f"window:{cfg.number}")] = ("warning", {
                    "window": cfg.number, "staff": state.staff, "since": since, "minutes": round((at - since) / 60, 1),
                    "threshold_minutes": limit_s / 60, "reason": state.pause_reason if state.paused else ""})

    def _device_faults(self, at: float, active: dict[Key, Condition]) -> None:
        limit = self.picture.hall.alerts.device_fault_seconds
        for (node, device), record in self.picture.nodes.faults.items():
            if at - record.changed_at > limit:
                active[("device_fault", f"node:{node}/{device}")] = ("critical", {
                    "node": node, "device": device, "kind": record.kind, "state": record.state,
                    "reason": record.reason, "since": record.changed_at, "threshold_s": limit})

    def _quotas(self, active: dict[Key, Condition]) -> None:
        percent = self.picture.hall.alerts.quota_nearly_used_percent
        for service in self.picture.hall.services:
            issued = self.picture._issued.get(service.code, 0)
            if service.daily_quota and issued * 100 >= service.daily_quota * percent:
                active[("quota_nearly_used", f"service:{service.code}")] = ("warning", {
                    "service": service.code, "issued": issued, "quota": service.daily_quota, "percent": percent})


class AlertCommands(CommandBase):
    """Engine commands of alerts (a mixin of QueueEngine): a manager's acknowledgement and closing, node silence."""

    @command
    def ack_alert(self, alert_id: str, at: float, *, node: str = "", staff: str = "") -> Alert:
        """Acknowledge an open alert (again: the same answer, no second event)."""
        alert = self.alerts.alert(alert_id)
        if alert.state == "acknowledged":
            return alert
        if alert.state != "open":
            raise _not_open(alert)
        self._emit(ev.ALERT_ACKNOWLEDGED, at, {"alert": alert.id}, node, staff)
        return alert

    @command
    def close_alert(self, alert_id: str, note: str, at: float, *, node: str = "", staff: str = "") -> Alert:
        """Close an open or acknowledged alert by hand, with a note; it holds its condition until that clears."""
        alert = self.alerts.alert(alert_id)
        if alert.state not in ("open", "acknowledged"):
            raise _not_open(alert)
        if not note.strip():
            raise QueueError("note_required", "关闭预警需要填写说明", "closing an alert needs a note", 422)
        self._emit(ev.ALERT_CLOSED, at, {"alert": alert.id, "note": note}, node, staff)
        return alert

    @command
    def check_nodes(self, last_seen: Mapping[str, float], at: float) -> None:
        """Raise or resolve node_silent alerts from the heartbeats the service has seen (node → instant)."""
        self.alerts.check_nodes(self, at, last_seen)  # type: ignore[arg-type]


def _not_open(alert: Alert) -> QueueError:
    return QueueError("alert_not_open", f"该预警已{'关闭' if alert.state == 'closed' else '解除'}",
                      f"alert {alert.id} is {alert.state}", 409, {"state": alert.state})


def switch_off(picture: Any) -> None:
    """Stop the alert rules (the A/B of the throughput benchmark; never in a served hall)."""
    board: AlertBoard = picture.alerts
    picture._observers = [d for d in picture._observers if d is not board]
    board.tick = lambda engine, at: None  # type: ignore[method-assign]
    board.check_nodes = lambda engine, at, last_seen: None  # type: ignore[method-assign]
