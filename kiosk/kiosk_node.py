"""The kiosk role: runs the kiosk's home dispatcher (every flow) and performs its effects with the node's devices.

The flow (kiosk/flows/home.py, or another flow module with the same initial/step) decides; this class
only does what an effect asks and feeds the outcome back as the flow's next event: the printer's status, the
server's answer to a request sent under the flow's Idempotency-Key, the print's outcome, card reads from the
polling loops, touches from ``inbox`` (the runtime's ``inputs`` queue, where the touch UI puts Touch events) and
an IdleTimeout when nobody touched the kiosk for the idle time. Every event goes through one queue and one loop,
so the flow sees one thing at a time, in order.

Printed / print_failed reports go through the node's durable outbox; a rating (and a certificate print's log)
is sent at once, since its answer matters to the flow, and waits in the outbox if the server is away. Screens
go to the node's view (the touch UI) as the flow's Show effects.

``extra_effects`` maps an effect type the class does not perform itself to its performer: the certificate
flow's effects go to a CertificateDesk (kiosk/certificate_desk.py) with the e-licence client of the hall's
``elicence_url`` and the node's ``certificate_printer``, when the kiosk has both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from config.secrets import holder_secret
from devices.certificate.driver import CertificatePrinter
from devices.errors import DeviceError
from devices.idcard.driver import IdCardReader
from devices.smartcard.driver import SmartCardReader
from devices.state import DeviceState, PaperState
from devices.ticket_printer.driver import PrintNotConfirmed, PrintRefused, TicketPrinter
from devices.ticket_printer.ticket import TicketLayout
from kiosk.card_loops import CardWatch, id_card_loop, social_security_loop
from kiosk.certificate_desk import CertificateDesk
from kiosk.elicence.client import ELicenceClient
from kiosk.flows import home
from kiosk.flows.context import KioskContext, certificates_offered, featured_services
from kiosk.flows.effects import (
    Effect,
    FetchDocuments,
    FetchTicketStatus,
    PrintCertificate,
    PrintTicket,
    RateCertificatePrint,
    ReadPrinterStatus,
    ReportCertificatePrint,
    ReportPrinted,
    ReportPrintFailed,
    RequestCheckIn,
    RequestTicket,
    Show,
    Speak,
    SubmitRating,
    TicketPrint,
    WipePersonalData,
)
from kiosk.flows.events import (
    Event,
    IdleTimeout,
    KioskHealth,
    PrintDone,
    PrinterStatusRead,
    PrintFailed,
    ServerAnswer,
    ServerUnreachable,
)
from kiosk.node import NodeRuntime
from kiosk.server_client import Result, Unreachable, as_flow_event
from kiosk.tasks import cancel_and_wait

__all__ = ["KioskNode", "ticket_layout"]

log = logging.getLogger(__name__)

#: device.state states of another kiosk's printer that still print (degraded: paper near its end)
PRINTER_WORKS = frozenset({"connected", "ready", "degraded"})

Performer = Callable[[Any], Awaitable[Event | None]]

NUMBERS_KEPT = 20_000  # numbers → ids remembered: a county hall's busiest day, several times over


class Flow(Protocol):
    """A kiosk flow module as kiosk/flows/ writes them: ``initial(ctx)`` and ``step(state, event)``."""

    def initial(self, ctx: KioskContext) -> tuple[Any, list[Effect]]: ...

    def step(self, state: Any, event: Event) -> tuple[Any, list[Effect]]: ...


def ticket_layout(paper: TicketPrint, tz: dt.tzinfo, base_url: str) -> TicketLayout:
    """The printer's layout of the flow's TicketPrint; a relative status URL is made absolute with ``base_url``."""
    url = paper.status_url
    if url.startswith("/"):
        url = base_url.rstrip("/") + url
    footer = ("补打 / reprint",) if paper.reprint else ()
    return TicketLayout(hall_name=paper.hall_name, service_name=paper.service_name, number=paper.number,
                        people_ahead=paper.people_ahead, estimated_wait_min=paper.estimated_wait_min,
                        issued_at=dt.datetime.fromtimestamp(paper.issued_at, tz), status_url=url,
                        holder_masked=paper.holder_masked or None, priority_mark=paper.priority_mark or None,
                        footer=footer)


class KioskNode:
    """The kiosk behaviour of a NodeRuntime (see kiosk/node.py ROLE_BEHAVIOURS)."""

    def __init__(self, runtime: NodeRuntime, inbox: asyncio.Queue[Event] | None = None,
                 flow: Flow = home) -> None:
        self.runtime = runtime
        hall = runtime.hall
        self.tz = zoneinfo.ZoneInfo(hall.timezone)
        certificate_printer = runtime.device("certificate_printer")
        self.library = ELicenceClient(hall.elicence_url) if certificates_offered(hall, runtime.node) else None
        self.ctx = KioskContext(hall, runtime.node.name, holder_secret(hall), secrets.token_hex(6),
                                featured=featured_services(hall), idle_reset_s=runtime.settings.idle_reset_s,
                                certificates=self.library is not None
                                and isinstance(certificate_printer, CertificatePrinter))
        self.inbox: asyncio.Queue[Event] = inbox if inbox is not None else runtime.inputs
        self.flow = flow
        self.state: Any
        self.state, first = flow.initial(self.ctx)
        self._first = first
        self.extra_effects: dict[type, Performer] = {}
        if self.library is not None and isinstance(certificate_printer, CertificatePrinter):
            desk = CertificateDesk(self.library, certificate_printer, self._send)
            for kind in (FetchDocuments, PrintCertificate, ReportCertificatePrint, RateCertificatePrint):
                self.extra_effects[kind] = desk.perform
        self.id_watch = CardWatch()
        self.ss_watch = CardWatch()

    # ------------------------------------------------------------------ inputs
    async def run(self) -> None:
        """Card loops, then the one event loop; until cancelled."""
        loops: list[asyncio.Task[None]] = []
        reader = self.runtime.device("idcard")
        if isinstance(reader, IdCardReader):
            loops.append(asyncio.create_task(id_card_loop(reader, self.inbox.put_nowait, self.today, self.id_watch)))
        ss_reader = self.runtime.device("smartcard")
        if isinstance(ss_reader, SmartCardReader):
            loops.append(asyncio.create_task(social_security_loop(ss_reader, self.inbox.put_nowait, self.today,
                                                                   self.ss_watch)))
        try:
            if self.library is not None:
                await self.library.open()
            await self._perform_all(self._first)
            while True:
                try:
                    event = await asyncio.wait_for(self.inbox.get(), self.ctx.idle_reset_s)
                except TimeoutError:
                    event = IdleTimeout()
                await self.feed(event)
        finally:
            await cancel_and_wait(loops)  # not cancel + gather: a card loop can lose a cancel on 3.11 (kiosk/tasks.py)
            if self.library is not None:
                await self.library.close()

    def today(self) -> dt.date:
        return dt.datetime.now(self.tz).date()

    async def feed(self, event: Event) -> None:
        """One event into the flow, then its effects performed; outcomes are fed back before the next input."""
        pending: list[Event] = [event]
        while pending:
            self.state, effects = self.flow.step(self.state, pending.pop(0))
            pending += await self._perform_all(effects)

    async def _perform_all(self, effects: list[Effect]) -> list[Event]:
        outcomes: list[Event] = []
        for effect in effects:
            outcome = await self.perform(effect)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    @property
    def numbers(self) -> dict[str, str]:
        """Printed number → ticket id, from the stream (for status by number), kept in the node's memory since
        a restart does not replay the stream from 0."""
        return self.runtime.memory.section("numbers")

    async def on_event(self, event: dict[str, Any]) -> None:
        """The stream: which ticket id each printed number is (kiosks may not list tickets), and which other
        kiosks' printers work, so a kiosk that cannot print names one that can."""
        data = event.get("data") or {}
        if event.get("type") == "ticket.issued":
            if isinstance(data.get("number"), str) and isinstance(data.get("ticket"), str):
                numbers = self.numbers
                numbers.pop(data["number"], None)  # re-inserted last: the oldest numbers go first
                numbers[data["number"]] = data["ticket"]
                while len(numbers) > NUMBERS_KEPT:
                    del numbers[next(iter(numbers))]
                self.runtime.memory.touched()
        elif event.get("type") == "device.state" and data.get("kind") == "ticket_printer":
            node = data.get("node")
            if isinstance(node, str) and node != self.runtime.node.name:
                await self.feed(KioskHealth(node, working=data.get("state") in PRINTER_WORKS))

    # ------------------------------------------------------------------ effects
    async def perform(self, effect: Effect) -> Event | None:
        """Do one effect; the event it gives back to the flow, if any."""
        if isinstance(effect, Show):
            self.runtime.view.show(effect)
            return None
        if isinstance(effect, Speak):
            self.runtime.view.speak(effect.words)
            return None
        if isinstance(effect, ReadPrinterStatus):
            return await self._printer_status()
        if isinstance(effect, RequestTicket):
            return self._answered(await self.runtime.client.issue_ticket(effect.body, effect.key), effect.key)
        if isinstance(effect, RequestCheckIn):
            return self._answered(await self.runtime.client.check_in(effect.body, effect.key), effect.key)
        if isinstance(effect, PrintTicket):
            return await self._print(effect.ticket)
        if isinstance(effect, ReportPrinted):
            await self._keep("printed", f"/api/v1/tickets/{effect.ticket_id}/printed", {}, effect.key)
            return None
        if isinstance(effect, ReportPrintFailed):
            await self._keep("print_failed", f"/api/v1/tickets/{effect.ticket_id}/print_failed",
                             {"reason": effect.reason[:200]}, effect.key)
            return None
        if isinstance(effect, SubmitRating):
            return await self._rate(effect)
        if isinstance(effect, FetchTicketStatus):
            return await self._status_by_number(effect)
        if isinstance(effect, WipePersonalData):
            log.debug("session over: personal data wiped")  # the node keeps none beyond the flow's state
            return None
        performer = self.extra_effects.get(type(effect))
        if performer is not None:
            return await performer(effect)
        log.warning("kiosk %s cannot perform %s", self.ctx.node, type(effect).__name__)
        return None

    def _answered(self, result: Result, key: str) -> ServerAnswer | ServerUnreachable:
        if isinstance(result, Unreachable):
            self.runtime.note_unreachable()
        else:
            self.runtime.note_answer()
        return as_flow_event(result, key)

    async def _keep(self, kind: str, path: str, body: dict[str, Any], key: str) -> None:
        outbox = self.runtime.outbox
        assert outbox is not None
        await outbox.put(kind, "POST", path, body, key)

    async def _printer_status(self) -> PrinterStatusRead:
        printer = self.runtime.device("ticket_printer")
        if not isinstance(printer, TicketPrinter):
            return PrinterStatusRead(DeviceState.DISCONNECTED, PaperState.UNKNOWN, "this kiosk has no ticket printer")
        status = await printer.status()
        try:
            paper = PaperState(status.details.get("paper", PaperState.UNKNOWN.value))
        except ValueError:
            paper = PaperState.UNKNOWN
        return PrinterStatusRead(status.state, paper, status.reason)

    async def _print(self, paper: TicketPrint) -> Event:
        printer = self.runtime.device("ticket_printer")
        if not isinstance(printer, TicketPrinter):
            return PrintFailed(paper.ticket_id, "this kiosk has no ticket printer")
        try:
            await printer.print_ticket(ticket_layout(paper, self.tz, self.runtime.hall.public_url
                                                     or self.runtime.client.server))
        except DeviceError as err:
            log.warning("kiosk %s: ticket %s did not print: %s", self.ctx.node, paper.number, err)
            return PrintFailed(paper.ticket_id, _short_reason(err))
        return PrintDone(paper.ticket_id)

    async def _rate(self, effect: SubmitRating) -> Event:
        return await self._send(f"/api/v1/tickets/{effect.ticket_id}/rating", effect.body, effect.key)

    async def _send(self, path: str, body: Mapping[str, Any], key: str) -> ServerAnswer | ServerUnreachable:
        """POST now, since the flow wants the answer (a print's id to rate); kept in the outbox under the same
        key when the server is away, so it still arrives, once. Also the certificate desk's Reporter."""
        result = await self.runtime.client.request("POST", path, body, key)
        if isinstance(result, Unreachable):
            kind = "rating" if path.endswith("/rating") else "certificate_print"
            await self._keep(kind, path, dict(body), key)
        return self._answered(result, key)

    async def _status_by_number(self, effect: FetchTicketStatus) -> Event:
        ticket_id = self.numbers.get(effect.number.upper())
        if ticket_id is None:
            return ServerAnswer(effect.key, 404, {"error": {
                "code": "ticket_not_found", "message_zh": f"今天没有 {effect.number} 号",
                "message_en": f"there is no ticket {effect.number} today"}})
        return self._answered(await self.runtime.client.ticket(ticket_id), effect.key)


def _short_reason(err: DeviceError) -> str:
    """The printer's fault for the server's print_failed reason: the status words, not the whole remedy text."""
    status = err.status if isinstance(err, PrintRefused | PrintNotConfirmed) else None
    if status is not None and status.reason:
        return status.reason[:200]
    return str(err)[:200]
