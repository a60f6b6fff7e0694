"""The figures recounted from the event log alone, written from figures.py's docstring (not from its code).

Used by the hall-services state machine: whatever the engine keeps incrementally must equal what this
counts event by event. Each event is credited to the business day current when it happened (the day of
the last ``day.rolled``); rows are keyed like the engine's, ``(scope, code)``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from config.model import Hall
from queue_server.engine import events as ev
from queue_server.engine.events import Event

Key = tuple[str, str]
COUNTS = ("issued", "called", "finished", "skipped", "no_show", "cancelled", "transferred_out")
WAIT_EDGES_S = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200)  # as documented in figures.py
HANDLING_EDGES_S = (60, 180, 300, 600, 900, 1200, 1800, 2700, 3600)


@dataclass
class Row:
    """What one row of one day has counted."""

    counts: Counter[str] = field(default_factory=Counter)
    reached: int = 0
    handed_on: int = 0
    ratings: list[int] = field(default_factory=lambda: [0] * 5)
    overturned: list[int] = field(default_factory=lambda: [0] * 5)
    waits: list[int] = field(default_factory=list)
    handlings: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """The row's fields, as the stats API defines them."""
        out: dict[str, Any] = {name: self.counts[name] for name in COUNTS}
        base = self.reached - self.handed_on
        out["completion_rate"] = round(self.counts["finished"] / base, 4) if base > 0 else None
        out["ratings"] = {str(level): self.ratings[level - 1] for level in range(1, 6)}
        counted = [self.ratings[i] - self.overturned[i] for i in range(5)]
        out["satisfaction"] = round(sum(counted[2:]) / sum(counted), 4) if sum(counted) > 0 else None
        total = sum(self.ratings)
        out["mean_level"] = (round(sum(level * n for level, n in enumerate(self.ratings, 1)) / total, 3)
                             if total else None)
        out["wait_s"], out["handling_s"] = durations(self.waits), durations(self.handlings)
        return out


def nearest_rank(values: list[int], p: int) -> int | None:
    """The ⌈p/100·n⌉-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


def durations(values: list[int]) -> dict[str, Any]:
    mean = round(sum(values) / len(values), 1) if values else None
    return {"mean": mean, "p50": nearest_rank(values, 50), "p90": nearest_rank(values, 90)}


def buckets(values: list[int], edges: tuple[int, ...]) -> list[dict[str, Any]]:
    """Each bucket counted value by value: above the previous edge, up to and including its own; then the rest."""
    out: list[dict[str, Any]] = []
    low = -1
    for edge in edges:
        out.append({"upto_s": edge, "count": sum(1 for v in values if low < v <= edge)})
        low = edge
    out.append({"upto_s": None, "count": sum(1 for v in values if v > low)})
    return out


@dataclass
class Matter:
    """One of today's tickets as the events so far describe it."""

    service: str
    issued_at: float
    hour: Key
    window: int | None = None
    staff: str = ""
    called: bool = False
    handling_from: float | None = None
    reached: set[Key] = field(default_factory=set)


@dataclass
class RatingMark:
    day: str
    level: int
    keys: list[Key]
    overturned: bool = False


