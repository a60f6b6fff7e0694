"""Managers' reports: a day, ISO week, month or year of the figures, by hour, service, department, window or staff.

A report reads the same per-day tallies as ``GET /api/v1/stats`` (queue_server/engine/figures.py keeps
them as events are applied and rebuilds them on replay), merged over the period's days: the cost is per
row and day, never per ticket. Each row gives 办件量 (``handled``: matters finished), 办结率, 满意率 and the
wait and handling time as mean, p50, p90 and a histogram over fixed buckets (``WAIT_EDGES_S`` and
``HANDLING_EDGES_S`` in figures.py). ``totals`` is the hall over the period, so the rows of ``window`` or
``staff`` add up to it only for what was done at a window. Days are business days in the hall's zone:
a week runs Monday to Sunday (ISO), a month and a year are the calendar's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_server.engine.engine import QueueEngine
from queue_server.engine.figures import HALL, HANDLING_EDGES_S, WAIT_EDGES_S, Tally, histogram, summary
from queue_server.stats.report import DaysTallies, days_between, row_keys

PERIODS = ("day", "week", "month", "year")
BYS = ("hour", "service", "department", "window", "staff")
TOTAL_KEY, TOTAL_LABEL = "total", "合计"


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the ``period`` that holds ``day`` (ISO week: Monday to Sunday)."""
    if period == "day":
        return day, day
    if period == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday, monday + dt.timedelta(days=6)
    if period == "month":
        first = day.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return first, following - dt.timedelta(days=1)
    if period == "year":
        return day.replace(month=1, day=1), day.replace(month=12, day=31)
    raise ValueError(f"unknown period {period!r}")


def _labels(engine: QueueEngine, by: str) -> dict[str, str]:
    """What a manager reads for each key of ``by`` (names from the hall's config)."""
    hall = engine.hall
    if by == "service":
        return {s.code: s.name for s in hall.services}
    if by == "department":
        return {d.code: d.name for d in hall.departments}
    if by == "window":
        return {str(w.number): w.name for w in hall.windows}
    if by == "staff":
        return {s.id: s.name for s in hall.staff}
    return {}


def _label(by: str, code: str, labels: dict[str, str]) -> str:
    if by == "hour":
        hour = int(code)
        return f"{hour:02d}:00–{hour + 1:02d}:00"
    return labels.get(code, code)


def _durations(ordered: Any, total: int, edges: tuple[int, ...]) -> dict[str, Any]:
    return {**summary(ordered, total), "histogram": histogram(ordered, edges)}


def report_row(key: str, label: str, tally: Tally) -> dict[str, Any]:
    """One row of a report from a (merged) tally."""
    figures = tally.figures()
    return {"key": key, "label": label, "handled": tally.finished, "completion_rate": figures["completion_rate"],
            "satisfaction": figures["satisfaction"],
            "wait_s": _durations(tally.wait, tally.wait_sum, WAIT_EDGES_S),
            "handling_s": _durations(tally.handling, tally.handling_sum, HANDLING_EDGES_S)}


def report_body(engine: QueueEngine, period: str, day: dt.date, by: str) -> dict[str, Any]:
    """The report of ``period`` around ``day`` by ``by``: one row per key of ``by`` and the hall's totals."""
    first, last = period_bounds(period, day)
    span = DaysTallies(engine, days_between(first.isoformat(), last.isoformat()))
    labels = _labels(engine, by)
    rows = []
    for key in row_keys(engine, by, span.seen):
        code = key[1]
        rows.append(report_row(code, _label(by, code, labels), span.tally(key)))
    return {"period": period, "from": first.isoformat(), "to": last.isoformat(), "by": by, "rows": rows,
            "totals": report_row(TOTAL_KEY, TOTAL_LABEL, span.tally(HALL))}

