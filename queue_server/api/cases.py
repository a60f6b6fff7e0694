"""HTTP routes of the case ledger: complaints, assisted matters and 差评 follow-ups (one mechanism, two views)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from config.model import NodeRole
from queue_server.api.auth import require
from queue_server.api.errors import Fields, bad_request, read_json
from queue_server.api.ratings import _ERRORS, _IDEMPOTENCY, FOLLOWUP_SCHEMA, day_range
from queue_server.api.routes import _retry_identity
from queue_server.engine.cases import CASE_ACTIONS, FOLLOWUP_ACTIONS, FOLLOWUP_STATES, KINDS, STATES
from queue_server.keys import AUTH, SERVICE

routes = web.RouteTableDef()

FIGURES_MAX_DAYS = 366


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}", f"{name} 取值无效", f"invalid_{name}", name)
    return value


@routes.post("/api/v1/cases")
async def open_case(request: web.Request) -> web.Response:
    """Register a 办不成事 complaint or a 帮办代办 matter (complaints or assisted window, or a manager)."""
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER)
    fields = Fields(await read_json(request),
                    {"kind", "subject", "category", "department", "ticket", "holder_masked"})
    kind = fields.text("kind", required=True, max_len=16)
    if kind not in ("complaint", "assisted"):
        raise bad_request("kind must be complaint or assisted", "案件类型无效", "invalid_kind", "kind")
    subject = fields.text("subject", required=True, max_len=200)
    category = fields.text("category", max_len=64)
    department = fields.text("department", max_len=32)
    ticket = fields.text("ticket", max_len=64) or None
    holder_masked = fields.text("holder_masked", max_len=40)
    if len(holder_masked) > 1 and "*" not in holder_masked:
        raise bad_request("holder_masked must be masked (e.g. 张*)", "姓名必须脱敏（如 张*）", "unmasked_name",
                          "holder_masked")
    key, fingerprint = await _retry_identity(request)
    answer = await request.app[SERVICE].open_case(node, key, fingerprint, kind=kind, subject=subject,
                                                  category=category, department=department, ticket=ticket,
                                                  holder_masked=holder_masked)
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


@routes.get("/api/v1/cases")
async def list_cases(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER)
    answer = await request.app[SERVICE].list_cases(kind=_choice(request, "kind", KINDS),
                                                   state=_choice(request, "state", STATES),
                                                   department=request.query.get("department"))
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


@routes.get("/api/v1/cases/figures")
async def case_figures(request: web.Request) -> web.Response:
    """Registered, resolved on time and 受理办结率 per kind and department, for cases opened in a range of days."""
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER)
    first, last = day_range(request, FIGURES_MAX_DAYS)
    answer = await request.app[SERVICE].case_figures(first, last)
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


async def _step(request: web.Request, followups_only: bool) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER)
    fields = Fields(await read_json(request), {"note", "department"})
    note = fields.text("note", max_len=500)
    department = fields.text("department", max_len=32)
    key, fingerprint = await _retry_identity(request)
    answer = await request.app[SERVICE].case_step(node, key, fingerprint, request.match_info["case_id"],
                                                  request.match_info["step"], note=note, department=department,
                                                  followups_only=followups_only)
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


@routes.post("/api/v1/cases/{case_id}/{step:assign|start|resolve|close|decline}")
async def case_step(request: web.Request) -> web.Response:
    return await _step(request, False)


@routes.get("/api/v1/followups")
async def list_followups(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.WINDOW, NodeRole.MANAGER)
    answer = await request.app[SERVICE].list_followups(state=_choice(request, "state", FOLLOWUP_STATES))
    return web.Response(status=answer.status, text=answer.body, content_type="application/json")


@routes.post("/api/v1/followups/{case_id}/{step:contact|rectify|close|appeal|uphold|overturn}")
async def followup_step(request: web.Request) -> web.Response:
    return await _step(request, True)


_STEP_BODY = {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False,
    "properties": {"note": {"type": "string", "maxLength": 500, "description": "required for decline (the reason)"},
                   "department": {"type": "string", "description": "assign: the department it is assigned to"}}}}}}
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_DAY = {"type": "string", "format": "date"}
CASE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "kind", "ticket", "state", "department", "opened_at", "deadline", "steps"],
    "properties": {"id": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
                   "ticket": {"type": "string", "nullable": True}, "level": {"type": "integer", "nullable": True},
                   "holder_masked": {"type": "string"}, "subject": {"type": "string"}, "category": {"type": "string"},
                   "department": {"type": "string"}, "state": {"type": "string", "enum": list(STATES)},
                   "opened_at": {"type": "number"}, "opened_day": _DAY, "deadline": _DAY,
                   "overdue": {"type": "boolean"}, "node": {"type": "string"}, "staff": {"type": "string"},
                   "steps": {"type": "array", "items": {"type": "object", "properties": {
                       "step": {"type": "string"}, "state": {"type": "string"}, "note": {"type": "string"},
                       "at": {"type": "number"}, "node": {"type": "string"}, "staff": {"type": "string"},
                       "department": {"type": "string"}}}}}}
_LEDGER_DOC = ("One ledger (台账) for 办不成事 complaints, 帮办代办 assisted matters and 差评 follow-ups. "
               "Complaints and assisted matters: registered → assigned (交办, again to re-assign) → in_progress "
               "→ resolved → closed, or declined with the reason as note before resolved. Follow-ups: open → "
               "contacted → rectified → closed; "
               "appeal (申诉, once) → appealed, then a manager upholds (back to where it was) or overturns "
               "(overturned: the rating leaves the satisfaction figure). Deadlines are the N-th working day after "
               "the opening day in the hall's zone (ratings.complaint_working_days, assisted_working_days, "
               "followup_working_days; Monday-Friday minus hours.holidays plus hours.workdays); a case not done by "
               "the end of that day is marked overdue (case.overdue) once.")

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/api/v1/cases", {
        "summary": "register a complaint or an assisted matter (complaints/assisted window, manager)",
        "description": _LEDGER_DOC, "parameters": [_IDEMPOTENCY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["kind", "subject"],
            "properties": {"kind": {"type": "string", "enum": ["complaint", "assisted"]},
                           "subject": {"type": "string"}, "category": {"type": "string"},
                           "department": {"type": "string"}, "ticket": {"type": "string"},
                           "holder_masked": {"type": "string", "description": "masked, e.g. 张*"}}}}}},
        "responses": {"201": {"description": "registered", "content": {"application/json": {"schema": CASE_SCHEMA}}},
                      **_ERRORS}}),
    ("get", "/api/v1/cases", {
        "summary": "the case ledger, filtered by kind, state and department (window, manager)",
        "description": _LEDGER_DOC,
        "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
                       {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}},
                       {"name": "department", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "cases", "content": {"application/json": {"schema": {
            "type": "object", "required": ["cases"],
            "properties": {"cases": {"type": "array", "items": CASE_SCHEMA}}}}}},
            **_ERRORS}}),
    ("get", "/api/v1/cases/figures", {
        "summary": "registered, resolved on time and 受理办结率 per kind and department",
        "description": "Over the cases opened from `from` to `to` (ISO dates, default today, at most 366 days): "
                       "`registered`; `resolved` (done: closed, or resolved for complaints and assisted matters, and "
                       "not withdrawn); `resolved_on_time` (done on or before its deadline day); `withdrawn` "
                       "(declined, or overturned on appeal); `resolution_rate` = resolved / (registered - withdrawn), "
                       "null when that is 0.",
        "parameters": [{"name": "from", "in": "query", "schema": _DAY}, {"name": "to", "in": "query", "schema": _DAY}],
        "responses": {"200": {"description": "figures", "content": {"application/json": {"schema": {
            "type": "object", "required": ["from", "to", "rows"],
            "properties": {"from": _DAY, "to": _DAY, "rows": {"type": "array", "items": {
                "type": "object", "required": ["kind", "department", "registered", "resolved", "resolved_on_time",
                                               "withdrawn", "resolution_rate"],
                "properties": {"kind": {"type": "string"}, "department": {"type": "string"},
                               "registered": {"type": "integer"}, "resolved": {"type": "integer"},
                               "resolved_on_time": {"type": "integer"}, "withdrawn": {"type": "integer"},
                               "resolution_rate": {"type": "number", "nullable": True}}}}}}}}},
            **_ERRORS}}),
    ("post", "/api/v1/cases/{case_id}/{step}", {
        "summary": "one step of a case: " + ", ".join(CASE_ACTIONS), "description": _LEDGER_DOC,
        "parameters": [_CASE_ID, {"name": "step", "in": "path", "required": True,
                                  "schema": {"type": "string", "enum": list(CASE_ACTIONS)}}, _IDEMPOTENCY],
        "requestBody": _STEP_BODY,
        "responses": {"200": {"description": "the case after the step", "content": {"application/json": {
            "schema": CASE_SCHEMA}}}, **_ERRORS}}),
    ("get", "/api/v1/followups", {
        "summary": "差评 follow-ups (整改), the ledger's cases of kind followup (window, manager)",
        "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": list(FOLLOWUP_STATES)}}],
        "responses": {"200": {"description": "follow-ups", "content": {"application/json": {"schema": {
            "type": "object", "required": ["followups"],
            "properties": {"followups": {"type": "array", "items": FOLLOWUP_SCHEMA}}}}}}, **_ERRORS}}),
    ("post", "/api/v1/followups/{case_id}/{step}", {
        "summary": "one step of a follow-up: " + ", ".join(FOLLOWUP_ACTIONS) + " (uphold and overturn: manager)",
        "description": _LEDGER_DOC,
        "parameters": [_CASE_ID, {"name": "step", "in": "path", "required": True,
                                  "schema": {"type": "string", "enum": list(FOLLOWUP_ACTIONS)}}, _IDEMPOTENCY],
        "requestBody": _STEP_BODY,
        "responses": {"200": {"description": "the follow-up after the step", "content": {"application/json": {
            "schema": FOLLOWUP_SCHEMA}}}, **_ERRORS}}),
]
