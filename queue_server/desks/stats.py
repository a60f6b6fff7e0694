"""The figures desk: stats rows for a range, the live view, and the WebSocket feed that carries it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from config.model import Node, NodeRole
from queue_server.answer import Answer, dumps
from queue_server.answer import answer as _answer
from queue_server.desks import DeskBase
from queue_server.engine.figures import Key
from queue_server.stats.feed import StatsFeed
from queue_server.stats.report import days_between, live_view, stats_rows
from queue_server.stats.reports import report_body

log = logging.getLogger(__name__)


class StatsDesk(DeskBase):
    """Reads of the figures; who sees which rows is decided here (see queue_server/api/stats.py)."""

    _stats_feed: StatsFeed | None = None
    _live_cache: tuple[int, int, str] | None = None  # (last event id, whole second, body)

    async def stats(self, node: Node, scope: str, first: str | None, last: str | None) -> Answer:
        """Rows of ``scope`` over the days ``first``..``last`` (default: today); a window sees its own rows only."""
        def present() -> Answer:
            today = self.engine.day or self.engine.calendar.day_of(self.clock())
            start, end = first or today, last or today
            only: set[Key] | None = None
            if node.role is NodeRole.WINDOW and scope in ("window", "staff"):
                only = {("window", str(node.window))}
                staff = self.engine.windows[node.window].staff if node.window in self.engine.windows else ""
                if staff:
                    only.add(("staff", staff))
            rows = stats_rows(self.engine, scope, days_between(start, end), self.clock(), only)
            return _answer({"scope": scope, "from": start, "to": end, "rows": rows})

        return await self.read(present)

    async def report(self, period: str, day: dt.date | None, by: str) -> dict[str, Any]:
        """A manager's report of the period holding ``day`` (default: today), sent once what it shows is durable."""
        await self.fresh()
        today = self.engine.day or self.engine.calendar.day_of(self.clock())
        body = report_body(self.engine, period, day or dt.date.fromisoformat(today), by)
        await self._durable(self.engine.last_event_id)
        return body

    def _live_body(self) -> tuple[float, str]:
        """The live view as JSON text, built at most once per event id and second (many screens, one build)."""
        now = self.clock()
        marker = (self.engine.last_event_id, int(now))
        cached = self._live_cache
        if cached is not None and cached[:2] == marker:
            return now, cached[2]
        body = dumps(live_view(self.engine, now, self.engine.last_event_id))
        self._live_cache = (*marker, body)
        return now, body

    async def stats_live(self) -> Answer:

        def present() -> Answer:
            now, body = self._live_body()
            return Answer(200, f'{{"at":{now!r},{body[1:]}')

        return await self.read(present)

    async def _stats_message(self) -> str:
        now, body = self._live_body()
        await self._durable(self.engine.last_event_id)  # screens see only what the log holds
        return f'{{"type":"stats","at":{now!r},"live":{body}}}'

    def _start_stats_feed(self) -> None:
        self._stats_feed = StatsFeed(lambda: self.engine.last_event_id, self._stats_message, self.hub.broadcast)
        self._stats_feed.start()

    async def _stop_stats_feed(self) -> None:
        if self._stats_feed is not None:
            await self._stats_feed.stop()
            self._stats_feed = None
