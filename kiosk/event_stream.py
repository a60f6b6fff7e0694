"""Following the server's event stream with replay, so a node that was cut off catches up without gaps.

The follower connects to GET /api/v1/events?after=<last id applied>, hands every event to ``on_event`` in id
order exactly once, and reconnects with a capped back-off when the link drops. Event ids are dense (the
server sends every event, redacting what a role may not see), so an id that skips ahead is a gap: the
follower reconnects from the last id it applied, and accepts the same jump a second time as a hole in
the log itself. Close 4009 means the server's log is shorter than our id (a data reset): the follower calls
``on_reset`` and starts again from 0. ``on_link`` hears each change between linked and lost once.

screens/feed.py does the same for the wall display with its own state; the two could share this class
once screens may import it (see the node helper's final note).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from kiosk.server_client import ServerClient

__all__ = ["CLOSE_AFTER_BEYOND_LOG", "EventFollower"]

log = logging.getLogger(__name__)

CLOSE_AFTER_BEYOND_LOG = 4009
BACKOFF_FIRST_S = 0.2
BACKOFF_CAP_S = 5.0

OnEvent = Callable[[dict[str, Any]], Awaitable[None] | None]


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome


class EventFollower:
    """Applies the stream's events after ``after`` to ``on_event``; ``last_id`` is the last one applied."""

    def __init__(self, client: ServerClient, on_event: OnEvent, *, after: int = 0,
                 on_link: Callable[[bool], Any] | None = None, on_reset: Callable[[], Any] | None = None,
                 backoff_first_s: float = BACKOFF_FIRST_S, backoff_cap_s: float = BACKOFF_CAP_S) -> None:
        self.client = client
        self.last_id = after
        self.linked = False
        self.connects = 0
        self.gaps = 0
        self.applied = 0  # events handed to on_event by this follower (a restart that resumes replays few)
        self._on_event = on_event
        self._on_link = on_link
        self._on_reset = on_reset
        self._first_s = backoff_first_s
        self._cap_s = backoff_cap_s
        self._gap_seen = 0

    async def run(self) -> None:
        """Follow until cancelled."""
        delay = self._first_s
        while True:
            try:
                if await self._follow_once():
                    delay = self._first_s
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as err:
                if self.linked:
                    log.warning("lost the event stream of %s (%s); reconnecting", self.client.server, err)
                else:
                    log.debug("event stream of %s still unavailable (%s)", self.client.server, err)
            await self._set_linked(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._cap_s)

    async def _set_linked(self, linked: bool) -> None:
        if linked != self.linked:
            self.linked = linked
            if self._on_link is not None:
                await _call(self._on_link, linked)

    def _accept(self, event_id: int) -> bool | None:
        """True to apply, False to drop (already applied), None for a gap (reconnect from ``last_id``)."""
        if event_id <= self.last_id:
            return False
        if self.last_id and event_id != self.last_id + 1 and event_id != self._gap_seen:
            self._gap_seen = event_id  # the same jump after a reconnect is a hole in the log, not in our copy
            return None
        return True

    async def _follow_once(self) -> bool:
        """One connection; whether it got as far as the stream."""
        async with self.client.ws_connect(self.last_id) as ws:
            self.connects += 1
            await self._set_linked(True)
            log.info("following the event stream of %s after event %d", self.client.server, self.last_id)
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if not isinstance(data, dict) or "id" not in data or data.get("type") == "stats":
                    continue
                verdict = self._accept(int(data["id"]))
                if verdict is None:
                    self.gaps += 1
                    log.info("a gap after event %d; reconnecting from there", self.last_id)
                    break
                if verdict:
                    await _call(self._on_event, data)
                    self.last_id = int(data["id"])
                    self.applied += 1
            if ws.close_code == CLOSE_AFTER_BEYOND_LOG:
                log.warning("the server's log ends before event %d (a data reset?); starting over", self.last_id)
                self.last_id = 0
                self._gap_seen = 0
                if self._on_reset is not None:
                    await _call(self._on_reset)
        return True
