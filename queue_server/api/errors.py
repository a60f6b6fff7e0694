"""Every failure answered as ``{"error": {code, message_zh, message_en}}`` with the right status.

Kiosks from other vendors integrate against these codes, so a malformed request never gets an HTML
page or a bare 500: routing errors, oversized bodies, bad JSON and refusals all share one shape.
"""

from __future__ import annotations

import json
import logging
import re
from array import array
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any

from aiohttp import web

from queue_server.api.text import TextProblem, text_problem
from queue_server.engine.errors import QueueError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(QueueError):
    """A request-level refusal (bad body, no token) raised by the HTTP layer itself."""


def bad_request(message_en: str, message_zh: str = "请求格式错误", code: str = "invalid_body",
                field: str | None = None) -> ApiError:
    return ApiError(code, message_zh, message_en, 400, {"field": field} if field else None)


def invalid_text(field: str, problem: TextProblem) -> ApiError:
    """The refusal of text no store can keep or no screen should show, naming the field and the character."""
    return ApiError(
        "invalid_text", f"{field} 含有不允许的字符（{problem.kind_zh} {problem.code_point_label}）",
        f"{field!r} contains {problem.kind_en} ({problem.code_point_label}) at position {problem.position}; "
        "send one line of well-formed text without control or formatting characters", 400,
        {"field": field, "position": problem.position, "code_point": problem.code_point_label})


def checked_text(field: str, value: str) -> str:
    """``value`` if it is acceptable text (see queue_server/api/text.py), else a 400 ``invalid_text``."""
    problem = text_problem(value)
    if problem is not None:
        raise invalid_text(field, problem)
    return value


def _dumps(body: Any) -> str:
    """Chinese as itself; anything that would not encode (an echoed lone surrogate) as a JSON escape."""
    text = json.dumps(body, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body)
    return text


def error_response(err: QueueError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": err.as_dict()}, status=err.status, headers=headers, dumps=_dumps)


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
    except ConnectionResetError:  # the client went away mid-request: nobody to answer, nothing wrong here
        log.info("client went away during %s %s", request.method, request.path)
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(QueueError("internal_error", "服务器内部错误", "internal server error", 500))


@web.middleware
async def text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Path segments and query parameters obey the same text rules as body fields, for every route."""
    for name, value in request.match_info.items():
        checked_text(name, value)
    if request.query_string:  # most requests have none: do not build the query's MultiDict for them
        for name, value in request.query.items():
            checked_text("query parameter name", name)
            checked_text(name, value)
    return await handler(request)


MAX_JSON_DEPTH = 32
# A JSON string, its closing quote optional so an unterminated one is one match (linear, no backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?')
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 +1 -1 -1
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` (UTF-8) nests arrays/objects deeper than ``limit``, counting brackets outside strings.

    Checked before ``json.loads``, whose recursion a 2 KB body exhausts. Strings are cut out, every other
    byte but a bracket dropped, and the deepest running sum of +1/-1 taken, all in C: about 1 ms for a
    64 KB body of brackets, nothing for a body with at most ``limit`` brackets. (Once the sum goes below
    zero the first JSON value has ended and ``json.loads`` stops there, so it need not be clamped.)
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    steps = array("b", _JSON_STRING.sub(b"", raw).translate(_STEPS, _NOT_BRACKETS))
    return max(accumulate(steps), default=0) > limit


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
    except web.RequestPayloadError as err:  # a broken chunked or compressed body (see api/protocol.py)
        raise bad_request(str(err), "请求内容格式错误", "bad_http_request") from err
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise bad_request(f"the body is not UTF-8: {err}", "请求内容不是 UTF-8 编码", "invalid_json") from err
    if json_too_deep(raw):
        raise bad_request(f"the body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels",
                          "请求内容嵌套层数过多", "json_too_deep")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
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
        return checked_text(name, value)

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
