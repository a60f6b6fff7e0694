"""Console sessions and the same-origin guard, without a server: expiry (idle, absolute), the cap, hashing."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import make_mocked_request

from config.model import Node, NodeRole
from queue_server.console.guard import check_same_origin
from queue_server.console.sessions import SessionTable
from queue_server.engine.errors import QueueError

MANAGER = Node("manager", NodeRole.MANAGER, "")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_when_idle_and_at_its_absolute_deadline_even_if_busy() -> None:
    clock = Clock()
    table = SessionTable(idle_s=60, absolute_s=300, clock=clock)
    first, session = table.create(MANAGER)
    assert table.max_age_s(session) == 300
    for _ in range(5):  # used every 50 s: the idle deadline keeps moving
        clock.now += 50
        assert table.get(first) is session
    clock.now += 50  # 300 s after sign-in: over, however busy
    assert table.get(first) is None and len(table) == 0
    second, _ = table.create(MANAGER)
    clock.now += 60
    assert table.get(second) is None  # idle for 60 s


def test_ids_are_random_kept_only_as_hashes_and_the_oldest_goes_past_the_cap() -> None:
    clock = Clock()
    table = SessionTable(limit=3, clock=clock)
    ids = []
    for _ in range(3):
        clock.now += 1
        ids.append(table.create(MANAGER)[0])
    assert len(set(ids)) == 3 and all(len(i) >= 40 for i in ids)
    assert not any(i in repr(table._sessions) for i in ids)  # only sha256 digests are keys
    clock.now += 1
    table.get(ids[0])  # the first is used again: the second is now the least recently used
    table.create(MANAGER)
    assert table.get(ids[1]) is None and table.get(ids[0]) is not None and len(table) == 3
    assert table.end(ids[0]) and not table.end(ids[0]) and table.get(ids[0]) is None


def test_the_csrf_token_must_match_exactly() -> None:
    _, session = SessionTable().create(MANAGER)
    assert session.csrf_ok(session.csrf_token)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok(session.csrf_token + "x")


@pytest.mark.parametrize(("headers", "allowed"), [
    ({"Origin": "http://hall.local:8080"}, True),
    ({"Sec-Fetch-Site": "same-origin"}, True),
    ({"Origin": "http://hall.local:8080", "Sec-Fetch-Site": "same-origin"}, True),
    ({"Origin": "https://queue.example.gov.cn"}, True),  # the configured public address (behind a proxy)
    ({}, False),
    ({"Origin": "http://hall.local:9999"}, False),
    ({"Origin": "null"}, False),
    ({"Origin": "http://hall.local:8080", "Sec-Fetch-Site": "cross-site"}, False),
    ({"Sec-Fetch-Site": "none"}, False),
])
def test_the_guard_lets_only_the_consoles_own_origin_through(headers: dict[str, str], allowed: bool) -> None:
    request = make_mocked_request("POST", "/api/v1/tickets", headers={"Host": "hall.local:8080", **headers})
    if allowed:
        check_same_origin(request, "https://queue.example.gov.cn/")
    else:
        with pytest.raises(QueueError) as refused:
            check_same_origin(request, "https://queue.example.gov.cn/")
        assert (refused.value.status, refused.value.code) == (403, "cross_site_request")


async def test_watch_ends_a_stream_at_sign_out_at_once_and_at_expiry_by_itself() -> None:
    table = SessionTable()
    session_id, _ = table.create(MANAGER)
    ended = asyncio.Event()

    async def on_end() -> None:
        ended.set()

    watcher = asyncio.create_task(table.watch(session_id, on_end))
    await asyncio.sleep(0)  # the watcher is waiting on the session now
    assert not ended.is_set()
    table.end(session_id)
    await asyncio.wait_for(ended.wait(), 10.0)
    await watcher

    short = SessionTable(idle_s=0.05)  # nobody uses it: the idle deadline passes and the watcher wakes for it
    session_id, _ = short.create(MANAGER)
    await asyncio.wait_for(short.watch(session_id, on_end), 10.0)
    assert short.get(session_id) is None
