"""Route of self-service certificate printing: a kiosk logs each print it attempted, delivered or not."""

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


_PRINT = {"type": "object", "required": ["print", "kind", "outcome", "reason", "at"], "properties": {
    "print": {"type": "string"}, "kind": {"type": "string"}, "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "reason": {"type": "string"}, "at": {"type": "number"}}}

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
        "responses": {"201": _resp("recorded", _PRINT), **errors(
            (400, "malformed request"), (401, "no or unknown bearer token"), (403, "not a kiosk"),
            (422, "invalid value"), (503, "event log unavailable"))}}),
]
