"""A simulated RS-485 line: any number of call pads, window displays and rating pads at addresses 1–247.

It speaks the same Modbus RTU framing and REGISTERS.md maps over a pty or loopback TCP, keeps each
device's registers, and stays silent for absent addresses (unlike pymodbus' simulator). Faults can be
aimed at one address and one function code, so a test can lose exactly the ack write of one pad.

Several ``sim+modbus+serial://NAME?address=N`` URLs in one node share one simulated line per NAME (empty
name = "default") and per event loop: the first device to open starts it, the last to close stops it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.bus485 import framing as fr
from devices.bus485 import registers as rg
from devices.faults import Fault
from devices.simulator import Simulator

log = logging.getLogger(__name__)

__all__ = ["BusSimulator", "DisplayView", "SimCallPad", "SimDevice", "SimRatingPad", "SimWindowDisplay"]


class SimDevice:
    """One device on the simulated line: registers, event FIFO, and the firmware's reactions."""

    kind: ClassVar[rg.DeviceKind]
    block_size: ClassVar[int] = 1

    def __init__(self, address: int, firmware: int = 0x0102) -> None:
        self.address = address
        self.firmware = firmware
        self.holding = [0] * (rg.COMMAND_BLOCK + self.block_size)
        self.reboot()
        self.writes_applied = 0  # command blocks applied (a retried frame with the same write_seq is not)
        self.reported: Counter[int] = Counter()  # how often each event seq was shown to the master
        self.duplicate_next_ack = False

    def reboot(self) -> None:
        """Power cycle: new session, empty FIFO, blank command block (the master must restore it)."""
        self.session = random.randint(1, 0xFFFF)
        self.status_bits = rg.StatusBits.ALIVE
        self.last_write_seq = 0
        self.fifo: deque[tuple[int, int, int]] = deque()
        self._seq = 0
        self.holding[:] = [0] * len(self.holding)

    # ---- events -----------------------------------------------------------------------------------
    def push(self, code: int, arg: int = 0) -> int:
        """Queue an event with a fresh seq; a full FIFO drops its oldest event, as a ring buffer does."""
        self._seq = rg.next_seq(self._seq)
        if len(self.fifo) >= rg.FIFO_CAPACITY:
            self.fifo.popleft()
        self.fifo.append((self._seq, code, arg))
        return self._seq

    def ack(self, seq: int) -> None:
        """Drop events up to and including ``seq``; an unknown seq (already dropped) changes nothing."""
        if all(event[0] != seq for event in self.fifo):
            return
        while self.fifo:
            event = self.fifo.popleft()
            if event[0] == seq:
                if self.duplicate_next_ack:  # firmware bug played by DUPLICATE_EVENT: the event comes back
                    self.duplicate_next_ack = False
                    self.fifo.appendleft(event)
                return

    # ---- registers --------------------------------------------------------------------------------
    def input_registers(self) -> list[int]:
        regs = [0] * (rg.EVENTS + rg.EVENT_SIZE * rg.FIFO_CAPACITY)
        regs[0:4] = [self.kind.value, self.firmware, rg.PROTOCOL_VERSION, rg.FIFO_CAPACITY]
        regs[rg.STATUS_BITS] = int(self.status_bits)
        regs[rg.SESSION] = self.session
        regs[rg.LAST_WRITE_SEQ] = self.last_write_seq
        regs[rg.EVENT_COUNT] = len(self.fifo)
        for i, event in enumerate(self.fifo):
            regs[rg.EVENTS + rg.EVENT_SIZE * i: rg.EVENTS + rg.EVENT_SIZE * (i + 1)] = list(event)
        return regs

    def read(self, request: fr.Request) -> list[int] | int:
        """Registers for a read, or an exception code (02 for a range outside the map)."""
        regs = self.input_registers() if request.function == fr.READ_INPUT else self.holding
        end = request.start + request.count
        if end > len(regs):
            return 0x02
        if request.function == fr.READ_INPUT and request.start <= rg.EVENTS < end:
            for seq in {event[0] for event in self.fifo}:
                self.reported[seq] += 1
        return regs[request.start:end]

    def write(self, start: int, values: tuple[int, ...]) -> int | None:
        """Apply a write; an exception code when it touches registers outside the map or values out of range."""
        end = start + len(values)
        if start == rg.ACK_SEQ and end == 1:
            self.ack(values[0])
            return None
        if start != rg.COMMAND_BLOCK or end > len(self.holding):
            return 0x02
        block = list(values) + self.holding[end:]
        if not self.valid(block):
            return 0x03
        if block[0] == self.last_write_seq:  # a retried frame: already applied, do it not twice
            return None
        self.holding[start:] = block
        self.last_write_seq = block[0]
        self.writes_applied += 1
        self.apply(block)
        return None

    def valid(self, block: list[int]) -> bool:
        return True

    def apply(self, block: list[int]) -> None:
        """What the firmware does with a new command block (beep, start a timer …)."""


