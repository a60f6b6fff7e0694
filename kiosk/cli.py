"""The ``servicehall`` command: the one place that imports every room, and only lazily."""

from __future__ import annotations

import argparse
import logging
import sys


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servicehall", description="Service hall queueing and kiosk hardware.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the queue server for one hall (or every hall of a city)")
    which = serve.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", help="hall TOML file")
    which.add_argument("--city", metavar="FILE", help="city TOML file naming the halls to serve (see config/city.py)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data", default="data", help="directory for the SQLite event log")
    serve.add_argument("--store", metavar="URL", help="keep the event log in PostgreSQL instead: "
                       "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (default: SQLite in --data)")

    check = sub.add_parser("check-config", help="validate a hall TOML file and print a summary")
    check.add_argument("config", help="hall TOML file")

    screen = sub.add_parser("screen", help="run a wall display or a counter screen of a display node")
    kinds = screen.add_subparsers(dest="screen", required=True)
    for kind, size in (("wall", "1920x1080"), ("window", "800x480")):
        one = kinds.add_parser(kind, help=f"the {kind} screen")
        one.add_argument("--config", required=True, help="hall TOML file")
        one.add_argument("--node", required=True, help="this screen's node name in the hall file (its token: "
                         "SERVICEHALL_TOKEN, else the demo token of a sample hall)")
        one.add_argument("--server", default="http://127.0.0.1:8080", help="queue server URL")
        one.add_argument("--size", default=size, help="WIDTHxHEIGHT (portrait when taller than wide)")
        one.add_argument("--fullscreen", action="store_true")
        one.add_argument("--snapshot", help="save the screen as this PNG (with --exit-after)")
        one.add_argument("--exit-after", type=float, help="stop after this many seconds")
        if kind == "window":
            one.add_argument("--window", type=int, required=True, help="the window number shown")
    preview = kinds.add_parser("kiosk", help="the kiosk touch UI's start screen (a preview; the node runs the flows)")
    preview.add_argument("--config", required=True, help="hall TOML file")
    preview.add_argument("--node", required=True, help="a kiosk node's name in the hall file")
    preview.add_argument("--size", default="1080x1920", help="WIDTHxHEIGHT (1080x1920 portrait, 1920x1080 landscape)")
    preview.add_argument("--dpi", type=float, default=102.5, help="the panel's pixels per inch (targets >= 15 mm)")
    preview.add_argument("--snapshot", help="save the start screen as this PNG and exit (else: a window, Esc closes)")

    sim = sub.add_parser("elicence-sim", help="run a simulated e-licence library (电子证照库) with invented documents")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    sim.add_argument("--port", type=int, default=0, help="port (0: a free one; the URL is printed)")

    from devices.cli import add_parser as add_devices_parser
    from kiosk.hall_cli import add_parser as add_hall_parser
    from kiosk.node_cli import add_parser as add_node_parser

    add_devices_parser(sub)
    add_node_parser(sub)
    add_hall_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        from queue_server.cli import serve

        return serve(args)
    if args.command == "check-config":
        from config.loader import ConfigError, load_hall

        try:
            hall = load_hall(args.config)
        except ConfigError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"{args.config}: ok — {hall.summary()}")
        return 0
    if args.command == "screen" and args.screen == "kiosk":
        from kiosk.preview import run_preview

        return run_preview(args)
    if args.command == "screen":
        from screens.cli import run_screen

        return run_screen(args)
    if args.command == "elicence-sim":
        from kiosk.elicence.simulator import main as run_elicence_sim

        return run_elicence_sim(args.host, args.port)
    if args.command == "node":
        from kiosk.node_cli import run_node

        return run_node(args)
    if args.command == "hall":
        from kiosk.hall_cli import run_hall

        return run_hall(args)
    if args.command == "devices":
        from devices.cli import run as run_devices

        return run_devices(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
