"""Routes of self-service certificate printing: a kiosk logs each print it attempted, delivered or not, and the
citizen's rating of a delivered one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from config.model import NodeRole
from queue_server.api.auth import require
from queue_server.api.errors import Fields, read_json
from queue_server.api.routes import _json, _retry_identity, _service
from queue_server.api.schema import IDEMPOTENCY, body, errors
from queue_server.api.schema import resp as _resp
from queue_server.engine.certificates import FAILURE_REASONS, OUTCOMES
from queue_server.keys import AUTH

routes = web.RouteTableDef()
PATH = "/api/v1/certificates/prints"


@routes.post(PATH)
async def log_print(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.KIOSK)
    fields = Fields(await read_json(request), {"kind", "holder_masked", "outcome", "reason"})
    kind = fields.text("kind", required=True, max_len=32)
    holder_masked = fields.text("holder_masked", required=True, max_len=32)
    outcome = fields.text("outcome", required=True, max_len=16)
    reason = fields.text("reason", max_len=16)
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).log_certificate_print(node, key, fingerprint, kind, holder_masked,
                                                               outcome, reason))


@routes.post(PATH + "/{print_id}/rating")
async def rate_print(request: web.Request) -> web.Response:
    node = request.app[AUTH].node(request)
    require(node, NodeRole.KIOSK)
    fields = Fields(await read_json(request), {"level", "channel"})
    level = fields.integer("level", required=True, low=1, high=5)
    channel = fields.text("channel", max_len=16, default="kiosk")
    assert level is not None
    key, fingerprint = await _retry_identity(request)
    return _json(await _service(request).rate_certificate_print(node, key, fingerprint, request.match_info["print_id"],
                                                                level, channel))


_PRINT = {"type": "object", "required": ["print", "kind", "outcome", "reason", "at"], "properties": {
    "print": {"type": "string"}, "kind": {"type": "string"}, "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "reason": {"type": "string"}, "at": {"type": "number"},
    "level": {"type": "integer", "minimum": 1, "maximum": 5, "nullable": True}}}
_ERRORS = errors((400, "malformed request"), (401, "no or unknown bearer token"), (403, "not a kiosk"),
                 (422, "invalid value"), (503, "event log unavailable"))

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("post", PATH, {
        "summary": "log one self-service certificate print attempt (kiosk)",
        "description": "Recorded as a certificate.printed event with its outcome. The holder only masked "
                       "(张*: the first character, then *): a full name or a run of digits is refused (422 "
                       "holder_not_masked). A failed print gives its reason; a printed one none.",
        "parameters": [IDEMPOTENCY],
        "requestBody": body({"kind": {"type": "string", "minLength": 1, "maxLength": 32},
                             "holder_masked": {"type": "string", "maxLength": 32},
                             "outcome": {"type": "string", "enum": list(OUTCOMES)},
                             "reason": {"type": "string", "enum": ["", *FAILURE_REASONS]}},
                            ["kind", "holder_masked", "outcome"]),
        "responses": {"201": _resp("recorded", _PRINT), **_ERRORS}}),
    ("post", PATH + "/{print_id}/rating", {
        "summary": "好差评 of a delivered certificate print, once (kiosk)",
        "description": "Five levels (5 非常满意 … 1 非常不满意), within ratings.window_hours of the print and on the "
                       "day it was printed; levels 1 and 2 open a follow-up case. Refused: 404 print_not_found, 409 "
                       "not_printed (a failed print), already_rated, rating_expired.",
        "parameters": [{"name": "print_id", "in": "path", "required": True, "schema": {"type": "string"}},
                       IDEMPOTENCY],
        "requestBody": body({"level": {"type": "integer", "minimum": 1, "maximum": 5},
                             "channel": {"type": "string", "enum": ["pad", "kiosk", "web"]}}, ["level"]),
        "responses": {"201": _resp("rated", _PRINT), **_ERRORS,
                      **errors((404, "unknown print"), (409, "not printed, already rated or too late"))}}),
]
