"""ServerClient and EventFollower against the real queue server: keys, refusals, a restart, the stream's replay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kiosk.event_stream import EventFollower
from kiosk.server_client import Answer, RetryPolicy, ServerClient, Unreachable
from tests.integration.server_support import ServerProcess
from tests.support.waiting import until

FAST = RetryPolicy(attempts=3, first_delay_s=0.05, max_delay_s=0.2, timeout_s=10.0)


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def test_issue_retry_refusal_and_printed(server: ServerProcess) -> None:
    async with ServerClient(server.url, "demo-kiosk-1", policy=FAST) as client:
        first = await client.issue_ticket({"service": "A01"}, key="kiosk-key-1")
        again = await client.issue_ticket({"service": "A01"}, key="kiosk-key-1")
        assert isinstance(first, Answer) and first.status == 201, first
        assert isinstance(again, Answer) and again.body == first.body  # the same ticket, not a second one
        refused = await client.issue_ticket({"service": "NOPE"}, key="kiosk-key-2")
        assert isinstance(refused, Answer) and not refused.ok and refused.status in (400, 404)
        assert refused.code and refused.message_zh and refused.message_en
        printed = await client.report_printed(str(first.body["id"]), key="printed-1")
        assert isinstance(printed, Answer) and printed.ok, printed.words()
        view = await client.ticket(str(first.body["id"]))
        assert isinstance(view, Answer) and view.ok and view.body["number"] == first.body["number"]
        health = await client.node_health("kiosk-1", [{"name": "ticket_printer", "kind": "ticket_printer",
                                                       "state": "ready"}])
        assert isinstance(health, Answer) and health.ok and health.body["online"] is True
        other = await client.node_health("kiosk-2", [])
        assert isinstance(other, Answer) and other.status == 403  # a node reports only its own health


async def test_a_wrong_token_is_refused_not_unreachable(server: ServerProcess) -> None:
    async with ServerClient(server.url, "not-a-token", policy=FAST) as client:
        result = await client.issue_ticket({"service": "A01"})
    assert isinstance(result, Answer) and result.status == 401 and result.code == "unauthorized"


async def test_a_stopped_server_is_unreachable_then_back(server: ServerProcess) -> None:
    async with ServerClient(server.url, "demo-kiosk-1", policy=FAST) as client:
        server.kill()
        down = await client.health()
        assert isinstance(down, Unreachable) and down.attempts == FAST.attempts
        server.start(same_port=True)
        back = await client.health()
        assert isinstance(back, Answer) and back.ok


async def test_the_follower_catches_up_after_a_cut_without_gaps_or_duplicates(server: ServerProcess) -> None:
    seen: list[int] = []
    links: list[bool] = []
    async with ServerClient(server.url, "demo-kiosk-1", policy=FAST) as client, \
            ServerClient(server.url, "demo-kiosk-2", policy=FAST) as other:
        follower = EventFollower(client, lambda event: seen.append(int(event["id"])), on_link=links.append,
                                 backoff_first_s=0.05, backoff_cap_s=0.2)
        task = asyncio.create_task(follower.run())
        try:
            for n in range(3):
                assert isinstance(await other.issue_ticket({"service": "A01"}, key=f"a{n}"), Answer)
            await until(lambda: len(seen) >= 3, "the first three events")
            server.kill()
            await until(lambda: not follower.linked, "the follower to notice the cut")
            server.start(same_port=True)
            for n in range(3, 6):
                assert isinstance(await other.issue_ticket({"service": "B01"}, key=f"b{n}"), Answer)
            last = (await other.health())
            assert isinstance(last, Answer)
            last_id = int(last.body["last_event_id"])
            await until(lambda: follower.last_id >= last_id, "the follower to catch up")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert seen == list(range(seen[0], last_id + 1)) and seen[0] == 1  # every id once, in order
    assert links[:3] == [True, False, True] and follower.connects >= 2


async def test_a_data_reset_closes_4009_and_the_follower_starts_again_from_scratch(
        tmp_path: Path, server: ServerProcess) -> None:
    seen: list[int] = []
    resets: list[bool] = []
    async with ServerClient(server.url, "demo-kiosk-1", policy=FAST) as client:
        for n in range(3):
            assert isinstance(await client.issue_ticket({"service": "A01"}, key=f"old{n}"), Answer)
        follower = EventFollower(client, lambda event: seen.append(int(event["id"])),
                                 on_reset=lambda: resets.append(True), backoff_first_s=0.05, backoff_cap_s=0.2)
        task = asyncio.create_task(follower.run())
        fresh = ServerProcess(tmp_path / "fresh-data", config=server.config)
        try:
            await until(lambda: len(seen) >= 3, "the old log")
            old_last = follower.last_id
            server.stop()
            fresh.port = server.port
            fresh.start(same_port=True)
            assert isinstance(await client.issue_ticket({"service": "A01"}, key="new0"), Answer)
            await until(lambda: bool(resets) and follower.last_id >= 1 and len(seen) > old_last,
                        "the follower to start over on the new log")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            fresh.stop()
    assert seen[:old_last] == list(range(1, old_last + 1))
    assert seen[old_last:] == list(range(1, follower.last_id + 1))  # the new log from its start, once


async def test_follow_events_on_the_client_delivers_from_after(server: ServerProcess) -> None:
    got: list[int] = []

    async def on_event(event: dict[str, Any]) -> None:
        got.append(int(event["id"]))

    async with ServerClient(server.url, "demo-kiosk-1", policy=FAST) as client:
        for n in range(3):
            assert isinstance(await client.issue_ticket({"service": "A01"}, key=f"f{n}"), Answer)
        task = asyncio.create_task(client.follow_events(1, on_event))
        try:
            await until(lambda: len(got) >= 2, "the events after id 1")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert got[:2] == [2, 3]
