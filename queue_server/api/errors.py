"""Every failure answered as ``{"error": {code, message_zh, message_en}}`` with the right status.

Kiosks from other vendors integrate against these codes, so a malformed request never gets an HTML
page or a bare 500: routing errors, oversized bodies, bad JSON and refusals all share one shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from queue_server.engine.errors import QueueError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(QueueError):
    """A request-level refusal (bad body, no token) raised by the HTTP layer itself."""


def bad_request(message_en: str, message_zh: str = "请求格式错误", code: str = "invalid_body",
                field: str | None = None) -> ApiError:
    return ApiError(code, message_zh, message_en, 400, {"field": field} if field else None)


def error_response(err: QueueError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": err.as_dict()}, status=err.status, headers=headers,
                             dumps=lambda body: json.dumps(body, ensure_ascii=False))


_HTTP_CODES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求格式错误", "the request is malformed"),
    401: ("unauthorized", "需要有效的令牌", "a valid bearer token is required"),
    403: ("forbidden", "无权执行此操作", "this node may not do that"),
    404: ("not_found", "接口不存在", "no such endpoint"),
    405: ("method_not_allowed", "请求方法不被允许", "method not allowed on this endpoint"),
    413: ("body_too_large", "请求内容过大", "the request body is too large"),
    415: ("unsupported_media_type", "请使用 JSON", "send application/json"),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueueError as err:
        retry_after = err.details.get("retry_after_s") if err.status in (429, 503) else None
        return error_response(err, headers={"Retry-After": str(retry_after)} if retry_after else None)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, zh, en = _HTTP_CODES.get(exc.status, ("http_error", "请求失败", exc.reason or "request failed"))
        return error_response(QueueError(code, zh, en, exc.status), headers={
            k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")})
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(QueueError("internal_error", "服务器内部错误", "internal server error", 500))


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413/415 with words."""
    if request.content_length is None and not request.can_read_body:
        return {}
    if request.content_type.startswith("multipart/"):
        raise ApiError("unsupported_media_type", "请使用 JSON", f"send application/json, not {request.content_type}",
                       415)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as err:
        raise ApiError("body_too_large", "请求内容过大", "the request body is too large", 413) from err
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(f"the body is not valid JSON: {err}", "请求内容不是有效的 JSON", "invalid_json") from err
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object", "请求内容必须是 JSON 对象", "invalid_json")
    return body


class Fields:
    """Typed access to body fields with a 400 naming the field: ``Fields(body).text("service")``."""

    def __init__(self, body: dict[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise bad_request(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})",
                              f"未知字段 {unknown[0]}", "unknown_field", unknown[0])
        self.body = body

    def text(self, name: str, *, required: bool = False, max_len: int = 200, default: str = "") -> str:
        value = self.body.get(name)
        if value is None:
            if required:
                raise bad_request(f"field {name!r} is required", f"缺少字段 {name}", "missing_field", name)
            return default
        if not isinstance(value, str):
            raise bad_request(f"field {name!r} must be a string", f"字段 {name} 必须是字符串", "invalid_type", name)
        if len(value) > max_len:
            raise bad_request(f"field {name!r} is longer than {max_len}", f"字段 {name} 过长", "invalid_value", name)
        return value

    def integer(self, name: str, *, required: bool = False, low: int = 0, high: int = 10**6) -> int | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise bad_request(f"field {name!r} is required", f"缺少字段 {name}", "missing_field", name)
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_request(f"field {name!r} must be an integer", f"字段 {name} 必须是整数", "invalid_type", name)
        if not low <= value <= high:
            raise bad_request(f"field {name!r} must be {low}..{high}", f"字段 {name} 超出范围", "invalid_value", name)
        return value
