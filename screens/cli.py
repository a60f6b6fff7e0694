"""``servicehall screen wall|window``: the hall file gives the node's token, hours and time zone."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import zoneinfo
from pathlib import Path


def run_screen(args: argparse.Namespace) -> int:
    """Load the hall, find this node, run the screen; 1 with a message on a wrong argument."""
    from config.loader import ConfigError, load_hall
    from screens.app import ScreenConfig, parse_size, run

    try:
        hall = load_hall(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    node = next((n for n in hall.nodes if n.name == args.node), None)
    if node is None:
        print(f"{args.config}: no node named {args.node!r}; nodes: {', '.join(n.name for n in hall.nodes)}",
              file=sys.stderr)
        return 1
    token = os.environ.get("SERVICEHALL_TOKEN") or node.demo_token
    if not token:
        print(f"node {args.node!r} has only a token hash in {args.config}; give its token in SERVICEHALL_TOKEN",
              file=sys.stderr)
        return 1
    try:
        size = parse_size(args.size)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    if args.snapshot and args.exit_after is None:
        print("--snapshot needs --exit-after S (when to take it)", file=sys.stderr)
        return 1
    cfg = ScreenConfig(server=args.server, token=token, size=size, tz=zoneinfo.ZoneInfo(hall.timezone),
                       hours=hall.hours, window=getattr(args, "window", None),
                       snapshot=Path(args.snapshot) if args.snapshot else None, exit_after_s=args.exit_after,
                       fullscreen=args.fullscreen)
    return asyncio.run(run(cfg))
