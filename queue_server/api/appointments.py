"""HTTP routes of appointments (预约): book and cancel (booking channel, manager), check in (kiosk), listings.

Every field is validated here with its own error code; the rules (hours, capacity, days ahead, one
booking per holder and day, check-in times) are the engine's (queue_server/engine/appointments.py).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from config.model import NodeRole
from queue_server.api.auth import require
from queue_server.api.errors import Fields, bad_request, read_json
from queue_server.api.routes import _HOLDER_KEY, _json, _retry_identity, _service
from queue_server.api.schema import IDEMPOTENCY as _IDEMPOTENCY
from queue_server.api.schema import body as _body
from queue_server.api.schema import errors
from queue_server.api.schema import resp as _resp
from queue_server.engine.appointments import AppointmentState
from queue_server.keys import AUTH

routes = web.RouteTableDef()

BASE = "/api/v1/appointments"
_SLOT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CODE = re.compile(r"\d{6}")
BOOKERS = (NodeRole.MANAGER, NodeRole.BOOKING)
CHECKERS = (NodeRole.KIOSK, NodeRole.MANAGER)


def _holder_key(fields: Fields, *, required: bool) -> str:
    holder_key = fields.text("holder_key", required=required, max_len=64)
    if holder_key and not _HOLDER_KEY.fullmatch(holder_key):
        raise bad_request("holder_key must be the 64-hex HMAC of the ID number, never the number itself",
                          "持证人标识必须是 64 位十六进制摘要", "invalid_holder_key", "holder_key")
    return holder_key


@routes.post(BASE)
async def book(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, *BOOKERS)
    fields = Fields(await read_json(request), {"service", "slot_start", "holder_key", "holder_masked"})
    service = fields.text("service", required=True, max_len=32)
    slot_start = fields.text("slot_start", required=True, max_len=16)
    if not _SLOT.fullmatch(slot_start):
        raise bad_request("slot_start must be the hall's local time as YYYY-MM-DDTHH:MM", "预约时段格式错误",
                          "invalid_slot_start", "slot_start")
    holder_key = _holder_key(fields, required=True)
    holder_masked = fields.text("holder_masked", required=True, max_len=40)
    if len(holder_masked) > 1 and "*" not in holder_masked:
        raise bad_request("holder_masked must be masked (e.g. 张*)", "姓名必须脱敏（如 张*）", "unmasked_name",
                          "holder_masked")
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).book(node, key, fingerprint, service=service, slot_start=slot_start,
                                              holder_key=holder_key, holder_masked=holder_masked))


@routes.get(BASE)
async def list_appointments(request: web.Request) -> web.Response:
    """Bookings in slot order, filtered by ``day``, ``service`` and ``state``."""
    node = request.app[AUTH].node(request)
    require(node, *BOOKERS)
    day = request.query.get("day")
    if day is not None and not _DAY.fullmatch(day):
        raise bad_request("day must be an ISO date (YYYY-MM-DD)", "日期格式错误", "invalid_day")
    state = request.query.get("state")
    if state is not None and state not in AppointmentState.__members__.values():
        raise bad_request(f"unknown state {state!r} (known: {', '.join(AppointmentState)})", "未知状态",
                          "invalid_state_filter")
    return _json(await _service(request).appointments(node, day=day, service=request.query.get("service"),
                                                      state=state))


@routes.get(f"{BASE}/no-shows")
async def no_shows(request: web.Request) -> web.Response:
    """One holder's no-shows over the last 90 days (managers only)."""
    node = request.app[AUTH].node(request)
    require(node, NodeRole.MANAGER)
    holder_key = request.query.get("holder_key", "")
    if not _HOLDER_KEY.fullmatch(holder_key):
        raise bad_request("holder_key must be the 64-hex HMAC of the ID number", "持证人标识必须是 64 位十六进制摘要",
                          "invalid_holder_key")
    return _json(await _service(request).no_shows(holder_key))


@routes.get(BASE + "/{appointment_id}")
async def get_appointment(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, *BOOKERS)
    return _json(await _service(request).appointment(request.match_info["appointment_id"]))


@routes.post(BASE + "/{appointment_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, *BOOKERS)
    fields = Fields(await read_json(request), {"reason"})
    reason = fields.text("reason", max_len=200)
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).cancel_appointment(node, key, fingerprint,
                                                            request.match_info["appointment_id"], reason))


@routes.post(f"{BASE}/check-in")
async def check_in_by_code(request: web.Request) -> web.Response:
    """Check in with the 6-digit code, or with the holder's card (holder_key, and the service if two)."""
    node = request.app[AUTH].node(request)
    require(node, *CHECKERS)
    fields = Fields(await read_json(request), {"code", "holder_key", "service"})
    code = fields.text("code", max_len=6)
    if code and not _CODE.fullmatch(code):
        raise bad_request("code must be the 6 digits of the booking", "预约码必须是 6 位数字", "invalid_code", "code")
    holder_key = _holder_key(fields, required=False)
    service = fields.text("service", max_len=32)
    if bool(code) == bool(holder_key):
        raise bad_request("give either code or holder_key", "请提供预约码或刷身份证", "missing_field",
                          "code" if not code else "holder_key")
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).check_in(node, key, fingerprint, code=code, holder_key=holder_key,
                                                  service=service))


@routes.post(BASE + "/{appointment_id}/check-in")
async def check_in(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, *CHECKERS)
    Fields(await read_json(request), set())
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).check_in(node, key, fingerprint,
                                                  appointment_id=request.match_info["appointment_id"]))


