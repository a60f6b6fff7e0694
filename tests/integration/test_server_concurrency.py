"""The real server under concurrent windows and retrying kiosks: every ticket called once, no double issue."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.server_support import (
    ServerProcess,
    error_code,
    health,
    kiosk,
    read_log,
    sign_in,
    window,
)

SERVICES = ("A01", "B01", "C01", "D01")
WINDOWS = range(1, 21)
TICKETS = 500
KIOSKS = 10


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def _issue_all(session: aiohttp.ClientSession, server: ServerProcess) -> dict[str, dict]:
    """TICKETS tickets from KIOSKS kiosks at once, spread over the four services."""

    async def one_kiosk(k: int) -> list[dict]:
        out = []
        for i in range(k - 1, TICKETS, KIOSKS):
            async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(k),
                                    json={"service": SERVICES[i % len(SERVICES)]}) as answer:
                assert answer.status == 201, await answer.text()
                out.append(await answer.json())
        return out

    issued = [t for batch in await asyncio.gather(*(one_kiosk(k) for k in range(1, KIOSKS + 1))) for t in batch]
    return {t["id"]: t for t in issued}


async def test_twenty_windows_call_every_ticket_exactly_once(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for number in WINDOWS:
            await sign_in(session, server, number)
        issued = await _issue_all(session, server)
        assert len(issued) == TICKETS
        numbers = collections.Counter((t["service"], t["number"]) for t in issued.values())
        assert max(numbers.values()) == 1, "a number was issued twice"

        calls: list[tuple[int, dict]] = []

        async def window_client(number: int) -> None:
            url = f"{server.url}/api/v1"
            for _ in range(TICKETS + 1):  # bounded: never more calls than tickets
                async with session.post(f"{url}/windows/{number}/call-next", headers=window(number)) as answer:
                    body = await answer.json()
                    if answer.status == 404:
                        assert error_code(body) == "queue_empty"
                        return
                    assert answer.status == 200, body
                calls.append((number, body))
                assert body["state"] == "called" and body["window"] == number
                for action in ("start", "finish"):
                    async with session.post(f"{url}/tickets/{body['id']}/{action}", headers=window(number)) as ans:
                        assert ans.status == 200, await ans.text()
            raise AssertionError(f"window {number} kept calling past {TICKETS} tickets")

        await asyncio.gather(*(window_client(n) for n in WINDOWS))

        called_ids = [body["id"] for _, body in calls]
        assert len(called_ids) == len(set(called_ids)), "a ticket was called twice"
        assert set(called_ids) == set(issued)
        called_numbers = [(body["service"], body["number"]) for _, body in calls]
        assert len(set(called_numbers)) == TICKETS
        assert set(called_numbers) == set(numbers)
        assert len({n for n, _ in calls}) > 1, "only one window got work"

        # The durable log agrees: one ticket.called per ticket, at the window that was answered.
        log = await read_log(session, server)
        assert [e["id"] for e in log] == list(range(1, len(log) + 1))
        called_events = [e for e in log if e["type"] == "ticket.called"]
        assert sorted((e["data"]["ticket"], e["data"]["window"]) for e in called_events) == sorted(
            (body["id"], n) for n, body in calls)
        assert {e["data"]["ticket"] for e in log if e["type"] == "ticket.finished"} == set(issued)
        assert {e["data"]["ticket"] for e in log if e["type"] == "ticket.issued"} == set(issued)

        # And so does the ticket list.
        async with session.get(f"{server.url}/api/v1/tickets", headers=window(1)) as answer:
            listed = (await answer.json())["tickets"]
        assert {t["id"] for t in listed} == set(issued)
        assert all(t["state"] == "finished" for t in listed)
        windows_by_id = {body["id"]: n for n, body in calls}
        assert all(t["window"] == windows_by_id[t["id"]] for t in listed)
        assert (await health(session, server))["last_event_id"] == log[-1]["id"]
