"""The console's routes in the OpenAPI document, and how a session authenticates on the JSON API."""

from __future__ import annotations

from typing import Any

from queue_server.api.schema import errors
from queue_server.api.schema import resp as _resp
from queue_server.console.sessions import COOKIE_NAME, CSRF_HEADER

SESSION_TEXT = (
    f"A browser signed in at /manage/sign-in carries the HttpOnly, SameSite=Strict cookie {COOKIE_NAME}, which "
    "stands for a manager node on every /api/v1 route (a bearer token, when given, wins). Every request but "
    f"GET/HEAD/OPTIONS also needs the session's token in the {CSRF_HEADER} header (403 csrf_token_invalid) and "
    "must come from the console's origin: Sec-Fetch-Site same-origin and/or an Origin of this host, as must the "
    "event-stream handshake (403 cross_site_request); a stream opened with a session is closed with 4001 when the "
    "session ends. Sessions are kept in memory: idle 30 min, at most 12 h, and a restart signs everyone out "
    "(401 session_expired).")

_HTML = {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
_SEE_OTHER = {"description": "not signed in (or, for the sign-in page, already): go there (Location)"}
_SIGNED_IN = {"type": "object", "required": ["node", "csrf_token", "next"], "properties": {
    "node": {"type": "string"}, "csrf_token": {"type": "string"}, "next": {"type": "string"}}}
_PUBLIC: list[dict[str, list[str]]] = []  # no bearer token: the cookie, or nothing yet

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/manage", {"summary": "the live dashboard (console session)", "security": _PUBLIC,
                        "responses": {"200": _HTML, "303": _SEE_OTHER}}),
    ("get", "/manage/history", {"summary": "流程追溯: a matter's history by number and day (console session)",
                                "security": _PUBLIC, "responses": {"200": _HTML, "303": _SEE_OTHER}}),
    ("get", "/manage/reports", {"summary": "reports: tables, charts and CSV/XLSX links from /api/v1/reports",
                                "security": _PUBLIC, "responses": {"200": _HTML, "303": _SEE_OTHER}}),
    ("get", "/manage/sign-in", {"summary": "the console's sign-in page", "security": _PUBLIC,
                                "responses": {"200": _HTML, "303": _SEE_OTHER}}),
    ("post", "/manage/sign-in", {
        "summary": "sign in with a manager node token, or the PIN of staff marked manager; sets the session cookie",
        "description": "Rate-limited like window PINs: wrong PINs count per staff id and per client address, wrong "
                       "tokens per address (429 too_many_attempts with Retry-After). Same-origin only. " + SESSION_TEXT,
        "security": _PUBLIC,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {
                "token": {"type": "string", "maxLength": 200}, "staff": {"type": "string", "maxLength": 64},
                "pin": {"type": "string", "maxLength": 64}}}}}},
        "responses": {"200": _resp("signed in (Set-Cookie)", _SIGNED_IN), **errors(
            (400, "neither a token nor staff and pin"), (401, "wrong PIN or token"),
            (403, "not a manager, or a cross-site request"), (429, "too many wrong attempts"))}}),
    ("post", "/manage/sign-out", {
        "summary": "end the console session (CSRF header required)", "security": _PUBLIC,
        "responses": {"200": _resp("signed out", {"type": "object"}), **errors(
            (401, "no session"), (403, "no or wrong CSRF token, or a cross-site request"))}}),
    ("get", "/manage/static/{name}", {
        "summary": "the console's scripts and style sheet (served here; no CDN)", "security": _PUBLIC,
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the asset"}, **errors((404, "no such asset"))}}),
]
