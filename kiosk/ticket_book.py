"""What a node that reacts to calls learns from the stream: each ticket's number, and where "now" began.

Call events carry a ticket id, not its number (the number is in the ticket's issue event), so a window
terminal and the speaker replay the stream from the start of the log to know every number. Replaying also
brings old calls and finishes back; reacting to them again would blink old numbers, re-announce them and
light the rating pad for matters long rated. So the node first asks where the log stands (``locate``) and
only what comes after that point is news (``take``). A ticket the replay never showed (a log cut short) is
looked up over HTTP.
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.server_client import ServerClient, Unreachable

__all__ = ["TicketBook"]

log = logging.getLogger(__name__)


class TicketBook:
    """Ticket id → (number, green channel) of today, and the id of the last event before the node started."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client
        self.start_id: int | None = None  # unknown until ``locate`` succeeds
        self.tickets: dict[str, tuple[str, bool]] = {}

    async def locate(self) -> bool:
        """Read where the log stands now (GET /api/v1/queues); False while the server cannot say."""
        answer = await self.client.request("GET", "/api/v1/queues")
        if isinstance(answer, Unreachable) or not answer.ok:
            log.warning("cannot read where the event log stands (%s); retrying", answer.words())
            return False
        self.start_id = int(answer.body.get("last_event_id", 0))
        return True

    def take(self, event: dict[str, Any]) -> bool:
        """Learn from one stream event; True when it is news (after the start) for the node to act on."""
        kind, data = event.get("type"), event.get("data") or {}
        if kind == "ticket.issued":
            self.tickets[str(data.get("ticket"))] = (str(data.get("number", "")), data.get("priority") == "green")
        elif kind == "day.rolled":
            self.tickets.clear()
        return self.start_id is not None and int(event.get("id", 0)) > self.start_id

    async def ticket(self, ticket: str) -> tuple[str, bool]:
        """The ticket's number and lane; ("", False) when neither the stream nor the server can say."""
        if ticket in self.tickets:
            return self.tickets[ticket]
        answer = await self.client.ticket(ticket)
        if isinstance(answer, Unreachable) or not answer.ok:
            return "", False
        found = (str(answer.body.get("number", "")), answer.body.get("priority") == "green")
        self.tickets[ticket] = found
        return found
