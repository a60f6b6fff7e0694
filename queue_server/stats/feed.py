"""The ``stats`` message of the WebSocket: at most once a second, only when something changed, built once.

200 wall screens then never poll ``/api/v1/stats/live``: the feed builds the live JSON once per change and
hands the text to ``send`` (the hub's broadcast: a non-event message to every subscriber, not replayed,
dropped for slow clients like events). "Changed" is the last durable event id: waits grow every second,
but screens count those themselves between messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FEED_INTERVAL_S = 1.0


class StatsFeed:
    """A task that every ``interval_s`` sends ``build()`` when ``marker()`` moved since the last message."""

    def __init__(self, marker: Callable[[], int], build: Callable[[], Awaitable[str]], send: Callable[[str], None],
                 interval_s: float = FEED_INTERVAL_S) -> None:
        self._marker = marker
        self._build = build
        self._send = send
        self._interval_s = interval_s
        self._sent: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="stats feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def step(self) -> bool:
        """Send one message if something changed; whether one was sent."""
        marker = self._marker()
        if marker == self._sent:
            return False
        text = await self._build()
        self._send(text)
        self._sent = marker
        return True

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop the feed for the hall: say it, try next second
                log.exception("the stats feed failed")
