"""HTTP routes of 好差评: rate a finished matter (pad, kiosk, the QR status page) and the provincial export.

``POST /api/v1/tickets/{ticket_id}/rating`` is its own route: the generic ``/{action}`` route of
routes.py excludes ``rating`` in its pattern, so the two never depend on registration order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from config.model import Node, NodeRole
from queue_server.api.auth import require
from queue_server.api.errors import Fields, bad_request, checked_text, read_json
from queue_server.api.routes import _retry_identity
from queue_server.api.schema import IDEMPOTENCY as _IDEMPOTENCY
from queue_server.api.schema import errors
from queue_server.api.status_page import render_rating_answer
from queue_server.desks.ratings import EXPORT_COLUMNS, EXPORT_DOC, EXPORT_MAX_DAYS
from queue_server.engine.errors import QueueError
from queue_server.engine.ratings import CHANNELS
from queue_server.keys import AUTH, SERVICE

routes = web.RouteTableDef()

FORM = "application/x-www-form-urlencoded"


def day_range(request: web.Request, max_days: int = EXPORT_MAX_DAYS) -> tuple[str, str]:
    """``from`` and ``to`` (ISO dates, default today in the hall's zone), checked: to >= from, a bounded span."""
    service = request.app[SERVICE]
    today = service.engine.calendar.day_of(service.clock())
    days = []
    for name in ("from", "to"):
        text = request.query.get(name, today)
        try:
            days.append(dt.date.fromisoformat(text))
        except ValueError:
            raise bad_request(f"{name} must be an ISO date (YYYY-MM-DD), not {text!r}", f"{name} 日期格式错误",
                              "invalid_date", name) from None
    first, last = days
    if last < first or (last - first).days >= max_days:
        raise bad_request(f"to must be on or after from, at most {max_days} days", "日期范围无效", "invalid_range")
    return first.isoformat(), last.isoformat()


def _optional_node(request: web.Request) -> Node | None:
    """The asking node, or None for the public status page (no Authorization header: the link's secret rules)."""
    if "Authorization" not in request.headers:
        return None
    return request.app[AUTH].node(request)


@routes.post("/api/v1/tickets/{ticket_id}/rating")
async def rate(request: web.Request) -> web.StreamResponse:
    """A rating from a node (JSON) or from the status page's form (answered with a page)."""
    service = request.app[SERVICE]
    ticket_id = request.match_info["ticket_id"]
    if request.content_type == FORM:
        return await _rate_from_page(request, ticket_id)
    node = _optional_node(request)
    fields = Fields(await read_json(request), {"level", "channel", "comment", "secret"})
    level = fields.integer("level", required=True, low=1, high=5)
    channel = fields.text("channel", required=True, max_len=8)
    if channel not in CHANNELS:
        raise bad_request(f"channel must be one of {', '.join(CHANNELS)}", "评价渠道无效", "invalid_channel", "channel")
    comment = fields.text("comment", max_len=500)
    secret = fields.text("secret", max_len=64) or None
    key, fingerprint = await _retry_identity(request)
    assert level is not None
    answer = await service.rate(node, key, fingerprint, ticket_id, level=level, channel=channel, comment=comment,
                                secret=secret)
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


async def _rate_from_page(request: web.Request, ticket_id: str) -> web.Response:
    service = request.app[SERVICE]
    name = service.hall.name
    try:
        form = await request.post()
        values: dict[str, Any] = {k: form.get(k) for k in ("level", "k")}
        level_text, secret = values["level"], values["k"]
        if not isinstance(level_text, str) or level_text not in ("1", "2", "3", "4", "5"):
            raise bad_request("level must be 1..5", "请选择评价等级", "invalid_value", "level")
        if not isinstance(secret, str):
            raise bad_request("the link's secret is missing", "评价链接无效", "invalid_rating_link", "k")
        checked_text("k", secret)
        await service.rate(None, None, b"", ticket_id, level=int(level_text), channel="web", comment="",
                           secret=secret)
    except QueueError as err:
        return web.Response(status=err.status, text=render_rating_answer(name, False, err.message_zh, err.message_en),
                            content_type="text/html")
    return web.Response(status=201, text=render_rating_answer(name, True, "感谢您的评价", "thank you for your rating"),
                        content_type="text/html")


@routes.get("/api/v1/ratings/export")
async def export(request: web.Request) -> web.Response:
    """Every rating of a range of days, for the provincial 好差评 platform (manager)."""
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER)
    first, last = day_range(request)
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise bad_request("format must be csv or jsonl", "导出格式无效", "invalid_format", "format")
    content_type, body = await request.app[SERVICE].export_ratings(first, last, fmt)
    extension = "csv" if fmt == "csv" else "jsonl"
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="ratings-{first}-{last}.{extension}"'})


