"""Figures over real HTTP: tickets issued, called, finished and transferred through the API, then /stats and
/stats/live agree with what was done; roles see what the docs say; bad queries get their own codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import ServerProcess, display, error_code, kiosk, manager, sign_in, window


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def post(session: aiohttp.ClientSession, server: ServerProcess, path: str, headers: dict[str, str],
               body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    async with session.post(server.url + path, headers=headers, json=body or {}) as answer:
        assert answer.status == status, await answer.text()
        return await answer.json()


async def get(session: aiohttp.ClientSession, server: ServerProcess, path: str, headers: dict[str, str],
              status: int = 200, **params: str) -> Any:
    async with session.get(server.url + path, headers=headers, params=params) as answer:
        assert answer.status == status, await answer.text()
        return await answer.json()


async def test_stats_and_live_after_a_morning_through_the_api(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await sign_in(session, server, 1)
        await sign_in(session, server, 2)
        tickets = [await post(session, server, "/api/v1/tickets", kiosk(1, f"k{n}"), {"service": code}, 201)
                   for n, code in enumerate(("A01", "A01", "B01", "C01", "B01"))]
        first = await post(session, server, "/api/v1/windows/1/call-next", window(1, "c1"))
        await post(session, server, f"/api/v1/tickets/{first['id']}/start", window(1, "s1"))
        await post(session, server, f"/api/v1/tickets/{first['id']}/finish", window(1, "f1"))
        second = await post(session, server, "/api/v1/windows/2/call-next", window(2, "c2"))
        await post(session, server, f"/api/v1/tickets/{second['id']}/transfer", window(2, "t2"),
                   {"to_service": "D01"})
        third = await post(session, server, "/api/v1/windows/1/call-next", window(1, "c3"))
        await post(session, server, f"/api/v1/tickets/{third['id']}/skip", window(1, "k3"))
        await post(session, server, f"/api/v1/tickets/{tickets[4]['id']}/cancel", kiosk(1, "x4"))
        await post(session, server, "/api/v1/windows/2/pause", window(2), {"reason": "break"})

        (hall,) = (await get(session, server, "/api/v1/stats", manager()))["rows"]
        assert {k: hall[k] for k in ("issued", "called", "finished", "skipped", "cancelled", "transferred_out",
                                     "no_show")} == {"issued": 5, "called": 3, "finished": 1, "skipped": 1,
                                                     "cancelled": 1, "transferred_out": 1, "no_show": 0}
        assert hall["completion_rate"] == round(1 / 3, 4)  # 1 finished of 3 matters called
        assert hall["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0} and hall["satisfaction"] is None
        assert hall["wait_s"]["p50"] is not None and hall["wait_s"]["p50"] >= 0
        assert hall["handling_s"]["p90"] is not None and hall["handling_s"]["p90"] >= 0
        assert (hall["waiting_now"], hall["windows_open"], hall["windows_paused"]) == (2, 1, 1)

        by_window = {r["window"]: r for r in (await get(session, server, "/api/v1/stats", display(),
                                                        scope="window"))["rows"]}
        assert (by_window[1]["called"], by_window[1]["finished"], by_window[1]["skipped"]) == (2, 1, 1)
        assert by_window[2]["transferred_out"] == 1 and by_window[2]["windows_paused"] == 1
        staff = (await get(session, server, "/api/v1/stats", manager(), scope="staff"))["rows"]
        assert {r["staff"]: r["finished"] for r in staff if r["finished"]} == {"s001": 1}

        live = await get(session, server, "/api/v1/stats/live", display())
        assert live["hall"]["issued"] == 5 and live["hall"]["waiting_now"] == 2
        services = {s["service"]: s for s in live["services"]}
        assert services["D01"]["waiting"] == 1  # the transferred matter waits under its new service
        windows = {w["window"]: w for w in live["windows"]}
        assert windows[1]["state"] == "open" and windows[1]["number"] is None  # its last ticket was skipped
        assert windows[2]["state"] == "paused" and windows[3]["state"] == "closed"
        assert await get(session, server, "/api/v1/stats/live", kiosk(2)) is not None  # the kiosk shows waits

        # a window sees its own window and staff rows only; a kiosk may not read /stats
        own = (await get(session, server, "/api/v1/stats", window(1), scope="window"))["rows"]
        assert [r["window"] for r in own] == [1]
        own_staff = (await get(session, server, "/api/v1/stats", window(1), scope="staff"))["rows"]
        assert [r["staff"] for r in own_staff] == ["s001"]
        assert len((await get(session, server, "/api/v1/stats", window(1), scope="service"))["rows"]) == 4
        assert error_code(await get(session, server, "/api/v1/stats", kiosk(1), 403)) == "forbidden"


async def test_a_restart_rebuilds_the_figures(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await sign_in(session, server, 1)
        for n in range(3):
            await post(session, server, "/api/v1/tickets", kiosk(1, f"r{n}"), {"service": "A01"}, 201)
        called = await post(session, server, "/api/v1/windows/1/call-next", window(1, "rc"))
        await post(session, server, f"/api/v1/tickets/{called['id']}/finish", window(1, "rf"))
        before = await get(session, server, "/api/v1/stats", manager(), scope="service")
    server.kill()
    server.start()
    async with aiohttp.ClientSession() as session:
        after = await get(session, server, "/api/v1/stats", manager(), scope="service")
    for row in (*before["rows"], *after["rows"]):
        row.pop("longest_wait_s")  # the only figure that moves with the clock
        row.pop("windows_open")  # the restart kept the sign-in, but compare counts only
    assert after["rows"] == before["rows"]


@pytest.mark.parametrize(("query", "code"), [
    ({"scope": "floor"}, "invalid_scope"), ({"from": "2026-13-01"}, "invalid_day"), ({"to": "tomorrow"}, "invalid_day"),
    ({"from": "2026-11-23", "to": "2026-11-01"}, "invalid_range"), ({"from": "2024-01-01", "to": "2026-01-01"},
                                                                     "invalid_range")])
async def test_bad_queries_have_their_own_codes(server: ServerProcess, query: dict[str, str], code: str) -> None:
    async with aiohttp.ClientSession() as session:
        assert error_code(await get(session, server, "/api/v1/stats", manager(), 400, **query)) == code


async def test_a_range_of_days_without_traffic_is_zeros(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        params = {"scope": "department", "from": "2026-01-01", "to": "2026-01-31"}
        body = await get(session, server, "/api/v1/stats", manager(), 200, **params)
    assert [r["department"] for r in body["rows"]] == ["shebao", "budongchan"]
    assert all(r["issued"] == 0 and r["completion_rate"] is None for r in body["rows"])
