"""The nodes desk: heartbeats in memory, device transitions as events, node silence passed to the alert rules.

Last-seen instants are not events (a hall of 30 nodes beating every 10 s would fill the log with nothing),
so they live here, in the process. Which nodes are watched for silence: every node that has reported
health to this process, every node with devices in the log, and every node configured with devices;
a node that never reports (a manager's browser, a display without devices) is never "silent". After a
restart a watched node counts as seen at the server's start, so it has ``node_silent_seconds`` to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from config.model import Node
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks import DeskBase
from queue_server.engine.decision import Decision
from queue_server.engine.nodes import DeviceReport


class NodesDesk(DeskBase):
    """Façade methods of node health (a mixin of HallService)."""

    def _heard(self) -> dict[str, float]:
        heard: dict[str, float] | None = self.__dict__.get("_node_heard")
        if heard is None:
            heard = self.__dict__["_node_heard"] = {}
        return heard

    def _started_at(self) -> float:
        started: float | None = self.__dict__.get("_nodes_started")
        if started is None:
            started = self.__dict__["_nodes_started"] = self.clock()
        return started

    async def node_health(self, node: Node, key: str | None, fingerprint: bytes,
                          devices: Sequence[DeviceReport]) -> Answer:
        """A node's heartbeat: last seen now (in memory), and its devices' transitions logged."""
        self._started_at()
        self._heard()[node.name] = self.clock()

        def present(records: Sequence[Any]) -> Answer:
            return _answer(self._node_view(node))

        return await self.command(lambda at: self.engine.report_devices(node.name, devices, at), present,
                                  node=node.name, key=key, fingerprint=fingerprint)

    async def nodes(self) -> Answer:

        return await self.read(lambda: _answer({"nodes": [self._node_view(n) for n in self.hall.nodes]}))

    def _node_view(self, node: Node) -> dict[str, Any]:
        seen = self._heard().get(node.name)
        silent_s = self.hall.alerts.node_silent_seconds
        return {"node": node.name, "role": node.role.value, "window": node.window, "last_seen": seen,
                "online": seen is not None and self.clock() - seen <= silent_s,
                "devices": [r.as_dict() for r in self.engine.nodes.of(node.name)]}

    def _watched(self) -> dict[str, float]:
        """Node → last seen, for every watched node (see the module docstring)."""
        started, heard = self._started_at(), self._heard()
        names = set(heard) | set(self.engine.nodes.devices) | {n.name for n in self.hall.nodes if n.devices}
        return {name: heard.get(name, started) for name in names}

    def time_passes(self, at: float) -> Decision[None]:
        """What the tick decides, as ONE command (on a shared log: one turn, one lock a second): the business
        day and every domain's timers, then node silence from what this process heard."""
        watched = self._watched()
        first = self.engine.tick(at)
        second = self.engine.check_nodes(watched, at)
        return Decision(None, [*first.events, *second.events])
