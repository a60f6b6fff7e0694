"""HTTP routes of the public v1 contract: tickets, windows, queues, health, the event stream.

Handlers only translate: they authenticate, validate the body, run one engine command through the
hall service (which makes it durable before we answer) and shape the JSON.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from config.model import NodeRole
from queue_server.answer import Answer, dumps
from queue_server.api.auth import require, require_window
from queue_server.api.errors import Fields, bad_request, read_json
from queue_server.api.status_page import render_not_found_page, render_status_page
from queue_server.console.sessions import CLOSE_SESSION_ENDED
from queue_server.desks.tickets import LIST_LIMIT, LIST_LIMIT_MAX
from queue_server.engine.errors import QueueError
from queue_server.engine.state import TicketState
from queue_server.keys import AUTH, SERVICE
from queue_server.service import HallService
from queue_server.ws.views import view_for

routes = web.RouteTableDef()

_HOLDER_KEY = re.compile(r"[0-9a-f]{64}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")


def _service(request: web.Request) -> HallService:
    return request.app[SERVICE]


def _json(answer: Answer) -> web.Response:
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


def _window_param(request: web.Request) -> int:
    try:
        return int(request.match_info["window"])
    except ValueError:
        raise bad_request("the window must be a number", "窗口号必须是数字", "invalid_window") from None


async def _retry_identity(request: web.Request) -> tuple[str | None, bytes]:
    """The Idempotency-Key (scoped per node) and what makes two requests under it the same request."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise bad_request("Idempotency-Key must be 1-128 visible ASCII characters", "请求编号格式错误",
                          "invalid_idempotency_key")
    return key, f"{request.method} {request.path}\n".encode() + await request.read()


# ---------------------------------------------------------------------------------------------- public
@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    return _json(await _service(request).health())


@routes.get("/api/v1/tickets/{ticket_id}")
async def get_ticket(request: web.Request) -> web.Response:
    """A ticket's public status: JSON, or the mobile page behind the printed QR code."""
    service = _service(request)
    wants_html = "text/html" in request.headers.get("Accept", "")
    try:
        view = await service.ticket(request.match_info["ticket_id"])
    except QueueError as err:
        if wants_html and err.status == 404:
            return web.Response(status=404, text=render_not_found_page(service.hall.name), content_type="text/html")
        raise
    if wants_html:
        offer = service.rating_offer(view["id"], request.query.get("k"))
        return web.Response(text=render_status_page(service.hall.name, view, offer), content_type="text/html")
    return web.json_response(view, dumps=dumps)


# ---------------------------------------------------------------------------------------------- tickets
@routes.post("/api/v1/tickets")
async def issue_ticket(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.KIOSK, NodeRole.MANAGER, NodeRole.WINDOW)
    fields = Fields(await read_json(request),
                    {"service", "priority", "holder_key", "holder_masked", "appointment_id", "green_reason"})
    code = fields.text("service", required=True, max_len=32)
    priority = fields.text("priority", default="normal", max_len=16)
    if node.role is NodeRole.WINDOW and priority != "green":  # a window issues only for the green channel
        require(node, NodeRole.KIOSK, NodeRole.MANAGER)
    green_reason = fields.text("green_reason", max_len=32)
    holder_key = fields.text("holder_key", max_len=64)
    if holder_key and not _HOLDER_KEY.fullmatch(holder_key):
        raise bad_request("holder_key must be the 64-hex HMAC of the ID number, never the number itself",
                          "持证人标识必须是 64 位十六进制摘要", "invalid_holder_key", "holder_key")
    holder_masked = fields.text("holder_masked", max_len=40)
    if len(holder_masked) > 1 and "*" not in holder_masked:
        raise bad_request("holder_masked must be masked (e.g. 张*)", "姓名必须脱敏（如 张*）", "unmasked_name",
                          "holder_masked")
    appointment_id = fields.text("appointment_id", max_len=64)
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).issue(
        node, key, fingerprint, service=code, priority=priority, holder_key=holder_key,
        holder_masked=holder_masked, appointment_id=appointment_id, green_reason=green_reason))


