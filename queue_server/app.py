"""``create_app``: the queue server for one hall, owning nothing global.

The store is opened and the log replayed in a cleanup context, so a test or a second instance builds
its own app from a config and a data directory, and shutdown closes WebSockets with a reason before
the log is closed.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from config.model import Hall
from queue_server.api.auth import Authenticator, PinLimiter
from queue_server.api.errors import error_middleware, text_middleware
from queue_server.api.openapi import openapi_document
from queue_server.api.routes import routes
from queue_server.keys import AUTH, PIN_LIMITER, SERVICE
from queue_server.service import HallService
from queue_server.store.base import EventStore, StoreError
from queue_server.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


class StartFailed(Exception):
    """The server cannot start; the message says what failed, where, and what to do (one log line)."""


def start_failure(err: BaseException, store: EventStore) -> StartFailed:
    """Words for a failure while opening or replaying the log, naming the path and the remedy."""
    path = getattr(store, "path", None)
    where = str(path) if path is not None else type(store).__name__
    cause = err.__cause__ if isinstance(err, StoreError) and err.__cause__ is not None else err
    reason = " ".join(str(cause).split()) or type(cause).__name__
    if isinstance(cause, OSError) or (isinstance(cause, sqlite3.OperationalError) and any(
            word in reason for word in ("unable to open", "readonly", "read-only", "disk I/O", "full"))):
        folder = Path(path).parent if path is not None else where
        return StartFailed(f"the event log {where} cannot be opened for writing ({reason}); make sure the data "
                           f"directory {folder} exists or can be created, is writable by this user and the disk is "
                           "not full, or choose another --data")
    if isinstance(cause, sqlite3.DatabaseError) and not isinstance(cause, sqlite3.OperationalError):
        return StartFailed(f"the event log {where} is not a readable SQLite database ({reason}); restore it from "
                           "a backup, or move it aside to start with an empty log")
    return StartFailed(f"the event log {where} cannot be replayed ({type(cause).__name__}: {reason}); it is "
                       "damaged or not a servicehall log: restore it from a backup, or move it aside to start "
                       "with an empty log (it holds acknowledged tickets, so keep the file)")


def create_app(hall: Hall, *, data_dir: str | Path | None = None, store: EventStore | None = None,
               clock: Callable[[], float] = time.time) -> web.Application:
    """Build the application; give either a data directory (SQLite) or a ready store."""
    if store is None:
        if data_dir is None:
            raise ValueError("create_app needs data_dir or store")
        store = SqliteStore(Path(data_dir) / "events.sqlite3")
    app = web.Application(middlewares=[error_middleware, text_middleware], client_max_size=MAX_BODY_BYTES)
    service = HallService(hall, store, clock=clock)
    app[SERVICE] = service
    app[AUTH] = Authenticator(hall)
    app[PIN_LIMITER] = PinLimiter()
    document = openapi_document(hall.name)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.add_routes(routes)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        try:
            await service.start()
        except Exception as err:
            log.debug("start failed", exc_info=True)  # the traceback for -v; the CLI logs one line
            with contextlib.suppress(Exception):  # stop the writer thread, or the process never exits
                await service.stop()
            raise start_failure(err, store) from err
        yield
        await service.stop()

    async def on_shutdown(app: web.Application) -> None:
        await service.hub.close_all("server shutting down")

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(on_shutdown)
    return app
