"""``servicehall devices …``: the technician's tool (probe, read-card, print-test, simulate).

Exit codes: 0 when every device asked about is ready (or the action succeeded), 1 otherwise, with the
reason in words on the output; personal data from an ID card is shown masked unless asked for.
``probe --url … --json`` prints one object (kind, state, reason, url, name and the device's details such as
``paper``); ``probe --config … --node … --json`` prints a list of such objects, one per device of the node.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``devices`` sub-command and its verbs."""
    devices = sub.add_parser("devices", help="probe, test and simulate hall devices")
    verbs = devices.add_subparsers(dest="devices_command", required=True)

    probe = verbs.add_parser("probe", help="say how one device, or every device of a node, is")
    target = probe.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="device URL, e.g. escpos+tcp://10.0.0.5:9100 or sim+escpos+tcp://")
    target.add_argument("--config", help="hall TOML file (with --node)")
    probe.add_argument("--node", help="node name in the hall file whose devices to probe")
    probe.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per device (default 10)")
    probe.add_argument("--json", action="store_true", help="print JSON instead of words")

    card = verbs.add_parser("read-card", help="read one ID card or social-security card and show it masked")
    card.add_argument("--url", required=True, help="reader URL, e.g. sam+serial:///dev/ttyUSB0 (ID card) or "
                      "pcsc:// (social-security card)")
    card.add_argument("--config", help="hall TOML file: today's date (for expiry) in the hall's time zone")
    card.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card (default 10)")
    card.add_argument("--json", action="store_true", help="print JSON instead of words")
    card.add_argument("--show-personal", action="store_true",
                      help="show name, ID number and address in clear (only with the citizen's consent)")

    test = verbs.add_parser("print-test", help="print a test page and report the status before and after (or, on "
                            "the A4 printer, the job's outcome)")
    test.add_argument("--url", required=True, help="ticket printer URL, e.g. escpos+tcp://10.0.0.5:9100, or the A4 "
                      "printer's CUPS queue, e.g. cups://CERT or sim+cups://")
    test.add_argument("--config", help="hall TOML file: print the time in the hall's time zone")
    test.add_argument("--json", action="store_true", help="print JSON instead of words")

    sim = verbs.add_parser("simulate", help="run a device simulator until Ctrl-C and print its URL")
    sim.add_argument("kind", help="device kind, e.g. ticket_printer, idcard, bus485")
    where = sim.add_mutually_exclusive_group()
    where.add_argument("--port", type=int, help="listen on this loopback TCP port (0 = any free port)")
    where.add_argument("--pty", action="store_true", help="publish a pty instead of a TCP port")
    sim.add_argument("--fault", action="append", default=[], metavar="F", help="start with this fault (repeatable)")
    sim.add_argument("--png-dir", help="ticket_printer: write each printed ticket as a PNG into this directory")


def run(args: argparse.Namespace) -> int:
    """Run one ``devices`` verb; exit code 0 when every device is ready."""
    verb = {"probe": _probe, "read-card": _read_card, "print-test": _print_test, "simulate": _simulate}
    return asyncio.run(verb[args.devices_command](args))


def _out(text: str) -> None:
    print(text, flush=True)


def _dump(data: Any) -> None:
    _out(json.dumps(data, ensure_ascii=False, indent=2, default=str))


async def _probe(args: argparse.Namespace) -> int:
    from devices.probe import probe_all, probe_device

    if args.url:
        results = [await probe_device(args.url, timeout_s=args.timeout)]
    else:
        if not args.node:
            _out("servicehall devices probe: --config needs --node NAME")
            return 1
        from config.loader import ConfigError, load_hall

        try:
            hall = load_hall(args.config)
        except ConfigError as err:
            _out(str(err))
            return 1
        node = next((n for n in hall.nodes if n.name == args.node), None)
        if node is None:
            known = ", ".join(n.name for n in hall.nodes) or "none"
            _out(f"{args.config}: no node {args.node!r}; nodes: {known}")
            return 1
        results = await probe_all(node.devices, args.timeout)
    if args.json:
        _dump(results[0].as_dict() if args.url else [r.as_dict() for r in results])
    else:
        for result in results:
            _out(result.words())
        if not args.url:
            ready = sum(r.ready for r in results)
            _out(f"{ready} of {len(results)} devices of node {args.node!r} are ready")
    return 0 if results and all(r.ready for r in results) else 1