class Recount:
    """Feed it every event in log order; ``figures(day)`` gives each row's fields of that day."""

    def __init__(self, hall: Hall) -> None:
        self.department = {s.code: s.department for s in hall.services}
        self.zone = ZoneInfo(hall.timezone)
        self.day: str | None = None
        self.days: dict[str, dict[Key, Row]] = {}
        self.matters: dict[str, Matter] = {}
        self.rated: dict[str, RatingMark] = {}

    def hour(self, at: float) -> Key:
        """The hour of day of an instant in the hall's zone."""
        return ("hour", f"{dt.datetime.fromtimestamp(at, self.zone).hour:02d}")

    def keys(self, service: str, hour: Key, window: int | None = None, staff: str = "") -> list[Key]:
        keys: list[Key] = [("hall", ""), ("department", self.department[service]), ("service", service), hour]
        if window is not None:
            keys.append(("window", str(window)))
        if staff:
            keys.append(("staff", staff))
        return keys

    def row(self, key: Key, day: str | None = None) -> Row:
        day = day or self.day
        assert day is not None, "an event before the first day.rolled"
        return self.days.setdefault(day, {}).setdefault(key, Row())

    def count(self, name: str, keys: list[Key]) -> None:
        for key in keys:
            self.row(key).counts[name] += 1

    def figures(self, day: str) -> dict[Key, dict[str, Any]]:
        return {key: row.figures() for key, row in self.days.get(day, {}).items()}

    def feed(self, e: Event) -> None:
        d, t = e.data, e.type
        matter = self.matters.get(d.get("ticket", ""))
        if t == ev.DAY_ROLLED:
            self.day = d["to"]
            self.matters = {}  # yesterday's open tickets were closed silently: no figure moves
        elif t == ev.TICKET_ISSUED:
            self.matters[d["ticket"]] = Matter(d["service"], e.at, self.hour(e.at))
            self.count("issued", self.keys(d["service"], self.hour(e.at)))
        elif matter is None or not t.startswith("ticket."):
            self.feed_other(e)
        elif t == ev.TICKET_CALLED:
            matter.window, matter.staff, matter.handling_from = d["window"], e.staff, e.at
            keys = self.keys(matter.service, matter.hour, matter.window, matter.staff)
            self.count("called", keys)
            for key in keys:
                if key not in matter.reached:
                    matter.reached.add(key)
                    self.row(key).reached += 1
            if not matter.called:
                matter.called = True
                for key in keys:
                    self.row(key).waits.append(max(0, round(e.at - matter.issued_at)))
        elif t == ev.TICKET_STARTED:
            matter.handling_from = e.at
        elif t == ev.TICKET_FINISHED:
            keys = self.keys(matter.service, matter.hour, d.get("window"), e.staff)
            self.count("finished", keys)
            if matter.handling_from is not None:
                for key in keys:
                    self.row(key).handlings.append(max(0, round(e.at - matter.handling_from)))
        elif t == ev.TICKET_SKIPPED:
            self.count("skipped", self.keys(matter.service, matter.hour, matter.window, matter.staff))
        elif t == ev.TICKET_RETURNED:
            matter.window, matter.staff, matter.handling_from = None, "", None
        elif t == ev.TICKET_CANCELLED:
            self.count("cancelled", self.keys(matter.service, matter.hour))
        elif t == ev.TICKET_TRANSFERRED:
            self.transferred(matter, d)

    def transferred(self, matter: Matter, d: dict[str, Any]) -> None:
        to_service = d["to_service"]
        away: list[Key] = [("hall", ""), matter.hour]  # the hall and the hour keep the matter
        if to_service != matter.service:
            away.append(("service", matter.service))
            if self.department[to_service] != self.department[matter.service]:
                away.append(("department", self.department[matter.service]))
        if d.get("from_window") is not None:
            away.append(("window", str(d["from_window"])))
            if matter.staff:
                away.append(("staff", matter.staff))
        for key in away:
            self.row(key).counts["transferred_out"] += 1
            if key not in (("hall", ""), matter.hour) and key in matter.reached:  # passed on: the next row completes
                matter.reached.discard(key)
                self.row(key).handed_on += 1
        matter.service, matter.window, matter.staff, matter.handling_from = to_service, None, "", None

    def feed_other(self, e: Event) -> None:
        d, t = e.data, e.type
        if t == ev.APPOINTMENT_NO_SHOW:
            self.count("no_show", self.keys(d["service"], self.hour(e.at)))
        elif t == ev.RATING_GIVEN:
            matter = self.matters.get(d["ticket"])
            hour = matter.hour if matter is not None else self.hour(e.at)  # the matter's hour, if one of today's
            keys = self.keys(d["service"], hour, d.get("window"), d.get("staff") or "")
            keys[1] = ("department", d["department"])
            for key in keys:
                self.row(key).ratings[d["level"] - 1] += 1
            assert self.day is not None
            self.rated[d["ticket"]] = RatingMark(self.day, d["level"], keys)
        elif t == ev.CASE_STEP and d["step"] == "overturn" and d["kind"] == "followup":
            mark = self.rated.get(d.get("ticket") or "")
            if mark is not None and not mark.overturned:  # the overturn amends the day of the rating
                mark.overturned = True
                for key in mark.keys:
                    self.row(key, mark.day).overturned[mark.level - 1] += 1


def merged(rows: list[Row]) -> Row:
    """One row for several days, added up field by field."""
    out = Row()
    for row in rows:
        out.counts.update(row.counts)
        out.reached += row.reached
        out.handed_on += row.handed_on
        out.ratings = [a + b for a, b in zip(out.ratings, row.ratings, strict=True)]
        out.overturned = [a + b for a, b in zip(out.overturned, row.overturned, strict=True)]
        out.waits += row.waits
        out.handlings += row.handlings
    return out


def report_row(recount: Recount, days: list[str], key: Key) -> dict[str, Any]:
    """A report row's figures (all but key and label) of ``key`` over ``days``, as GET /api/v1/reports defines them."""
    row = merged([recount.days[day][key] for day in days if key in recount.days.get(day, {})])
    figures = row.figures()
    return {"handled": row.counts["finished"], "completion_rate": figures["completion_rate"],
            "satisfaction": figures["satisfaction"],
            "wait_s": {**figures["wait_s"], "histogram": buckets(row.waits, WAIT_EDGES_S)},
            "handling_s": {**figures["handling_s"], "histogram": buckets(row.handlings, HANDLING_EDGES_S)}}
