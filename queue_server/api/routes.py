"""HTTP routes of the public v1 contract: tickets, windows, queues, health, the event stream.

Handlers only translate: they authenticate, validate the body, run one engine command through the
hall service (which makes it durable before we answer) and shape the JSON.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from config.model import NodeRole
from config.secrets import verify_pin
from queue_server.api.auth import require, require_window
from queue_server.api.errors import ApiError, Fields, bad_request, read_json
from queue_server.api.status_page import render_status_page
from queue_server.engine.state import STATE_ZH, Ticket, TicketState
from queue_server.keys import AUTH, PIN_LIMITER, SERVICE
from queue_server.service import HallService, dumps
from queue_server.ws.views import view_for

routes = web.RouteTableDef()

_HOLDER_KEY = re.compile(r"[0-9a-f]{64}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
TICKET_ACTIONS = ("call", "recall", "skip", "requeue", "start", "finish", "transfer", "cancel", "printed",
                  "print_failed")


def _service(request: web.Request) -> HallService:
    return request.app[SERVICE]


def ticket_view(service: HallService, ticket: Ticket, *, staff: bool = False) -> dict[str, Any]:
    engine = service.engine
    ahead = engine.ahead_of(ticket)
    cfg = engine.service(ticket.service)
    view = ticket.staff_view() if staff else ticket.public()
    view.update({
        "service_name": cfg.name, "service_name_en": cfg.name_en, "state_zh": STATE_ZH[ticket.state],
        "ahead": ahead,
        "estimated_wait_s": engine.estimated_wait_s(ticket.service, ahead)
        if ticket.state is TicketState.WAITING else 0,
        "status_url": f"/api/v1/tickets/{ticket.id}",
    })
    return view


def _json(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body, content_type="application/json")


def _window_param(request: web.Request) -> int:
    try:
        return int(request.match_info["window"])
    except ValueError:
        raise bad_request("the window must be a number", "窗口号必须是数字", "invalid_window") from None


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise bad_request("Idempotency-Key must be 1-128 visible ASCII characters", "请求编号格式错误",
                          "invalid_idempotency_key")
    return key


async def _idempotent(request: web.Request, node_name: str, respond: Any) -> web.Response:
    raw = await request.read()
    fingerprint = f"{request.method} {request.path}\n".encode() + raw
    status, body = await _service(request).run_idempotent(node_name, _idempotency_key(request), fingerprint, respond)
    return _json(status, body)


# ---------------------------------------------------------------------------------------------- public
@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    service = _service(request)
    body = {"status": "failed" if service.broken else "ok", "hall": service.hall.name,
            "last_event_id": service.last_durable_id, "day": service.engine.day,
            "subscribers": service.hub.client_count}
    if service.broken:
        body["reason"] = service.broken
    return web.json_response(body, status=503 if service.broken else 200, dumps=dumps)


@routes.get("/api/v1/tickets/{ticket_id}")
async def get_ticket(request: web.Request) -> web.Response:
    service = _service(request)
    ticket = service.engine.ticket(request.match_info["ticket_id"])
    view = ticket_view(service, ticket)
    if "text/html" in request.headers.get("Accept", ""):
        return web.Response(text=render_status_page(service.hall.name, view), content_type="text/html")
    return web.json_response(view, dumps=dumps)


# ---------------------------------------------------------------------------------------------- tickets
@routes.post("/api/v1/tickets")
async def issue_ticket(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.KIOSK, NodeRole.MANAGER)
    fields = Fields(await read_json(request),
                    {"service", "priority", "holder_key", "holder_masked", "appointment_id"})
    code = fields.text("service", required=True, max_len=32)
    priority = fields.text("priority", default="normal", max_len=16)
    holder_key = fields.text("holder_key", max_len=64)
    if holder_key and not _HOLDER_KEY.fullmatch(holder_key):
        raise bad_request("holder_key must be the 64-hex HMAC of the ID number, never the number itself",
                          "持证人标识必须是 64 位十六进制摘要", "invalid_holder_key", "holder_key")
    holder_masked = fields.text("holder_masked", max_len=40)
    if len(holder_masked) > 1 and "*" not in holder_masked:
        raise bad_request("holder_masked must be masked (e.g. 张*)", "姓名必须脱敏（如 张*）", "unmasked_name",
                          "holder_masked")
    appointment_id = fields.text("appointment_id", max_len=64)
    service = _service(request)

    def respond() -> tuple[int, str, list[Any]]:
        ticket, existing, events = service.engine.issue(
            code, service.clock(), priority=priority, node=node.name, holder_key=holder_key,
            holder_masked=holder_masked, appointment_id=appointment_id)
        view = ticket_view(service, ticket)
        view["existing"] = existing
        return (200 if existing else 201), dumps(view), events

    return await _idempotent(request, node.name, respond)


@routes.get("/api/v1/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    """Today's tickets (filtered by ``state`` and ``service``) for window staff and managers."""
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER, NodeRole.DISPLAY)
    service = _service(request)
    state = request.query.get("state")
    code = request.query.get("service")
    if state is not None and state not in TicketState.__members__.values():
        raise bad_request(f"unknown state {state!r}", "未知状态", "invalid_state_filter")
    tickets = [t for t in service.engine.tickets.values()
               if (state is None or t.state == state) and (code is None or t.service == code)]
    tickets.sort(key=lambda t: t.sort_key)
    staff_view = node.role is not NodeRole.DISPLAY
    return web.json_response({"tickets": [ticket_view(service, t, staff=staff_view) for t in tickets[:1000]]},
                             dumps=dumps)


