"""The wall display's push feed: a ``stats`` message on the event stream when figures change, never polled."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.server_support import ServerProcess, display, health, kiosk

FEED_BOUND_S = 10.0  # the feed sends at most once a second; this bounds a hang, it is no performance figure


async def issue(session: aiohttp.ClientSession, server: ServerProcess) -> dict[str, Any]:
    async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1), json={"service": "A01"}) as answer:
        assert answer.status == 201
        return await answer.json()


async def test_a_ticket_issued_reaches_screens_as_an_event_then_a_stats_message(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server:
        async with aiohttp.ClientSession() as session:
            after = (await health(session, server))["last_event_id"]
            async with session.ws_connect(f"{server.ws_url}?after={after}&stats=1", headers=display()) as ws:
                async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1),
                                        json={"service": "A01"}) as answer:
                    assert answer.status == 201
                    ticket = await answer.json()
                seen_event = False
                deadline = time.monotonic() + FEED_BOUND_S
                while True:
                    assert time.monotonic() < deadline, "no stats message arrived"
                    message = json.loads(await ws.receive_str(timeout=FEED_BOUND_S))
                    if message.get("type") == "ticket.issued":
                        seen_event = message["data"]["ticket"] == ticket["id"]
                    elif message.get("type") == "stats":
                        live = message["live"]
                        if live["hall"]["issued"] >= 1:
                            break
                assert seen_event, "the stats message came before the event it counts"
                services = {s["service"]: s for s in live["services"]}
                assert services["A01"]["waiting"] == 1 and live["hall"]["waiting_now"] == 1
                assert "holder_key" not in json.dumps(message) and "holder_masked" not in json.dumps(message)
            async with session.ws_connect(f"{server.ws_url}?after={after}", headers=display()) as plain:
                # Without ?stats=1 the stream is events only, as replay consumers expect: across two changes
                # more than a feed period apart, every message is an event.
                second = await issue(session, server)
                await asyncio.sleep(1.5)
                third = await issue(session, server)
                while True:
                    message = json.loads(await plain.receive_str(timeout=FEED_BOUND_S))
                    assert message.get("type") != "stats" and "id" in message, message
                    if message["data"].get("ticket") == third["id"]:
                        break
                assert second["id"] != third["id"]
