"""ID-card tap to printed ticket through the real kiosk node, and the node's idle CPU.

The kiosk node runs in this process (NodeRuntime + KioskNode, real drivers) against the real queue server in
a child process, the SAM reader simulator on a pty at 115200 baud in realtime mode (answers paced like the
line) and the ESC/POS simulator on a pty (``--printer serial``) or on loopback TCP (``--printer tcp``, a network
printer). One tap is timed from the card landing on the reader to the number on screen; the citizen's touch of a
service is given the moment the screen asks for it (think time excluded). The printer's paper feed and cutter
are not simulated: a real 80 mm printer adds its mechanics (roughly half a second for a ticket).
Each tap's time is split by step: card read (placed → IdCardRead reached the flow), printer status check,
server (POST /api/v1/tickets), print (status, send, status), and the rest (our software between steps).

Baseline in the same run, on the same simulators and server: the drivers and a bare HTTP client called
directly one after the other (read(), status(), POST, print_ticket()), i.e. the same work without the node.

Run: .venv/bin/python benchmarks/bench_kiosk_tap.py [--taps N] [--idle-s S] [--printer serial|tcp]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import zoneinfo
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from bench_server_support import machine, percentile

from config.loader import load_hall
from devices.idcard.driver import IdCardReader
from devices.idcard.simulator import IdCardSimulator
from devices.ticket_printer.driver import TicketPrinter
from devices.ticket_printer.simulator import PrinterSimulator
from kiosk.flows.effects import Effect, PrintTicket, ReadPrinterStatus, RequestTicket, Screen, Show, TicketPrint
from kiosk.flows.events import Button, Event, IdCardRead, Touch
from kiosk.kiosk_node import KioskNode, ticket_layout
from kiosk.node import NodeRuntime, NodeSettings
from tests.integration.server_support import ALLDAY_HALL, ServerProcess, manager
from tests.support.kiosk_rig import RecordingView
from tests.support.waiting import until

SERVICE = "A01"
STEPS = {ReadPrinterStatus: "printer status", RequestTicket: "server", PrintTicket: "print"}


class TimedKiosk(KioskNode):
    """The kiosk behaviour, with the time spent in each effect and when each card read reached the flow."""

    def __init__(self, runtime: NodeRuntime) -> None:
        super().__init__(runtime)
        self.spent: dict[str, float] = defaultdict(float)
        self.read_at = 0.0
        self.done_at = 0.0
        self.done = asyncio.Event()

    async def feed(self, event: Event) -> None:
        if isinstance(event, IdCardRead):
            self.read_at = time.perf_counter()
        await super().feed(event)

    async def perform(self, effect: Effect) -> Event | None:
        """Timed; the citizen's touch is given the moment the screen asks for it (no polling delay)."""
        if isinstance(effect, Show) and effect.screen is Screen.START and effect.holder_masked:
            self.inbox.put_nowait(Touch(Button.SERVICE, SERVICE))
        if isinstance(effect, Show) and effect.screen is Screen.NUMBER:
            self.done_at = time.perf_counter()
            self.done.set()
        start = time.perf_counter()
        try:
            return await super().perform(effect)
        finally:
            step = STEPS.get(type(effect))
            if step is not None:
                self.spent[step] += time.perf_counter() - start


def hall_text(printer_url: str) -> str:
    text = ALLDAY_HALL.read_text(encoding="utf-8")
    head = 'name = "kiosk-1"\nrole = "kiosk"\ntoken = "demo-kiosk-1"\n'
    devices = (f'[nodes.devices]\nidcard = "sim+sam+serial://?baudrate=115200"\n'
               f'ticket_printer = "{printer_url}"\n')
    return text.replace(head, head + devices)


async def cancel_all(session: aiohttp.ClientSession, server: ServerProcess) -> None:
    """Cancel the open tickets so the same card takes a new one next time (not timed)."""
    async with session.get(f"{server.url}/api/v1/tickets?state=waiting&limit=100") as answer:
        tickets = (await answer.json())["tickets"]
    for ticket in tickets:
        async with session.post(f"{server.url}/api/v1/tickets/{ticket['id']}/cancel", json={}) as answer:
            assert answer.status == 200, await answer.text()