@routes.post(r"/api/v1/tickets/{ticket_id}/{action}")
async def ticket_action(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    action = request.match_info["action"].replace("-", "_")
    if action not in TICKET_ACTIONS:
        raise ApiError("unknown_action", "未知操作", f"unknown action {action!r} (known: {', '.join(TICKET_ACTIONS)})",
                       404)
    service = _service(request)
    engine = service.engine
    ticket = engine.ticket(request.match_info["ticket_id"])
    fields = Fields(await read_json(request), {"window", "to_service", "to_window", "reason"})
    window = fields.integer("window", low=1, high=10**4)
    to_service = fields.text("to_service", max_len=32)
    to_window = fields.integer("to_window", low=1, high=10**4)
    reason = fields.text("reason", max_len=200)

    if node.role is NodeRole.WINDOW:
        if window is not None and window != node.window:
            require_window(node, window)
        window = node.window
        if action not in ("call", "requeue") and ticket.window != node.window and not (
                action == "transfer" and ticket.state is TicketState.WAITING):
            require_window(node, ticket.window or -1)
    elif node.role is NodeRole.KIOSK:
        if action not in ("requeue", "cancel", "printed", "print_failed"):
            require(node, NodeRole.WINDOW, NodeRole.MANAGER)
        if action == "cancel" and ticket.state is not TicketState.WAITING:
            require(node, NodeRole.WINDOW, NodeRole.MANAGER)
    else:
        require(node, NodeRole.MANAGER)
    if action == "call" and window is None:
        raise bad_request("field 'window' is required to call a ticket", "缺少窗口号", "missing_field", "window")

    def respond() -> tuple[int, str, list[Any]]:
        now = service.clock()
        if action == "call":
            assert window is not None
            called, events = engine.call(ticket.id, window, at=now, node=node.name)
        else:
            called, events = engine.act(action, ticket.id, now, window=window, node=node.name,
                                        to_service=to_service, to_window=to_window, reason=reason)
        return 200, dumps(ticket_view(service, called, staff=True)), events

    return await _idempotent(request, node.name, respond)


# ---------------------------------------------------------------------------------------------- windows
@routes.post("/api/v1/windows/{window}/call-next")
async def call_next(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    window = _window_param(request)
    require_window(node, window)
    service = _service(request)
    Fields(await read_json(request), set())

    def respond() -> tuple[int, str, list[Any]]:
        ticket, events = service.engine.call_next(window, at=service.clock(), node=node.name)
        return 200, dumps(ticket_view(service, ticket, staff=True)), events

    return await _idempotent(request, node.name, respond)


@routes.post("/api/v1/windows/{window}/{verb:pause|resume|sign-out}")
async def window_state(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    window = _window_param(request)
    require_window(node, window)
    fields = Fields(await read_json(request), {"reason"})
    reason = fields.text("reason", max_len=200, required=request.match_info["verb"] == "pause")
    service = _service(request)
    engine = service.engine
    verb = request.match_info["verb"]
    now = service.clock()
    if verb == "pause":
        await service.run(lambda: engine.pause(window, at=now, reason=reason, node=node.name))
    elif verb == "resume":
        await service.run(lambda: engine.resume(window, at=now, node=node.name))
    else:
        await service.run(lambda: engine.sign_out(window, at=now, node=node.name))
    return web.json_response(engine.windows[window].as_dict(), dumps=dumps)


@routes.post("/api/v1/windows/{window}/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    window = _window_param(request)
    require_window(node, window)
    fields = Fields(await read_json(request), {"staff", "pin"})
    staff_id = fields.text("staff", required=True, max_len=64)
    pin = fields.text("pin", required=True, max_len=64)
    limiter = request.app[PIN_LIMITER]
    limiter.check(window)
    service = _service(request)
    staff = next((s for s in service.hall.staff if s.id == staff_id), None)
    ok = staff is not None and await asyncio.to_thread(verify_pin, pin, staff.pin_hash)
    if not ok:
        limiter.failed(window)
        raise ApiError("wrong_pin", "工号或密码错误", "unknown staff id or wrong PIN", 401)
    limiter.succeeded(window)
    await service.run(lambda: service.engine.sign_in(window, staff_id, at=service.clock(), node=node.name))
    return web.json_response(service.engine.windows[window].as_dict(), dumps=dumps)


@routes.get("/api/v1/windows")
async def list_windows(request: web.Request) -> web.Response:
    request.app[AUTH].node(request)
    service = _service(request)
    out = []
    for cfg in service.hall.windows:
        state = service.engine.windows[cfg.number].as_dict()
        current = service.engine.tickets.get(state["current"] or "")
        out.append({**state, "name": cfg.name, "kind": cfg.kind.value,
                    "services": [ws.service for ws in cfg.services],
                    "current_number": current.number if current else None,
                    "current_state": current.state.value if current else None})
    return web.json_response({"windows": out}, dumps=dumps)


# ---------------------------------------------------------------------------------------------- queues
@routes.get("/api/v1/queues")
async def queues(request: web.Request) -> web.Response:
    request.app[AUTH].node(request)
    service = _service(request)
    engine = service.engine
    out = []
    for cfg in service.hall.services:
        waiting = engine.waiting_count(cfg.code)
        out.append({"service": cfg.code, "name": cfg.name, "name_en": cfg.name_en, "prefix": cfg.prefix,
                    "department": cfg.department, "waiting": waiting,
                    "estimated_wait_s": engine.estimated_wait_s(cfg.code, waiting),
                    "active_windows": engine.active_windows(cfg.code)})
    return web.json_response({"day": engine.day, "last_event_id": service.last_durable_id, "queues": out},
                             dumps=dumps)


# ---------------------------------------------------------------------------------------------- events
@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    node = request.app[AUTH].node(request, allow_query=True)
    service = _service(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise bad_request("after must be an event id (an integer)", "after 必须是事件编号", "invalid_after") from None
    if after < 0:
        raise bad_request("after must be >= 0", "after 不能为负数", "invalid_after")
    ws = web.WebSocketResponse(heartbeat=30.0)
    if not await service.hub.accept(ws, request):
        return web.Response()  # the client left during the handshake: aiohttp drops this unsent
    await service.hub.serve(ws, after, lambda: service.last_durable_id, service.store.read_after,
                            view=view_for(node.role), transport=request.transport)
    return ws
