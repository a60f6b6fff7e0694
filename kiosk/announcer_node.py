"""The node that owns the hall speaker: every call and recall on the event stream is said, queued, never cut off.

Calls are taken from the stream, not from the window terminals, so a call made through the API or a
manager's screen is announced exactly like one from a call pad. The speaker (devices/speaker) queues each
announcement and says it whole, twice after a chime; this behaviour only turns stream events into
``announce`` calls in stream order. The stream is replayed from the start of the log to learn each ticket's
number and lane; only calls after the node started are said, and a call that reaches the node long after it
was made (the node was cut off and is catching up) is not: telling the hall to go to window 3 for a call of
ten minutes ago would send people to the wrong place. A display node with no speaker does nothing here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from devices.errors import DeviceError
from devices.speaker.announcer import Announcement, QueuedSpeaker
from kiosk.node import NodeRuntime
from kiosk.ticket_book import TicketBook

__all__ = ["STALE_AFTER_S", "AnnouncerNode"]

log = logging.getLogger(__name__)

STALE_AFTER_S = 120.0  # a call older than this when it reaches the node is not said
SYNC_RETRY_S = 2.0
KEPT = 200  # announcements kept for tests and the technician


class AnnouncerNode:
    """The display-role behaviour of a NodeRuntime (ROLE_BEHAVIOURS) when the node has a ``speaker`` device."""

    def __init__(self, runtime: NodeRuntime, *, stale_after_s: float = STALE_AFTER_S) -> None:
        self.runtime = runtime
        device = runtime.device("speaker")
        if device is not None and not isinstance(device, QueuedSpeaker):
            raise ValueError(f"the speaker of node {runtime.node.name!r} is a {type(device).__name__}, not a speaker")
        self.speaker = device if isinstance(device, QueuedSpeaker) else None
        self.stale_after_s = stale_after_s
        self.book = TicketBook(runtime.client)
        self.announced: list[Announcement] = []
        self.skipped_stale = 0
        self._synced = asyncio.Event()

    async def run(self) -> None:
        """Learn where the log stands now (calls before it are history), then let the stream do the work."""
        if self.speaker is None:
            log.info("node %s has no speaker; nothing to announce", self.runtime.node.name)
        while True:
            if await self.book.locate():
                break
            await asyncio.sleep(SYNC_RETRY_S)
        self._synced.set()
        await asyncio.Event().wait()  # the stream drives everything from here

    async def on_event(self, event: dict[str, Any]) -> None:
        """One stream event in id order: numbers from every issue, announcements from new calls and recalls."""
        await self._synced.wait()
        kind, data = str(event.get("type", "")), event.get("data") or {}
        if self.book.take(event) and kind in ("ticket.called", "ticket.recalled"):
            await self._announce(str(data.get("ticket", "")), int(data.get("window", 0)), float(event.get("at", 0)),
                                 recall=kind == "ticket.recalled")

    async def _announce(self, ticket: str, window: int, at: float, *, recall: bool) -> None:
        if self.speaker is None:
            return
        age_s = time.time() - at
        if age_s > self.stale_after_s:
            self.skipped_stale += 1
            log.info("announcer: a call to window %d made %.0f s ago reached the node late; not said", window, age_s)
            return
        number, green = await self.book.ticket(ticket)
        if not number:
            log.warning("announcer: the number of a ticket called to window %d is unknown; not said", window)
            return
        try:
            self.announced.append(await self.speaker.announce(number, window, green=green, recall=recall))
        except (DeviceError, ValueError) as err:
            log.warning("announcer: %s to window %d not said: %s", number, window, err)
        del self.announced[:-KEPT]
