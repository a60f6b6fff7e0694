"""The single bus master for one RS-485 line: polls every address in turn and interleaves writes.

RS-485 is half-duplex and devices never speak unsolicited, so one task per line owns the port: it polls
each attached device on its own cadence (100 ms by default), serves queued writes between polls, gives
every transaction a bounded timeout (a silent device costs exactly that), and reopens a lost port with
capped backoff. Devices sharing a port path share one poller; the port is opened once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from devices.base import Backoff
from devices.bus485.framing import ModbusException, Reply, ReplyParser, Request
from devices.errors import DeviceDisconnected, DeviceError, DeviceTimeout, ProtocolError
from devices.transport.streams import ByteStream, open_serial, open_tcp
from devices.url import DeviceAddress

log = logging.getLogger(__name__)

__all__ = ["BusMember", "BusPoller", "acquire", "release"]

OPEN_TIMEOUT_S = 2.0


class BusMember(Protocol):
    """What the poller needs from a device on the line (BusDevice implements it); it only reads these."""

    @property
    def bus_address(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def poll_interval_s(self) -> float: ...
    @property
    def down_poll_s(self) -> float: ...

    async def bus_poll(self, bus: BusPoller) -> None: ...
    def bus_missed(self, err: DeviceError, misses: int) -> None: ...
    def bus_refused(self, err: ModbusException) -> None: ...
    def bus_lost(self, reason: str) -> None: ...
    def bus_contacted(self) -> None: ...


@dataclass
class _Slot:
    member: BusMember
    next_due: float = 0.0
    misses: int = 0
    down: bool = False


@dataclass
class _Job:
    member: BusMember
    request: Request
    future: asyncio.Future[Reply] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class BusPoller:
    """One line, one port, one task; ``exchange`` is only called from inside that task."""

    def __init__(self, target: DeviceAddress, key: str, reconnect_cap_s: float = 2.0) -> None:
        self.target = target
        self.key = key
        self.baudrate = int(target.option("baudrate", 115200))
        self.description = f"RS-485 line {key}"
        self.backoff = Backoff(0.1, reconnect_cap_s)
        self._slots: dict[int, _Slot] = {}
        self._jobs: deque[_Job] = deque()
        self._stream: ByteStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: tuple[ReplyParser, asyncio.Future[Reply]] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._lost: DeviceDisconnected | None = None
        self._was_lost = False
        self._stopping = False
        self.transactions = 0
        self.stale_bytes = 0  # bytes that arrived while no request was outstanding

    # ---- membership ------------------------------------------------------------------------------
    def attach(self, member: BusMember) -> None:
        other = self._slots.get(member.bus_address)
        if other is not None and other.member is not member:
            raise DeviceError(f"two devices are configured at address {member.bus_address} on "
                              f"{self.description}; give each device its own address")
        self._slots[member.bus_address] = _Slot(member)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bus485 {self.key}")
        self._wake()

    async def detach(self, member: BusMember) -> bool:
        """Remove ``member``; stops the line when it was the last one. True when the poller stopped."""
        slot = self._slots.get(member.bus_address)
        if slot is not None and slot.member is member:
            del self._slots[member.bus_address]
        for job in list(self._jobs):
            if job.member is member:
                self._jobs.remove(job)
                job.future.cancel()
        if self._slots:
            return False
        await self.stop()
        return True

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await _cancel(self._task)
            self._task = None
        await self._close_port()

    # ---- writes from devices ---------------------------------------------------------------------
    async def submit(self, member: BusMember, request: Request) -> Reply:
        """Queue one transaction for the line task (served before the next poll) and await its reply."""
        job = _Job(member, request)
        self._jobs.append(job)
        self._wake()
        return await job.future

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _sleep(self, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        handle = loop.call_later(delay_s, self._wake)
        try:
            await self._waiter
        finally:
            handle.cancel()
            self._waiter = None

    # ---- the line task ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            if self._stream is None and not await self._open():
                continue
            try:
                await self._step()
            except DeviceDisconnected as err:
                await self._port_lost(err)

    async def _open(self) -> bool:
        try:
            if self.target.real_scheme == "modbus+tcp":
                stream = await open_tcp(self.target.host or "", self.target.port or 4196, OPEN_TIMEOUT_S)
            else:
                stream = await open_serial(self.target.path or "", self.baudrate, OPEN_TIMEOUT_S)
        except DeviceError as err:
            self._was_lost = True
            delay = self.backoff.failed()
            for slot in list(self._slots.values()):
                slot.down = True
                slot.member.bus_lost(f"{err}; retrying in {delay:.1f} s")
                slot.member.bus_contacted()
            self._fail_jobs(DeviceDisconnected(f"{self.description} is not open: {err}"))
            await self._sleep(delay)
            return False
        if self._was_lost:
            log.info("%s is open again", self.description)
            self._was_lost = False
        self.backoff.succeeded()
        self._stream, self._lost = stream, None
        self._reader = asyncio.get_running_loop().create_task(self._read_loop(stream), name=f"bus485 rx {self.key}")
        now = time.monotonic()
        for slot in self._slots.values():
            slot.next_due, slot.misses = now, 0
        return True

    async def _port_lost(self, err: DeviceDisconnected) -> None:
        log.warning("%s was lost: %s", self.description, err)
        self._was_lost = True
        await self._close_port()
        reason = f"{err}; check the USB-RS485 converter and its cable"
        for slot in self._slots.values():
            slot.down = True
            slot.member.bus_lost(reason)
        self._fail_jobs(err)
        await self._sleep(self.backoff.failed())

    def _fail_jobs(self, err: DeviceError) -> None:
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(err)

    async def _close_port(self) -> None:
        if self._reader is not None:
            await _cancel(self._reader)
            self._reader = None
        if self._stream is not None:
            await self._stream.close()
            self._stream = None

    async def _step(self) -> None:
        if self._lost is not None:
            raise self._lost
        if self._jobs:
            job = self._jobs.popleft()
            if job.future.done():
                return
            try:
                reply = await self.exchange(job.request, job.member.timeout_s)
            except DeviceDisconnected as err:
                job.future.set_exception(err)
                raise
            except DeviceError as err:
                if not job.future.done():
                    job.future.set_exception(err)
            else:
                if not job.future.done():
                    job.future.set_result(reply)
            return
        if not self._slots:
            await self._sleep(3600.0)
            return
        slot = min(self._slots.values(), key=lambda s: s.next_due)
        now = time.monotonic()
        if slot.next_due > now:
            await self._sleep(slot.next_due - now)
            return
        interval = slot.member.down_poll_s if slot.down else slot.member.poll_interval_s
        slot.next_due = max(slot.next_due + interval, now)  # keep the cadence, never burst to catch up
        await self._poll(slot)

    async def _poll(self, slot: _Slot) -> None:
        member = slot.member
        try:
            await member.bus_poll(self)
        except ModbusException as err:
            slot.misses, slot.down = 0, False
            member.bus_refused(err)
        except (DeviceTimeout, ProtocolError) as err:
            slot.misses += 1
            if slot.misses == 1:
                slot.next_due = time.monotonic()  # a lost frame is retried at once, not after a whole period
            member.bus_missed(err, slot.misses)
            slot.down = slot.down or slot.misses >= getattr(member, "down_after", 3)
        else:
            slot.misses, slot.down = 0, False
        finally:
            member.bus_contacted()

    # ---- one transaction -------------------------------------------------------------------------
    async def exchange(self, request: Request, timeout_s: float) -> Reply:
        """Send ``request`` and return its reply within ``timeout_s`` after sending (line task only)."""
        stream = self._stream
        if stream is None or self._lost is not None:
            raise self._lost or DeviceDisconnected(f"{self.description} is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        parser = ReplyParser(request)
        self._pending = (parser, future)
        handle: asyncio.TimerHandle | None = None
        try:
            await stream.write(request.encode())
            self.transactions += 1
            if not future.done():
                handle = loop.call_later(timeout_s, _expire, future, request, timeout_s)
            return await future
        finally:
            self._pending = None
            if handle is not None:
                handle.cancel()

    async def _read_loop(self, stream: ByteStream) -> None:
        while not self._stopping and not stream.closed:
            try:
                data = await stream.read_some(3600.0)
            except DeviceTimeout:
                continue
            except DeviceDisconnected as err:
                self._lost = err
                if self._pending is not None and not self._pending[1].done():
                    self._pending[1].set_exception(err)
                self._wake()
                return
            pending = self._pending
            if pending is None or pending[1].done():
                self.stale_bytes += len(data)
                continue
            parser, future = pending
            try:
                reply = parser.feed(data)
            except ProtocolError as err:
                future.set_exception(err)
                continue
            if reply is not None:
                future.set_result(reply)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel and reap ``task``; repeat, since Python 3.11's wait_for can swallow one cancellation."""
    for _ in range(100):
        if task.done():
            break
        task.cancel()
        await asyncio.wait([task], timeout=0.05)
    if task.done() and not task.cancelled():
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()


