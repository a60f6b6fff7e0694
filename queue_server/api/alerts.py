"""Routes of 预警: managers and displays list alerts; only managers acknowledge or close them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from config.model import NodeRole
from queue_server.api.auth import require
from queue_server.api.errors import Fields, bad_request, read_json
from queue_server.api.routes import _json, _retry_identity, _service
from queue_server.api.schema import IDEMPOTENCY as _IDEMPOTENCY
from queue_server.api.schema import errors
from queue_server.api.schema import resp as _resp
from queue_server.engine.alerts import ALERT_STATES
from queue_server.keys import AUTH

routes = web.RouteTableDef()


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER, NodeRole.DISPLAY)
    state = request.query.get("state")
    if state is not None and state not in ALERT_STATES:
        raise bad_request(f"state must be one of {', '.join(ALERT_STATES)}", "预警状态无效", "invalid_state_filter")
    return _json(await _service(request).alerts(state))


@routes.post("/api/v1/alerts/{alert_id}/ack")
async def ack_alert(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER)
    Fields(await read_json(request), set())
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).alert_step(node, key, fingerprint, "ack", request.match_info["alert_id"]))


@routes.post("/api/v1/alerts/{alert_id}/close")
async def close_alert(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER)
    fields = Fields(await read_json(request), {"note"})
    note = fields.text("note", required=True, max_len=500)
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).alert_step(node, key, fingerprint, "close", request.match_info["alert_id"],
                                                    note))


_ALERT: dict[str, Any] = {"type": "object", "required": ["id", "kind", "subject", "level", "figures", "state",
                                                          "raised_at"], "properties": {
    "id": {"type": "string"}, "kind": {"type": "string"}, "subject": {"type": "string"},
    "level": {"type": "string", "enum": ["warning", "critical"]}, "figures": {"type": "object"},
    "state": {"type": "string", "enum": list(ALERT_STATES)}, "raised_at": {"type": "number"},
    "acknowledged_at": {"type": "number", "nullable": True}, "acknowledged_by": {"type": "string"},
    "resolved_at": {"type": "number", "nullable": True}, "closed_at": {"type": "number", "nullable": True},
    "closed_by": {"type": "string"}, "note": {"type": "string"}}}
_ALERT_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}}


_ERRORS = errors(
    (400, "malformed request"), (401, "no or unknown bearer token"), (403, "role not allowed"),
    (404, "no such alert"), (409, "the alert is resolved or closed"), (422, "a close without a note"),
    (503, "event log unavailable"))

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/api/v1/alerts", {
        "summary": "alerts, newest first (manager, display)",
        "description": "Raised once when a condition starts; resolved once it stayed clear for hold_minutes (a "
                       "condition back within that time is the same alert). A closed alert stays closed; its "
                       "resolved_at says when its condition cleared. See queue_server/engine/alerts.py for the rules.",
        "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": list(ALERT_STATES)}}],
        "responses": {"200": _resp("alerts", {"type": "object", "required": ["alerts"], "properties": {
            "alerts": {"type": "array", "items": _ALERT}}}), **_ERRORS}}),
    ("post", "/api/v1/alerts/{alert_id}/ack", {
        "summary": "acknowledge an open alert (manager; again: the same answer)",
        "parameters": [_ALERT_ID, _IDEMPOTENCY],
        "responses": {"200": _resp("the alert", _ALERT), **_ERRORS}}),
    ("post", "/api/v1/alerts/{alert_id}/close", {
        "summary": "close an open or acknowledged alert by hand, with a note (manager)",
        "parameters": [_ALERT_ID, _IDEMPOTENCY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["note"],
            "properties": {"note": {"type": "string", "maxLength": 500}}}}}},
        "responses": {"200": _resp("the alert", _ALERT), **_ERRORS}}),
]
