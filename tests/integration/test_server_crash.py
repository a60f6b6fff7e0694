"""kill -9 in the middle of a burst, restart on the same data: nothing acknowledged is lost or doubled.

Kiosks issue and windows call/start/finish concurrently, every request with an Idempotency-Key. At a
random point (after a random number of acknowledged answers) the server gets SIGKILL. After the restart
every acknowledged ticket has the same number, every acknowledged call is still at its window, no
number exists twice per service per day, and the requests that were in flight are retried with their
keys and get consistent answers. Five cycles on one data directory.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.server_support import (
    ServerProcess,
    all_tickets,
    error_code,
    kiosk,
    manager,
    read_log,
    sign_in,
    window,
)

CYCLES = 5
KIOSKS = range(1, 7)
WINDOWS = range(1, 7)
ISSUES_PER_CYCLE = 25  # per kiosk
WINDOW_STEPS_PER_CYCLE = 200  # bound on each window's loop (queue_empty answers included)
SERVICES = ("A01", "B01", "C01", "D01")
FAILED = (aiohttp.ClientError, asyncio.TimeoutError)


@dataclass
class Op:
    """One request as a client would retry it: same path, same body, same key."""

    kind: str  # issue | call-next | start | finish
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None


@dataclass
class Ledger:
    """What the clients were told: the promises the server must keep after any crash."""

    issued: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticket id → acknowledged body
    called: dict[str, int] = field(default_factory=dict)  # ticket id → window in the acknowledged call
    started: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    acks: int = 0


@dataclass
class WindowClient:
    """A window's sequential loop (call-next → start → finish), resumable after a crash."""

    number: int
    stage: str = "call-next"
    ticket: str | None = None
    steps: int = 0
    hall: str = "demo"  # whose tokens (a test city's halls have their own)

    def next_op(self, key: str) -> Op:
        headers = window(self.number, key, self.hall)
        if self.stage == "call-next":
            return Op("call-next", f"/api/v1/windows/{self.number}/call-next", headers)
        return Op(self.stage, f"/api/v1/tickets/{self.ticket}/{self.stage}", headers)

    def take(self, op: Op, status: int, body: dict[str, Any], ledger: Ledger) -> None:
        """Advance on an answer; anything but the expected answers fails the test."""
        if op.kind == "call-next" and status == 404:
            assert error_code(body) == "queue_empty", body
            return
        assert status == 200, (op, status, body)
        ledger.acks += 1
        if op.kind == "call-next":
            assert body["state"] == "called" and body["window"] == self.number, body
            self.ticket, self.stage = body["id"], "start"
            ledger.called[body["id"]] = self.number
        elif op.kind == "start":
            assert body["state"] == "serving" and body["id"] == self.ticket, body
            self.stage = "finish"
            ledger.started.add(body["id"])
        else:
            assert body["state"] == "finished" and body["id"] == self.ticket, body
            self.stage, self.ticket = "call-next", None
            ledger.finished.add(body["id"])


async def send(session: aiohttp.ClientSession, base: str, op: Op) -> tuple[int, bytes]:
    async with session.post(base + op.path, headers=op.headers, json=op.body) as answer:
        return answer.status, await answer.read()


