"""The hall speaker's node against the real server: calls made through the API are said in order, whole,
twice after a chime; a recall again; what happened before the node started is not said again.

The speaker is the real ``espeak://`` driver playing through pygame (SDL's dummy audio plays in real time)
with a library of short tones in place of the espeak-ng voice, so an announcement lasts about a second.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from devices.speaker.tts import Call, announcement_tokens
from kiosk.announcer_node import AnnouncerNode
from tests.integration.server_support import ServerProcess, kiosk, sign_in, window
from tests.integration.test_speaker_queue import write_tone_library
from tests.support.node_rig import running_behaviour
from tests.support.waiting import until


@contextlib.asynccontextmanager
async def announcer(server: ServerProcess, data_dir: Path, speaker_url: str) -> AsyncIterator[AnnouncerNode]:
    async with running_behaviour(server.url, "display", {"speaker": speaker_url}, data_dir, AnnouncerNode) as (_, node):
        await until(lambda: node._synced.is_set(), "the announcer to know where the log stands")
        yield node


async def post(http: aiohttp.ClientSession, server: ServerProcess, path: str, headers: dict[str, str],
               body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with http.post(server.url + path, headers=headers, json=body or {}) as answer:
        data = await answer.json()
        assert answer.status in (200, 201), data
        return dict(data)


async def test_calls_through_the_api_are_said_in_order_whole_twice_and_a_recall_again(tmp_path: Path) -> None:
    tones = tmp_path / "tones"
    tones.mkdir()
    write_tone_library(tones)
    with ServerProcess(tmp_path / "data") as server:
        async with aiohttp.ClientSession() as http:
            for n in (1, 2):
                await sign_in(http, server, n)
            old = await post(http, server, "/api/v1/tickets", kiosk(1, "k-old"), {"service": "A01"})
            await post(http, server, "/api/v1/windows/1/call-next", window(1, "c-old"))
            await post(http, server, f"/api/v1/tickets/{old['id']}/start", window(1, "s-old"))
            first, second = [await post(http, server, "/api/v1/tickets", kiosk(1, f"k-{i}"), {"service": "A01"})
                             for i in (1, 2)]
            async with announcer(server, tmp_path / "node", f"espeak://?clips={tones}&repeat=2") as node:
                assert node.speaker is not None
                called_1 = await post(http, server, "/api/v1/windows/1/call-next", window(1, "c-1"))
                called_2 = await post(http, server, "/api/v1/windows/2/call-next", window(2, "c-2"))
                assert {called_1["id"], called_2["id"]} == {first["id"], second["id"]}
                await post(http, server, f"/api/v1/tickets/{called_1['id']}/recall", window(1, "r-1"))
                await until(lambda: len(node.announced) == 3, "three announcements queued")
                spoken = [await a.wait() for a in node.announced]
    expected = [Call(called_1["number"], 1), Call(called_2["number"], 2), Call(called_1["number"], 1, recall=True)]
    assert [s.call for s in spoken] == expected
    assert [s.tokens for s in spoken] == [announcement_tokens(c, 2) for c in expected]
    assert all(s.complete for s in spoken)
    for before, after in itertools.pairwise(spoken):
        assert before.ended_at is not None and after.started_at is not None
        assert before.ended_at <= after.started_at, "an announcement was cut off or overlapped"
    assert old["number"] not in {s.call.ticket for s in spoken}, "a call from before the start was said again"


async def test_a_green_call_is_said_with_its_lane_and_a_late_call_is_not_said(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server:
        async with aiohttp.ClientSession() as http:
            await sign_in(http, server, 1)
            green = await post(http, server, "/api/v1/tickets", window(1, "k-g"),
                               {"service": "A01", "priority": "green", "green_reason": "disability"})
            async with announcer(server, tmp_path / "node", "silent://?pace=0") as node:
                await post(http, server, "/api/v1/windows/1/call-next", window(1, "c-g"))
                await until(lambda: len(node.announced) == 1, "the green call announced")
                spoken = await node.announced[0].wait()
                assert spoken.call == Call(green["number"], 1, green=True) and "绿色通道" in spoken.tokens
                node.stale_after_s = -1.0  # from now on every call reaches the node "late"
                await post(http, server, f"/api/v1/tickets/{green['id']}/recall", window(1, "r-g"))
                await until(lambda: node.skipped_stale == 1, "the late recall seen and not said")
                assert len(node.announced) == 1
