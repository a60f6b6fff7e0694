"""The OpenAPI 3 document of the v1 contract, built from one table so a test can hold it to the router."""

from __future__ import annotations

from typing import Any

from config.model import GREEN_REASONS
from queue_server.api.alerts import OPERATIONS as ALERT_OPERATIONS
from queue_server.api.appointments import OPERATIONS as APPOINTMENT_OPERATIONS
from queue_server.api.audit import OPERATIONS as AUDIT_OPERATIONS
from queue_server.api.cases import OPERATIONS as CASE_OPERATIONS
from queue_server.api.certificates import OPERATIONS as CERTIFICATE_OPERATIONS
from queue_server.api.nodes import OPERATIONS as NODE_OPERATIONS
from queue_server.api.ratings import OPERATIONS as RATING_OPERATIONS
from queue_server.api.reports import OPERATIONS as REPORT_OPERATIONS
from queue_server.api.schema import ERROR as _ERROR
from queue_server.api.schema import IDEMPOTENCY as _IDEMPOTENCY
from queue_server.api.schema import body as _body
from queue_server.api.schema import errors
from queue_server.api.schema import resp as _resp
from queue_server.api.stats import OPERATIONS as STATS_OPERATIONS
from queue_server.console.openapi import OPERATIONS as CONSOLE_OPERATIONS
from queue_server.console.openapi import SESSION_TEXT
from queue_server.desks.tickets import TICKET_ACTIONS

_TICKET = {"$ref": "#/components/schemas/Ticket"}
_WINDOW = {"$ref": "#/components/schemas/WindowState"}


_ERRORS = errors(
    (400, "malformed request"), (401, "no or unknown bearer token"), (403, "role or window not allowed"),
    (404, "unknown ticket, window, service or empty queue"), (409, "refused by the queue rules"),
    (413, "body too large"), (422, "invalid value"), (503, "event log unavailable"))

