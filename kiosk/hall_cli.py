"""``servicehall hall``: run the whole hall of a config on this machine, and with ``--rush N`` a simulated morning.

One kiosk (``--kiosk-ui``, the first by default) shows its touch UI (kiosk/node_ui.py): pygame has one display
per process, and every node of the hall runs in this one. Without a display (no DISPLAY / WAYLAND_DISPLAY) SDL's
dummy drivers are used, so the same code runs with or without a screen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from config.loader import ConfigError, load_hall
from config.model import Hall, Node, NodeRole
from kiosk.hall_clock import CLOCK_ENV, MorningClock
from kiosk.node import NodeView

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
    hall.add_argument("--kiosk-ui", default="", metavar="NODE",
                      help="the kiosk whose touch UI is shown (default: the first kiosk; 'none' for none)")
    rush = hall.add_argument_group("rush", "a scripted, reproducible morning (kiosk/rush/)")
    rush.add_argument("--rush", type=int, metavar="N", help="N simulated citizens arrive, are served and rate")
    rush.add_argument("--seed", type=int, default=1, help="the rush's random seed (same seed, same morning)")
    rush.add_argument("--speed", type=float, default=20.0, metavar="X",
                      help="simulated time runs X times faster: arrivals, handling times, citizens' pauses")
    rush.add_argument("--summary-json", metavar="FILE", help="also write the rush's summary as JSON to this file")
    rush.add_argument("--faults", default="", metavar="LIST",
                      help="comma-separated faults to inject during the rush (or 'all'): paper_out, card_pulled, "
                           "bus_unplug, server_kill, kiosk_cutoff")
    rush.add_argument("--mix", default="", metavar="WEIGHTS",
                      help="weights of the citizens' kinds, e.g. card=35,service=35,elderly=10,appointment=10,"
                           "certificate=10 (the default)")
    rush.add_argument("--clock", choices=("morning", "real"), default="morning",
                      help="the hall's clock during a rush: a working day's opening (default, so a rush works "
                           "at any hour; kiosk/hall_clock.py) or the real time")


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
    if args.rush is not None and (args.rush < 1 or args.speed <= 0):
        print("hall: --rush needs N >= 1 and --speed > 0", file=sys.stderr)
        return 1
    _headless()
    from kiosk.hall import HallOptions, serve_hall

    kiosks = [n.name for n in hall.nodes if n.role is NodeRole.KIOSK]
    ui_node = args.kiosk_ui or (kiosks[0] if kiosks else "none")
    if ui_node != "none" and ui_node not in kiosks:
        print(f"hall: --kiosk-ui {ui_node!r} is not a kiosk of {args.config}; kiosks: {', '.join(kiosks)}",
              file=sys.stderr)
        return 1

    def ui_for(node: Node) -> NodeView | None:
        if node.name != ui_node:
            return None
        from kiosk.node_ui import TouchUI

        return TouchUI(hall, f"servicehall hall: kiosk {node.name}")

    data, out = Path(args.data), Path(args.out)
    if args.rush is None:
        options = HallOptions(Path(args.config), data, out, args.host, args.port)
        return asyncio.run(serve_hall(hall, options, view_for=ui_for))
    if args.clock == "morning" and CLOCK_ENV not in os.environ:
        return _again_on_the_morning_clock(hall, data)
    from kiosk.rush.run import run_rush, rush_options

    try:
        options, plan = rush_options(hall, args)
    except ValueError as err:
        print(f"hall: {err}", file=sys.stderr)
        return 1
    return asyncio.run(run_rush(hall, options, plan, ui_for))



def _again_on_the_morning_clock(hall: Hall, data: Path) -> int:
    """Run this same command again under libfaketime on the morning clock (kiosk/hall_clock.py); not returning."""
    try:
        env = {**os.environ, **MorningClock.prepare(hall, data).env()}
    except (RuntimeError, ValueError) as err:
        print(f"hall: {err}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "kiosk.cli", *sys.argv[1:]], env)
