"""``servicehall serve``: run one hall's queue server until SIGINT/SIGTERM, then shut down cleanly."""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from config.loader import ConfigError, load_hall
from queue_server.app import create_app

log = logging.getLogger(__name__)


def serve(args: argparse.Namespace) -> int:
    """Load the hall, build the app and serve; in-flight requests finish on SIGTERM (aiohttp's handler)."""
    try:
        hall = load_hall(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    app = create_app(hall, data_dir=args.data)
    log.info("serving %s on http://%s:%d (data in %s)", hall.name, args.host, args.port, args.data)
    web.run_app(app, host=args.host, port=args.port, shutdown_timeout=10.0, print=None,
                access_log=None, handle_signals=True)
    return 0