@routes.get("/api/v1/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    """Today's tickets in queue order (filtered by ``state`` and ``service``), paged with ``after``."""
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER, NodeRole.DISPLAY)
    state = request.query.get("state")
    if state is not None and state not in TicketState.__members__.values():
        raise bad_request(f"unknown state {state!r}", "未知状态", "invalid_state_filter")
    try:
        limit = int(request.query.get("limit", str(LIST_LIMIT)))
    except ValueError:
        limit = -1
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise bad_request(f"limit must be 1..{LIST_LIMIT_MAX}", "每页数量无效", "invalid_limit")
    return _json(await _service(request).tickets(
        staff=node.role is not NodeRole.DISPLAY, state=state, service=request.query.get("service"),
        after=request.query.get("after"), limit=limit))


@routes.post(r"/api/v1/tickets/{ticket_id}/{action:(?!rating$)[^/]+}")  # rating: api/ratings.py
async def ticket_action(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    action = request.match_info["action"].replace("-", "_")
    fields = Fields(await read_json(request), {"window", "to_service", "to_window", "reason"})
    window = fields.integer("window", low=1, high=10**4)
    to_service = fields.text("to_service", max_len=32)
    to_window = fields.integer("to_window", low=1, high=10**4)
    reason = fields.text("reason", max_len=200)
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).ticket_action(
        node, key, fingerprint, action, request.match_info["ticket_id"], window=window, to_service=to_service,
        to_window=to_window, reason=reason))


# ---------------------------------------------------------------------------------------------- windows
@routes.post("/api/v1/windows/{window}/call-next")
async def call_next(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    window = _window_param(request)
    require_window(node, window)
    Fields(await read_json(request), set())
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).call_next(node, key, fingerprint, window))


@routes.post("/api/v1/windows/{window}/{verb:pause|resume|sign-out}")
async def window_state(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    window = _window_param(request)
    require_window(node, window)
    verb = request.match_info["verb"]
    fields = Fields(await read_json(request), {"reason"})
    reason = fields.text("reason", max_len=200, required=verb == "pause")
    return _json(await _service(request).window_command(node, verb, window, reason))


@routes.post("/api/v1/windows/{window}/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    window = _window_param(request)
    require_window(node, window)
    fields = Fields(await read_json(request), {"staff", "pin"})
    staff_id = fields.text("staff", required=True, max_len=64)
    pin = fields.text("pin", required=True, max_len=64)
    return _json(await _service(request).sign_in(node, window, staff_id, pin))


@routes.get("/api/v1/windows")
async def list_windows(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    return _json(await _service(request).windows(staff=node.role in (NodeRole.WINDOW, NodeRole.MANAGER)))


# ---------------------------------------------------------------------------------------------- queues
@routes.get("/api/v1/queues")
async def queues(request: web.Request) -> web.Response:
    request.app[AUTH].node(request)
    return _json(await _service(request).queues())


# ---------------------------------------------------------------------------------------------- events
@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    node = auth.node(request, allow_query=True)
    service = _service(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise bad_request("after must be an event id (an integer)", "after 必须是事件编号", "invalid_after") from None
    if after < 0:
        raise bad_request("after must be >= 0", "after 不能为负数", "invalid_after")
    await service.catch_up_to(after)  # a client moving from another instance may be ahead of this one
    ws = web.WebSocketResponse(heartbeat=30.0)
    if not await service.hub.accept(ws, request):
        return web.Response()  # the client left during the handshake: aiohttp drops this unsent
    session_id = auth.session_of(request, allow_query=True)
    watcher = asyncio.create_task(auth.sessions.watch(session_id, lambda: ws.close(
        code=CLOSE_SESSION_ENDED, message=b"console session ended; sign in again"))) if session_id else None
    try:
        await service.hub.serve(ws, after, lambda: service.last_durable_id, service.store.read_after,
                                view=view_for(node.role), stats=request.query.get("stats") == "1",
                                transport=request.transport)
    finally:
        if watcher is not None:
            watcher.cancel()
    return ws
