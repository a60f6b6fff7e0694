"""The screens' link to the queue server: HTTP for the starting picture, the WebSocket for everything after.

On (re)connect the feed reads GET /api/v1/health (the hall's name), GET /api/v1/stats/live when it has no
state yet (the event id the picture stands at), GET /api/v1/alerts (open ones) and the day's figures, then
follows GET /api/v1/events?after=<last id applied>&stats=1. ``HallState`` drops what it already applied and
flags a gap, so a reconnect continues without holes or duplicates. A lost link marks the state lost (the
screens then say "数据未更新（14:32 起）") and retries with a capped exponential back-off. Close 4009
(the server's log is shorter than our id: a data reset) starts the picture again from scratch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from screens.models import HallState

log = logging.getLogger(__name__)

CLOSE_AFTER_BEYOND_LOG = 4009
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 10.0
FIGURES_EVERY_S = 30.0  # satisfaction and mean times (GET /api/v1/stats) at most this often
HTTP_TIMEOUT_S = 5.0
UPCOMING_SHOWN = 4


class Feed:
    """Keeps ``state`` current from ``server`` with a display (or window) node's ``token``."""

    def __init__(self, server: str, token: str, state: HallState, *, window: int | None = None,
                 on_change: Callable[[], None] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.server = server.rstrip("/")
        self.state = state
        self.window = window  # a counter screen also follows its window's next waiting tickets
        self._headers = {"Authorization": f"Bearer {token}"}
        self._on_change = on_change or (lambda: None)
        self._clock = clock
        self._figures_at = 0.0
        self._window_services: list[str] = []
        self.connects = 0

    async def run(self) -> None:
        """Follow the stream until cancelled, reconnecting with back-off."""
        delay = BACKOFF_FIRST_S
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=HTTP_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers) as session:
            while True:
                try:
                    if await self._follow(session):
                        delay = BACKOFF_FIRST_S
                except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as err:
                    if self.state.connected:
                        log.warning("lost the event stream of %s (%s); retrying", self.server, err)
                    else:
                        log.debug("event stream of %s still unavailable (%s)", self.server, err)
                if self.state.connected or self.state.lost_at is None:
                    self.state.lost(self._clock())
                    self._on_change()
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP_S)

    async def _get(self, session: aiohttp.ClientSession, path: str) -> Any:
        async with session.get(self.server + path, timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)) as answer:
            answer.raise_for_status()
            return await answer.json()

    async def _bootstrap(self, session: aiohttp.ClientSession) -> None:
        health = await self._get(session, "/api/v1/health")
        self.state.hall_name = str(health.get("hall", self.state.hall_name))
        if not self.state.last_event_id:
            self.state.seed(await self._get(session, "/api/v1/stats/live"))
        if self.window is None:  # counter screens show no alerts (and their window token may not read them)
            alerts = await self._get(session, "/api/v1/alerts?state=open")
            self.state.set_alerts(list(alerts.get("alerts", ())))
        await self._figures(session, force=True)
        if self.window is not None:
            windows = await self._get(session, "/api/v1/windows")
            mine = [w for w in windows.get("windows", ()) if w.get("number") == self.window]
            self._window_services = list(mine[0].get("services", ())) if mine else []

    async def _figures(self, session: aiohttp.ClientSession, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._figures_at < FIGURES_EVERY_S:
            return
        self._figures_at = now
        for scope in ("hall", "department"):
            body = await self._get(session, f"/api/v1/stats?scope={scope}")
            self.state.apply_figures(scope, list(body.get("rows", ())))

    async def _upcoming(self, session: aiohttp.ClientSession) -> None:
        """The next tickets waiting for this window's services, in each service's queue order, oldest first."""
        if self.window is None:
            return
        waiting: list[tuple[float, str]] = []
        for service in self._window_services:
            body = await self._get(session, f"/api/v1/tickets?state=waiting&service={service}&limit={UPCOMING_SHOWN}")
            waiting += [(float(t.get("issued_at", 0.0)), t["number"]) for t in body.get("tickets", ())]
        self.state.upcoming[self.window] = tuple(n for _, n in sorted(waiting)[:UPCOMING_SHOWN])

    async def _learn(self, session: aiohttp.ClientSession) -> None:
        for ticket in sorted(self.state.unknown)[:10]:
            try:
                body = await self._get(session, f"/api/v1/tickets/{ticket}")
            except aiohttp.ClientResponseError:
                self.state.unknown.discard(ticket)  # gone (another day): keep showing what we have
                continue
            self.state.learn_ticket(ticket, str(body["number"]), str(body.get("service", "")))

    async def _follow(self, session: aiohttp.ClientSession) -> bool:
        """One connection: bootstrap, then apply messages until it ends; whether it got as far as the stream."""
        await self._bootstrap(session)
        await self._upcoming(session)
        url = f"{self.server}/api/v1/events?after={self.state.last_event_id}&stats=1"
        async with session.ws_connect(url, heartbeat=10.0) as ws:
            self.connects += 1
            self.state.resumed()
            self._on_change()
            log.info("following the event stream of %s after event %d", self.server, self.state.last_event_id)
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if data.get("type") == "stats":
                    self.state.apply_stats(data)
                    await self._figures(session)
                    await self._upcoming(session)
                else:
                    self.state.apply_event(data)
                    if self.state.gap:
                        log.info("a gap after event %d; reconnecting from there", self.state.last_event_id)
                        break
                if self.state.unknown:
                    await self._learn(session)
                self._on_change()
            if ws.close_code == CLOSE_AFTER_BEYOND_LOG:
                log.warning("the server's log ends before event %d (a data reset?); starting over",
                            self.state.last_event_id)
                self.state.last_event_id = 0
        return True


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a running feed and wait for it to let go of its socket."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
