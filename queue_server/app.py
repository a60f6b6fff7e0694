"""``create_app``: the queue server for one hall, owning nothing global.

The store is opened and the log replayed in a cleanup context, so a test or a second instance builds
its own app from a config and a data directory, and shutdown closes WebSockets with a reason (all at
once, within a bound) and drops connections that only drain a refused body before the log is closed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from config.model import Hall
from queue_server.api.alerts import routes as alert_routes
from queue_server.api.appointments import routes as appointment_routes
from queue_server.api.audit import routes as audit_routes
from queue_server.api.auth import Authenticator
from queue_server.api.cases import routes as case_routes
from queue_server.api.certificates import routes as certificate_routes
from queue_server.api.errors import error_middleware, text_middleware
from queue_server.api.nodes import routes as node_routes
from queue_server.api.openapi import openapi_document
from queue_server.api.ratings import routes as rating_routes
from queue_server.api.reports import routes as report_routes
from queue_server.api.routes import routes
from queue_server.api.stats import routes as stats_routes
from queue_server.console.pages import routes as console_routes
from queue_server.draining import DrainingConnections
from queue_server.engine.alerts import switch_off as alerts_off
from queue_server.engine.figures import switch_off as figures_off
from queue_server.keys import AUTH, SERVICE
from queue_server.service import HallService
from queue_server.start_failure import start_failure
from queue_server.store.base import EventStore
from queue_server.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


def create_app(hall: Hall, *, data_dir: str | Path | None = None, store: EventStore | None = None,
               clock: Callable[[], float] = time.time, _figures: bool = True,
               _alerts: bool = True) -> web.Application:
    """Build the application; give either a data directory (SQLite) or a ready store.

    ``_figures=False`` / ``_alerts=False`` (hidden, for the benchmark's A/B only) stop the figures observing
    events / the alert rules observing and ticking.
    """
    if store is None:
        if data_dir is None:
            raise ValueError("create_app needs data_dir or store")
        store = SqliteStore(Path(data_dir) / "events.sqlite3")
    app = web.Application(middlewares=[error_middleware, text_middleware], client_max_size=MAX_BODY_BYTES)
    service = HallService(hall, store, clock=clock)
    if not _figures:
        figures_off(service.engine)
    if not _alerts:
        alerts_off(service.engine)
    app[SERVICE] = service
    app[AUTH] = Authenticator(hall)
    document = openapi_document(hall.name)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.add_routes(routes)
    app.add_routes(rating_routes)
    app.add_routes(case_routes)
    app.add_routes(appointment_routes)
    app.add_routes(stats_routes)
    app.add_routes(report_routes)
    app.add_routes(alert_routes)
    app.add_routes(node_routes)
    app.add_routes(audit_routes)
    app.add_routes(certificate_routes)
    app.add_routes(console_routes)

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

    draining = DrainingConnections()

    async def on_shutdown(app: web.Application) -> None:
        """Runs once the listener is closed: nothing but requests really in flight may hold the stop."""
        draining.close_all()
        await service.hub.close_all("server shutting down")

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(draining.on_response_prepare)
    app.on_shutdown.append(on_shutdown)
    return app
