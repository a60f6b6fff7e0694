"""Base for byte-level simulators: a wire link, named fault injection, and leak bookkeeping.

A simulator is faithful to the device, not to our driver: it parses what arrives on its link with the
device's own framing rules and answers as the device would, including its misbehaviours (Fault).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from typing import ClassVar, Self

from devices.faults import Fault, FaultPlan
from devices.transport.link import Link, PtyLink, TcpLink

log = logging.getLogger(__name__)

__all__ = ["Simulator", "running_simulators"]

_RUNNING: weakref.WeakSet[Simulator] = weakref.WeakSet()


def running_simulators() -> list[Simulator]:
    """Simulators started and not yet stopped; the test suite fails a test that leaves one behind."""
    return list(_RUNNING)


class Simulator(FaultPlan):
    """Subclasses implement ``on_bytes`` (parse with the device's framing) and answer with ``send``.

    ``transport`` is "pty" or "tcp"; ``url`` after start is the real-device URL a driver opens.
    """

    kind = "device"
    #: real-device scheme per transport, e.g. {"tcp": "escpos+tcp", "pty": "escpos+serial"}
    schemes: ClassVar[dict[str, str]] = {}

    def __init__(self, transport: str = "tcp", *, faults: Iterable[Fault] = (), port: int = 0,
                 realtime: bool = True) -> None:
        if transport not in self.schemes:
            raise ValueError(f"{self.kind} simulator has no {transport!r} transport "
                             f"(choose from {', '.join(self.schemes)})")
        self.transport = transport
        self.realtime = realtime
        FaultPlan.__init__(self, faults)
        self.link: Link = PtyLink(self._receive) if transport == "pty" else TcpLink(self._receive, port=port)
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> str:
        """Start listening; returns the URL a real driver would be configured with."""
        await self.link.start()
        self._started = True
        _RUNNING.add(self)
        log.info("%s simulator listening at %s", self.kind, self.url)
        return self.url

    @property
    def url(self) -> str:
        # a pty address is an absolute path, so this gives the three slashes of scheme:///dev/…
        return f"{self.schemes[self.transport]}://{self.link.address}"

    async def stop(self) -> None:
        """Stop and release the link; safe to call twice."""
        if not self._started:
            return
        self._started = False
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.link.stop()
        _RUNNING.discard(self)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def unplug(self) -> None:
        await self.link.unplug()

    async def replug(self) -> None:
        await self.link.replug()

    # ---- wire ------------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        self.on_bytes(data)

    def on_bytes(self, data: bytes) -> None:
        """Called with every chunk that arrives on the link."""
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        self.link.send(data)

    def later(self, delay_s: float, data: bytes) -> None:
        """Send ``data`` after ``delay_s`` (wire time, SLOW fault) without blocking the link."""

        async def _send() -> None:
            await asyncio.sleep(delay_s)
            self.send(data)

        task = asyncio.get_running_loop().create_task(_send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def wire_time_s(self, nbytes: int, baudrate: int = 115200) -> float:
        """How long ``nbytes`` take on an 8N1 line (10 bits a byte); zero unless realtime."""
        return nbytes * 10 / baudrate if self.realtime else 0.0