_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WINDOW_NO = {"name": "window", "in": "path", "required": True, "schema": {"type": "integer"}}

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/api/v1/health", {"summary": "liveness and the last durable event id", "security": [],
                               "responses": {"200": _resp("ok"), "503": _resp("event log failed", _ERROR)}}),
    ("get", "/api/v1/openapi.json", {"summary": "this document", "security": [],
                                     "responses": {"200": _resp("the OpenAPI document")}}),
    ("post", "/api/v1/tickets", {
        "summary": "issue a ticket (kiosk, manager; a window only green-channel tickets)",
        "description": "priority appointment is refused (422 appointment_check_in_required): such a ticket comes only "
                       "from POST /api/v1/appointments/check-in. priority green needs green_reason: a kiosk may give "
                       "the hall's kiosk reasons (config green.kiosk_reasons), a window or a manager also its staff "
                       "reasons (403 green_reason_needs_staff otherwise); the reason is kept in ticket.issued.",
        "parameters": [_IDEMPOTENCY],
        "requestBody": _body({"service": {"type": "string"},
                              "priority": {"type": "string", "enum": ["normal", "green", "appointment"]},
                              "holder_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                              "holder_masked": {"type": "string"}, "appointment_id": {"type": "string"},
                              "green_reason": {"type": "string", "enum": list(GREEN_REASONS)}},
                             ["service"]),
        "responses": {"201": _resp("issued", _TICKET), "200": _resp("the holder's open ticket, for reprint", _TICKET),
                      **_ERRORS}}),
    ("get", "/api/v1/tickets", {
        "summary": "today's tickets in queue order, filtered by state and service, a page at a time",
        "description": "Pages hold at most `limit` tickets (default 200, at most 1000). When more follow, `next` is "
                       "an opaque cursor: pass it as `after` to get the following page; `next` is null on the last "
                       "page. Queue order is fixed per ticket, so paging while tickets change misses none.",
        "parameters": [{"name": "state", "in": "query", "schema": {"type": "string"}},
                       {"name": "service", "in": "query", "schema": {"type": "string"}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                       {"name": "after", "in": "query", "schema": {"type": "string"},
                        "description": "the `next` cursor of the previous page"}],
        "responses": {"200": _resp("a page of tickets", {
            "type": "object", "required": ["tickets", "next"],
            "properties": {"tickets": {"type": "array", "items": _TICKET},
                           "next": {"type": "string", "nullable": True}}}), **_ERRORS}}),
    ("get", "/api/v1/tickets/{ticket_id}", {
        "summary": "public ticket status (JSON, or a mobile page for Accept: text/html, also for a 404)",
        "description": "Tickets of the last 7 closed days stay readable with `day_over: true`.", "security": [],
        "parameters": [_TICKET_ID], "responses": {"200": _resp("status", _TICKET), "404": _ERRORS["404"]}}),
    ("post", "/api/v1/tickets/{ticket_id}/{action}", {
        "summary": ", ".join(TICKET_ACTIONS),
        "description": "Windows act on their own citizens; a kiosk may requeue, cancel a waiting ticket and report "
                       "the printing of the tickets it issued itself (printed is final); managers may do all.",
        "parameters": [_TICKET_ID, {"name": "action", "in": "path", "required": True, "schema": {
            "type": "string", "enum": list(TICKET_ACTIONS)}}, _IDEMPOTENCY],
        "requestBody": _body({"window": {"type": "integer"}, "to_service": {"type": "string"},
                              "to_window": {"type": "integer"}, "reason": {"type": "string"}}),
        "responses": {"200": _resp("the ticket after the action", _TICKET), **_ERRORS}}),
    ("post", "/api/v1/windows/{window}/call-next", {
        "summary": "call the next ticket to this window", "parameters": [_WINDOW_NO, _IDEMPOTENCY],
        "responses": {"200": _resp("the called ticket", _TICKET), **_ERRORS}}),
    ("post", "/api/v1/windows/{window}/{verb}", {
        "summary": "pause (with a reason), resume or sign out a window",
        "parameters": [_WINDOW_NO, {"name": "verb", "in": "path", "required": True,
                                    "schema": {"type": "string", "enum": ["pause", "resume", "sign-out"]}}],
        "requestBody": _body({"reason": {"type": "string"}}),
        "responses": {"200": _resp("window state", _WINDOW), **_ERRORS}}),
    ("post", "/api/v1/windows/{window}/sign-in", {
        "summary": "staff sign-in with a PIN (rate-limited)",
        "description": "5 wrong PINs for one staff id, or 10 from one node, within 5 minutes lock sign-in for that "
                       "staff id or node (429 with Retry-After); the count survives a restart.",
        "parameters": [_WINDOW_NO],
        "requestBody": _body({"staff": {"type": "string"}, "pin": {"type": "string"}}, ["staff", "pin"]),
        "responses": {"200": _resp("window state", _WINDOW), "429": _resp("too many wrong PINs", _ERROR),
                      **_ERRORS}}),
    ("get", "/api/v1/windows", {"summary": "every window's state", "responses": {"200": _resp("windows")}}),
    ("get", "/api/v1/queues", {"summary": "waiting counts and estimated waits per service",
                               "responses": {"200": _resp("queues"), **_ERRORS}}),
    ("get", "/api/v1/events", {
        "summary": "WebSocket: events after ?after=ID in order, then live (token also as ?token=)",
        "description": (
            "Each message is one event as JSON (id, type, v, at, at_iso, data), history first, then live, "
            "with ?stats=1 also {\"type\": \"stats\", \"at\", \"live\"} (GET /api/v1/stats/live's body) at most "
            "once a second when the figures changed (no id; never replayed), "
            "with no gap and no duplicate. What a message holds depends on the token's role: displays and "
            "kiosks get the public view (ticket ids, numbers, services, windows, states, times; no holder, "
            "staff id, node name or typed reason), windows and managers the staff view (adds node, staff, "
            "holder_masked, appointment_id and reasons). holder_key is never sent. An event type a client does "
            "not know may arrive with empty data. Application close codes: 4008 the client fell too far "
            "behind (reason: 'too slow; reconnect with ?after=ID', ID the last event it was sent); 4009 "
            "?after= is beyond the end of the log, as for a screen that outlived a data reset (reason: "
            "'after=A is beyond the last event L; start again from ?after=0'); 1001 the server is shutting "
            "down (reason: 'server shutting down'), reconnect with ?after= the last id applied."),
        "parameters": [{"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                       {"name": "stats", "in": "query", "schema": {"type": "string", "enum": ["1"]}},
                       {"name": "token", "in": "query", "schema": {"type": "string"}}],
        "responses": {"101": _resp("switching to WebSocket"), **_ERRORS}}),
    *APPOINTMENT_OPERATIONS,
]
OPERATIONS += RATING_OPERATIONS + CASE_OPERATIONS
OPERATIONS += STATS_OPERATIONS
OPERATIONS += REPORT_OPERATIONS


OPERATIONS += ALERT_OPERATIONS
OPERATIONS += NODE_OPERATIONS
OPERATIONS += AUDIT_OPERATIONS
OPERATIONS += CERTIFICATE_OPERATIONS
OPERATIONS += CONSOLE_OPERATIONS


_ERRORS_TEXT = (
    "Every error answer is {\"error\": {code, message_zh, message_en, details?}}. Codes every route may give: "
    "400 invalid_json, json_too_deep (nested deeper than 32), invalid_text (a lone surrogate, a control or "
    "bidi character in a text field, path segment or query parameter; details name the field), unknown_field, "
    "missing_field, invalid_type, invalid_value; 400 line_too_long / bad_http_request and 431 too_many_headers "
    "(refused by the HTTP parser itself); 401 unauthorized; 403 forbidden; 413 body_too_large; 429 "
    "too_many_attempts with Retry-After; 503 store_unavailable (the event log cannot be written: the server "
    "refuses commands until restarted; retry later with the same Idempotency-Key).")


def openapi_document(hall_name: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, operation in OPERATIONS:
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "servicehall queue server", "version": "1.0.0",
                 "description": f"Public v1 contract of the queue server of {hall_name}. " + _ERRORS_TEXT + " "
                                + SESSION_TEXT},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message_zh", "message_en"],
                    "properties": {"code": {"type": "string"}, "message_zh": {"type": "string"},
                                   "message_en": {"type": "string"}, "details": {"type": "object"}}}}},
                "Ticket": {"type": "object", "required": ["id", "number", "service", "state", "ahead",
                                                          "estimated_wait_s", "issued_at"],
                           "properties": {"id": {"type": "string"}, "number": {"type": "string"},
                                          "service": {"type": "string"}, "state": {"type": "string", "enum": [
                                              "waiting", "called", "serving", "finished", "skipped",
                                              "cancelled"]},
                                          "ahead": {"type": "integer"},
                                          "estimated_wait_s": {"type": "integer", "nullable": True},
                                          "wait_note": {"type": "string", "enum": ["may_not_be_served_today"]},
                                          "day": {"type": "string"}, "day_over": {"type": "boolean"},
                                          "issued_at": {"type": "number"}, "window": {"type": "integer",
                                                                                      "nullable": True}}},
                "WindowState": {"type": "object", "properties": {
                    "number": {"type": "integer"}, "staff": {"type": "string"}, "paused": {"type": "boolean"},
                    "pause_reason": {"type": "string"}, "current": {"type": "string", "nullable": True}}},
            },
        },
    }
