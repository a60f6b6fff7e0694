"""``servicehall serve``: run one hall's queue server (or a city's halls, ``--city``) until SIGINT/SIGTERM.

Served through ``ApiRunner`` (aiohttp's ``AppRunner`` whose low-level refusals are JSON) rather than
``web.run_app``; the shutdown is the same: stop listening, close idle connections, ``on_shutdown`` (the
WebSockets closed with 1001), let in-flight requests finish within ``SHUTDOWN_TIMEOUT_S``, then close the
log. A start that fails is one log line and exit code 1, never a traceback or a process left hanging.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from config.city import load_city
from config.loader import ConfigError, load_hall
from queue_server.api.protocol import ApiRunner
from queue_server.app import create_app
from queue_server.city import create_city_app
from queue_server.start_failure import StartFailed
from queue_server.store.url import StoreUrlError, open_store

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 10.0
KEEPALIVE_TIMEOUT_S = 75.0  # web.run_app's default, kept


def serve(args: argparse.Namespace) -> int:
    """Load the hall, build the app and serve; 0 after a clean stop, 1 if it could not start."""
    try:
        if getattr(args, "city", None):
            city = load_city(args.city)
            stores = {hall.code: open_store(args.store, args.data, hall.code) for hall in city.halls}
            app = create_city_app(city, stores)
            name = f"{city.name} ({len(city.halls)} halls)"
            where = next(iter(stores.values())).where if args.store else f"{args.data}/HALL"
        else:
            hall = load_hall(args.config)
            store = open_store(args.store, args.data)
            app, name, where = create_app(hall, store=store), hall.name, store.where
    except (ConfigError, StoreUrlError) as err:
        print(err, file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(app, args.host, args.port, name, where))
    except StartFailed as err:
        log.error("cannot start: %s", err)
        return 1
    except OSError as err:
        log.debug("listening failed", exc_info=True)
        log.error("cannot start: cannot listen on %s:%d (%s); another server may be using the port: stop it or "
                  "choose another --port (or --host)", args.host, args.port, err.strerror or err)
        return 1
    except Exception as err:
        log.debug("start failed", exc_info=True)
        log.error("cannot start: %s: %s (run with -v for the traceback)", type(err).__name__, err)
        return 1
    return 0


async def _serve(app: web.Application, host: str, port: int, name: str, where: str) -> None:
    """Serve until SIGINT or SIGTERM; the runner is cleaned up however this ends (the store closed)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = ApiRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S,
                       keepalive_timeout=KEEPALIVE_TIMEOUT_S, access_log=None)
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("serving %s on http://%s:%d (event log %s)", name, host, port, where)
        await stop.wait()
        log.info("stopping: finishing requests in flight (at most %.0f s)", SHUTDOWN_TIMEOUT_S)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