async def node_taps(hall_file: Path, server: ServerProcess, data: Path, taps: int,
                    idle_s: float) -> tuple[list[dict[str, float]], float]:
    hall = load_hall(hall_file)
    node = next(n for n in hall.nodes if n.name == "kiosk-1")
    view = RecordingView()
    made: list[TimedKiosk] = []

    def behaviour(runtime: NodeRuntime) -> TimedKiosk:
        made.append(TimedKiosk(runtime))
        return made[0]

    runtime = NodeRuntime(hall, node, server=server.url, token="demo-kiosk-1", data_dir=data, view=view,
                          settings=NodeSettings(), behaviour=behaviour)
    task = asyncio.create_task(runtime.run())
    rows: list[dict[str, float]] = []
    try:
        await until(runtime.started.is_set, "the node to start")
        kiosk = made[0]
        reader = runtime.device("idcard")
        assert reader is not None and isinstance(reader.simulator, IdCardSimulator)
        sim = reader.simulator
        async with aiohttp.ClientSession(headers=manager()) as session:
            for _ in range(taps):
                await cancel_all(session, server)
                sim.remove_card()
                await until(lambda: kiosk.id_watch.armed, "the reader to be seen empty")
                kiosk.spent.clear()
                kiosk.done.clear()
                placed = time.perf_counter()
                sim.place_card(0)
                await asyncio.wait_for(kiosk.done.wait(), 30)
                total = kiosk.done_at - placed
                row = {"total": total, "card read": kiosk.read_at - placed, **kiosk.spent}
                row["rest"] = total - sum(v for k, v in row.items() if k != "total")
                rows.append(row)
                await kiosk.inbox.put(Touch(Button.DONE))
            sim.remove_card()
            await until(lambda: kiosk.id_watch.armed, "the reader to be seen empty")
            await asyncio.sleep(1.0)  # let the last reports go out before measuring idle
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(idle_s)
            idle = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 30)
    return rows, idle


async def baseline_taps(hall_file: Path, server: ServerProcess, taps: int, printer_url: str) -> list[float]:
    """The same work without the node: driver calls and a bare POST in a row."""
    hall = load_hall(hall_file)
    tz = zoneinfo.ZoneInfo(hall.timezone)
    times: list[float] = []
    async with IdCardReader("sim+sam+serial://?baudrate=115200") as reader, \
            TicketPrinter(printer_url) as printer, \
            aiohttp.ClientSession(headers={"Authorization": "Bearer demo-kiosk-2"}) as kiosk_http, \
            aiohttp.ClientSession(headers=manager()) as session:
        assert isinstance(reader.simulator, IdCardSimulator) and isinstance(printer.simulator, PrinterSimulator)
        for n in range(taps):
            await cancel_all(session, server)
            start = time.perf_counter()
            await reader.read(timeout_s=5.0)
            await printer.status()
            async with kiosk_http.post(f"{server.url}/api/v1/tickets", json={"service": SERVICE},
                                       headers={"Idempotency-Key": f"bench-{n}-{time.time()}"}) as answer:
                body: dict[str, Any] = await answer.json()
            paper = TicketPrint(body["id"], body["number"], hall.name, body["service_name"], body["ahead"], None,
                                body["issued_at"], body["status_url"])
            await printer.print_ticket(ticket_layout(paper, tz, server.url))
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=20)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--printer", choices=("serial", "tcp"), default="serial")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    printer_url = f"sim+escpos+{args.printer}://"
    with tempfile.TemporaryDirectory() as tmp:
        hall_file = Path(tmp) / "hall.toml"
        hall_file.write_text(hall_text(printer_url), encoding="utf-8")
        with ServerProcess(Path(tmp) / "data", config=hall_file) as server:
            rows, idle = asyncio.run(node_taps(hall_file, server, Path(tmp) / "node", args.taps, args.idle_s))
            base = asyncio.run(baseline_taps(hall_file, server, args.taps, printer_url))
    totals = [r["total"] for r in rows]
    print(f"machine: {machine()}; taps: {args.taps}; SAM 115200 baud, printer {printer_url}")
    print(f"tap → number on screen: median {statistics.median(totals) * 1000:.0f} ms, "
          f"p90 {percentile(totals, 90) * 1000:.0f} ms")
    for step in ("card read", "printer status", "server", "print", "rest"):
        values = [r.get(step, 0.0) for r in rows]
        share = sum(values) / sum(totals) * 100
        print(f"  {step:15s} median {statistics.median(values) * 1000:7.1f} ms  ({share:4.1f} % of the total)")
    print(f"baseline (drivers + bare POST, no node): median {statistics.median(base) * 1000:.0f} ms, "
          f"p90 {percentile(base, 90) * 1000:.0f} ms")
    print(f"node idle CPU: {idle * 100:.2f} % of one core over {args.idle_s:g} s")


if __name__ == "__main__":
    main()
