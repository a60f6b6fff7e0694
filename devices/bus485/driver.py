"""The common driver of every device on the RS-485 line, and the ``bus_device`` factory the registry names.

A BusDevice does no I/O of its own: it joins the line's poller, which calls ``bus_poll`` on its cadence.
The device reads its identity once per contact, then its status block; it turns status bits into a
DeviceStatus, events into its queue (each seq handled once, then acknowledged), and restores its last
command block when the device has rebooted. Health changes are reported on transitions only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, ClassVar

from devices.base import Device, TransitionListener
from devices.bus485 import registers as rg
from devices.bus485.framing import ModbusException, Reply, read_input, write_multiple, write_single
from devices.bus485.poller import BusPoller, acquire, release
from devices.errors import DeviceDisconnected, DeviceError, DeviceTimeout, ProtocolError
from devices.faults import Fault
from devices.simulator import Simulator
from devices.state import DeviceState, DeviceStatus
from devices.url import DeviceAddress, UrlError, parse_device_url

log = logging.getLogger(__name__)

__all__ = ["BusDevice", "bus_device"]

KINDS = {"callpad": "devices.bus485.callpad:CallPad",
         "window_display": "devices.bus485.window_display:WindowDisplay",
         "rating_pad": "devices.bus485.rating_pad:RatingPad"}
_CLOSED = object()


class BusDevice(Device):
    """One addressed device on a shared line; subclasses set the kind and handle events/command blocks."""

    kind: ClassVar[str] = "bus485"
    device_kind: ClassVar[rg.DeviceKind]
    kind_option: ClassVar[str]
    default_timeout_s: ClassVar[float] = 0.05
    poll_count: ClassVar[int] = 3  # status bits, session, last write_seq (pads add the count and one event)
    restore_after_reboot: ClassVar[bool] = True
    write_retries: ClassVar[int] = 2

    def __init__(self, address: DeviceAddress | str, *, name: str | None = None,
                 listener: TransitionListener | None = None, poll_interval_s: float | None = None,
                 down_after: int = 3, down_poll_s: float = 1.0, queue_size: int = 256) -> None:
        super().__init__(address, name=name, listener=listener)
        self.bus_address: int = int(self.address.option("address"))
        self.poll_interval_s = float(poll_interval_s or self.address.option("poll", 0.1))
        self.down_after = down_after
        self.down_poll_s = down_poll_s
        self._poller: BusPoller | None = None
        self._health = DeviceStatus(DeviceState.CONNECTED, "not polled yet")
        self._contact = asyncio.Event()
        self._identified = False
        self._down = False
        self._session: int | None = None
        self._handled: deque[int] = deque(maxlen=64)  # seqs already acted on, in this device session
        self._write_seq = 0
        self._block: list[int] | None = None  # the last command block we wrote (without write_seq)
        self._block_pending = False  # asked for while the device was down: send when it answers
        self._events: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self.firmware: str | None = None
        self.duplicates_dropped = 0

    def describe(self) -> str:
        return f"{self.device_kind.words} {self.name!r} at address {self.bus_address} on {self.address.url}"

    # ---- Device primitives -----------------------------------------------------------------------
    @property
    def target(self) -> DeviceAddress:
        if self.simulator is not None:
            return parse_device_url(f"{self.simulator.url}?address={self.bus_address}")
        return self.address

    def _make_simulator(self, faults: list[Fault]) -> Simulator:
        from devices.bus485.simulator import BusSimulator

        sim = BusSimulator.shared(self.address.path or "", "pty", realtime=bool(self.address.option("realtime", False)))
        sim.add(self.bus_address, self.kind_option)
        for fault in faults:
            sim.inject(fault, address=self.bus_address)
        return sim

    async def _connect(self, target: DeviceAddress) -> None:
        self._contact.clear()
        self._poller = await acquire(target, self)

    async def _disconnect(self) -> None:
        if self._poller is not None:
            poller, self._poller = self._poller, None
            await release(poller, self)

    async def _read_status(self) -> DeviceStatus:
        """The poller's view; right after open, wait (bounded) for the first poll to finish."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._contact.wait(), 2.5)
        return self._health

    async def close(self) -> None:
        await super().close()
        while self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(_CLOSED)

    # ---- called by the poller --------------------------------------------------------------------
    def bus_contacted(self) -> None:
        self._contact.set()

    def bus_missed(self, err: DeviceError, misses: int) -> None:
        if misses >= self.down_after and not self._down:
            self._down, self._identified = True, False
            self._set_health(DeviceStatus(DeviceState.DISCONNECTED, (
                f"{self.describe()} gave no answer to {misses} polls ({err}); "
                "check its power, its address switch and the RS-485 A/B wiring")))
        else:
            log.debug("%s: missed poll %d: %s", self.describe(), misses, err)

    def bus_refused(self, err: ModbusException) -> None:
        self._down = False
        self._set_health(DeviceStatus(DeviceState.FAULT, f"{self.describe()}: {err}"))

    def bus_lost(self, reason: str) -> None:
        self._down, self._identified = True, False
        self._set_health(DeviceStatus(DeviceState.DISCONNECTED, f"{self.describe()}: {reason}"))

    def _set_health(self, status: DeviceStatus) -> None:
        self._health = status
        if not self._closed:
            self._report(status)

    async def bus_poll(self, bus: BusPoller) -> None:
        """One poll: identity if not yet known, then the status block, events and restores."""
        if not self._identified and not await self._identify(bus):
            return
        request = read_input(self.bus_address, rg.STATUS_BLOCK, self.poll_count)
        regs = (await bus.exchange(request, self.timeout_s)).raise_for(request, self.describe()).registers
        bits, session, last_write = rg.StatusBits(regs[0] & 0x0F), regs[1], regs[2]
        rebooted = session != self._session
        if rebooted:
            if self._session is not None:
                log.info("%s restarted (session %04X → %04X)", self.describe(), self._session, session)
            self._session = session
            self._handled.clear()  # a new session numbers its events afresh
        self._down = False
        self._set_health(self._health_from(bits))
        lost = self.restore_after_reboot and last_write != self._write_seq
        if self._block is not None and (self._block_pending or lost):
            await self._send_block(bus, self._block if self._block_pending else self._block_for_restore(self._block))
            self._block_pending = False
        await self._after_status(bus, regs)

    async def _identify(self, bus: BusPoller) -> bool:
        request = read_input(self.bus_address, rg.IDENTITY, rg.IDENTITY_COUNT)
        kind, firmware, protocol, _capacity = (await bus.exchange(request, self.timeout_s)).raise_for(
            request, self.describe()).registers
        self.firmware = f"{firmware >> 8}.{firmware & 0xFF}"
        if kind != self.device_kind:
            found = rg.DeviceKind(kind).words if kind in set(rg.DeviceKind) else f"an unknown device (kind {kind})"
            self._set_health(DeviceStatus(DeviceState.FAULT, (
                f"{self.describe()}: the device at this address says it is {found}; "
                "check the address switch or the device= option in the config")))
            return False
        if protocol >> 8 != rg.PROTOCOL_VERSION >> 8:
            self._set_health(DeviceStatus(DeviceState.FAULT, (
                f"{self.describe()} speaks register map version {protocol >> 8}.{protocol & 0xFF}; "
                f"this node speaks {rg.PROTOCOL_VERSION >> 8}.x; update the device firmware or servicehall")))
            return False
        self._identified = True
        return True

    def _health_from(self, bits: rg.StatusBits) -> DeviceStatus:
        details = {"address": self.bus_address, "firmware": self.firmware}
        if rg.StatusBits.LED_FAILURE in bits:
            return DeviceStatus(DeviceState.FAULT, f"{self.describe()} reports an LED module failure; "
                                "call the display's maintainer", details=details)
        if rg.StatusBits.KEY_STUCK in bits:
            return DeviceStatus(DeviceState.FAULT, f"{self.describe()} reports a stuck key; free or replace the keypad",
                                details=details)
        if rg.StatusBits.OVERHEATED in bits:
            return DeviceStatus(DeviceState.DEGRADED, f"{self.describe()} is overheated; check its ventilation",
                                details=details)
        if rg.StatusBits.ALIVE not in bits:
            return DeviceStatus(DeviceState.FAULT, f"{self.describe()} answers but its firmware is not running; "
                                "power-cycle it", details=details)
        return DeviceStatus(DeviceState.READY, "ready", details=details)

    async def _after_status(self, bus: BusPoller, regs: tuple[int, ...]) -> None:
        """Kind-specific work after a status read (events for pads)."""

    def _block_for_restore(self, block: list[int]) -> list[int]:
        return block

    # ---- events (pads) ---------------------------------------------------------------------------
    async def _take_events(self, bus: BusPoller, regs: tuple[int, ...]) -> None:
        count = regs[3]
        if not count:
            return
        events = [tuple(regs[4:4 + rg.EVENT_SIZE])]
        if count > 1:
            n = min(count, rg.FIFO_CAPACITY)
            request = read_input(self.bus_address, rg.EVENTS, rg.EVENT_SIZE * n)
            more = (await bus.exchange(request, self.timeout_s)).raise_for(request, self.describe()).registers
            events = [tuple(more[i:i + rg.EVENT_SIZE]) for i in range(0, len(more), rg.EVENT_SIZE)]
        for seq, code, arg in events:
            if seq in self._handled:
                self.duplicates_dropped += 1
                log.debug("%s re-sent event seq %d; already handled", self.describe(), seq)
                continue
            self._handled.append(seq)
            self._on_event(seq, code, arg)
        try:  # acknowledge the newest; a lost ack only means the device re-sends and we drop the seq
            await bus.exchange(write_single(self.bus_address, rg.ACK_SEQ, events[-1][0]), self.timeout_s)
        except (DeviceTimeout, ProtocolError, ModbusException) as err:
            log.debug("%s: ack of seq %d lost (%s); the device will re-send it", self.describe(), events[-1][0], err)

    def _on_event(self, seq: int, code: int, arg: int) -> None:
        raise NotImplementedError

    def _deliver(self, item: Any) -> None:
        if self._events.full():
            dropped = self._events.get_nowait()
            log.warning("%s: nobody is reading its events; dropped %r", self.describe(), dropped)
        self._events.put_nowait(item)

    async def next_event(self, timeout_s: float | None = None) -> Any:
        """The next event, waiting at most ``timeout_s``; DeviceDisconnected once the device is closed."""
        item = await asyncio.wait_for(self._events.get(), timeout_s)
        if item is _CLOSED:
            self._events.put_nowait(_CLOSED)
            raise DeviceDisconnected(f"{self.describe()} is closed")
        return item

    async def _iterate(self) -> Any:
        while True:
            item = await self._events.get()
            if item is _CLOSED:
                self._events.put_nowait(_CLOSED)
                return
            yield item

    # ---- command blocks --------------------------------------------------------------------------
    async def _send_block(self, bus: BusPoller, block: list[int]) -> None:
        self._write_seq = rg.next_seq(self._write_seq)
        request = write_multiple(self.bus_address, rg.COMMAND_BLOCK, [self._write_seq, *block])
        (await bus.exchange(request, self.timeout_s)).raise_for(request, self.describe())

    async def _write_block(self, block: list[int]) -> None:
        """Write a command block, retrying a lost frame; write_seq makes a retry harmless."""
        poller = self._poller
        if self._closed or poller is None:
            raise DeviceDisconnected(f"{self.describe()} is not open")
        self._block = block
        self._block_pending = self._down
        if self._down:
            raise DeviceDisconnected(f"{self.status_words()}; the command is kept and sent when it answers again")
        self._write_seq = rg.next_seq(self._write_seq)
        request = write_multiple(self.bus_address, rg.COMMAND_BLOCK, [self._write_seq, *block])
        last: DeviceError | None = None
        for _ in range(1 + self.write_retries):
            try:
                reply: Reply = await poller.submit(self, request)
            except (DeviceTimeout, ProtocolError) as err:
                last = err
                continue
            reply.raise_for(request, self.describe())
            return
        raise DeviceTimeout(f"{self.describe()} did not confirm {request.describe()} after "
                            f"{1 + self.write_retries} tries ({last}); check its power and the RS-485 wiring") from last

    def status_words(self) -> str:
        return self._health.reason if self._health.reason != "ready" else self.describe()


def bus_device(address: DeviceAddress | str, *, name: str | None = None, **kwargs: Any) -> BusDevice:
    """Build the right device class for the URL's ``device=`` option (callpad by default)."""
    import importlib

    parsed = parse_device_url(address) if isinstance(address, str) else address
    which = parsed.option("device", "callpad")
    ref = KINDS.get(which)
    if ref is None:
        raise UrlError(f"could not use {parsed.url!r}: device={which!r} is not a bus device; "
                       f"choose one of {', '.join(KINDS)}")
    module, _, cls = ref.partition(":")
    device: BusDevice = getattr(importlib.import_module(module), cls)(parsed, name=name, **kwargs)
    return device

