"""The shared replay cache: a page is read once for many clients, prefixes are re-read, the size is bounded."""

from __future__ import annotations

import asyncio

from queue_server.engine.events import Event
from queue_server.ws.replay import ReplayCache
from queue_server.ws.views import View


class Log:
    """An in-memory log with a read counter and a gate to hold reads in flight."""

    def __init__(self, count: int) -> None:
        self.events = [Event(i, "ticket.requeued", float(i), {"ticket": f"t{i}"}) for i in range(1, count + 1)]
        self.reads: list[tuple[int, int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def read_after(self, after: int, limit: int) -> list[Event]:
        self.reads.append((after, limit))
        await self.gate.wait()
        return self.events[after:after + limit]


async def test_concurrent_clients_share_one_read_per_page() -> None:
    log = Log(25)
    cache = ReplayCache(log.read_after, page_size=10, max_pages=4)
    log.gate.clear()
    waiting = [asyncio.ensure_future(cache.after(View.PUBLIC, sent)) for sent in (0, 3, 9)]
    await asyncio.sleep(0)
    log.gate.set()
    pages = await asyncio.gather(*waiting)
    assert log.reads == [(0, 10)]
    assert all(page is pages[0] for page in pages)
    assert [event_id for event_id, _ in pages[0]] == list(range(1, 11))
    await cache.after(View.PUBLIC, 5)
    assert log.reads == [(0, 10)], "a full page is served from the cache"
    await cache.after(View.STAFF, 5)
    assert log.reads == [(0, 10), (0, 10)], "each view has its own text"


async def test_a_prefix_page_is_read_again_when_the_log_grew() -> None:
    log = Log(15)
    cache = ReplayCache(log.read_after, page_size=10, max_pages=4)
    assert [i for i, _ in await cache.after(View.PUBLIC, 10)] == [11, 12, 13, 14, 15]
    await cache.after(View.PUBLIC, 12)  # the prefix already holds 13..15
    assert len(log.reads) == 1
    log.events += [Event(i, "ticket.requeued", float(i), {"ticket": f"t{i}"}) for i in (16, 17)]
    assert [i for i, _ in await cache.after(View.PUBLIC, 15)] == [11, 12, 13, 14, 15, 16, 17]
    assert len(log.reads) == 2


async def test_the_cache_is_bounded_and_a_leaving_client_does_not_cancel_the_shared_read() -> None:
    log = Log(100)
    cache = ReplayCache(log.read_after, page_size=10, max_pages=3)
    log.gate.clear()
    leaving = asyncio.ensure_future(cache.after(View.PUBLIC, 0))
    staying = asyncio.ensure_future(cache.after(View.PUBLIC, 0))
    await asyncio.sleep(0)
    leaving.cancel()
    log.gate.set()
    assert len(await staying) == 10
    for sent in range(0, 100, 10):
        await cache.after(View.PUBLIC, sent)
    assert len(cache) == 3