def _clock(args: argparse.Namespace) -> Any:
    """The hall's zone from ``--config``, else the machine's (said beside every time); None on a bad config."""
    from devices.tool_clock import tool_clock

    if not getattr(args, "config", None):
        return tool_clock(None)
    from config.loader import ConfigError, load_hall

    try:
        return tool_clock(load_hall(args.config).timezone)
    except ConfigError as err:
        _out(str(err))
        return None


def _open(url: str, kinds: dict[str, str]) -> Any:
    """The device at ``url`` named by its kind (as a hall file names it), or None with the reason said."""
    from devices.registry import open_device
    from devices.url import UrlError, parse_device_url

    try:
        kind = parse_device_url(url).kind
        if kind not in kinds:
            _out(f"{url!r} is not {' or '.join(kinds.values())} (it is a {kind})")
            return None
        return open_device(url, name=kind)
    except UrlError as err:
        _out(str(err))
        return None


async def _read_card(args: argparse.Namespace) -> int:
    from devices.card_report import card_fields, card_lines
    from devices.errors import DeviceError
    from devices.probe import one_shot

    clock = _clock(args)
    reader = _open(args.url, {"idcard": "an ID-card reader", "smartcard": "a social-security card reader"})
    if reader is None or clock is None:
        return 1
    try:
        async with reader:
            if reader.kind == "smartcard":
                from devices.smartcard.social_security import read_social_security_card

                await reader.wait_for_card(args.timeout)
                record = await read_social_security_card(reader)
            else:
                record = await reader.read(args.timeout)
    except DeviceError as err:
        reason = one_shot(str(err))
        if args.json:
            _dump({"ok": False, "reason": reason})
        else:
            _out(f"no card read: {reason}")
        return 1
    if args.json:
        _dump({"ok": True, "masked": not args.show_personal,
               **card_fields(record, args.show_personal, clock.today())})
    else:
        for line in card_lines(record, args.show_personal, clock):
            _out(line)
    return 0


async def _print_test(args: argparse.Namespace) -> int:
    from devices.print_check import print_test
    from devices.probe import state_words

    clock = _clock(args)
    printer = _open(args.url, {"ticket_printer": "a ticket printer", "certificate_printer": "an A4 printer"})
    if printer is None or clock is None:
        return 1
    async with printer:
        report = await print_test(printer, clock)
    if args.json:
        _dump(report)
    else:
        before, after = report["before"], report["after"]
        _out(f"{report['device']}")
        _out(f"before: {state_words(before['state'], before['reason'])}")
        if report["printed"]:
            _out(f"printed at {report['printed_at']}: {report['reason']}")
        else:
            _out(f"NOT printed: {report['reason']}")
        _out(f"after: {state_words(after['state'], after['reason'])}")
        if report["printed"] and not clock.from_hall:
            _out(f"note: {clock.hint}")
    return 0 if report["printed"] else 1


async def _simulate(args: argparse.Namespace) -> int:
    from devices.faults import Fault
    from devices.registry import simulator_class
    from devices.url import UrlError

    try:
        cls = simulator_class(args.kind)
        faults = [Fault.parse(name) for name in args.fault]
    except (UrlError, ValueError) as err:
        _out(str(err))
        return 1
    transport = "pty" if args.pty else ("tcp" if "tcp" in cls.schemes else next(iter(cls.schemes), "tcp"))
    kwargs: dict[str, Any] = {"faults": faults}
    if args.port is not None:
        kwargs["port"] = args.port
    try:
        sim = cls(transport, **kwargs)
    except (ValueError, TypeError) as err:
        _out(f"cannot simulate {args.kind} that way: {err}")
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await sim.start()
        _out(url)
        print(f"{args.kind} simulator running; faults: {', '.join(args.fault) or 'none'}; "
              "press Ctrl-C to stop", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await sim.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        _save_tickets(sim, args.png_dir)
    print(f"{args.kind} simulator stopped", file=sys.stderr, flush=True)
    return 0


def _save_tickets(sim: Any, png_dir: str | None) -> None:
    tickets = getattr(sim, "tickets", None)
    if not png_dir or not tickets:
        return
    from devices.ticket_printer.render import save_ticket_png

    for i, ticket in enumerate(tickets, 1):
        path = save_ticket_png(ticket, Path(png_dir) / f"ticket-{i:03d}.png")
        print(f"printed ticket {i} → {path}", file=sys.stderr, flush=True)
