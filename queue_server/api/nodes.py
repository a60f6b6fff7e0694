"""Routes of node health: a node reports its own devices; managers and displays see every node."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from config.model import NodeRole
from devices.state import DeviceState
from queue_server.api.auth import require
from queue_server.api.errors import Fields, bad_request, read_json
from queue_server.api.routes import _json, _retry_identity, _service
from queue_server.api.schema import errors
from queue_server.api.schema import resp as _resp
from queue_server.engine.errors import forbidden
from queue_server.engine.nodes import DeviceReport
from queue_server.keys import AUTH

routes = web.RouteTableDef()
MAX_DEVICES = 32
_STATES = [s.value for s in DeviceState]


def _device(item: Any, index: int) -> DeviceReport:
    where = f"devices[{index}]"
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object", f"{where} 必须是对象", "invalid_type", where)
    fields = Fields(item, {"name", "kind", "state", "reason", "since"})
    name = fields.text("name", required=True, max_len=64)
    kind = fields.text("kind", required=True, max_len=64)
    state = fields.text("state", required=True, max_len=16)
    if state not in _STATES:
        raise bad_request(f"{where}.state must be one of {', '.join(_STATES)}", "设备状态无效", "invalid_device_state",
                          f"{where}.state")
    reason = fields.text("reason", max_len=200)
    since = item.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float)) or not 0 <= since < 1e11):
        raise bad_request(f"{where}.since must be seconds since the epoch", "since 必须是时间戳", "invalid_value",
                          f"{where}.since")
    if not name or not kind:
        raise bad_request(f"{where} needs a name and a kind", "设备名称和类型不能为空", "invalid_value", where)
    return DeviceReport(name, kind, state, reason, float(since) if since is not None else None)


@routes.post("/api/v1/nodes/{node}/health")
async def node_health(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    if request.match_info["node"] != node.name:
        raise forbidden("节点只能报告自己的状态", f"node {node.name} may report only its own health")
    body = await read_json(request)
    Fields(body, {"devices"})
    devices = body.get("devices", [])
    if not isinstance(devices, list):
        raise bad_request("devices must be a list", "devices 必须是数组", "invalid_type", "devices")
    if len(devices) > MAX_DEVICES:
        raise bad_request(f"at most {MAX_DEVICES} devices", "设备过多", "invalid_value", "devices")
    reports = [_device(item, i) for i, item in enumerate(devices)]
    if len({r.name for r in reports}) != len(reports):
        raise bad_request("each device may appear once", "设备名称重复", "duplicate_device", "devices")
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).node_health(node, key, fingerprint, reports))


@routes.get("/api/v1/nodes")
async def list_nodes(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER, NodeRole.DISPLAY)
    return _json(await _service(request).nodes())


_DEVICE = {"type": "object", "required": ["device", "kind", "state"], "properties": {
    "node": {"type": "string"}, "device": {"type": "string"}, "kind": {"type": "string"},
    "state": {"type": "string", "enum": _STATES}, "reason": {"type": "string"},
    "since": {"type": "number", "nullable": True}, "changed_at": {"type": "number"}}}
_NODE = {"type": "object", "required": ["node", "role", "last_seen", "online", "devices"], "properties": {
    "node": {"type": "string"}, "role": {"type": "string"}, "window": {"type": "integer", "nullable": True},
    "last_seen": {"type": "number", "nullable": True}, "online": {"type": "boolean"},
    "devices": {"type": "array", "items": _DEVICE}}}


_ERRORS = errors(
    (400, "malformed request"), (401, "no or unknown bearer token"), (403, "another node, or role not allowed"),
    (503, "event log unavailable"))

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/api/v1/nodes/{node}/health", {
        "summary": "heartbeat and device states, from the node itself (its own token)",
        "description": "Last seen is kept in memory; only device transitions (a new device, a new state or kind) "
                       "become device.state events. A node is offline once silent for node_silent_seconds.",
        "parameters": [{"name": "node", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {"devices": {
                "type": "array", "maxItems": MAX_DEVICES, "items": {
                    "type": "object", "additionalProperties": False, "required": ["name", "kind", "state"],
                    "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                   "state": {"type": "string", "enum": _STATES}, "reason": {"type": "string"},
                                   "since": {"type": "number"}}}}}}}}},
        "responses": {"200": _resp("the node as the server now sees it", _NODE), **_ERRORS}}),
    ("get", "/api/v1/nodes", {
        "summary": "every configured node: role, last seen, online, devices (manager, display)",
        "responses": {"200": _resp("nodes", {"type": "object", "required": ["nodes"], "properties": {
            "nodes": {"type": "array", "items": _NODE}}}), **_ERRORS}}),
]
