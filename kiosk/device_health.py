"""A node's devices' health sent to the server on transitions only (one report down, one back), in order.

A driver tells its listener each state change; this turns the ones a technician cares about (ready,
degraded, fault, disconnected, not the transient "link up" on the way) into POST /api/v1/nodes/{node}/health
with every device's state, through the node's outbox when it has one, so a "down" reported while the
server is away arrives before the "back" that follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from devices.base import Device
from devices.state import DeviceState, DeviceStatus
from kiosk.outbox import Outbox
from kiosk.server_client import ServerClient

__all__ = ["REPORTED_STATES", "HealthReporter"]

log = logging.getLogger(__name__)

REPORTED_STATES = frozenset({DeviceState.READY, DeviceState.DEGRADED, DeviceState.FAULT, DeviceState.DISCONNECTED})


class HealthReporter:
    """Pass ``listener`` to each device, ``watch`` them, and ``close`` when the node stops."""

    def __init__(self, client: ServerClient, node: str, key_seed: str, outbox: Outbox | None = None) -> None:
        self.client = client
        self.node = node
        self.key_seed = key_seed
        self.outbox = outbox
        self.devices: list[Device] = []
        self.sent = 0
        self._count = itertools.count(1)
        self._chain: asyncio.Task[None] | None = None
        self._closing = False

    def watch(self, devices: list[Device]) -> None:
        self.devices = list(devices)

    def listener(self, device: Device, status: DeviceStatus) -> None:
        """A device's transition (the drivers call this); "closed" at shutdown is not reported."""
        if status.state not in REPORTED_STATES or self._closing:
            return
        states = {d.name: (status if d is device else d.last_status, getattr(d, "kind_option", d.kind))
                  for d in self.devices}
        report = [{"name": name, "kind": kind, "state": st.state.value, "reason": st.reason[:200]}
                  for name, (st, kind) in states.items() if st.state in REPORTED_STATES]
        with contextlib.suppress(RuntimeError):  # no running loop: nothing can be sent any more
            previous = self._chain
            self._chain = asyncio.get_running_loop().create_task(self._send(previous, report))

    async def _send(self, previous: asyncio.Task[None] | None, report: list[dict[str, Any]]) -> None:
        if previous is not None:  # one report after the other: "down" before "back"
            with contextlib.suppress(Exception):
                await previous
        path = f"/api/v1/nodes/{self.node}/health"
        key = f"{self.key_seed}-health-{next(self._count)}"
        self.sent += 1
        if self.outbox is not None:
            await self.outbox.put("health", "POST", path, {"devices": report}, key)
            return
        result = await self.client.request("POST", path, {"devices": report}, key)
        if not result.ok:
            log.info("%s: device health not delivered: %s", self.node, result.words())

    async def close(self) -> None:
        """Stop reporting; the report in flight is given up (the next start reports the devices afresh)."""
        self._closing = True
        if self._chain is not None:
            self._chain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._chain
