"""Connections still draining a request body the server refused unread, closed at once on shutdown.

When a handler answers (a 413 for a 2 MiB body, a 401 before the body was read) without reading
the body, aiohttp keeps the connection and reads and discards the rest for up to its lingering time
(10 s), so that the client can read the answer. Such a connection has no request in flight, but
aiohttp's shutdown waits for it as if it had: one careless client held SIGTERM for 10 s. This keeps
a note of those connections (from ``on_response_prepare``) and force-closes them on shutdown, while
requests really in flight keep the runner's ``shutdown_timeout`` to finish.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

MAX_TRACKED = 1024  # a bound on the notes; older notes are of connections that have long finished draining


class DrainingConnections:
    """Note connections answered before their body was read; close those still draining on shutdown."""

    def __init__(self) -> None:
        self._draining: dict[RequestHandler, StreamReader] = {}

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """aiohttp signal: an answer is about to go out; note its connection if the body is still unread."""
        if request.content.is_eof():
            return
        self._prune()
        if len(self._draining) < MAX_TRACKED:
            self._draining[request.protocol] = request.content

    def _prune(self) -> None:
        for protocol, payload in list(self._draining.items()):
            if payload.is_eof() or protocol.transport is None:
                del self._draining[protocol]

    def close_all(self) -> int:
        """Force-close every connection that is still only draining a refused body; returns how many."""
        self._prune()
        closed = len(self._draining)
        for protocol in self._draining:
            protocol.force_close()
        self._draining.clear()
        if closed:
            log.info("shutdown: closed %d connections that were draining a refused request body", closed)
        return closed
