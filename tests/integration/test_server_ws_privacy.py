"""Privacy by role on the real server's event stream: a kiosk and a display see the public view (no holder,
no staff ids, no node names, no typed reasons), a window and a manager the staff view (never the holder's
HMAC), and replayed history is filtered exactly like live events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import ServerProcess, health, kiosk, manager, sign_in, window
from tests.integration.test_server_ws import RECEIVE_TIMEOUT_S

ROLES = {"kiosk": kiosk(2), "display": {"Authorization": "Bearer demo-display"}, "window": window(1),
         "manager": manager()}
HOLDER_KEY = "ab" * 32
PAUSE_REASON = "帮张三填表"  # free text a person typed: it may name a citizen


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def hall_activity(session: aiohttp.ClientSession, server: ServerProcess) -> None:
    """Tickets with a holder, a call, a pause with a reason: every kind of detail a stream could leak."""
    await sign_in(session, server, 1)
    for n, body in enumerate([{"service": "A01", "holder_key": HOLDER_KEY, "holder_masked": "张*"},
                              {"service": "A01"}, {"service": "B01", "holder_masked": "欧阳*"}]):
        async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1 + n), json=body) as answer:
            assert answer.status == 201, await answer.text()
    async with session.post(f"{server.url}/api/v1/windows/1/call-next", headers=window(1)) as answer:
        assert answer.status == 200, await answer.text()
    async with session.post(f"{server.url}/api/v1/windows/1/pause", headers=window(1),
                            json={"reason": PAUSE_REASON}) as answer:
        assert answer.status == 200, await answer.text()


async def read_all(ws: aiohttp.ClientWebSocketResponse, last: int) -> list[str]:
    out: list[str] = []
    while not out or json.loads(out[-1])["id"] < last:
        out.append(await ws.receive_str(timeout=RECEIVE_TIMEOUT_S))
    return out


def by_type(texts: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for text in texts:
        event = json.loads(text)
        out.setdefault(event["type"], []).append(event)
    return out


async def test_each_role_sees_its_view_live_and_in_replay(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        start = (await health(session, server))["last_event_id"]
        live: dict[str, aiohttp.ClientWebSocketResponse] = {}
        for role, headers in ROLES.items():
            live[role] = await session.ws_connect(f"{server.ws_url}?after={start}", headers=headers)
        try:
            await hall_activity(session, server)
            last = (await health(session, server))["last_event_id"]
            seen_live = {role: await read_all(ws, last) for role, ws in live.items()}
        finally:
            for ws in live.values():
                await ws.close()
        seen_replay: dict[str, list[str]] = {}
        for role, headers in ROLES.items():
            async with session.ws_connect(f"{server.ws_url}?after={start}", headers=headers) as ws:
                seen_replay[role] = await read_all(ws, last)

    for role in ROLES:
        assert seen_replay[role] == seen_live[role], f"{role}: replay and live differ"
        text = "\n".join(seen_live[role])
        assert HOLDER_KEY not in text and "holder_key" not in text, f"{role} received the holder's HMAC"
    for role in ("kiosk", "display"):
        text = "\n".join(seen_live[role])
        for secret in ("holder_masked", "张*", "欧阳*", "s001", '"staff"', '"node"', "kiosk-1", "window-1",
                       PAUSE_REASON):
            assert secret not in text, f"the {role} view leaks {secret!r}"
        events = by_type(seen_live[role])
        issued = events["ticket.issued"]
        assert [e["data"]["number"] for e in issued] == ["A001", "A002", "B001"]
        assert {e["data"]["service"] for e in issued} == {"A01", "B01"}
        [called] = events["ticket.called"]
        assert called["data"]["window"] == 1 and called["data"]["ticket"] == issued[0]["data"]["ticket"]
        assert events["window.paused"][0]["data"] == {"window": 1}
        assert all({"id", "type", "at", "data"} <= set(e) for es in events.values() for e in es)
    for role in ("window", "manager"):
        events = by_type(seen_live[role])
        [called] = events["ticket.called"]
        assert called["staff"] == "s001" and called["node"] == "window-1"
        assert events["ticket.issued"][0]["data"]["holder_masked"] == "张*"
        assert events["window.paused"][0]["data"]["reason"] == PAUSE_REASON
