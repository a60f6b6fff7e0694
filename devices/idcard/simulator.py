"""A SAM ID-card reader that speaks the real serial frames over a pty or loopback TCP, with named faults.

It parses host frames with the same framing rules as the driver (answering SW3 10/11 to a bad checksum or
length and 21 to an unknown command), keeps the find → select → read states, holds one card from a deck
of invented people, and in realtime mode sends its answers at the pace of the configured baud rate.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Coroutine, Iterable
from typing import Any

from devices.faults import Fault
from devices.idcard import cards
from devices.idcard.cards import SimCard
from devices.idcard.protocol import (
    BAUD_COMMANDS,
    ChecksumError,
    FrameParser,
    LengthError,
    Request,
    build_response,
    parse_request,
)
from devices.simulator import Simulator

log = logging.getLogger(__name__)

__all__ = ["IdCardSimulator"]

OK, FOUND = 0x90, 0x9F
#: bytes delivered per chunk in realtime mode, as a USB-serial bridge hands them over
CHUNK_BYTES = 32
SLOW_EXTRA_S = 0.4
LEADING_GARBAGE = b"\x00\xff\xaa\xaa\x96\x55\x69"
_BAUD_BY_PARA = {cmd.para: rate for rate, cmd in BAUD_COMMANDS.items()}


class IdCardSimulator(Simulator):
    """The module and its card field; ``place_card``/``remove_card`` play the citizen."""

    kind = "idcard"
    schemes = {"pty": "sam+serial", "tcp": "sam+tcp"}  # noqa: RUF012 (mirrors the base's ClassVar)

    def __init__(self, transport: str = "tcp", *, faults: Iterable[Fault] = (), port: int = 0,
                 realtime: bool = True, deck: str = "default", baudrate: int = 115200,
                 find_after_read: bool = True, pull_reply: str = "truncate",
                 sam_id: tuple[int, int, int, int, int] = (5, 1, 20240101, 1234567, 89012345)) -> None:
        super().__init__(transport, faults=faults, port=port, realtime=realtime)
        if pull_reply not in ("truncate", "status"):
            raise ValueError("pull_reply must be 'truncate' (cut the answer) or 'status' (answer SW3 41)")
        self.deck = cards.deck(deck)
        self.card: SimCard | None = self.deck[0] if self.deck else None
        self.baudrate = baudrate
        #: after a good read with the card left in place, does find keep answering 9F (True) or 80 (False)?
        self.find_after_read = find_after_read
        self.pull_reply = pull_reply
        self.sam_id = struct.pack("<HHIII", *sam_id)
        self._parser = FrameParser(min_length=3)
        self._found = self._selected = self._read_done = False
        self._busy_until = 0.0
        self.bytes_in = 0
        self.bytes_out = 0
        self.requests: list[Request] = []

    # ---- the citizen ---------------------------------------------------------------------------------
    def place_card(self, card: SimCard | int = 0) -> SimCard:
        """Put a card (or the deck's card number ``card``) on the reader."""
        chosen = self.deck[card] if isinstance(card, int) else card
        self.card = chosen
        self._found = self._selected = self._read_done = False
        log.debug("idcard simulator: card placed (%s)", chosen.label)
        return chosen

    def remove_card(self) -> None:
        self.card = None
        self._found = self._selected = self._read_done = False

    # ---- wire ----------------------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self.bytes_in += len(data)
        chunk = data
        while True:
            try:
                body = self._parser.feed(chunk)
            except ChecksumError:
                self._reply(build_response(0x10), 10)
                chunk = b""
                continue
            except LengthError:
                self._reply(build_response(0x11), 10)
                chunk = b""
                continue
            if body is None:
                return
            chunk = b""
            request = parse_request(body)
            self.requests.append(request)
            self._handle(request, len(body) + 8)

    def _handle(self, request: Request, frame_bytes: int) -> None:
        if self.active(Fault.UNPLUG):
            self._spawn(self.unplug())
            return
        if self.active(Fault.SILENT):
            return
        if self.active(Fault.SAM_FAILURE):
            reply = build_response(0x60)
        elif request.cmd not in (0x10, 0x12) and self.active(Fault.NOT_AUTHORISED):
            reply = build_response(0x66)
        else:
            reply = self._respond(request)
        log.debug("idcard simulator: %02X %02X -> SW3 %02X", request.cmd, request.para,
                  reply[9] if len(reply) > 9 else -1)
        self._reply(reply, frame_bytes)
        if request.cmd == 0x60 and request.para in _BAUD_BY_PARA:
            self.baudrate = _BAUD_BY_PARA[request.para]  # the answer went at the old rate

    def _respond(self, request: Request) -> bytes:
        key = (request.cmd, request.para)
        if key == (0x10, 0xFF):
            self._found = self._selected = False
            return build_response(OK)
        if key == (0x11, 0xFF):
            return build_response(OK)
        if key == (0x12, 0xFF):
            return build_response(OK, self.sam_id)
        if key == (0x20, 0x01):
            gone = self._read_done and not self.find_after_read
            if self.card is None or gone or self.active(Fault.NO_CARD):
                self._found = self._selected = False
                return build_response(0x80)
            self._found, self._selected = True, False
            return build_response(FOUND, bytes(4))
        if key == (0x20, 0x02):
            if not self._found or self.card is None:
                return build_response(0x81)
            self._selected = True
            return build_response(OK, bytes(8))
        if key in ((0x30, 0x01), (0x30, 0x10)):
            return self._read(request.para == 0x10)
        if key == (0x30, 0x03):
            if not self._selected or self.card is None:
                return build_response(0x41)
            if self.card.extra_address is None:
                return build_response(0x91)
            return build_response(OK, self.card.extra_address[:35].ljust(35).encode("utf-16-le"))
        if request.cmd == 0x60 and request.para in _BAUD_BY_PARA:
            return build_response(OK)
        return build_response(0x21)

    def _read(self, with_fingerprint: bool) -> bytes:
        card = self.card
        if not self._selected or card is None:
            return build_response(0x41)
        if with_fingerprint:
            head = struct.pack(">HHH", 256, 1024, len(card.fingerprint))
            full = build_response(OK, head + card.text + card.photo + card.fingerprint)
        else:
            full = build_response(OK, struct.pack(">HH", 256, 1024) + card.text + card.photo)
        if self.active(Fault.CARD_PULLED):
            self._found = self._selected = False
            return build_response(0x41) if self.pull_reply == "status" else full[:len(full) * 2 // 5]
        self._read_done = True
        return full

    def _reply(self, reply: bytes, frame_bytes: int) -> None:
        """Apply the line faults, then send at the pace of the baud rate (or at once when not realtime)."""
        data = bytearray(reply)
        if self.active(Fault.BAD_CHECKSUM):
            data[-1] ^= 0xFF
        if self.active(Fault.GARBLED) and len(data) >= 11:
            for pos in {7, (len(data) + 5) // 2, len(data) - 2}:  # an odd number of flips always breaks the XOR
                data[pos] ^= 0x55
        if self.active(Fault.TRUNCATED):
            del data[max(8, len(data) // 2):]
        if self.active(Fault.LEADING_GARBAGE):
            data[:0] = LEADING_GARBAGE
        delay = SLOW_EXTRA_S if self.active(Fault.SLOW) else 0.0
        self.bytes_out += len(data)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self.realtime and not delay and self._busy_until <= now:
            self.send(bytes(data))
            return
        start = max(now + self.wire_time_s(frame_bytes, self.baudrate), self._busy_until) + delay
        self._busy_until = start + self.wire_time_s(len(data), self.baudrate)
        self._spawn(self._paced(bytes(data), start, self.baudrate))

    async def _paced(self, data: bytes, start: float, baudrate: int) -> None:
        loop = asyncio.get_running_loop()
        for offset in range(0, len(data), CHUNK_BYTES):
            chunk = data[offset:offset + CHUNK_BYTES]
            due = start + self.wire_time_s(offset + len(chunk), baudrate)
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.send(chunk)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
