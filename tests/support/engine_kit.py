"""Helpers for queue-engine tests: a deterministic engine, a stepping clock and a state snapshot for replay checks."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any

from config.model import Hall, QueuePolicy
from queue_server.engine.engine import QueueEngine
from queue_server.engine.events import Event
from tests.support.halls import MONDAY, at, small_hall


def counting_ids() -> Any:
    """An id factory giving t0001, t0002 … so failures name tickets readably and runs repeat exactly."""
    counter = itertools.count(1)
    return lambda: f"t{next(counter):04d}"


def new_engine(hall: Hall | None = None, **policy: Any) -> QueueEngine:
    """An engine on ``hall`` (default: the small hall), with readable ticket ids; ``policy`` overrides QueuePolicy."""
    if hall is None:
        hall = small_hall(policy=QueuePolicy(**policy) if policy else None)
    elif policy:
        hall = dataclasses.replace(hall, policy=dataclasses.replace(hall.policy, **policy))
    return QueueEngine(hall, id_factory=counting_ids())


class Clock:
    """A hand-driven clock: ``clock()`` advances one second and returns the instant, so events keep their order."""

    def __init__(self, day: str = MONDAY, clock: str = "09:00") -> None:
        self.now = at(day, clock)

    def __call__(self, step_s: float = 1.0) -> float:
        self.now += step_s
        return self.now

    def set(self, day: str, clock: str) -> float:
        self.now = at(day, clock)
        return self.now


def snapshot(engine: QueueEngine) -> dict[str, Any]:
    """Everything a restart must rebuild: tickets, windows with credits, waiting-line order and counters."""
    return {
        "day": engine.day,
        "last_event_id": engine.last_event_id,
        "tickets": {tid: dataclasses.asdict(t) for tid, t in engine.tickets.items()},
        "staff_views": {tid: t.staff_view() for tid, t in engine.tickets.items()},
        "windows": {n: {**w.as_dict(), "credits": dict(w.credits), "last_call_at": w.last_call_at,
                        "paused_at": w.paused_at} for n, w in engine.windows.items()},
        "lines": {key: line.ids() for key, line in engine.lines.items()},
        "window_lines": {key: line.ids() for key, line in engine.window_lines.items()},
        "heads": {key: line.head() for key, line in engine.lines.items()},
        "numbers": dict(engine._numbers),
        "issued": dict(engine._issued),
        "slot_issued": dict(engine._slot_issued),
        "holders": dict(engine._holders),
        "past": {tid: dataclasses.asdict(t) for tid, t in engine.past.items()},
        "pin_failures": {key: list(times) for key, times in engine._pin_failures.items()},
        "ratings": {tid: r.as_dict() for tid, r in engine.ratings.ratings.items()},
        "ratings_by_day": {day: list(ids) for day, ids in engine.ratings.by_day.items()},
        "finishers": dict(engine.ratings.finishers),
        "cases": {cid: case.as_dict() for cid, case in engine.cases.cases.items()},
        "followup_of": dict(engine.cases.followup_of),
        "case_watch": dict(engine.cases._watch),
        "case_figures": {key: list(counts) for key, counts in engine.cases._figures.items()},
        "appointments": appointments_snapshot(engine),
        "figures": engine.figures.snapshot(),
        **alert_snapshot(engine),
    }


def alert_snapshot(engine: QueueEngine) -> dict[str, Any]:
    """Alerts, node devices and the audit index: all rebuilt by replay (hold timers and the wait heap are not)."""
    watch = engine.alerts.watch
    return {
        "alerts": {aid: dataclasses.asdict(a) for aid, a in engine.alerts.alerts.items()},
        "alert_current": dict(engine.alerts.current),
        "alert_watch": {"waiting_since": dict(watch.waiting_since), "activity": dict(watch.activity),
                        "bad": dict(watch.bad), "followups": dict(watch.followups), "overdue": dict(watch.overdue)},
        "devices": {node: {name: r.as_dict() for name, r in devs.items()}
                    for node, devs in engine.nodes.devices.items()},
        "device_faults": sorted(engine.nodes.faults),
        "audit": {tid: list(ids) for tid, ids in engine.audit.events.items()},
        "audit_windows": {tid: sorted(w) for tid, w in engine.audit.windows.items()},
    }


def appointments_snapshot(engine: QueueEngine) -> dict[str, Any]:
    """The appointment book's state and indexes (the heaps are indexes of these, settled lazily)."""
    book = engine.appointments
    return {"bookings": {aid: dataclasses.asdict(a) for aid, a in book.appointments.items()},
            "slot_taken": dict(book.slot_taken), "by_holder": dict(book.by_holder), "by_code": dict(book.by_code),
            "no_shows": {key: list(times) for key, times in book.no_shows.items()},
            "waiting_due": sorted(book.waiting_due)}


def isolated(engine: QueueEngine, *types: str) -> QueueEngine:
    """The engine with events of ``types`` applied to nobody: a domain's observers tested in isolation.

    Their owners would check what hand-made events lack (a real booking, a follow-up case); an observer
    (figures, alerts) must work from the events alone, which is what such tests check.
    """
    for type_ in types:
        engine._domain_handlers[type_] = lambda event: None
    return engine


def replayed(hall: Hall, events: Iterable[Event]) -> QueueEngine:
    """A fresh engine that has applied ``events`` in order, as a restart does."""
    engine = QueueEngine(hall)
    for event in events:
        engine.apply(event)
    return engine


class Recorder:
    """Runs engine commands and keeps every emitted event, refusals' events included, as the service would log them."""

    def __init__(self, engine: QueueEngine) -> None:
        self.engine = engine
        self.log: list[Event] = []

    def do(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``engine.<command>``; returns its outcome (or raises its QueueError), keeping the events."""
        from queue_server.engine.errors import QueueError

        try:
            decision = getattr(self.engine, command)(*args, **kwargs)
        except QueueError as err:
            self.log.extend(err.events)
            raise
        self.log.extend(decision.events)
        return decision.outcome


def with_service(hall: Hall, code: str, **changes: Any) -> Hall:
    """``hall`` with one service's fields changed (quotas, hours, flags) for a focused rule test."""
    services = tuple(dataclasses.replace(s, **changes) if s.code == code else s for s in hall.services)
    return dataclasses.replace(hall, services=services)


def has_cjk(text: str) -> bool:
    """Whether a refusal's Chinese words really are Chinese (a kiosk shows them first)."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
