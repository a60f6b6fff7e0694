"""The real server under concurrent windows and retrying kiosks: every ticket called once, no double issue."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.server_support import (
    ServerProcess,
    all_tickets,
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
def server(tmp_path: Path, server_store: str | None) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data", store=server_store) as proc:
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
        listed = await all_tickets(session, server, window(1))
        assert {t["id"] for t in listed} == set(issued)
        assert all(t["state"] == "finished" for t in listed)
        windows_by_id = {body["id"]: n for n, body in calls}
        assert all(t["window"] == windows_by_id[t["id"]] for t in listed)
        assert (await health(session, server))["last_event_id"] == log[-1]["id"]


KEYS_PER_KIOSK = 8
CONCURRENT_REPEATS = 3
LATER_REPEATS = 2


async def test_kiosks_retrying_with_idempotency_keys_get_one_ticket_per_key(server: ServerProcess) -> None:
    """Each (kiosk, key) yields one ticket, byte-identical on every repeat, even after a restart."""

    def request(k: int, i: int) -> tuple[dict[str, str], dict[str, str]]:
        # The same key text on every kiosk: keys are scoped by node, so these are 10 distinct keys each.
        return kiosk(k, key=f"issue-{i}"), {"service": SERVICES[(k + i) % len(SERVICES)]}

    async with aiohttp.ClientSession() as session:
        url = f"{server.url}/api/v1/tickets"

        async def send(k: int, i: int) -> tuple[int, bytes]:
            headers, body = request(k, i)
            async with session.post(url, headers=headers, json=body) as answer:
                return answer.status, await answer.read()

        async def one_key(k: int, i: int) -> list[tuple[int, bytes]]:
            first = await asyncio.gather(*(send(k, i) for _ in range(CONCURRENT_REPEATS)))
            later = [await send(k, i) for _ in range(LATER_REPEATS)]
            return [*first, *later]

        async def one_kiosk(k: int) -> dict[tuple[int, int], list[tuple[int, bytes]]]:
            answers = await asyncio.gather(*(one_key(k, i) for i in range(KEYS_PER_KIOSK)))
            return {(k, i): a for i, a in enumerate(answers)}

        per_key: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
        for part in await asyncio.gather(*(one_kiosk(k) for k in range(1, KIOSKS + 1))):
            per_key.update(part)

        first_answer: dict[tuple[int, int], bytes] = {}
        for slot, answers in per_key.items():
            assert {status for status, _ in answers} == {201}, (slot, answers)
            bodies = {body for _, body in answers}
            assert len(bodies) == 1, f"key {slot} got different answers: {bodies}"
            first_answer[slot] = answers[0][1]
        tickets = {slot: json.loads(body) for slot, body in first_answer.items()}
        ids = {t["id"] for t in tickets.values()}
        assert len(ids) == len(per_key) == KIOSKS * KEYS_PER_KIOSK
        numbers = [(t["service"], t["number"]) for t in tickets.values()]
        assert len(set(numbers)) == len(numbers), "a number was issued twice"

        # The log holds exactly one ticket.issued per key: the repeats issued nothing.
        log = await read_log(session, server)
        assert sorted(e["data"]["ticket"] for e in log if e["type"] == "ticket.issued") == sorted(ids)

        # The same key with a different body is refused, and issues nothing.
        headers, body = request(1, 0)
        other = "B01" if body["service"] != "B01" else "C01"
        async with session.post(url, headers=headers, json={"service": other}) as answer:
            assert answer.status == 422
            assert error_code(await answer.json()) == "idempotency_key_reused"
        assert (await health(session, server))["last_event_id"] == log[-1]["id"]

    # The records are durable: after a restart every repeat still gets the first answer, byte for byte.
    server.restart()
    async with aiohttp.ClientSession() as session:
        for (k, i), expected in first_answer.items():
            headers, body = request(k, i)
            async with session.post(f"{server.url}/api/v1/tickets", headers=headers, json=body) as answer:
                assert answer.status == 201
                assert await answer.read() == expected
        assert (await health(session, server))["last_event_id"] == log[-1]["id"]
