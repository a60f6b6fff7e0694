"""The alerts desk: managers list, acknowledge and close alerts; displays list them (rules run on the tick)."""

from __future__ import annotations

from config.model import Node
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks import DeskBase


class AlertsDesk(DeskBase):
    """Façade methods of 预警 (a mixin of HallService)."""

    async def alerts(self, state: str | None) -> Answer:

        return await self.read(lambda: _answer({"alerts": [a.view() for a in self.engine.alerts.listed(state)]}))

    async def alert_step(self, node: Node, key: str | None, fingerprint: bytes, step: str,
                         alert_id: str, note: str = "") -> Answer:
        """ack or close one alert, attributed to the manager node that asked."""
        engine = self.engine
        if step == "ack":
            return await self.command(lambda at: engine.ack_alert(alert_id, at, node=node.name),
                                      lambda alert: _answer(alert.view()), node=node.name, key=key,
                                      fingerprint=fingerprint)
        return await self.command(lambda at: engine.close_alert(alert_id, note, at, node=node.name),
                                  lambda alert: _answer(alert.view()), node=node.name, key=key,
                                  fingerprint=fingerprint)