class SimCallPad(SimDevice):
    kind = rg.DeviceKind.CALLPAD
    block_size = rg.CallPadBlock.SIZE

    def __init__(self, address: int, firmware: int = 0x0102) -> None:
        super().__init__(address, firmware)
        self.beeps_played = 0

    def valid(self, block: list[int]) -> bool:
        return block[rg.CallPadBlock.LEDS] < 8 and block[rg.CallPadBlock.BEEPS] <= 5 \
            and block[rg.CallPadBlock.LINE.offset] <= rg.CallPadBlock.LINE.max_bytes

    def apply(self, block: list[int]) -> None:
        self.beeps_played += block[rg.CallPadBlock.BEEPS]

    @property
    def line(self) -> str:
        fld = rg.CallPadBlock.LINE
        return rg.decode_text(self.holding[rg.COMMAND_BLOCK + fld.offset:], fld)

    @property
    def leds(self) -> rg.Led:
        return rg.Led(self.holding[rg.COMMAND_BLOCK + rg.CallPadBlock.LEDS])


@dataclass(frozen=True)
class DisplayView:
    """What a window display shows now, decoded, for tests and people."""

    number: str
    text: str
    state: rg.WindowState
    mode: rg.DisplayMode
    brightness: int


class SimWindowDisplay(SimDevice):
    kind = rg.DeviceKind.WINDOW_DISPLAY
    block_size = rg.DisplayBlock.SIZE

    def valid(self, block: list[int]) -> bool:
        b = rg.DisplayBlock
        return (block[b.MODE] in set(rg.DisplayMode) and block[b.BRIGHTNESS] <= 100
                and block[b.STATE] in set(rg.WindowState) and block[b.NUMBER.offset] <= b.NUMBER.max_bytes
                and block[b.TEXT.offset] <= b.TEXT.max_bytes)

    def view(self) -> DisplayView:
        b, regs = rg.DisplayBlock, self.holding[rg.COMMAND_BLOCK:]
        return DisplayView(rg.decode_text(regs[b.NUMBER.offset:], b.NUMBER),
                           rg.decode_text(regs[b.TEXT.offset:], b.TEXT), rg.WindowState(regs[b.STATE]),
                           rg.DisplayMode(regs[b.MODE]), regs[b.BRIGHTNESS])


class SimRatingPad(SimDevice):
    kind = rg.DeviceKind.RATING_PAD
    block_size = rg.RatingBlock.SIZE

    def __init__(self, address: int, firmware: int = 0x0102) -> None:
        super().__init__(address, firmware)
        self._timer: asyncio.TimerHandle | None = None

    def valid(self, block: list[int]) -> bool:
        b = rg.RatingBlock
        return (block[b.MODE] in set(rg.RatingMode) and block[b.LAMP] in set(rg.Lamp) and block[b.TIMEOUT] <= 600
                and block[b.TICKET.offset] <= b.TICKET.max_bytes and block[b.STAFF.offset] <= b.STAFF.max_bytes)

    def _set(self, mode: rg.RatingMode, lamp: rg.Lamp) -> None:
        self.holding[rg.COMMAND_BLOCK + rg.RatingBlock.MODE] = mode
        self.holding[rg.COMMAND_BLOCK + rg.RatingBlock.LAMP] = lamp

    def apply(self, block: list[int]) -> None:
        self.cancel_timer()
        timeout_s = block[rg.RatingBlock.TIMEOUT]
        if block[rg.RatingBlock.MODE] == rg.RatingMode.INVITING and timeout_s:
            self._timer = asyncio.get_running_loop().call_later(timeout_s, self.expire)

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def rate(self, level: int) -> int | None:
        """A citizen presses a key; only an inviting pad takes it, and only once (one rating per matter)."""
        if not 1 <= level <= 5:
            raise ValueError("a rating level is 1 (非常不满意) .. 5 (非常满意)")
        if self.mode is not rg.RatingMode.INVITING:
            return None
        self.cancel_timer()
        self._set(rg.RatingMode.IDLE, rg.Lamp.OFF)
        return self.push(level)

    def expire(self) -> int | None:
        """The invitation ran out with no key pressed: a no-rating event, and the pad goes idle."""
        self._timer = None
        if self.mode is not rg.RatingMode.INVITING:
            return None
        self._set(rg.RatingMode.IDLE, rg.Lamp.OFF)
        return self.push(rg.RATING_TIMEOUT)

    @property
    def mode(self) -> rg.RatingMode:
        return rg.RatingMode(self.holding[rg.COMMAND_BLOCK + rg.RatingBlock.MODE])

    @property
    def lamp(self) -> rg.Lamp:
        return rg.Lamp(self.holding[rg.COMMAND_BLOCK + rg.RatingBlock.LAMP])

    @property
    def invitation(self) -> tuple[str, str, int]:
        b, regs = rg.RatingBlock, self.holding[rg.COMMAND_BLOCK:]
        return rg.decode_text(regs[b.TICKET.offset:], b.TICKET), rg.decode_text(regs[b.STAFF.offset:], b.STAFF), \
            regs[b.TIMEOUT]


