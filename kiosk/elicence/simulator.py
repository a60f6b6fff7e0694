"""A stand-in for the e-licence library (电子证照库): a small aiohttp service on loopback serving the deck.

The real library is another department's service; the hall, the tests and a rush need one that answers the
same way and misbehaves on demand. Routes:

- ``GET /documents?holder=KEY`` → ``{"documents": [Document, …]}`` (an empty list for a holder with none)
- ``GET /documents/{id}?holder=KEY`` → one Document; 404 unless it is that holder's
- ``GET /verify/{serial}`` → what the QR code on a print opens: ``{"serial": …, "valid": true|false}``
- ``GET /health`` → ``{"ok": true}``

Faults (the shared ``Fault`` enum, counted like every simulator's): ``SLOW`` answers after ``slow_s``,
``SERVER_ERROR`` answers HTTP 500, ``UNPLUG`` drops the connection without an answer; ``await unplug()``
closes the listener (connection refused: the library is down) and ``await replug()`` opens it again on
the same port. Run alone with ``servicehall elicence-sim [--port P]``: it prints its URL and serves until
Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web

from devices.faults import Fault, FaultPlan
from kiosk.elicence.deck import KIND_CODES, Deck, is_holder_key

log = logging.getLogger(__name__)

__all__ = ["ELicenceSimulator", "main"]

FAULTS = (Fault.SLOW, Fault.SERVER_ERROR, Fault.UNPLUG)
_DECK: web.AppKey[Deck] = web.AppKey("deck", Deck)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _holder(request: web.Request) -> str:
    holder = request.query.get("holder", "")
    if not is_holder_key(holder):
        raise web.HTTPBadRequest(text='{"error": {"code": "bad_holder", "message": "holder must be the 64-hex '
                                 'holder key"}}', content_type="application/json")
    return holder


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _documents(request: web.Request) -> web.Response:
    deck = request.app[_DECK]
    found = deck.documents(_holder(request), _base(request))
    return web.json_response({"documents": [d.as_json() for d in found]})


async def _document(request: web.Request) -> web.Response:
    found = request.app[_DECK].document(_holder(request), request.match_info["document_id"], _base(request))
    if found is None:
        return _error(404, "not_found", "no such document for this holder")
    return web.json_response(found.as_json())


async def _verify(request: web.Request) -> web.Response:
    serial = request.match_info["serial"]
    parts = serial.split("-")
    valid = len(parts) == 3 and parts[0] in KIND_CODES and parts[1].isdigit() and parts[2].isdigit()
    return web.json_response({"serial": serial, "valid": valid})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


class ELicenceSimulator(FaultPlan):
    """The library on 127.0.0.1; ``url`` after ``start``. An async context manager."""

    def __init__(self, deck: Deck | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 slow_s: float = 3.0) -> None:
        self.deck = deck or Deck()
        self.host = host
        self.port = port
        self.slow_s = slow_s
        self.requests: Counter[str] = Counter()  # route → how many were answered or failed on purpose
        FaultPlan.__init__(self)
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults_middleware])
        app[_DECK] = self.deck
        app.add_routes([web.get("/documents", _documents), web.get("/documents/{document_id}", _document),
                        web.get("/verify/{serial}", _verify), web.get("/health", _health)])
        return app

    async def start(self) -> str:
        """Listen; returns the base URL (the hall's ``elicence_url``)."""
        self._runner = web.AppRunner(self._app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await self.replug()
        log.info("e-licence library simulator listening at %s", self.url)
        return self.url

    async def replug(self) -> None:
        """Listen again (on the same port once it is known): the library is back."""
        assert self._runner is not None, "start() first"
        if self._site is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                sock.close()
                raise
            self.port = sock.getsockname()[1]
            self._site = web.SockSite(self._runner, sock)
            await self._site.start()

    async def unplug(self) -> None:
        """Stop listening: connections are refused, as when the library's server is down."""
        site, self._site = self._site, None
        if site is not None:
            await site.stop()

    async def stop(self) -> None:
        """Stop and release the port; safe to call twice."""
        await self.unplug()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- faults ----------------------------------------------------------------------------------
    def inject(self, fault: Fault, times: int | None = None) -> None:
        """Play ``fault`` on the next ``times`` requests, or on every request until ``clear``."""
        if fault not in FAULTS:
            raise ValueError(f"the e-licence simulator plays {', '.join(f.value for f in FAULTS)}, not {fault}")
        super().inject(fault, times)

    @web.middleware
    async def _faults_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.path.split("/")[1]
        self.requests[route] += 1
        if self.active(Fault.UNPLUG):  # the connection goes away unanswered; what is "returned" is never sent
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        if self.active(Fault.SLOW):
            await asyncio.sleep(self.slow_s)
        if self.active(Fault.SERVER_ERROR):
            return _error(500, "internal", "simulated failure (Fault.SERVER_ERROR)")
        return await handler(request)


async def _serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ELicenceSimulator(host=host, port=port) as sim:
        print(f"e-licence library simulator at {sim.url}", flush=True)
        await stop.wait()


def main(host: str = "127.0.0.1", port: int = 0) -> int:
    """``servicehall elicence-sim``: serve until Ctrl-C / SIGTERM."""
    try:
        asyncio.run(_serve(host, port))
    except OSError as err:
        print(f"elicence-sim: cannot listen on {host}:{port}: {err.strerror or err}", file=sys.stderr)
        return 1
    return 0

