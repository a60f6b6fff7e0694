"""The ID-card reader driver: SAM frames over a serial port or a serial-server TCP socket.

URLs: ``sam+serial:///dev/ttyUSB0?baudrate=115200``, ``sam+tcp://HOST:PORT``, and ``sim+sam+serial://`` /
``sim+sam+tcp://`` for the simulator (``?deck=NAME&fault=F,…&realtime=0``). A kiosk calls ``read()``, which
polls find → select → read until a card is read or the time is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any

from devices.base import Device
from devices.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from devices.faults import Fault
from devices.idcard.protocol import (
    BAUD_COMMANDS,
    COMMANDS,
    CardPulled,
    CardSelectFailed,
    Command,
    FrameError,
    HostFrameRejected,
    NoCardOnReader,
    NoContent,
    Response,
    ResponseParser,
    SamStatusError,
    check_status,
    split_read_data,
)
from devices.idcard.record import IdCardRecord, parse_text_block
from devices.simulator import Simulator
from devices.state import DeviceState, DeviceStatus
from devices.transport.streams import ByteStream, open_serial, open_tcp
from devices.url import DeviceAddress

log = logging.getLogger(__name__)

__all__ = ["IdCardReader"]


class IdCardReader(Device):
    """A SAM (GA/T 467) ID-card reader; every method raises a DeviceError whose words say what to do."""

    kind = "idcard"
    default_timeout_s = 3.0
    #: a garbled answer or a frame the module says it received garbled is asked again this many times
    retries = 2
    #: pause between find attempts while waiting for a card
    poll_interval_s = 0.1
    #: silence inside a started answer longer than this means the answer was cut short
    byte_gap_s = 0.3

    def __init__(self, address: DeviceAddress | str, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self._stream: ByteStream | None = None
        #: the exchange under way (its answer so far), so a read cut by its deadline can say what it cut
        self._in_flight: tuple[Command, ResponseParser | None] | None = None
        self.baudrate = int(self.address.option("baudrate", 115200))

    # ---- link ----------------------------------------------------------------------------------------
    async def _connect(self, target: DeviceAddress) -> None:
        if target.real_scheme == "sam+serial":
            assert target.path is not None
            self._stream = await open_serial(target.path, self.baudrate, self.timeout_s)
        else:
            assert target.host is not None and target.port is not None
            self._stream = await open_tcp(target.host, target.port, self.timeout_s)

    async def _disconnect(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.close()

    def _make_simulator(self, faults: list[Fault]) -> Simulator:
        from devices.idcard.simulator import IdCardSimulator

        transport = "pty" if self.address.real_scheme == "sam+serial" else "tcp"
        try:
            return IdCardSimulator(transport, faults=faults, deck=self.address.option("deck", "default"),
                                   realtime=self.address.option("realtime", True), baudrate=self.baudrate)
        except ValueError as err:
            raise DeviceError(f"{self.describe()}: {err}") from err

    async def _read_status(self) -> DeviceStatus:
        details = {"baudrate": self.baudrate}
        try:
            await self._transact(COMMANDS["status"])
        except SamStatusError as err:
            return DeviceStatus(DeviceState.FAULT, str(err), details={**details, "sw3": err.code})
        except DeviceTimeout:
            return DeviceStatus(DeviceState.FAULT, f"{self.describe()} gave no answer to the SAM status query in "
                                f"{self._timeout(COMMANDS['status']):g} s; check the cable, the power and the "
                                f"baud rate ({self.baudrate})", details=details)
        except FrameError as err:
            return DeviceStatus(DeviceState.FAULT, str(err), details=details)
        return DeviceStatus(DeviceState.READY, "security module ready", details=details)

    # ---- one command ---------------------------------------------------------------------------------
    def _timeout(self, command: Command) -> float:
        return float(self.address.option("timeout", command.timeout_s))

    async def _transact(self, command: Command) -> Response:
        """Send one command and return its checked answer; garbled answers are asked again."""
        stream = self._stream
        if stream is None:
            raise DeviceDisconnected(f"{self.describe()} is not connected")
        last: DeviceError | None = None
        for attempt in range(1 + self.retries):
            self._in_flight = (command, None)
            await stream.discard_input()
            await stream.write(command.frame)
            try:
                return check_status(await self._read_response(stream, command), command, self.describe())
            except (FrameError, HostFrameRejected) as err:
                log.debug("%s: %s answer %d garbled: %s", self.describe(), command.name, attempt + 1, err)
                last = err
        raise FrameError(f"{self.describe()}: {1 + self.retries} garbled answers to {command.name} ({last}); "
                         "check the cable, its earthing and the baud rate") from last

    async def _read_response(self, stream: ByteStream, command: Command) -> Response:
        parser = ResponseParser()
        self._in_flight = (command, parser)
        loop = asyncio.get_running_loop()
        timeout_s = self._timeout(command)
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            wait = min(remaining, self.byte_gap_s) if parser.in_frame else remaining
            try:
                if wait <= 0:
                    raise DeviceTimeout("deadline passed")
                chunk = await stream.read_some(wait, limit=65536)
            except DeviceTimeout as err:
                if parser.in_frame and command.is_card_read:
                    raise CardPulled(f"{self.describe()}: {command.name}: the answer stopped after "
                                     f"{parser.buffered} bytes: card pulled mid-read; ask the citizen to hold "
                                     "the card still on the reader", code=0x41) from err
                if parser.in_frame:
                    raise FrameError(f"the answer stopped after {parser.buffered} bytes") from err
                raise DeviceTimeout(f"{self.describe()} gave no answer to {command.name} in {timeout_s:g} s; "
                                    f"check the cable, the power and the baud rate ({self.baudrate})") from err
            response = parser.feed_response(chunk)
            while response is not None:
                if command.accepts(response):
                    if parser.discarded:
                        log.debug("%s: skipped %d stray bytes", self.describe(), parser.discarded)
                    return response
                log.debug("%s: dropped a stale answer %r", self.describe(), response)
                response = parser.feed_response(b"")

    async def _command(self, name: str) -> Response:
        command = COMMANDS[name]
        return await self.run(lambda: self._transact(command))

    # ---- the reader's verbs --------------------------------------------------------------------------
    async def reset_sam(self) -> None:
        """Reset the security module (10 FF)."""
        await self._command("reset")

    async def sam_id(self) -> str:
        """The module's number as printed on it: AA.BB-CCCCCCCC-DDDDDDDDDD-EEEEEEEEEE."""
        data = (await self._command("sam_id")).data
        a, b, c, d, e = struct.unpack("<HHIII", data)
        return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"

    async def find_card(self) -> bytes:
        """Is a card in the field? Returns its 4-byte IIN; NoCardOnReader (SW3 80) when none is."""
        return (await self._command("find")).data

    async def select_card(self) -> bytes:
        """Select the found card; returns its 8-byte serial; CardSelectFailed (SW3 81) otherwise."""
        return (await self._command("select")).data

    async def read_card(self, fingerprint: bool = False) -> IdCardRecord:
        """Read the selected card's text and photo (30 01), or with its fingerprint data (30 10)."""
        response = await self._command("read_fp" if fingerprint else "read")
        return _record(response, fingerprint)

    async def read_extra_address(self) -> str | None:
        """The card's extra (latest) address (30 03), or None when it has none (SW3 91)."""
        try:
            response = await self._command("extra_address")
        except NoContent:
            return None
        return _extra_address(response)

    async def set_baudrate(self, baudrate: int) -> None:
        """Switch the module's UART (60 xx) and our port; over TCP the serial server must follow by hand."""
        command = BAUD_COMMANDS.get(baudrate)
        if command is None:
            raise DeviceError(f"{self.describe()}: the module supports {sorted(BAUD_COMMANDS)} baud, not {baudrate}")

        async def switch() -> None:
            try:
                await self._transact(command)
            except (DeviceTimeout, FrameError):  # the answer's rate is not documented; switch anyway
                log.info("%s: no clean answer to %s; switching anyway", self.describe(), command.name)
            self.baudrate = baudrate
            if self.target.real_scheme == "sam+serial":
                await self._disconnect()
                await self._connect(self.target)
            else:
                log.warning("%s: set the serial server's rate to %d baud too", self.describe(), baudrate)

        await self.run(switch)

    async def read(self, timeout_s: float = 10.0, *, fingerprint: bool = False,
                   extra_address: bool = False) -> IdCardRecord:
        """Wait up to ``timeout_s`` for a card and read it: find → select → read, polled.

        The deadline covers the whole read: each exchange (and the wait for the reader) is cut when the
        time is up, so a slow or silent reader costs ``timeout_s``, not ``timeout_s`` plus a command's
        own timeout. Tolerates a reader whose find answers 9F or 80 after a read while the card stays; an
        answer cut short (card pulled) is retried while time remains, then reported as CardPulled.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pulled: CardPulled | None = None
        answered = False  # the reader answered a poll ("no card", select failed): it is there, only no card

        async def attempt() -> IdCardRecord:
            await self._transact(COMMANDS["find"])
            await self._transact(COMMANDS["select"])
            record = _record(await self._transact(COMMANDS["read_fp" if fingerprint else "read"]), fingerprint)
            if extra_address:
                with contextlib.suppress(NoContent):
                    record = record.with_extra_address(_extra_address(
                        await self._transact(COMMANDS["extra_address"])))
            return record

        while True:
            self._in_flight = None
            try:
                async with asyncio.timeout_at(deadline):
                    record: IdCardRecord = await self.run(attempt)
            except CardPulled as err:
                pulled = err
            except (NoCardOnReader, CardSelectFailed):
                answered = True
            except TimeoutError as err:  # the read's deadline, not the reader's own timeout: no device fault
                raise self._cut(timeout_s, pulled, answered) from err
            else:
                log.info("%s read a card: %s", self.describe(), record)
                return record
            if loop.time() + self.poll_interval_s >= deadline:
                raise pulled or self._no_card(timeout_s)
            await asyncio.sleep(self.poll_interval_s)

    def _no_card(self, timeout_s: float) -> NoCardOnReader:
        return NoCardOnReader(f"{self.describe()}: no card was read within {timeout_s:g} s; ask the citizen to "
                              "place the card flat on the reader", code=0x80)

    def _cut(self, timeout_s: float, pulled: CardPulled | None, answered: bool) -> DeviceError:
        """The error for a read whose deadline cut the exchange in flight, in words that fit what was cut: a
        card pulled mid-answer, else what earlier polls said (pulled, or no card), else a reader that is silent."""
        command, parser = self._in_flight or (None, None)
        self._in_flight = None
        if command is not None and command.is_card_read and parser is not None and parser.in_frame:
            return CardPulled(f"{self.describe()}: {command.name}: the answer had come to {parser.buffered} bytes "
                              f"when the {timeout_s:g} s were up: card pulled mid-read; ask the citizen to hold "
                              "the card still on the reader", code=0x41)
        if pulled is not None:
            return pulled
        if answered:
            return self._no_card(timeout_s)
        step = command.name if command is not None else "the reader (busy or reconnecting)"
        return DeviceTimeout(f"{self.describe()}: no card was read within {timeout_s:g} s: {step} had no answer "
                             "yet when the time was up; if this repeats, check the cable, the power and the baud "
                             f"rate ({self.baudrate})")


def _record(response: Response, fingerprint: bool) -> IdCardRecord:
    text, photo, finger = split_read_data(response.data, fingerprint)
    return parse_text_block(text).with_images(photo, finger)


def _extra_address(response: Response) -> str:
    try:
        return response.data.decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError as err:
        raise FrameError("the extra address is not valid UCS-2 text; ask the citizen to place the card again") from err
