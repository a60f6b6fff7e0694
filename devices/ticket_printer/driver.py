"""The ticket printer driver: ``escpos+tcp://HOST[:PORT]`` and ``escpos+serial:///dev/…`` (and ``sim+``).

Why bytes go through our own ``devices/transport/streams.py`` and not python-escpos' ``Network`` or
``Serial`` classes: those block (so they would need a worker thread per printer), open lazily on first
use, read status with ``recv(16)`` / ``read(16)`` that waits a whole timeout (60 s by default on
``Network``) and report silence as "paper ok"; and their send path returns normally when a powered-off
network printer never received the job (python-escpos issue #253). With one asyncio stream per printer the
status queries share the connection with the ticket, each DLE EOT reply is read as exactly one byte with
our own short timeout, and nothing blocks the event loop. python-escpos still generates the ticket's
command bytes (``ticket.py``), which is what it does well.

Every ticket is bracketed by status: refused before sending when the printer reports a fault or does not
answer; after sending, a fault or silence raises ``PrintNotConfirmed`` so the kiosk marks the ticket
"printed? unknown" and offers a reprint instead of losing it silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.base import Device
from devices.errors import DeviceDisconnected, DeviceError, DeviceStatusError, DeviceTimeout, ProtocolError
from devices.faults import Fault
from devices.simulator import Simulator
from devices.state import DeviceState, DeviceStatus, PaperState
from devices.ticket_printer import status as dle
from devices.ticket_printer.ticket import DEFAULT_PROFILE, TicketLayout, build_test_ticket, build_ticket
from devices.transport.streams import ByteStream, open_serial, open_tcp
from devices.url import DeviceAddress

log = logging.getLogger(__name__)

__all__ = ["PrintNotConfirmed", "PrintRefused", "PrintResult", "TicketPrinter"]

STATUS_REQUEST = b"".join(dle.request(q) for q in dle.ALL_QUERIES)


class PrintRefused(DeviceStatusError):
    """The printer was not ready, so nothing was sent: the ticket certainly did not print."""

    def __init__(self, message: str, status: DeviceStatus) -> None:
        super().__init__(message)
        self.status = status


class PrintNotConfirmed(DeviceStatusError):
    """The ticket was sent but the printer then reported a fault or said nothing: printed? unknown."""

    def __init__(self, message: str, bytes_sent: int, status: DeviceStatus | None) -> None:
        super().__init__(message)
        self.bytes_sent = bytes_sent
        self.status = status


@dataclass(frozen=True)
class PrintResult:
    """A confirmed print: how many bytes went out and what the printer said before and after."""

    what: str
    bytes_sent: int
    before: DeviceStatus
    after: DeviceStatus
    duration_s: float


class TicketPrinter(Device):
    """An 80 mm ESC/POS ticket printer over TCP (port 9100) or a serial line."""

    kind: ClassVar[str] = "ticket_printer"
    default_timeout_s: ClassVar[float] = 1.0  # per status byte and for connecting; printers answer in ms
    default_baudrate: ClassVar[int] = 9600

    def __init__(self, address: DeviceAddress | str, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self.profile: str = self.address.option("profile", DEFAULT_PROFILE)
        self._stream: ByteStream | None = None

    # ---- link ------------------------------------------------------------------------------------
    async def _connect(self, target: DeviceAddress) -> None:
        if target.real_scheme == "escpos+tcp":
            self._stream = await open_tcp(target.host or "", target.port or 9100, self.timeout_s)
        else:
            self._stream = await open_serial(target.path or "", self.baudrate, self.timeout_s)

    async def _disconnect(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()

    @property
    def baudrate(self) -> int:
        return int(self.address.option("baudrate", self.default_baudrate))

    def _wire_s(self, nbytes: int) -> float:
        """Time the bytes need on a serial line (a TCP link is treated as instant)."""
        if self.target.real_scheme != "escpos+serial":
            return 0.0
        return nbytes * 10 / self.baudrate

    def _make_simulator(self, faults: list[Fault]) -> Simulator:
        from devices.ticket_printer.simulator import PrinterSimulator

        transport = "tcp" if self.address.real_scheme == "escpos+tcp" else "pty"
        return PrinterSimulator(transport, faults=faults, realtime=self.address.option("realtime", True))

    # ---- status ----------------------------------------------------------------------------------
    async def _query(self, extra_wait_s: float = 0.0) -> dle.PrinterCondition:
        """Send DLE EOT 1..4 and read one byte each; stop at the first silence; garbage raises."""
        try:
            return await self._query_once(extra_wait_s)
        except DeviceDisconnected as err:
            raise DeviceDisconnected(f"{self.describe()}: link lost ({err}); check power and cable") from err

    async def _query_once(self, extra_wait_s: float) -> dle.PrinterCondition:
        stream = self._stream
        if stream is None:
            raise DeviceDisconnected(f"{self.describe()} is not connected")
        await stream.discard_input()
        await stream.write(STATUS_REQUEST, timeout_s=self.timeout_s + extra_wait_s)
        replies: dict[int, int] = {}
        for i, query in enumerate(dle.ALL_QUERIES):
            wait = self.timeout_s + (extra_wait_s if i == 0 else 0.0)
            try:
                byte = await stream.read_exactly(1, wait)
            except DeviceTimeout:
                log.debug("%s: no answer to DLE EOT %d in %.2f s", self.describe(), int(query), wait)
                break
            replies[int(query)] = dle.parse_reply(query, byte)
        return dle.combine(replies)

    def _condition_status(self, condition: dle.PrinterCondition) -> DeviceStatus:
        status = condition.as_status()
        if not condition.answered:
            return DeviceStatus(DeviceState.FAULT, f"{self.describe()} gave no answer to status queries "
                                f"within {self.timeout_s:g} s; check power and cable", details=status.details)
        return status

    def _garbled_status(self, err: ProtocolError) -> DeviceStatus:
        return DeviceStatus(DeviceState.FAULT, f"{self.describe()} answered with garbage ({err}); "
                            "check the baud rate and the cable",
                            details={"paper": PaperState.UNKNOWN.value, "cover": "unknown", "cutter": "unknown",
                                     "online": "unknown"})

    async def _status_now(self, extra_wait_s: float = 0.0) -> DeviceStatus:
        try:
            return self._condition_status(await self._query(extra_wait_s))
        except ProtocolError as err:
            if self._stream is not None:
                await self._stream.discard_input(0.05)
            return self._garbled_status(err)

    async def _read_status(self) -> DeviceStatus:
        return await self._status_now()

    async def open(self) -> DeviceStatus:
        return _with_unknowns(await super().open())

    async def status(self) -> DeviceStatus:
        """The printer's condition now; a lost link or a dead printer is reported, never raised."""
        return _with_unknowns(await super().status())

    # ---- printing --------------------------------------------------------------------------------
    async def print_ticket(self, layout: TicketLayout) -> PrintResult:
        """Print one ticket; raises PrintRefused (nothing sent) or PrintNotConfirmed (printed? unknown)."""
        data = build_ticket(layout, self.profile)
        return await self._print_job(data, f"ticket {layout.number}")

    async def print_test(self, when: dt.datetime | None = None) -> PrintResult:
        """Print the technician's self-test page, with the same status checks as a ticket; ``when`` (aware, in
        the hall's zone) is the time it prints, now in the machine's zone by default."""
        return await self._print_job(build_test_ticket(self.profile, when), "test page")

    async def _print_job(self, data: bytes, what: str) -> PrintResult:
        async def job() -> PrintResult:
            started = time.perf_counter()
            before = await self._status_now()
            self._report(before)
            if before.state is DeviceState.FAULT:
                raise PrintRefused(f"{self.describe()} did not print {what}: {before.reason}", before)
            stream = self._stream
            assert stream is not None
            wire = self._wire_s(len(data))
            try:
                await stream.write(data, timeout_s=5.0 + 2 * wire)
                after = await self._status_now(extra_wait_s=wire)
            except DeviceError as err:
                if isinstance(err, DeviceDisconnected):
                    await self._lost(err)
                raise PrintNotConfirmed(
                    f"{self.describe()} was sent {what} ({len(data)} bytes) but the link failed ({err}); "
                    "it may not have printed: mark it 'printed? unknown' and offer a reprint",
                    len(data), None) from err
            self._report(after)
            if after.state is DeviceState.FAULT:
                raise PrintNotConfirmed(
                    f"{self.describe()} was sent {what} ({len(data)} bytes) but then reported: {after.reason}; "
                    "it may not have printed: mark it 'printed? unknown' and offer a reprint", len(data), after)
            log.debug("%s printed %s (%d bytes)", self.describe(), what, len(data))
            return PrintResult(what, len(data), before, after, time.perf_counter() - started)

        return await self.run(job)


def _with_unknowns(status: DeviceStatus) -> DeviceStatus:
    """A printer we cannot reach still says paper "unknown" (never leaves it out, never says ok)."""
    if "paper" in status.details:
        return status
    unknown = {"paper": PaperState.UNKNOWN.value, "cover": "unknown", "cutter": "unknown"}
    return DeviceStatus(status.state, status.reason, status.since, {**unknown, **status.details})
