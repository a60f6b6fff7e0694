"""A node remembers the last event it applied in its data dir: a restart resumes the stream there instead of
replaying the day from 0 (and a kiosk still knows the numbers it learnt); a server data reset (close 4009)
still makes it forget and start again from 0."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from kiosk.node_memory import NodeMemory
from tests.integration.server_support import ServerProcess, health, kiosk
from tests.support.kiosk_rig import Kiosk, running_node
from tests.support.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def issue(session: aiohttp.ClientSession, server: ServerProcess, key: str) -> str:
    async with session.post(f"{server.url}/api/v1/tickets", json={"service": "A01"}, headers=kiosk(2, key)) as r:
        assert r.status == 201, await r.text()
        number: str = (await r.json())["number"]
        return number


async def caught_up(session: aiohttp.ClientSession, server: ServerProcess, node: Kiosk) -> int:
    last = int((await health(session, server))["last_event_id"])
    await until(lambda: node.runtime.follower.last_id >= last, f"the node to apply the stream up to {last}")
    return last


async def test_a_restarted_node_resumes_the_stream_where_it_stopped(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    data = tmp_path / "node"
    first = await issue(session, server, "m-1")
    async with running_node(hall_file, "kiosk-1", server.url, data) as node:
        await caught_up(session, server, node)
        assert first in node.behaviour.numbers
        assert node.runtime.follower.applied == node.runtime.follower.last_id  # a fresh node replays it all
    mark = NodeMemory(data / "kiosk-1").last_event_id
    assert mark >= node.runtime.follower.last_id > 0
    second = await issue(session, server, "m-2")
    async with running_node(hall_file, "kiosk-1", server.url, data) as again:
        await caught_up(session, server, again)
        follower = again.runtime.follower
        assert follower.applied == follower.last_id - mark  # only what came after the mark
        assert follower.applied < follower.last_id and follower.gaps == 0
        assert {first, second} <= set(again.behaviour.numbers)  # remembered, and learnt


async def test_a_server_data_reset_still_makes_the_node_start_over(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    data = tmp_path / "node"
    (data / "kiosk-1").mkdir(parents=True)
    # the node outlived a data reset: its memory names an event and a number the new log never had
    (data / "kiosk-1" / "memory.json").write_text(json.dumps({"last_event_id": 10**6, "numbers": {"Z999": "gone"}}))
    number = await issue(session, server, "r-1")
    async with running_node(hall_file, "kiosk-1", server.url, data) as node:
        last = await caught_up(session, server, node)
        assert node.runtime.follower.last_id < 10**6
        assert node.behaviour.numbers.get(number) and "Z999" not in node.behaviour.numbers
    assert last <= NodeMemory(data / "kiosk-1").last_event_id < 10**6


def test_an_unreadable_memory_means_a_replay_from_the_start(tmp_path: Path) -> None:
    (tmp_path / "memory.json").write_text("{not json")
    assert NodeMemory(tmp_path).last_event_id == 0
    (tmp_path / "memory.json").write_text(json.dumps({"last_event_id": "12"}))
    assert NodeMemory(tmp_path).last_event_id == 0