def _expire(future: asyncio.Future[Reply], request: Request, timeout_s: float) -> None:
    if not future.done():
        future.set_exception(DeviceTimeout(
            f"address {request.address} gave no valid answer to {request.describe()} within {timeout_s * 1000:.0f} ms"))


_POLLERS: dict[tuple[int, str], BusPoller] = {}


def line_key(target: DeviceAddress) -> str:
    """What identifies a line: the absolute port path, or HOST:PORT for RTU over TCP."""
    if target.real_scheme == "modbus+tcp":
        return f"tcp {target.host}:{target.port}"
    return f"serial {os.path.abspath(target.path or '')}"


async def acquire(target: DeviceAddress, member: BusMember) -> BusPoller:
    """The poller for ``target``'s line in this event loop, created on first use; attaches ``member``."""
    key = line_key(target)
    loop_key = (id(asyncio.get_running_loop()), key)
    poller = _POLLERS.get(loop_key)
    if poller is None:
        poller = _POLLERS[loop_key] = BusPoller(target, key)
    elif int(target.option("baudrate", 115200)) != poller.baudrate:
        raise DeviceError(f"{target.url} asks for {target.option('baudrate', 115200)} baud but {key} is already "
                          f"open at {poller.baudrate}; every device on one line must use the same rate")
    poller.attach(member)
    return poller


async def release(poller: BusPoller, member: BusMember) -> None:
    """Detach ``member``; the last one out closes the port."""
    if await poller.detach(member):
        for loop_key, value in list(_POLLERS.items()):
            if value is poller:
                del _POLLERS[loop_key]
