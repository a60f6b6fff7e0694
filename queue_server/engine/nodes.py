"""Nodes' devices as the log paints them: the last reported state of every device, changed by transitions only.

A node reports all its devices on every heartbeat (``POST /api/v1/nodes/{node}/health``); only a report
that differs from what the log already says (a new state, or a device seen for the first time) becomes a
``device.state`` event, so a hall of 30 kiosks reporting every 10 s adds nothing to the log while all is
well. Heartbeats themselves (last seen) are not events: the service keeps them in memory and tells the
alert rules which nodes are silent (see ``AlertCommands.check_nodes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from queue_server.engine import events as ev
from queue_server.engine.commands import CommandBase, command
from queue_server.engine.domains import Domain
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event

DEVICE_STATES = ("connected", "ready", "degraded", "fault", "disconnected")  # devices/state.py DeviceState
FAULT_STATES = frozenset({"fault", "disconnected"})  # what the device_fault alert counts as down


@dataclass(frozen=True)
class DeviceReport:
    """One device as a node reports it (the device layer's DeviceState, its reason and the node's ``since``)."""

    name: str
    kind: str
    state: str
    reason: str = ""
    since: float | None = None  # the node's clock: shown, never used to decide


@dataclass(frozen=True)
class DeviceRecord:
    """A device's state as the log last recorded it; ``changed_at`` is the server's instant of that event."""

    node: str
    device: str
    kind: str
    state: str
    reason: str
    since: float | None
    changed_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class NodeBoard(Domain):
    """Every node's devices, from ``device.state`` events; faults indexed so the alert tick reads only them."""

    name = "nodes"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.devices: dict[str, dict[str, DeviceRecord]] = {}  # node → device name → record
        self.faults: dict[tuple[str, str], DeviceRecord] = {}  # (node, device) in a FAULT_STATES state

    def _on_device_state(self, e: Event) -> None:
        d = e.data
        record = DeviceRecord(d["node"], d["device"], d["kind"], d["state"], d["reason"], d["since"], e.at)
        self.devices.setdefault(record.node, {})[record.device] = record
        key = (record.node, record.device)
        if record.state in FAULT_STATES:
            self.faults[key] = record
        else:
            self.faults.pop(key, None)

    handlers: ClassVar = {ev.DEVICE_STATE: _on_device_state}

    def of(self, node: str) -> list[DeviceRecord]:
        return sorted(self.devices.get(node, {}).values(), key=lambda r: r.device)


class NodeCommands(CommandBase):
    """Engine commands of node health (a mixin of QueueEngine)."""

    @command
    def report_devices(self, node: str, devices: Sequence[DeviceReport], at: float) -> list[DeviceRecord]:
        """Record the transitions in one node's report; answers the node's devices as they now stand.

        A transition is a device the log has not seen, or one whose state or kind changed; a new reason
        under the same state is not one (a printer saying "paper low" in other words stays degraded).
        """
        board = self.nodes
        names = [d.name for d in devices]
        if len(set(names)) != len(names):
            raise QueueError("duplicate_device", "设备名称重复", "each device may appear once in a report", 400)
        known = board.devices.get(node, {})
        for report in devices:
            if report.state not in DEVICE_STATES:
                raise QueueError("invalid_device_state", "设备状态无效",
                                 f"state must be one of {', '.join(DEVICE_STATES)}", 400)
            was = known.get(report.name)
            if was is None or was.state != report.state or was.kind != report.kind:
                self._emit(ev.DEVICE_STATE, at, {"node": node, "device": report.name, "kind": report.kind,
                                                 "state": report.state, "reason": report.reason,
                                                 "since": report.since}, node)
        return board.of(node)
