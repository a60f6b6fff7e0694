"""aiohttp's own low-level refusals answered in the JSON error shape, logged in one line.

What aiohttp's HTTP parser rejects (a bad request line, an over-long URL or header, invalid header
characters, a broken chunked body) never reaches a route or a middleware: ``RequestHandler.handle_error``
answers it with text/plain and logs an error with a traceback. Kiosks from other vendors parse every
error as ``{"error": {...}}``, and a malformed request from the network is the client's fault, so this
handler answers JSON and logs one info line.

aiohttp builds its ``RequestHandler`` in ``web.Server.__call__`` with no option to choose the class, so
``ApiRunner`` gives its server a subclass that does; tests/integration/test_server_refusals.py fails if an
aiohttp upgrade changes that path.
"""

from __future__ import annotations

import logging

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo
from aiohttp.web_request import BaseRequest

from queue_server.api.errors import error_response
from queue_server.engine.errors import QueueError

log = logging.getLogger(__name__)

_SUMMARY_CHARS = 80


def _summary(exc: BaseException | None, message: str | None) -> str:
    """The parser's reason in one short line, without the request bytes it quotes (they may be anything)."""
    text = getattr(exc, "message", None) or message or (str(exc) if exc else "") or "malformed request"
    first = str(text).splitlines()[0] if str(text).strip() else "malformed request"
    for quote in (": b'", ": b\"", ": bytearray(", " b'", "bytearray("):
        if quote in first:
            first = first.split(quote, 1)[0]
    return first.strip(" :")[:_SUMMARY_CHARS] or "malformed request"


def _refusal(status: int, exc: BaseException | None, summary: str) -> QueueError:
    """The JSON error for what the parser refused (its status kept, except the two it cannot tell apart)."""
    if isinstance(exc, http_exceptions.LineTooLong):  # the parser does not say whether the URL or a header
        limit = exc.args[1] if len(exc.args) > 1 else "the limit"
        return QueueError("line_too_long", "请求地址或请求头过长",
                          f"the URL or a header line is longer than {limit} bytes", 400)
    if isinstance(exc, http_exceptions.BadHttpMessage) and "too many headers" in summary.lower():
        return QueueError("too_many_headers", "请求头过多", "the request has too many header lines", 431)
    if status == 504:
        return QueueError("timeout", "请求处理超时", "the request took too long to handle", 504)
    if status >= 500:
        return QueueError("internal_error", "服务器内部错误", "internal server error", 500)
    return QueueError("bad_http_request", "请求格式错误", f"the HTTP request is malformed ({summary})", 400)


class JsonErrorRequestHandler(RequestHandler):
    """A connection whose low-level refusals are JSON and one log line."""

    __slots__ = ()

    def data_received(self, data: bytes) -> None:
        """As aiohttp's; but a body that breaks mid-stream also fails the handler already reading it.

        aiohttp queues the parser's refusal as the *next* request and leaves the running handler waiting
        for the rest of the body until the client gives up; here its read fails at once (read_json
        answers 400) and the refusal is not answered a second time: the connection closes after it.
        """
        queued = len(self._messages)
        super().data_received(data)
        request = self._current_request
        if request is None or len(self._messages) <= queued or not isinstance(self._messages[-1][0], _ErrInfo):
            return
        content = request.content
        if content.is_eof():
            return
        refusal, _payload = self._messages.pop()
        assert isinstance(refusal, _ErrInfo)
        summary = _summary(refusal.exc, refusal.message)
        log.info("refused a malformed request body from %s: %s", request.remote, summary)
        content.set_exception(RequestPayloadError(f"the request body is malformed ({summary})"))
        content.feed_eof()  # nothing more will come: no lingering read after the answer
        self.close()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: the answer is half sent, the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        summary = _summary(exc, message)
        refusal = _refusal(status, exc, summary)
        if isinstance(exc, ConnectionError):  # the client left; error_middleware said so already
            log.debug("client went away from %s", request.remote)
        elif refusal.status == 500:
            log.error("unexpected error on a request from %s", request.remote, exc_info=exc)
        else:
            log.info("refused a malformed request from %s: %s %s (%s)", request.remote, refusal.status, refusal.code,
                     summary)
        response = error_response(refusal)
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    """aiohttp's low-level server, making ``JsonErrorRequestHandler`` connections."""

    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """``web.AppRunner`` whose server answers parser refusals in JSON (see the module docstring)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = JsonErrorServer  # same object and state; only the connection factory differs
        return server

