"""``servicehall node``: run one node of a hall file until SIGINT/SIGTERM, or ``--check`` it and exit 0/1.

The token is SERVICEHALL_TOKEN, else the node's demo token in a sample hall (as ``servicehall screen`` does).
``--check`` probes every device of the node and the server (it answers, and accepts this node's token), prints
one line of words for each, and exits 1 if anything is not ready.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from config.loader import ConfigError, load_hall
from config.model import Hall, Node, NodeRole
from config.secrets import HolderKeyError, holder_secret

__all__ = ["add_parser", "run_node"]

CHECK_TIMEOUT_S = 10.0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``servicehall node``."""
    node = sub.add_parser("node", help="run one node of the hall (a kiosk, a window terminal, a display)")
    node.add_argument("--config", required=True, help="hall TOML file")
    node.add_argument("--node", required=True, help="this node's name in the hall file (its token: "
                      "SERVICEHALL_TOKEN, else the demo token of a sample hall)")
    node.add_argument("--server", default="http://127.0.0.1:8080", help="queue server URL")
    node.add_argument("--data", default="data", help="directory for the node's outbox (default: data)")
    node.add_argument("--console", action="store_true",
                      help="a window node: drive it from this terminal's keyboard (n next, r recall, s skip, "
                      "t transfer, p pause, c resume, f finish, i sign in, o sign out, q quit)")
    node.add_argument("--check", action="store_true",
                      help="probe the node's devices and the server connection, print the findings, exit 0/1")
    node.add_argument("--size", default="", help="a kiosk's touch UI size WxH (default 1080x1920, or the panel's "
                      "own with --fullscreen)")
    node.add_argument("--fullscreen", action="store_true", help="a kiosk's touch UI full screen")
    node.add_argument("--headless", action="store_true",
                      help="no window: SDL's dummy driver (the default when there is no display)")


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _node_and_token(args: argparse.Namespace) -> tuple[Hall, Node, str] | str:
    try:
        hall = load_hall(args.config)
    except ConfigError as err:
        return str(err)
    node = next((n for n in hall.nodes if n.name == args.node), None)
    if node is None:
        return f"{args.config}: no node named {args.node!r}; nodes: {', '.join(n.name for n in hall.nodes)}"
    token = os.environ.get("SERVICEHALL_TOKEN") or node.demo_token
    if not token:
        return f"node {args.node!r} has only a token hash in {args.config}; give its token in SERVICEHALL_TOKEN"
    if node.role is NodeRole.KIOSK:
        try:
            holder_secret(hall)
        except HolderKeyError as err:
            return f"kiosk {node.name!r} cannot start: {err}"
    return hall, node, token


def run_node(args: argparse.Namespace) -> int:
    """The ``node`` command."""
    found = _node_and_token(args)
    if isinstance(found, str):
        return _fail(found)
    hall, node, token = found
    if args.check:
        from kiosk.node_check import check_node

        lines, ok = asyncio.run(check_node(node, args.server, token, CHECK_TIMEOUT_S))
        for line in lines:
            print(line)
        return 0 if ok else 1
    if args.console and node.role is not NodeRole.WINDOW:
        return _fail(f"--console drives a window terminal; {node.name!r} is a {node.role.value} node")
    size = (0, 0)
    if node.role is NodeRole.KIOSK:
        from kiosk.node_ui import ui_size

        try:
            size = ui_size(args.size, args.fullscreen)
        except ValueError as err:
            return _fail(str(err))
    return asyncio.run(_serve(hall, node, args.server, token, Path(args.data), console=args.console, size=size,
                              fullscreen=args.fullscreen, headless=args.headless))


async def _serve(hall: Hall, node: Node, server: str, token: str, data: Path, *, console: bool = False,
                 size: tuple[int, int] = (0, 0), fullscreen: bool = False, headless: bool = False) -> int:
    """Run the node until a signal; a kiosk with its touch UI (kiosk/node_ui.py) as its view, a window with
    ``console`` driven from this terminal."""
    from kiosk.node import NodeRuntime

    behaviour = None
    if console:
        from kiosk.window_console import WindowConsole

        behaviour = WindowConsole
    ui = None
    if node.role is NodeRole.KIOSK:
        from kiosk import node_ui

        node_ui.choose_video_driver(os.environ, headless)
        ui = node_ui.TouchUI(hall, f"servicehall kiosk {node.name}", size, fullscreen=fullscreen)
    runtime = NodeRuntime(hall, node, server=server, token=token, data_dir=data, view=ui, behaviour=behaviour)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    try:
        if ui is not None:
            await node_ui.run_with_ui(runtime, ui)
        else:
            await runtime.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0