async def test_kill_minus_nine_mid_burst_loses_and_doubles_nothing(tmp_path: Path, server_store: str | None) -> None:
    seed = int(os.environ.get("SERVICEHALL_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    ledger = Ledger()
    windows = {n: WindowClient(n) for n in WINDOWS}
    keys = iter(range(10**9))
    server = ServerProcess(tmp_path / "data", store=server_store)
    timeout = aiohttp.ClientTimeout(total=20)
    with server:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for number in WINDOWS:
                await sign_in(session, server, number)
        for cycle in range(CYCLES):
            kill_after = rng.randrange(10, 120)
            pending: list[tuple[Op, WindowClient | None]] = []
            kill_now = asyncio.Event()

            async def kiosk_client(k: int, session: aiohttp.ClientSession, cycle: int = cycle,
                                   kill_after: int = kill_after, pending: list = pending,
                                   kill_now: asyncio.Event = kill_now) -> None:
                for i in range(ISSUES_PER_CYCLE):
                    op = Op("issue", "/api/v1/tickets", kiosk(k, f"c{cycle}-k{k}-{i}"),
                            {"service": SERVICES[(k + i) % len(SERVICES)]})
                    try:
                        status, raw = await send(session, server.url, op)
                    except FAILED:
                        pending.append((op, None))
                        return
                    assert status == 201, (status, raw)
                    ticket = json.loads(raw)
                    ledger.issued[ticket["id"]] = ticket
                    ledger.acks += 1
                    if ledger.acks >= kill_after:
                        kill_now.set()

            async def window_client(client: WindowClient, session: aiohttp.ClientSession,
                                    pending: list = pending) -> None:
                for _ in range(WINDOW_STEPS_PER_CYCLE):
                    op = client.next_op(f"w{client.number}-{next(keys)}")
                    try:
                        status, raw = await send(session, server.url, op)
                    except FAILED:
                        pending.append((op, client))
                        return
                    client.take(op, status, json.loads(raw), ledger)
                    if status == 404:
                        await asyncio.sleep(0.005)  # nothing waiting yet; let the kiosks issue

            ledger.acks = 0
            async with aiohttp.ClientSession(timeout=timeout) as session:
                tasks = [asyncio.create_task(kiosk_client(k, session)) for k in KIOSKS]
                tasks += [asyncio.create_task(window_client(c, session)) for c in windows.values()]
                waiter = asyncio.create_task(kill_now.wait())
                done, _ = await asyncio.wait([waiter, *tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED)
                assert waiter in done, f"seed {seed}: the burst ended before {kill_after} answers"
                server.kill()
                await asyncio.gather(*tasks)
            assert pending, f"seed {seed}: the kill found nothing in flight"

            server.start()
            async with aiohttp.ClientSession(timeout=timeout) as session:
                await check_promises(session, server, ledger, f"seed {seed} cycle {cycle}")
                await _retry(session, server, pending, ledger)
                await check_promises(session, server, ledger, f"seed {seed} cycle {cycle} after retries")
    assert len(ledger.issued) >= CYCLES * 10
    assert ledger.called, "no call was ever acknowledged"


async def _retry(session: aiohttp.ClientSession, server: ServerProcess, pending: list[tuple[Op, Any]],
                 ledger: Ledger) -> None:
    """Retry what was in flight at the kill with the same key: the answer must fit what is durable."""
    for op, client in pending:
        status, raw = await send(session, server.url, op)
        if client is None:
            assert status == 201, (op, status, raw)
            ticket = json.loads(raw)
            ledger.issued[ticket["id"]] = ticket
            # A second retry is answered from the idempotency record, byte for byte.
            assert await send(session, server.url, op) == (status, raw)
        else:
            client.take(op, status, json.loads(raw), ledger)


async def check_promises(session: aiohttp.ClientSession, server: ServerProcess, ledger: Ledger,
                          context: str, *, hall: str = "demo", until: int | None = None) -> list[dict[str, Any]]:
    """The promises of the ledger against the log and the ticket list (of ``hall``'s tokens; ``until`` the
    log's last id where health does not say it, in a city); returns the log."""
    log = await read_log(session, server, until=until, headers=manager(hall))
    assert [e["id"] for e in log] == list(range(1, len(log) + 1)), context
    issued = {e["data"]["ticket"]: e["data"] for e in log if e["type"] == "ticket.issued"}
    numbers = collections.Counter((d["day"], d["service"], d["number"]) for d in issued.values())
    doubled = [n for n, count in numbers.items() if count > 1]
    assert not doubled, f"{context}: numbers issued twice: {doubled}"
    for ticket_id, ticket in ledger.issued.items():
        assert ticket_id in issued, f"{context}: acknowledged ticket {ticket['number']} was lost"
        assert issued[ticket_id]["number"] == ticket["number"], context
    calls = [e["data"] for e in log if e["type"] == "ticket.called"]
    assert len({c["ticket"] for c in calls}) == len(calls), f"{context}: a ticket was called twice"
    now = {t["id"]: t for t in await all_tickets(session, server, window(1, hall=hall))}
    for ticket_id, ticket in ledger.issued.items():
        assert now[ticket_id]["number"] == ticket["number"], context
    for ticket_id, number in ledger.called.items():
        assert now[ticket_id]["state"] in ("called", "serving", "finished"), (context, now[ticket_id])
        assert now[ticket_id]["window"] == number, context
    for ticket_id in ledger.started:
        assert now[ticket_id]["state"] in ("serving", "finished"), (context, now[ticket_id])
    for ticket_id in ledger.finished:
        assert now[ticket_id]["state"] == "finished", (context, now[ticket_id])
    return log