_ERRORS = errors(
    (400, "malformed request"), (401, "unknown bearer token"), (403, "role, window or link not allowed"),
    (404, "unknown ticket"), (409, "not_finished, already_rated or rating_expired"), (422, "invalid value"),
    (503, "event log unavailable"))
_DAY = {"type": "string", "format": "date"}
FOLLOWUP_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "ticket", "level", "state", "opened_at", "deadline"],
    "properties": {"id": {"type": "string"}, "ticket": {"type": "string", "nullable": True},
                   "level": {"type": "integer", "nullable": True},
                   "state": {"type": "string", "enum": ["open", "contacted", "rectified", "appealed", "closed",
                                                        "overturned"]},
                   "opened_at": {"type": "number"}, "deadline": _DAY, "overdue": {"type": "boolean"},
                   "department": {"type": "string"}, "steps": {"type": "array", "items": {"type": "object"}}}}
RATING_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["ticket", "level", "channel", "service", "department", "window", "staff",
                                   "rated_at", "followup"],
    "properties": {"ticket": {"type": "string"}, "number": {"type": "string"},
                   "level": {"type": "integer", "minimum": 1, "maximum": 5},
                   "channel": {"type": "string", "enum": list(CHANNELS)}, "comment": {"type": "string"},
                   "service": {"type": "string"}, "department": {"type": "string"},
                   "window": {"type": "integer", "nullable": True}, "staff": {"type": "string"},
                   "finished_at": {"type": "number"}, "rated_at": {"type": "number"}, "day": _DAY,
                   "overturned": {"type": "boolean"}, "followup": {**FOLLOWUP_SCHEMA, "nullable": True}}}

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/api/v1/tickets/{ticket_id}/rating", {
        "summary": "rate a finished matter once (好差评: 5 非常满意 … 1 非常不满意); 1 and 2 open a follow-up",
        "description": "Only a finished matter (409 not_finished, whoever asks), once (409 already_rated), within "
                       "ratings.window_hours of its finish (409 rating_expired). A window node rates (channel pad) "
                       "the matters finished at its window, a kiosk (channel kiosk) the tickets it issued, a manager "
                       "any; without a token, channel web with the `secret` of the ticket's QR link (rating_url of "
                       "the issue answer; 403 invalid_rating_link otherwise). The status page posts the same route "
                       "as a form (level, k) and gets a page back. The rating is credited to the window and staff "
                       "that finished the matter and to its service and department then: for a transferred matter, "
                       "the last window, the one that finished it.",
        "security": [{"bearer": []}, {}],
        "parameters": [{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}},
                       _IDEMPOTENCY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["level", "channel"],
            "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 5},
                           "channel": {"type": "string", "enum": list(CHANNELS)},
                           "comment": {"type": "string", "maxLength": 500},
                           "secret": {"type": "string", "description": "the k of the QR link (channel web)"}}}}}},
        "responses": {"201": {"description": "rated", "content": {"application/json": {"schema": RATING_SCHEMA}}},
                      **_ERRORS}}),
    ("get", "/api/v1/ratings/export", {
        "summary": "ratings of a range of days for the provincial 好差评 platform (manager), csv or jsonl",
        "description": EXPORT_DOC,
        "parameters": [{"name": "from", "in": "query", "schema": _DAY}, {"name": "to", "in": "query", "schema": _DAY},
                       {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "jsonl"]}}],
        "responses": {"200": {"description": "columns: " + ", ".join(EXPORT_COLUMNS), "content": {
            "text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}},
            **_ERRORS}}),
]
