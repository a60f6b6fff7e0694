"""Replay pages shared by every client: each page of the log is read and serialised once per view.

Without it every client replaying from ``?after=`` built its own page of ``Event`` objects and their
JSON, so a hundred screens reconnecting after a restart held a hundred copies of the same history
(and left the allocator's arenas swollen after they left). Pages are aligned on fixed id boundaries
(page k holds ids k*size+1 … (k+1)*size), so clients starting anywhere share them; a read already in
flight is awaited, not repeated; at most ``max_pages`` pages are kept (least recently used first out).
Durable events never change, so a cached page is always right; a page read before the log reached
its end is only a prefix, and is read again when a client needs more of it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from queue_server.engine.events import Event
from queue_server.ws.views import View, render

PAGE_SIZE = 250
MAX_PAGES = 16  # per hub; about 250 × 16 × ~0.4 KB ≈ 2 MB of text at most

Page = tuple[tuple[int, str], ...]  # (event id, text) in log order
ReadAfter = Callable[[int, int], Awaitable[list[Event]]]


class ReplayCache:
    """Fixed-size, single-flight cache of serialised log pages, keyed by (view, page index)."""

    def __init__(self, read_after: ReadAfter, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES) -> None:
        self._read_after = read_after
        self.page_size = page_size
        self.max_pages = max_pages
        self._pages: OrderedDict[tuple[View, int], Page] = OrderedDict()
        self._reading: dict[tuple[View, int], asyncio.Future[Page]] = {}
        self.reads = 0  # store reads made, for tests and benchmarks

    def __len__(self) -> int:
        return len(self._pages)

    async def after(self, view: View, sent: int) -> Page:
        """The cached page holding event ``sent + 1`` (it may also hold events up to ``sent``)."""
        key = (view, sent // self.page_size)
        page = self._pages.get(key)
        if page is not None and (len(page) == self.page_size or page[-1][0] > sent):
            self._pages.move_to_end(key)
            return page
        reading = self._reading.get(key)
        if reading is not None:
            page = await asyncio.shield(reading)
            if page and page[-1][0] > sent:
                return page
        reading = self._reading.get(key)  # another client may have started a fresh read meanwhile
        if reading is None:
            reading = asyncio.ensure_future(self._read(key))  # its own task: a client leaving does not cancel it
            self._reading[key] = reading
            reading.add_done_callback(lambda task: None if task.cancelled() else task.exception())
        return await asyncio.shield(reading)

    async def _read(self, key: tuple[View, int]) -> Page:
        view, index = key
        try:
            self.reads += 1
            events = await self._read_after(index * self.page_size, self.page_size)
            page: Page = tuple((event.id, render(event, view)) for event in events)
            del events
            if page:
                self._pages[key] = page
                self._pages.move_to_end(key)
                while len(self._pages) > self.max_pages:
                    self._pages.popitem(last=False)
            return page
        finally:
            self._reading.pop(key, None)
