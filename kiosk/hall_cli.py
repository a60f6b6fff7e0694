"""``servicehall hall``: run the whole hall of a config on this machine.

Headless machines (no DISPLAY) get SDL's dummy drivers, so the same code runs with or without a screen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from config.loader import ConfigError, load_hall

__all__ = ["add_parser", "run_hall"]

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``servicehall hall``."""
    hall = sub.add_parser("hall", help="run the whole hall: the queue server, the e-licence library simulator and "
                          "every node of the config (simulators for sim+ devices), until Ctrl-C")
    hall.add_argument("--config", required=True, help="hall TOML file")
    hall.add_argument("--data", default="data/hall", help="directory for the event log, node outboxes and logs")
    hall.add_argument("--out", default="out/hall", help="directory for what the rush leaves (tickets, sounds, …)")
    hall.add_argument("--host", default="127.0.0.1", help="address the queue server listens on")
    hall.add_argument("--port", type=int, default=8080, help="the queue server's port (0: a free one)")


def _headless() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def run_hall(args: argparse.Namespace) -> int:
    """The ``hall`` command."""
    try:
        hall = load_hall(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    _headless()
    from kiosk.hall import HallOptions, serve_hall

    data, out = Path(args.data), Path(args.out)
    options = HallOptions(Path(args.config), data, out, args.host, args.port)
    return asyncio.run(serve_hall(hall, options))
