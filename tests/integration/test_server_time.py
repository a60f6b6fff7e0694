"""Time against a real server: midnight passes in a quiet hall, and the clock steps back across it.

The server runs under libfaketime (Debian's package; it shifts what the process's wall clock says while
the monotonic clock, which asyncio's timers use, stays true), and the test moves that wall clock by
rewriting the offset file, as NTP or a hall PC after a power cut would. Nothing in the server knows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import ServerProcess, health, kiosk, read_log
from tests.support.halls import MONDAY
from tests.support.wall_clock import WallClock

TUESDAY = "2026-11-24"
ROLL_BOUND_S = 20.0  # the tick runs every second; this bounds a hang, it is not a performance figure





@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def issue(session: aiohttp.ClientSession, server: ServerProcess) -> dict[str, Any]:
    async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1), json={"service": "A01"}) as answer:
        assert answer.status == 201, await answer.text()
        return await answer.json()


async def ticket(session: aiohttp.ClientSession, server: ServerProcess, ticket_id: str) -> dict[str, Any]:
    async with session.get(f"{server.url}/api/v1/tickets/{ticket_id}") as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def wait_for_day(session: aiohttp.ClientSession, server: ServerProcess, day: str) -> None:
    deadline = time.monotonic() + ROLL_BOUND_S
    while (await health(session, server))["day"] != day:
        assert time.monotonic() < deadline, f"the day did not roll to {day} by itself"
        await asyncio.sleep(0.2)


async def test_midnight_in_a_quiet_hall_and_a_clock_stepped_back_across_it(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    clock = WallClock(tmp_path / "faketime")
    clock.set(MONDAY, "23:59:57")
    with ServerProcess(tmp_path / "data", env=clock.env()) as server:
        monday = await issue(session, server)
        assert (monday["number"], monday["day"]) == ("A001", MONDAY)

        # Midnight passes with nobody asking: the tick rolls the day, the queues no longer show Monday.
        await wait_for_day(session, server, TUESDAY)
        async with session.get(f"{server.url}/api/v1/queues", headers=kiosk(1)) as answer:
            queues = await answer.json()
        assert queues["day"] == TUESDAY and all(q["waiting"] == 0 for q in queues["queues"])

        # Monday's ticket is still readable behind its QR code, and says its day is over.
        old = await ticket(session, server, monday["id"])
        assert old["day"] == MONDAY and old["day_over"] is True and old["state"] == "cancelled"
        async with session.get(f"{server.url}/api/v1/tickets/{monday['id']}",
                               headers={"Accept": "text/html"}) as answer:
            assert answer.status == 200 and "当日办理已结束" in await answer.text()

        tuesday = await issue(session, server)
        assert (tuesday["number"], tuesday["day"]) == ("A001", TUESDAY)

        # NTP pulls the clock back into Monday evening: Monday is not reopened, no number comes twice.
        clock.set(MONDAY, "23:59:30")
        stepped = await issue(session, server)
        assert (stepped["number"], stepped["day"]) == ("A002", TUESDAY)
        clock.set(MONDAY, "23:59:58")  # and it runs through midnight a second time
        await asyncio.sleep(3.5)
        assert (await health(session, server))["day"] == TUESDAY
        assert (await ticket(session, server, tuesday["id"]))["state"] == "waiting"

        server.restart()
        assert (await health(session, server))["day"] == TUESDAY
        again = await issue(session, server)
        assert (again["number"], again["day"]) == ("A003", TUESDAY)
        log = await read_log(session, server)
        rolls = [e["data"] for e in log if e["type"] == "day.rolled"]
        assert rolls == [{"from": None, "to": MONDAY}, {"from": MONDAY, "to": TUESDAY}]
        numbers = [(e["data"]["day"], e["data"]["number"]) for e in log if e["type"] == "ticket.issued"]
        assert len(numbers) == len(set(numbers)) == 4
    assert server.log_text().count("stepped back") == 1  # said once, not on every request or tick