DEVICE_TYPES: dict[str, type[SimDevice]] = {
    "callpad": SimCallPad, "window_display": SimWindowDisplay, "rating_pad": SimRatingPad,
}

_SHARED: dict[tuple[int, str, str], BusSimulator] = {}


class BusSimulator(Simulator):
    """The line and its devices; absent addresses stay silent; faults per address and function."""

    kind = "bus485"
    schemes: ClassVar[dict[str, str]] = {"pty": "modbus+serial", "tcp": "modbus+tcp"}
    stale_delay_s = 0.3  # how late a SLOW device answers (beyond any sane master timeout)

    def __init__(self, transport: str = "pty", *, devices: dict[int, str] | None = None,
                 faults: Iterable[Fault] = (), port: int = 0, realtime: bool = False) -> None:
        super().__init__(transport, faults=faults, port=port, realtime=realtime)
        self.devices: dict[int, SimDevice] = {}
        chosen = {1: "callpad", 2: "window_display", 3: "rating_pad"} if devices is None else devices
        for address, kind in chosen.items():
            self.add(address, kind)
        self._parser = fr.RequestParser()
        self._aimed: dict[tuple[int, int | None], Counter[Fault]] = {}
        self._aimed_forever: set[tuple[int, int | None, Fault]] = set()
        self._users = 0
        self._shared_key: tuple[int, str, str] | None = None
        self.requests: Counter[int] = Counter()  # requests seen per address, silent ones included

    @classmethod
    def shared(cls, name: str, transport: str = "pty", realtime: bool = False) -> BusSimulator:
        """The one simulated line called ``name`` in this event loop, created empty on first use."""
        key = (id(asyncio.get_running_loop()), name or "default", transport)
        sim = _SHARED.get(key)
        if sim is None:
            sim = _SHARED[key] = cls(transport, devices={}, realtime=realtime)
            sim._shared_key = key
        return sim

    def add(self, address: int, kind: str = "callpad") -> SimDevice:
        """Put a device of ``kind`` at ``address`` (keeps an existing one of the same kind)."""
        if not 1 <= address <= 247:
            raise ValueError(f"bus address {address} is outside 1..247")
        if kind not in DEVICE_TYPES:
            raise ValueError(f"unknown bus device kind {kind!r}; choose from {', '.join(DEVICE_TYPES)}")
        existing = self.devices.get(address)
        if existing is not None and isinstance(existing, DEVICE_TYPES[kind]):
            return existing
        self.devices[address] = DEVICE_TYPES[kind](address)
        return self.devices[address]

    # ---- lifecycle (shared: counted) ---------------------------------------------------------------
    async def start(self) -> str:
        self._users += 1
        if self._users == 1:
            await super().start()
        return self.url

    async def stop(self) -> None:
        if self._users == 0:
            return
        self._users -= 1
        if self._users:
            return
        for device in self.devices.values():
            if isinstance(device, SimRatingPad):
                device.cancel_timer()
        if self._shared_key is not None:
            _SHARED.pop(self._shared_key, None)
        await super().stop()

    # ---- what tests do -----------------------------------------------------------------------------
    def _device(self, address: int, kind: type[SimDevice]) -> Any:
        device = self.devices.get(address)
        if not isinstance(device, kind):
            raise ValueError(f"no simulated {kind.kind.words} at address {address}")
        return device

    def press(self, address: int, key: rg.Key | str, arg: int = 0) -> int:
        """Staff press a call pad key; returns the event's seq."""
        code = rg.Key[key.upper()] if isinstance(key, str) else rg.Key(key)
        return self._device(address, SimCallPad).push(code, arg)

    def rate(self, address: int, level: int) -> int | None:
        """A citizen presses a rating key; None when the pad was not inviting (the press is ignored)."""
        return self._device(address, SimRatingPad).rate(level)

    def display(self, address: int) -> DisplayView:
        """What the window display at ``address`` shows now."""
        return self._device(address, SimWindowDisplay).view()

    def inject(self, fault: Fault, times: int | None = None, *, address: int | None = None,
               function: int | None = None) -> None:
        """As Simulator.inject; ``address``/``function`` aim the fault at one device and one request kind."""
        if address is None:
            super().inject(fault, times)
        elif times is None:
            self._aimed_forever.add((address, function, fault))
        else:
            self._aimed.setdefault((address, function), Counter())[fault] += times

    def clear(self, fault: Fault | None = None) -> None:
        super().clear(fault)
        if fault is None:
            self._aimed.clear()
            self._aimed_forever.clear()
        else:
            for counter in self._aimed.values():
                counter.pop(fault, None)
            self._aimed_forever = {a for a in self._aimed_forever if a[2] is not fault}

    def _on(self, fault: Fault, address: int, function: int) -> bool:
        for key in ((address, function), (address, None)):
            if (*key, fault) in self._aimed_forever:
                return True
            counter = self._aimed.get(key)
            if counter and counter[fault] > 0:
                counter[fault] -= 1
                return True
        return self.active(fault)

    # ---- wire -------------------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        for request in self._parser.feed(data):
            self._serve(request)

    def _serve(self, request: fr.Request | fr.BadRequest) -> None:
        address, function = request.address, request.function
        self.requests[address] += 1
        device = self.devices.get(address)
        if address == 0 and isinstance(request, fr.Request) and request.function in fr.FUNCTIONS[2:]:
            for dev in self.devices.values():  # broadcast: every device applies, none answers
                dev.write(request.start, request.values)
            return
        if device is None:
            return  # nobody at this address: silence, as on a real line
        if self._on(Fault.UNPLUG, address, function):
            asyncio.get_running_loop().create_task(self.unplug())
            return
        if self._on(Fault.SILENT, address, function):
            return  # the frame never reached the device: not applied, no answer
        if isinstance(request, fr.BadRequest):
            self._answer(address, function, fr.exception_reply(address, function, request.code))
            return
        if self._on(Fault.EXCEPTION_REPLY, address, function):
            code = 0x02 if function in (fr.READ_HOLDING, fr.READ_INPUT) else 0x03
            self._answer(address, function, fr.exception_reply(address, function, code))
            return
        if function in (fr.READ_HOLDING, fr.READ_INPUT):
            result = device.read(request)
            reply = fr.exception_reply(address, function, result) if isinstance(result, int) \
                else fr.read_reply(address, function, result)
        else:
            if function == fr.WRITE_SINGLE and request.start == rg.ACK_SEQ and self._on(
                    Fault.DUPLICATE_EVENT, address, function):
                device.duplicate_next_ack = True
            refused = device.write(request.start, request.values)
            if refused is not None:
                reply = fr.exception_reply(address, function, refused)
            elif function == fr.WRITE_SINGLE:
                reply = fr.write_single_reply(address, request.start, request.values[0])
            else:
                reply = fr.write_multiple_reply(address, request.start, request.count)
        self._answer(address, function, reply)

    def _answer(self, address: int, function: int, reply: bytes) -> None:
        if self._on(Fault.TRUNCATED, address, function):
            reply = reply[:len(reply) // 2]
        if self._on(Fault.BAD_CHECKSUM, address, function):
            reply = reply[:-1] + bytes((reply[-1] ^ 0x5A,))
        if self._on(Fault.LEADING_GARBAGE, address, function):
            reply = b"\xff\x00" + reply
        if self._on(Fault.WRONG_ADDRESS, address, function):
            other = address % 247 + 1  # a late answer from the neighbour, CRC-valid, arriving first
            reply = fr.read_reply(other, fr.READ_INPUT, [rg.StatusBits.ALIVE, 1, 0]) + reply
        delay_s = self.wire_time_s(len(reply)) + (0.00175 if self.realtime else 0.0)
        if self._on(Fault.SLOW, address, function):
            delay_s += self.stale_delay_s
        if delay_s > 0:
            self.later(delay_s, reply)
        else:
            self.send(reply)
