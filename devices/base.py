"""The interface every device kind shares: open/close, status with words, reconnect, transitions.

The base owns the common loop (reconnect with capped backoff, one exchange at a time, timeouts,
status bookkeeping, reporting transitions once); a driver overrides a few protected primitives:
``_connect``, ``_disconnect`` and ``_read_status``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Self

from devices.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from devices.faults import Fault
from devices.simulator import Simulator
from devices.state import DeviceState, DeviceStatus
from devices.url import DeviceAddress, parse_device_url

log = logging.getLogger(__name__)

__all__ = ["Backoff", "Device", "TransitionListener", "open_devices"]

TransitionListener = Callable[["Device", DeviceStatus], None]

_OPEN: weakref.WeakSet[Device] = weakref.WeakSet()
NOT_OPENED = "not opened yet"


def open_devices() -> list[Device]:
    """Devices opened and not yet closed; the test suite fails a test that leaks one."""
    return list(_OPEN)


class Backoff:
    """Capped exponential delay between reconnect attempts, so an unplugged device costs little."""

    def __init__(self, initial_s: float = 0.1, cap_s: float = 5.0) -> None:
        self.initial_s = initial_s
        self.cap_s = cap_s
        self._delay_s = 0.0
        self._next_try = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self._next_try

    def failed(self) -> float:
        self._delay_s = min(self.cap_s, self._delay_s * 2 if self._delay_s else self.initial_s)
        self._next_try = time.monotonic() + self._delay_s
        return self._delay_s

    def succeeded(self) -> None:
        self._delay_s = 0.0
        self._next_try = 0.0


class Device:
    """One device of one kind, chosen by URL; async context manager; ``close`` is idempotent."""

    kind: ClassVar[str] = "device"
    default_timeout_s: ClassVar[float] = 2.0

    def __init__(self, address: DeviceAddress | str, *, name: str | None = None,
                 listener: TransitionListener | None = None) -> None:
        self.address = parse_device_url(address) if isinstance(address, str) else address
        self.name = name or self.kind
        self.listener = listener
        self.backoff = Backoff()
        self.simulator: Simulator | None = None
        self._status = DeviceStatus(DeviceState.DISCONNECTED, NOT_OPENED)
        self._connected = False
        self._closed = True
        self._lock = asyncio.Lock()

    # ---- what drivers override -------------------------------------------------------------------
    async def _connect(self, target: DeviceAddress) -> None:
        """Open the link to ``target`` (the simulator's address when the URL is ``sim+``)."""
        raise NotImplementedError

    async def _disconnect(self) -> None:
        """Release the link; called once per successful ``_connect``."""

    async def _read_status(self) -> DeviceStatus:
        """Ask the device how it is; raise DeviceError when it cannot be asked."""
        return DeviceStatus(DeviceState.READY, "ready")

    def _make_simulator(self, faults: list[Fault]) -> Simulator:
        """Build the simulator that stands in for this device behind a ``sim+`` URL."""
        raise DeviceError(f"{self.kind} has no simulator")

    # ---- lifecycle -------------------------------------------------------------------------------
    @property
    def timeout_s(self) -> float:
        return float(self.address.option("timeout", self.default_timeout_s))

    @property
    def target(self) -> DeviceAddress:
        """The address actually dialled: the URL itself, or the simulator's for ``sim+`` URLs."""
        if self.simulator is not None:
            return parse_device_url(self.simulator.url)
        return self.address

    def describe(self) -> str:
        """The device by one name: its kind, and its own name only when that says more ("ticket_printer on …")."""
        if self.name == self.kind:
            return f"{self.kind} on {self.address.url}"
        return f"{self.kind} {self.name!r} on {self.address.url}"

    async def open(self) -> DeviceStatus:
        """Start (and for ``sim+`` URLs first start the simulator); a dead device is reported, not raised."""
        if not self._closed:
            return self._status
        self._closed = False
        _OPEN.add(self)
        if self.address.simulated and self.simulator is None:
            faults = [Fault.parse(name) for name in self.address.option("fault", ())]
            self.simulator = self._make_simulator(faults)
            await self.simulator.start()
        await self._try_connect()
        if self._connected:
            return await self.status()
        return self._status

    async def close(self) -> None:
        """Close the link and any simulator behind it; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._connected:
                self._connected = False
                await self._disconnect()
        finally:
            if self.simulator is not None:
                await self.simulator.stop()
                self.simulator = None
            _OPEN.discard(self)
            self._report(DeviceStatus(DeviceState.DISCONNECTED, "closed"), quiet=True)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _try_connect(self) -> bool:
        try:
            await self._connect(self.target)
        except DeviceError as err:
            delay = self.backoff.failed()
            self._report(DeviceStatus(DeviceState.DISCONNECTED, f"{err}; retrying in {delay:.1f} s"))
            return False
        self._connected = True
        self.backoff.succeeded()
        self._report(DeviceStatus(DeviceState.CONNECTED, "link up"))
        return True

    async def _ensure_connected(self) -> None:
        """Reconnect if the link is down and the backoff allows; raise DeviceDisconnected otherwise."""
        if self._closed:
            raise DeviceDisconnected(f"{self.describe()} is closed")
        if self._connected:
            return
        if not self.backoff.ready() or not await self._try_connect():
            raise DeviceDisconnected(f"{self.describe()} is not connected: {self._status.reason}")

    async def _lost(self, err: DeviceError) -> None:
        """Drop a broken link so the next call reconnects (unplug/replug)."""
        if self._connected:
            self._connected = False
            try:
                await self._disconnect()
            except DeviceError:
                log.debug("%s: error while dropping a broken link", self.describe(), exc_info=True)
        self.backoff.failed()
        self._report(DeviceStatus(DeviceState.DISCONNECTED, str(err)))

    async def run(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        """Run one exchange with the device: serialised, reconnecting, and turning a lost link into a report.

        A timeout is reported as a fault (the error's own words carry the remedy) but keeps the link,
        since a slow device may recover; a lost link is dropped so that the next call reconnects.
        """
        async with self._lock:
            await self._ensure_connected()
            try:
                return await operation()
            except DeviceDisconnected as err:
                await self._lost(err)
                raise
            except DeviceTimeout as err:
                self._report(DeviceStatus(DeviceState.FAULT, str(err)))
                raise

    async def status(self) -> DeviceStatus:
        """Ask the device now; never raises for a device fault, it is in the returned words."""
        try:
            status = await self.run(self._read_status)
        except DeviceError:
            return self._status
        self._report(status)
        return status

    @property
    def last_status(self) -> DeviceStatus:
        return self._status

    def _report(self, status: DeviceStatus, quiet: bool = False) -> None:
        """Record a status; log and tell the listener only when the state changes (transitions only)."""
        previous = self._status
        if status.state is previous.state and status.reason == previous.reason:
            return
        if status.state is previous.state:
            self._status = DeviceStatus(status.state, status.reason, previous.since, status.details)
            return
        self._status = status
        if not quiet:
            if status.state in (DeviceState.FAULT, DeviceState.DISCONNECTED, DeviceState.DEGRADED):
                log.warning("%s is %s: %s", self.describe(), status.state.value, status.reason)
            elif previous.state in (DeviceState.FAULT, DeviceState.DISCONNECTED, DeviceState.DEGRADED) \
                    and previous.reason != NOT_OPENED:  # the first connection is not a recovery
                log.info("%s is back (%s): %s", self.describe(), status.state.value, status.reason)
        if self.listener is not None:
            self.listener(self, status)
