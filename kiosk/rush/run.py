"""``servicehall hall --rush N``: a scripted, reproducible morning played on the whole hall.

What ``--speed X`` scales: every wait of the script (arrival gaps, the walk to the window, handling times,
the pause before a rating) is divided by X. The hall itself is not sped up: the server's clock runs at real
speed (from a working day's opening, kiosk/hall_clock.py), devices answer at their own pace, the speaker says
each call at talking speed. So the summary reports waits both as measured (real seconds on the server's
clock) and scaled (× X: what the same morning would have meant at its simulated pace).

The rush ends when every citizen has left the kiosks and every number they took was finished (or a bound
passed); then the staff stop calling, the summary is collected from the server and the files are written.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.model import Hall, Node, NodeRole
from config.secrets import holder_secret
from devices.idcard.record import parse_text_block
from devices.state import DeviceState
from kiosk.flows.holder import holder_key, mask_name
from kiosk.hall import BothViews, HallOptions, RunningHall, serve_hall
from kiosk.hall_clock import CLOCK_ENV
from kiosk.node import NodeSettings, NodeView
from kiosk.rush import outputs
from kiosk.rush.citizens import KioskDesk, Outcome, RushView, visit
from kiosk.rush.deck import RushDeck, make_deck
from kiosk.rush.faults import FAULTS, FaultRecord, play_faults
from kiosk.rush.plan import Citizen, Kind, RushPlan, make_plan, parse_mix
from kiosk.rush.staff import StaffTally, WindowDesk, work_window
from kiosk.rush.summary import collect, get_json, in_words, write_json
from kiosk.server_client import Answer, ServerClient

__all__ = ["RushSettings", "run_rush", "rush_options"]

log = logging.getLogger(__name__)

DEMO_PIN = "123456"  # the samples' staff PIN (config holds only its hash)
DRAIN_BOUND_S = 120.0  # real seconds the staff may take after the last arrival beyond the planned work
READY_TIMEOUT_S = 60.0


class RushSettings:
    """The plan, the faults to play, where the summary goes."""

    def __init__(self, plan: RushPlan, faults: list[str], summary_json: Path | None, pin: str = DEMO_PIN) -> None:
        self.plan = plan
        self.faults = faults
        self.summary_json = summary_json
        self.pin = pin


def rush_options(hall: Hall, args: argparse.Namespace) -> tuple[HallOptions, RushSettings]:
    """The hall's options and the rush's settings from the command line; ValueError in words when wrong."""
    faults = [f.strip() for f in args.faults.split(",") if f.strip()] if args.faults else []
    if faults == ["all"]:
        faults = list(FAULTS)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)} (or all)")
    plan = make_plan(hall, args.rush, seed=args.seed, speed=args.speed, mix=parse_mix(args.mix))
    speaker = "espeak://" if any(n.devices.get("speaker", "").startswith("silent") for n in hall.nodes) else None
    options = HallOptions(Path(args.config), Path(args.data), Path(args.out), args.host, args.port,
                          relays=True, speaker_url=speaker,
                          settings=NodeSettings(heartbeat_s=5.0, supervise_s=1.0, outbox_retry_s=0.5))
    return options, RushSettings(plan, faults, Path(args.summary_json) if args.summary_json else None)


async def run_rush(hall: Hall, options: HallOptions, settings: RushSettings,
                   ui_for: Callable[[Node], NodeView | None] = lambda node: None) -> int:
    """Run the hall with the rush as its job; 0 when the rush ran to its end. A kiosk with a touch UI
    (``ui_for``) shows the rush's citizens' screens there too."""
    views: dict[str, RushView] = {}

    def view_for(node: Node) -> NodeView | None:
        ui = ui_for(node)
        if node.role is NodeRole.KIOSK:
            views[node.name] = RushView()
            return views[node.name] if ui is None else BothViews(views[node.name], ui)
        return ui

    def job(running: RunningHall) -> asyncio.Task[object]:
        return asyncio.create_task(Rush(running, settings, views).run())

    return await serve_hall(hall, options, job=job, view_for=view_for)


class Rush:
    """One rush on a running hall."""

    def __init__(self, running: RunningHall, settings: RushSettings, views: dict[str, RushView]) -> None:
        self.running = running
        self.hall = running.hall
        self.settings = settings
        self.plan = settings.plan
        self.speed = settings.plan.speed
        zone = zoneinfo.ZoneInfo(self.hall.timezone)
        self.zone = zone
        self.deck: RushDeck = make_deck(self.plan, dt.datetime.now(zone).date())
        self.kiosks = [KioskDesk(name, running.runtimes[name], views[name]) for name in views
                       if name in running.runtimes]
        self.windows = self._window_desks()
        self.tally = StaffTally()
        self.numbers: dict[str, Citizen] = {}
        self.outcomes: list[Outcome] = []
        self.faults: list[FaultRecord] = []
        self.codes: dict[int, str] = {}
        self.served: set[int] = set()
        self.last_refusal: dict[int, str] = {}
        self.calls = outputs.CallRecorder(running)
        self.closing = asyncio.Event()
        self._departments = {s.code: s.department for s in self.hall.services}

    def _window_desks(self) -> list[WindowDesk]:
        desks = []
        taken: set[str] = set()
        for runtime in self.running.runtimes.values():
            node = runtime.node
            if node.role is not NodeRole.WINDOW or node.window is None or "callpad" not in runtime.devices:
                continue
            own = [s.id for s in self.hall.staff if node.window in s.windows and s.id not in taken]
            floaters = [s.id for s in self.hall.staff if not s.windows and s.id not in taken]
            staff = (own or floaters or [""])[0]
            if not staff:
                log.warning("window %d has no staff member who may sign in there; it stays closed", node.window)
                continue
            taken.add(staff)
            desks.append(WindowDesk(node.window, staff, runtime))
        return desks

    def manager(self) -> ServerClient:
        token = next((n.demo_token for n in self.hall.nodes if n.role is NodeRole.MANAGER and n.demo_token), None)
        if token is None:
            raise RuntimeError("the rush needs a manager node with a demo token to read the figures")
        return ServerClient(self.running.server_url, token)

    async def run(self) -> int:
        began = time.monotonic()
        await self._ready()
        async with self.manager() as client:
            await self._book(client)
            since = (await get_json(client, "/api/v1/health", {}))["last_event_id"]
        for desk in self.windows:
            desk.count_invitations(self.tally)
        rate_tasks: set[asyncio.Task[None]] = set()
        staff = [asyncio.create_task(work_window(desk, self.settings.pin, self.speed, self.numbers,
                                                 self._handling, self.tally, self.closing, rate_tasks))
                 for desk in self.windows]
        span_real = self.plan.span_s / self.speed
        faults = asyncio.create_task(play_faults(self.settings.faults, self.running, span_real, self.speed,
                                                 self.faults, self._met))
        try:
            await self._arrivals()
            await faults
            await self._drain()
        finally:
            self.closing.set()
            _, pending = await asyncio.wait(staff, timeout=60)
            for task in pending:
                task.cancel()
            faults.cancel()
            await asyncio.gather(*staff, faults, *rate_tasks, return_exceptions=True)
        real_s = time.monotonic() - began
        async with self.manager() as client:
            summary = await collect(client, self.speed, since)
        summary["rush"] = self._rush_part(real_s)
        summary["faults"] = [f.as_json() for f in self.faults]
        summary["invitations"] = dict(self.tally.invitations)
        summary["files"] = await outputs.write_all(self.running, self.calls, summary)
        if self.settings.summary_json is not None:
            write_json(summary, self.settings.summary_json)
        print(in_words(summary), flush=True)
        return 0

    def _rush_part(self, real_s: float) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for citizen in self.plan.citizens:
            kinds[citizen.kind.value] = kinds.get(citizen.kind.value, 0) + 1
        return {"citizens": len(self.plan.citizens), "seed": self.plan.seed, "speed": self.speed,
                "real_s": round(real_s, 1), "kinds": kinds, "out": str(self.running.options.out),
                "numbers_taken": len(self.numbers),
                "turned_away": sum(1 for c in self.plan.citizens if c.index not in self.served),
                "turned_away_why": dict(Counter(f"{self.plan.citizens[i].kind.value}: {why}"
                                                for i, why in self.last_refusal.items() if i not in self.served)),
                "printer_down_seen": sum(1 for o in self.outcomes if o.printer_down),
                "print_failed_seen": sum(1 for o in self.outcomes if o.print_failed),
                "card_retries": sum(o.card_retries for o in self.outcomes),
                "certificates_taken": sum(1 for o in self.outcomes if o.certificate),
                "appointments_booked": len(self.codes),
                "staff": {"windows_signed_in": sorted(self.tally.signed_in), "called": len(self.tally.called),
                          "finished": sum(self.tally.finished.values()), "rated": sum(self.tally.rated.values()),
                          "empty_calls": self.tally.empty_calls},
                "clock_shift_s": float(os.environ.get(CLOCK_ENV, "0"))}

    def _met(self, fault: str) -> int:
        """How many citizens met ``fault`` so far (for the faults that a citizen must meet to be seen)."""
        if fault == "paper_out":
            return sum(1 for o in self.outcomes if o.printer_down or o.print_failed)
        return 0

    def _handling(self, number: str) -> float:
        prefix = number[:1]
        service = next((s for s in self.hall.services if s.prefix == prefix), None)
        return (service.expected_minutes if service else 10) * 60.0

    async def _ready(self) -> None:
        """Every kiosk at its start screen and every window terminal's bus devices ready."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        while loop.time() < deadline:
            kiosks = all(desk.view.shown for desk in self.kiosks)
            windows = all(device.last_status.state is DeviceState.READY
                          for desk in self.windows for device in desk.runtime.devices.values())
            if kiosks and windows:
                return
            await asyncio.sleep(0.1)
        log.warning("not every node was ready within %.0f s; the rush starts anyway", READY_TIMEOUT_S)

    async def _book(self, client: ServerClient) -> None:
        """Appointments booked beforehand (as the online channel would): each a slot the citizen reaches in time."""
        now = time.time()  # the hall's clock: the morning's, when the rush runs on it
        secret = holder_secret(self.hall)
        for citizen in self.plan.citizens:
            if citizen.kind is not Kind.APPOINTMENT or citizen.card is None:
                continue
            service = self.hall.service(citizen.service)
            assert service is not None
            booking = service.booking
            arrive = now + citizen.arrive_s / self.speed  # on the server's clock, which runs at real speed
            number, name = _number_and_name(self.deck, citizen.card)
            for start in _slots_to_check_in(arrive, booking.slot_minutes, booking.checkin_early_minutes,
                                            booking.checkin_late_minutes):
                body = {"service": citizen.service, "holder_key": holder_key(number, secret),
                        "holder_masked": mask_name(name),
                        "slot_start": dt.datetime.fromtimestamp(start, self.zone).strftime("%Y-%m-%dT%H:%M")}
                result = await client.request("POST", "/api/v1/appointments", body,
                                              f"rush-book-{citizen.index}-{start}")
                if isinstance(result, Answer) and result.ok and isinstance(result.body.get("code"), str):
                    self.codes[citizen.index] = result.body["code"]
                    break
                log.info("rush: booking for citizen %d refused (%s)", citizen.index, result.words())

    async def _arrivals(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        visits = []
        for citizen in self.plan.citizens:
            await asyncio.sleep(max(0.0, began + citizen.arrive_s / self.speed - loop.time()))
            visits.append(asyncio.create_task(self._citizen(citizen)))
        await asyncio.gather(*visits)

    async def _citizen(self, citizen: Citizen) -> None:
        tried: list[str] = []
        failed_print = False
        for _ in range(len(self.kiosks)):
            desk = min((d for d in self.kiosks if d.name not in tried),
                       key=lambda d: (d.lock.locked(), self.kiosks.index(d)))
            tried.append(desk.name)
            async with desk.lock:
                outcome = await visit(desk, citizen, self.deck, self._departments.__getitem__,
                                      self.codes.get(citizen.index, ""), reprint=failed_print)
            failed_print = outcome.print_failed
            self.outcomes.append(outcome)
            self.last_refusal[citizen.index] = outcome.refused or " > ".join(outcome.screens[-4:])
            if outcome.number or outcome.certificate:
                self.served.add(citizen.index)
            if outcome.number:
                self.numbers[outcome.number] = citizen
            if outcome.number or outcome.certificate or not (outcome.printer_down or outcome.print_failed):
                return  # served, or turned away for a reason another kiosk would give too

    async def _drain(self) -> None:
        """Wait until every number taken was finished, or the bound passed (a refused call, a lost ticket)."""
        work = sum(c.handling_s for c in self.plan.citizens) / max(1, len(self.windows)) / self.speed
        loop = asyncio.get_running_loop()
        deadline = loop.time() + work + DRAIN_BOUND_S
        while loop.time() < deadline:
            if all(number in self.tally.finished for number in self.numbers):
                return
            await asyncio.sleep(0.2)
        left = [n for n in self.numbers if n not in self.tally.finished]
        log.warning("rush: %d numbers were not finished when the bound passed: %s", len(left), ", ".join(left[:20]))


def _slots_to_check_in(arrive: float, slot_minutes: float, early_minutes: float, late_minutes: float,
                       ) -> list[float]:
    """Slot starts (the current and the next) whose check-in window holds ``arrive`` with a minute to spare."""
    slot_s, spare_s = slot_minutes * 60, 60.0
    current = arrive // slot_s * slot_s
    return [start for start in (current, current + slot_s)
            if arrive - start <= late_minutes * 60 - spare_s and start - arrive <= early_minutes * 60 - spare_s]


def _number_and_name(deck: RushDeck, index: int) -> tuple[str, str]:
    """The ID number and name on a rush card (read back from its text block, as the reader would)."""
    record = parse_text_block(deck.card(index).text)
    return record.id_number, record.name

