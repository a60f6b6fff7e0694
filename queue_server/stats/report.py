"""The stats API's rows and the wall display's live view, read from the figures and the picture at one instant.

Counts and durations come from ``engine.figures`` (kept as events are applied; see
queue_server/engine/figures.py for what each figure means); the current fields (``waiting_now``,
``longest_wait_s``, ``windows_open``, ``windows_paused``) come from the picture and are the hall *now*,
whatever range was asked. Nothing here walks the day's tickets: the cost is per row (services, windows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from queue_server.engine.engine import QueueEngine
from queue_server.engine.figures import HALL, Key, Tally, hour_key
from queue_server.engine.state import WaitingLine

MAX_RANGE_DAYS = 400


def days_between(first: str, last: str) -> list[str]:
    """Every ISO day from ``first`` to ``last`` inclusive (the caller checked the order and span)."""
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def row_keys(engine: QueueEngine, scope: str, seen: Iterable[Key]) -> list[Key]:
    """Every configured row of the scope (zeros when quiet), plus staff ids and hours seen in the figures.

    Hours: each hour of the day from the earliest opening to the latest closing of any session, and any
    other hour something happened in (a ticket issued at 08:55 by a manager), in order.
    """
    hall = engine.hall
    if scope == "hall":
        return [HALL]
    if scope == "hour":
        spans = [*hall.hours.weekdays, *hall.hours.extended, *hall.hours.weekend,
                 *(span for s in hall.services for span in s.hours)]
        opening = {hour_key(h) for span in spans
                   for h in range(span.start.hour, span.end.hour + (1 if span.end.minute else 0))}
        return sorted(opening | {key for key in seen if key[0] == "hour"})
    if scope == "department":
        return [("department", d.code) for d in hall.departments]
    if scope == "service":
        return [("service", s.code) for s in hall.services]
    if scope == "window":
        return [("window", str(w.number)) for w in hall.windows]
    configured = [s.id for s in hall.staff]
    extra = sorted({code for s, code in seen if s == "staff"} - set(configured))
    return [("staff", code) for code in (*configured, *extra)]


def stats_rows(engine: QueueEngine, scope: str, days: list[str], now: float,
               only: set[Key] | None = None) -> list[dict[str, Any]]:
    """One row per key of ``scope`` over ``days`` (merged exactly), with the hall's current figures."""
    span = DaysTallies(engine, days)
    current = Current(engine, now)
    rows = []
    for key in row_keys(engine, scope, span.seen):
        if only is not None and key not in only:
            continue
        rows.append({**_key_field(engine, key), **span.tally(key).figures(), **current.of(key)})
    return rows


class DaysTallies:
    """The kept tallies of a range of days, each row merged on demand (the cost is per row and day)."""

    def __init__(self, engine: QueueEngine, days: list[str]) -> None:
        tables = [engine.figures.rows(day) for day in days]
        self.tables = [t for t in tables if t]
        self.seen = {key for table in self.tables for key in table}

    def tally(self, key: Key) -> Tally:
        """The row over the range: the days' tallies merged exactly (an empty tally when it never counted)."""
        parts = [table[key] for table in self.tables if key in table]
        return Tally.merged(parts) if parts else Tally()


def _key_field(engine: QueueEngine, key: Key) -> dict[str, Any]:
    scope, code = key
    if scope == "hall":
        return {"hall": engine.hall.name}
    if scope == "window":
        return {"window": int(code)}
    return {scope: code}


class Current:
    """The picture's figures now: waiting, the longest wait, windows open and paused, per row."""

    def __init__(self, engine: QueueEngine, now: float) -> None:
        self.engine = engine
        self.now = now

    def _oldest(self, lines: Iterable[WaitingLine]) -> int:
        tickets = self.engine.tickets
        oldest: float | None = None
        for line in lines:
            head = line.head()
            if head is not None:
                queued = tickets[head].queue_time
                oldest = queued if oldest is None else min(oldest, queued)
        return 0 if oldest is None else max(0, round(self.now - oldest))

    def _service_lines(self, services: Iterable[str]) -> list[WaitingLine]:
        lines = self.engine.lines
        return [lines[(code, rank)] for code in services for rank in (0, 1)]

    def _windows(self, numbers: Iterable[int]) -> tuple[int, int]:
        open_, paused = 0, 0
        for number in numbers:
            state = self.engine.windows[number]
            if state.staff:
                if state.paused:
                    paused += 1
                else:
                    open_ += 1
        return open_, paused

    def _figures(self, lines: list[WaitingLine], windows: Iterable[int]) -> dict[str, int]:
        open_, paused = self._windows(windows)
        return {"waiting_now": sum(len(line) for line in lines), "longest_wait_s": self._oldest(lines),
                "windows_open": open_, "windows_paused": paused}

    def of(self, key: Key) -> dict[str, int]:
        engine, hall = self.engine, self.engine.hall
        scope, code = key
        if scope == "hall":
            return self._figures([*engine.lines.values(), *engine.window_lines.values()], engine.windows)
        if scope in ("service", "department"):
            services = {code} if scope == "service" else {s.code for s in hall.services if s.department == code}
            windows = [w.number for w in hall.windows if any(ws.service in services for ws in w.services)]
            return self._figures(self._service_lines(services), windows)
        if scope == "window":
            return self._window(int(code))
        at = [n for n, state in engine.windows.items() if state.staff == code]
        return self._window(at[0]) if at else {"waiting_now": 0, "longest_wait_s": 0, "windows_open": 0,
                                               "windows_paused": 0}

    def _window(self, number: int) -> dict[str, int]:
        """What the window could call now: its services' lines and the tickets sent to it."""
        cfg = self.engine.window_config(number)
        lines = [*self._service_lines(ws.service for ws in cfg.services), self.engine.window_lines[number]]
        return self._figures(lines, [number])


def live_view(engine: QueueEngine, now: float, last_event_id: int) -> dict[str, Any]:
    """The wall display's feed: hall totals, per department, per service (waiting, estimated wait), per window."""
    figures, hall = engine.figures, engine.hall
    current = Current(engine, now)

    def counts(key: Key) -> dict[str, Any]:
        t = figures.tally(key)
        base = t.reached - t.handed_on
        return {"issued": t.issued, "called": t.called, "finished": t.finished,
                "completion_rate": round(t.finished / base, 4) if base > 0 else None}

    hall_row = {**counts(HALL), **current.of(HALL), "satisfaction": figures.tally(HALL).figures()["satisfaction"]}
    departments = [{"department": d.code, "name": d.name, **counts(("department", d.code)),
                    **current.of(("department", d.code))} for d in hall.departments]
    services = []
    for s in hall.services:
        waiting = engine.waiting_count(s.code)
        services.append({"service": s.code, "name": s.name, "name_en": s.name_en, "department": s.department,
                         **counts(("service", s.code)), "waiting": waiting,
                         "estimated_wait_s": engine.estimated_wait_s(s.code, waiting)})
    windows = []
    for w in hall.windows:
        state = engine.windows[w.number]
        ticket = engine.tickets.get(state.current or "")
        windows.append({"window": w.number, "name": w.name,
                        "state": "closed" if not state.staff else "paused" if state.paused else "open",
                        "number": ticket.number if ticket else None,
                        "ticket_state": ticket.state.value if ticket else None})
    return {"day": engine.day, "last_event_id": last_event_id, "hall": hall_row, "departments": departments,
            "services": services, "windows": windows}
