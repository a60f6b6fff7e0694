"""Routes of the audit trail (流程追溯): a ticket's history, and the log paged with filters (masked data only)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from config.model import NodeRole
from queue_server.api.auth import require
from queue_server.api.errors import bad_request
from queue_server.api.routes import _json, _service
from queue_server.api.schema import errors
from queue_server.api.schema import query as _q
from queue_server.api.schema import resp as _resp
from queue_server.desks.audit import AuditFilter
from queue_server.keys import AUTH

routes = web.RouteTableDef()
AUDIT_LIMIT = 200
AUDIT_LIMIT_MAX = 1000


@routes.get("/api/v1/tickets/{ticket_id}/history")
async def ticket_history(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER, NodeRole.WINDOW)
    return _json(await _service(request).ticket_history(node, request.match_info["ticket_id"]))


def _instant(request: web.Request, name: str, zone: ZoneInfo, *, end: bool) -> float | None:
    """An ISO date (a local day: from its start, to its end) or an ISO local date-time, as a UTC instant."""
    text = request.query.get(name)
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end else 0)
            moment = dt.datetime.combine(day, dt.time(), zone)
        else:
            moment = dt.datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise bad_request(f"{name} must be an ISO date (YYYY-MM-DD) or date-time", f"{name} 日期格式错误",
                          "invalid_date", name) from None
    return moment.timestamp()


def _integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query.get(name, str(default)))
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise bad_request(f"{name} must be an integer {low}..{high}", f"{name} 无效", f"invalid_{name}", name)
    return value


@routes.get("/api/v1/audit")
async def audit(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER)
    service = _service(request)
    zone = ZoneInfo(service.hall.timezone)
    window = request.query.get("window")
    if window is not None and not (window.isdigit() and 1 <= int(window) <= 10**4):
        raise bad_request("window must be a window number", "窗口号无效", "invalid_window", "window")
    filters = AuditFilter(start=_instant(request, "from", zone, end=False), end=_instant(request, "to", zone, end=True),
                          staff=request.query.get("staff", "")[:64], window=int(window) if window else None,
                          type=request.query.get("type", "")[:64])
    after = _integer(request, "after", 0, 0, 2**62)
    limit = _integer(request, "limit", AUDIT_LIMIT, 1, AUDIT_LIMIT_MAX)
    return _json(await service.audit(filters, after, limit))


_ENTRY = {"type": "object", "required": ["id", "type", "at", "node", "staff", "data"], "properties": {
    "id": {"type": "integer"}, "type": {"type": "string"}, "at": {"type": "number"}, "at_iso": {"type": "string"},
    "node": {"type": "string"}, "staff": {"type": "string"}, "window": {"type": "integer", "nullable": True},
    "data": {"type": "object", "description": "the event's payload, without holder_key or any secret"}}}


_ERRORS = errors(
    (400, "malformed query"), (401, "no or unknown bearer token"), (403, "role or window not allowed"),
    (404, "unknown ticket"), (503, "event log unavailable"))

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/api/v1/tickets/{ticket_id}/history", {
        "summary": "every event of one matter in log order (manager, or a window that held the ticket)",
        "description": "Tickets of today and the last 7 closed days. Read from the durable log.",
        "parameters": [{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _resp("the history", {"type": "object", "required": ["ticket", "events"], "properties": {
            "ticket": {"type": "string"}, "number": {"type": "string", "nullable": True},
            "events": {"type": "array", "items": _ENTRY}}}), **_ERRORS}}),
    ("get", "/api/v1/audit", {
        "summary": "the event log paged with filters (manager), masked data only",
        "description": "Scans at most 20,000 events per request after `after`; `next` (an event id) continues the "
                       "scan, null at the end of the log. `from`/`to` are local days (inclusive) or ISO date-times; "
                       "`type` matches an event type or a prefix (`ticket`, `alert`).",
        "parameters": [_q("from", {"type": "string"}), _q("to", {"type": "string"}), _q("staff", {"type": "string"}),
                       _q("window", {"type": "integer"}), _q("type", {"type": "string"}),
                       _q("after", {"type": "integer", "minimum": 0}),
                       _q("limit", {"type": "integer", "minimum": 1, "maximum": AUDIT_LIMIT_MAX})],
        "responses": {"200": _resp("a page", {"type": "object", "required": ["events", "next"], "properties": {
            "events": {"type": "array", "items": _ENTRY}, "next": {"type": "integer", "nullable": True},
            "scanned": {"type": "integer"}}}), **_ERRORS}}),
]