# ---------------------------------------------------------------------------------------------- OpenAPI
_STATES = [s.value for s in AppointmentState]
APPOINTMENT: dict[str, Any] = {
    "type": "object", "required": ["id", "service", "day", "slot_start", "slot_end", "state"],
    "properties": {"id": {"type": "string"}, "service": {"type": "string"}, "day": {"type": "string"},
                   "slot_start": {"type": "string"}, "slot_end": {"type": "string"},
                   "state": {"type": "string", "enum": _STATES},
                   "code": {"type": "string", "description": "6 digits; only in the booking's own answer"},
                   "holder_masked": {"type": "string"}, "ticket": {"type": "string", "nullable": True},
                   "booked_at": {"type": "number"}, "checked_in_at": {"type": "number", "nullable": True},
                   "cancel_reason": {"type": "string"},
                   "holder_no_shows": {"type": "integer", "description": "managers only: the holder's no-shows "
                                                                         "over the last 90 days"}}}
_CHECKED_IN = {"type": "object", "description": "the ticket (fields of Ticket) with its booking",
               "required": ["id", "number", "priority", "appointment", "existing"],
               "properties": {"id": {"type": "string"}, "number": {"type": "string"},
                              "priority": {"type": "string", "enum": ["appointment"]},
                              "appointment": APPOINTMENT, "existing": {"type": "boolean"}}}


_ERRORS = errors(
    (400, "malformed request"), (401, "no or unknown bearer token"), (403, "role not allowed"),
    (404, "unknown service or appointment"), (409, "refused by the booking or check-in rules"),
    (422, "invalid value"), (503, "event log unavailable"))
_ID = {"name": "appointment_id", "in": "path", "required": True, "schema": {"type": "string"}}
_CHECK_IN_DOC = ("201 with the appointment ticket (priority appointment), 200 with the same ticket when checked in "
                 "before. Accepted from checkin_early_minutes before the slot start until checkin_late_minutes after "
                 "it. Checked in before the slot start, the ticket waits in the ordinary line and moves to the front "
                 "when the slot starts; from the slot start it goes to the front at once. Too early: 409 "
                 "checkin_too_early with details.come_back_at; too late: 409 checkin_too_late with details.offer = "
                 "normal_ticket (take one with POST /api/v1/tickets; nothing is issued silently).")

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("post", BASE, {
        "summary": "book a slot (booking channel, manager)",
        "description": "Refusals: 409 slot_unavailable (outside the service's hours that day, not a slot boundary, "
                       "or begun), slot_full, already_booked (same holder, service and day), booking_not_open "
                       "(beyond days_ahead; details.opens_on); 422 appointments_not_taken.",
        "parameters": [_IDEMPOTENCY],
        "requestBody": _body({"service": {"type": "string"},
                              "slot_start": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$"},
                              "holder_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                              "holder_masked": {"type": "string"}},
                             ["service", "slot_start", "holder_key", "holder_masked"]),
        "responses": {"201": _resp("booked, with its check-in code", APPOINTMENT), **_ERRORS}}),
    ("get", BASE, {
        "summary": "bookings in slot order (booking channel, manager; masked data only)",
        "parameters": [{"name": "day", "in": "query", "schema": {"type": "string"}},
                       {"name": "service", "in": "query", "schema": {"type": "string"}},
                       {"name": "state", "in": "query", "schema": {"type": "string", "enum": _STATES}}],
        "responses": {"200": _resp("bookings", {"type": "object", "required": ["appointments"], "properties": {
            "appointments": {"type": "array", "items": APPOINTMENT}}}), **_ERRORS}}),
    ("get", f"{BASE}/no-shows", {
        "summary": "a holder's no-shows over the last 90 days (manager)",
        "parameters": [{"name": "holder_key", "in": "query", "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
        "responses": {"200": _resp("count", {"type": "object", "required": ["holder_key", "days", "no_shows"],
                                             "properties": {"holder_key": {"type": "string"},
                                                            "days": {"type": "integer"},
                                                            "no_shows": {"type": "integer"}}}), **_ERRORS}}),
    ("get", BASE + "/{appointment_id}", {
        "summary": "one booking (booking channel, manager)", "parameters": [_ID],
        "responses": {"200": _resp("the booking", APPOINTMENT), **_ERRORS}}),
    ("post", BASE + "/{appointment_id}/cancel", {
        "summary": "cancel a booking not yet checked in (booking channel, manager)",
        "parameters": [_ID, _IDEMPOTENCY], "requestBody": _body({"reason": {"type": "string"}}),
        "responses": {"200": _resp("the cancelled booking", APPOINTMENT), **_ERRORS}}),
    ("post", f"{BASE}/check-in", {
        "summary": "check in by the 6-digit code or the holder's card (kiosk, manager)",
        "description": _CHECK_IN_DOC + " By holder_key: the holder's booking today; give service when there are "
                                       "two (409 appointment_ambiguous).",
        "parameters": [_IDEMPOTENCY],
        "requestBody": _body({"code": {"type": "string", "pattern": r"^\d{6}$"},
                              "holder_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                              "service": {"type": "string"}}),
        "responses": {"201": _resp("checked in", _CHECKED_IN), "200": _resp("checked in before", _CHECKED_IN),
                      **_ERRORS}}),
    ("post", BASE + "/{appointment_id}/check-in", {
        "summary": "check in a booking by its id (kiosk, manager)", "description": _CHECK_IN_DOC,
        "parameters": [_ID, _IDEMPOTENCY],
        "responses": {"201": _resp("checked in", _CHECKED_IN), "200": _resp("checked in before", _CHECKED_IN),
                      **_ERRORS}}),
]
