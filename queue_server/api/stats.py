"""Routes of the figures: ``GET /api/v1/stats`` (rows per scope over days) and ``/api/v1/stats/live`` (the wall).

Who reads what: managers and displays read every row; a window node reads the hall, department and
service rows (aggregates the wall display shows anyway, no one person's figures) and, of the window and
staff scopes, only its own window and whoever is signed in there now; a kiosk or booking node may not
read ``/stats`` (403). ``/stats/live`` is the public wall feed (waiting, estimated waits, who is served
where): every node may read it, the kiosk shows the waits before a citizen takes a ticket.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from config.model import NodeRole
from queue_server.answer import Answer
from queue_server.api.auth import require
from queue_server.api.errors import bad_request
from queue_server.api.schema import errors
from queue_server.engine.figures import SCOPES
from queue_server.keys import AUTH, SERVICE
from queue_server.stats.report import MAX_RANGE_DAYS

routes = web.RouteTableDef()


def _json(answer: Answer) -> web.Response:
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


def day_param(request: web.Request, name: str) -> dt.date | None:
    """The query parameter ``name`` as a day (None when absent), or a 400 ``invalid_day`` naming it."""
    text = request.query.get(name)
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name} must be a day as YYYY-MM-DD, not {text[:40]!r}", "日期格式应为 YYYY-MM-DD",
                          "invalid_day", name) from None


@routes.get("/api/v1/stats")
async def stats(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER, NodeRole.DISPLAY, NodeRole.WINDOW)
    scope = request.query.get("scope", "hall")
    if scope not in SCOPES:
        raise bad_request(f"scope must be one of {', '.join(SCOPES)}", "统计范围无效", "invalid_scope", "scope")
    first, last = day_param(request, "from"), day_param(request, "to")
    service = request.app[SERVICE]
    today = dt.date.fromisoformat(service.engine.day or service.engine.calendar.day_of(service.clock()))
    start = first or last or today  # to alone: that day; from alone: from that day to today
    end = last or max(start, today)
    if end < start:
        raise bad_request("from must not be after to", "起始日期不能晚于结束日期", "invalid_range", "from")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise bad_request(f"a report covers at most {MAX_RANGE_DAYS} days", f"统计区间最多 {MAX_RANGE_DAYS} 天",
                          "invalid_range", "to")
    return _json(await service.stats(node, scope, start.isoformat(), end.isoformat()))


@routes.get("/api/v1/stats/live")
async def stats_live(request: web.Request) -> web.Response:
    request.app[AUTH].node(request)
    return _json(await request.app[SERVICE].stats_live())


_NULLABLE_NUMBER = {"type": "number", "nullable": True}
_DURATION = {"type": "object", "required": ["mean", "p50", "p90"],
             "properties": {"mean": _NULLABLE_NUMBER, "p50": _NULLABLE_NUMBER, "p90": _NULLABLE_NUMBER}}
_COUNT = {"type": "integer", "minimum": 0}
_ROW = {
    "type": "object",
    "description": "One row: its key (`hall`, `department`, `service`, `window` or `staff`) and the figures.",
    "required": ["issued", "called", "finished", "skipped", "no_show", "cancelled", "transferred_out",
                 "completion_rate", "ratings", "satisfaction", "mean_level", "wait_s", "handling_s", "waiting_now",
                 "longest_wait_s", "windows_open", "windows_paused"],
    "properties": {
        "hall": {"type": "string"}, "department": {"type": "string"}, "service": {"type": "string"},
        "window": {"type": "integer"}, "staff": {"type": "string"},
        **{name: _COUNT for name in ("issued", "called", "finished", "skipped", "no_show", "cancelled",
                                     "transferred_out", "waiting_now", "longest_wait_s", "windows_open",
                                     "windows_paused")},
        "completion_rate": {**_NULLABLE_NUMBER, "description":
                            "办结率 = finished / (matters called at least once at this row − those of them then "
                            "transferred away); a transferred matter counts for the row that finishes it. Hall: "
                            "finished over matters called at least once. Null when nothing reached the row."},
        "ratings": {"type": "object", "description": "rating.given per level 1..5, overturned ones included",
                    "properties": {str(lv): _COUNT for lv in range(1, 6)}},
        "satisfaction": {**_NULLABLE_NUMBER, "description": "满意率: levels 3-5 over ratings not overturned; null "
                         "when none. A rating is credited to who finished the matter (after a transfer: the last)."},
        "mean_level": _NULLABLE_NUMBER,
        "wait_s": {**_DURATION, "description": "issue → first call, whole seconds, exact nearest-rank percentiles"},
        "handling_s": {**_DURATION, "description": "start (or the call, if never started) → finish"},
    },
}
_ERRORS = errors((400, "bad scope or day"), (401, "no or unknown token"), (403, "role may not read stats"))

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/api/v1/stats", {
        "summary": "figures per hall, department, service, window or staff over days (manager, display, window)",
        "description": "Counts and durations over the days `from`..`to` (default today, at most 400 days; closed "
                       "days come from per-day summaries). `waiting_now`, `longest_wait_s`, `windows_open` and "
                       "`windows_paused` are the hall now. A window node gets hall, department and service rows, "
                       "and of the window and staff scopes only its own window and its signed-in staff.",
        "parameters": [{"name": "scope", "in": "query", "schema": {"type": "string", "enum": list(SCOPES),
                                                                   "default": "hall"}},
                       {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}}],
        "responses": {"200": {"description": "rows", "content": {"application/json": {"schema": {
            "type": "object", "required": ["rows"], "properties": {
                "scope": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"},
                "rows": {"type": "array", "items": _ROW}}}}}}, **_ERRORS}}),
    ("get", "/api/v1/stats/live", {
        "summary": "the wall display's feed: hall totals, departments, services (waiting, estimated wait), windows",
        "description": "Today only. The same object, as `live`, is the WebSocket's `{\"type\": \"stats\", \"at\", "
                       "\"live\"}` message, sent at most once a second when something changed.",
        "responses": {"200": {"description": "live figures", "content": {"application/json": {"schema": {
            "type": "object", "required": ["at", "day", "hall", "departments", "services", "windows"],
            "properties": {"at": {"type": "number"}, "day": {"type": "string", "nullable": True},
                           "last_event_id": {"type": "integer"}, "hall": {"type": "object"},
                           "departments": {"type": "array", "items": {"type": "object"}},
                           "services": {"type": "array", "items": {"type": "object", "properties": {
                               "service": {"type": "string"}, "waiting": _COUNT,
                               "estimated_wait_s": {"type": "integer"}}}},
                           "windows": {"type": "array", "items": {"type": "object", "properties": {
                               "window": {"type": "integer"},
                               "state": {"type": "string", "enum": ["closed", "open", "paused"]},
                               "number": {"type": "string", "nullable": True},
                               "ticket_state": {"type": "string", "nullable": True}}}}}}}}},
                      "401": _ERRORS["401"]}}),
]
