"""Three server instances on one PostgreSQL log, any request to any instance, one of them killed -9 mid-burst.

Kiosks issue and windows call/start/finish with Idempotency-Keys, each request sent to the next instance in
turn (a plain load balancer); a request whose instance died or refused is retried with its key on the next
one. Manager WebSocket clients start one per instance and move to another instance when theirs dies,
resuming after their last event id. In the middle of the burst instance 2 gets SIGKILL; it is restarted
while the burst goes on. Afterwards: the log's ids run 1..N; every acknowledged ticket exists once with its
number; the numbers of each (day, service) run 1..n with no duplicate; no ticket was called twice; every
acknowledged call, start and finish is kept; every WebSocket client saw exactly the log, gap-free, in order.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from queue_server.store.postgres import HALL_LOCK
from tests.integration.server_support import ServerProcess, error_code, health, kiosk, manager, read_log, sign_in
from tests.integration.test_server_crash import FAILED, Ledger, Op, WindowClient, check_promises, send
from tests.support.waiting import until as until_true

INSTANCES = 3
KIOSKS = range(1, 11)
WINDOWS = range(1, 21)
ISSUES_PER_KIOSK = 24  # 240 tickets in all
WINDOW_STEPS = 400  # bound on each window's loop (queue_empty answers included)
SERVICES = ("A01", "B01", "C01", "D01")
ATTEMPTS = 200  # bound on the retries of one request over the instances (a restart takes a few seconds)
TIMEOUT = aiohttp.ClientTimeout(total=30)
CONVERGE_S = 30.0  # bound on every instance and client reaching the log's end


@pytest.fixture
def instances(tmp_path: Path, pg_url: str) -> Iterator[list[ServerProcess]]:
    yield from serving([ServerProcess(tmp_path / f"instance-{i}", store=pg_url) for i in range(1, INSTANCES + 1)])


def serving(servers: list[ServerProcess]) -> Iterator[list[ServerProcess]]:
    """Start every server, yield them, and stop (or kill) every one however the test ends."""
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.__exit__()


@dataclass
class Balancer:
    """Round robin over the instances that run; a failed or refused request moves on with the same key."""

    servers: list[ServerProcess]
    turn: int = 0
    retried: int = 0

    def next_url(self) -> str | None:
        for _ in range(len(self.servers)):
            self.turn += 1
            server = self.servers[self.turn % len(self.servers)]
            if server.proc is not None and server.port:
                return server.url
        return None

    async def send(self, session: aiohttp.ClientSession, op: Op) -> tuple[int, bytes]:
        for _attempt in range(ATTEMPTS):
            url = self.next_url()
            if url is not None:
                try:
                    status, raw = await send(session, url, op)
                except FAILED:
                    status, raw = 0, b""
                if status not in (0, 503):
                    return status, raw
            self.retried += 1
            await asyncio.sleep(0.05)  # back-off before the next instance, never a timing assertion
        raise AssertionError(f"{op} was refused by every instance {ATTEMPTS} times")


async def kill_and_restart(now: asyncio.Event, victim: ServerProcess) -> None:
    """kill -9 the victim once ``now`` is set (mid-burst), then start it again on the same log."""
    await now.wait()
    victim.kill()
    await asyncio.to_thread(victim.start)


@dataclass
class Watcher:
    """A manager's event stream that follows the hall across instances, resuming after its last id."""

    home: int
    hall: str = "demo"
    events: list[dict[str, Any]] = field(default_factory=list)
    connects: int = 0
    source: list[tuple[int, int]] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.events[-1]["id"] if self.events else 0

    async def run(self, session: aiohttp.ClientSession, servers: list[ServerProcess], until: asyncio.Future[int]
                  ) -> None:
        turn = self.home
        while not (until.done() and self.last >= until.result()):
            server = servers[turn % len(servers)]
            if server.proc is None or not server.port:
                turn += 1
                await asyncio.sleep(0.05)
                continue
            try:
                async with session.ws_connect(f"{server.ws_url}?after={self.last}", headers=manager(self.hall)) as ws:
                    self.connects += 1
                    while not (until.done() and self.last >= until.result()):
                        try:
                            message = await ws.receive(timeout=0.5)
                        except TimeoutError:
                            continue
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        self.events.append(json.loads(message.data))
                        self.source.append((turn % len(servers), self.connects))
            except FAILED:
                pass
            turn += 1
            await asyncio.sleep(0.05)


async def test_three_instances_one_killed_lose_and_double_nothing(instances: list[ServerProcess]) -> None:
    seed = int(os.environ.get("SERVICEHALL_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    ledger = Ledger()
    balancer = Balancer(instances)
    keys = iter(range(10**9))
    kill_after = rng.randrange(60, 200)
    kill_now = asyncio.Event()
    victim = instances[1]
    loop = asyncio.get_running_loop()
    until: asyncio.Future[int] = loop.create_future()

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for number in WINDOWS:
            await sign_in(session, instances[number % INSTANCES], number)
        watchers = [Watcher(i) for i in range(INSTANCES)]
        watching = [asyncio.create_task(w.run(session, instances, until)) for w in watchers]

        def acked() -> None:
            ledger.acks += 1
            if ledger.acks >= kill_after:
                kill_now.set()

        async def kiosk_client(k: int) -> None:
            for i in range(ISSUES_PER_KIOSK):
                op = Op("issue", "/api/v1/tickets", kiosk(k, f"k{k}-{i}"), {"service": SERVICES[(k + i) % 4]})
                status, raw = await balancer.send(session, op)
                assert status == 201, (seed, status, raw)
                ticket = json.loads(raw)
                ledger.issued[ticket["id"]] = ticket
                acked()

        async def window_client(client: WindowClient) -> None:
            for _ in range(WINDOW_STEPS):
                op = client.next_op(f"w{client.number}-{next(keys)}")
                status, raw = await balancer.send(session, op)
                client.take(op, status, json.loads(raw), ledger)
                if status == 404:
                    if issuing.done():
                        return
                    await asyncio.sleep(0.01)  # nothing waiting yet; let the kiosks issue
                else:
                    acked()

        issuing = asyncio.gather(*(kiosk_client(k) for k in KIOSKS))
        crash = asyncio.create_task(kill_and_restart(kill_now, victim))
        serving = asyncio.gather(*(window_client(WindowClient(n)) for n in WINDOWS))
        await asyncio.wait_for(asyncio.gather(issuing, serving, crash), 120)
        assert victim.starts == 2, "the victim was not killed and restarted"

        # Every instance converges on the log's end; then every stream must have seen exactly the log.
        last = max([(await health(session, s))["last_event_id"] for s in instances])

        async def converged() -> bool:
            return min([(await health(session, s))["last_event_id"] for s in instances]) >= last

        await until_true(converged, "every instance to reach the log's end", CONVERGE_S)
        until.set_result(last)
        await asyncio.wait_for(asyncio.gather(*watching), CONVERGE_S)

        for server in instances:
            await check_promises(session, server, ledger, f"seed {seed} on {server.url}")
        log = await read_log(session, instances[0])
        assert [e["id"] for e in log] == list(range(1, last + 1))
        issued = [e["data"] for e in log if e["type"] == "ticket.issued"]
        assert len(issued) == len(ledger.issued) == len(KIOSKS) * ISSUES_PER_KIOSK, seed
        per_service: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
        for data in issued:
            per_service[(data["day"], data["service"])].append(data["seq"])
        for slot, seqs in per_service.items():
            assert sorted(seqs) == list(range(1, len(seqs) + 1)), (seed, slot, sorted(seqs))
        assert ledger.finished == set(ledger.issued), "a ticket was left unserved"
        rolled = [e["data"] for e in log if e["type"] == "day.rolled"]  # every instance ticks each second
        assert len(rolled) == 1, rolled  # the day opened once, not once per instance
        for watcher in watchers:
            ids = [e["id"] for e in watcher.events]
            gap = next((i for i, e in enumerate(ids) if e != i + 1), None)
            assert ids == list(range(1, last + 1)), (seed, watcher.home, gap is not None and (
                ids[gap - 2: gap + 2], watcher.source[gap - 2: gap + 2]))  # (instance, connection) of each
            assert watcher.events == log, f"seed {seed}: stream {watcher.home} differs from the log"
        assert watchers[1].connects >= 2, "the victim's stream client never moved to another instance"
        assert balancer.retried > 0, "the kill refused nothing: it did not strike mid-burst"


async def test_an_instance_without_the_halls_lock_decides_nothing(instances: list[ServerProcess], pg_url: str,
                                                                  ) -> None:
    """A session that holds the hall's lock and answers nothing (a partitioned instance in mid-turn): every
    instance answers 503 ``store_unavailable`` after a bounded wait and decides nothing; once the lock is
    free the next request on the same instance is decided, with the next number."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        first = await Balancer(instances).send(session, Op("issue", "/api/v1/tickets", kiosk(1, "before"),
                                                           {"service": "A01"}))
        assert first[0] == 201
        before = (await health(session, instances[0]))["last_event_id"]
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as holder:
            await holder.execute("SELECT pg_advisory_lock(%s, hashtext(''))", (HALL_LOCK,))  # a single hall's
            refused = await asyncio.gather(*(send(session, server.url, Op(
                "issue", "/api/v1/tickets", kiosk(2, f"p{n}"), {"service": "A01"}))
                for n, server in enumerate(instances)))
            for status, raw in refused:
                assert status == 503 and error_code(json.loads(raw)) == "store_unavailable", (status, raw)
            cur = await holder.execute("SELECT COALESCE(MAX(id), 0) FROM events")
            assert (await cur.fetchone()) == (before,), "an instance wrote without the hall's lock"
        for n, server in enumerate(instances):  # the retry with the same key is decided now, once
            status, raw = await send(session, server.url, Op("issue", "/api/v1/tickets", kiosk(2, f"p{n}"),
                                                             {"service": "A01"}))
            assert status == 201, raw
            assert json.loads(raw)["number"] == f"A{n + 2:03d}"
            assert (await health(session, server))["status"] == "ok"


async def test_a_ticket_issued_on_one_instance_is_read_on_the_next(instances: list[ServerProcess]) -> None:
    """Read-your-writes behind a balancer: the next instance applies the log before it answers a read."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for i in range(30):
            writer, reader = instances[i % INSTANCES], instances[(i + 1) % INSTANCES]
            async with session.post(f"{writer.url}/api/v1/tickets", headers=kiosk(1), json={"service": "A01"}) as ans:
                assert ans.status == 201, await ans.text()
                ticket = await ans.json()
            async with session.get(f"{reader.url}/api/v1/tickets/{ticket['id']}", headers=kiosk(2)) as ans:
                assert ans.status == 200, (i, await ans.text())
                assert (await ans.json())["number"] == ticket["number"]


async def test_an_idempotency_key_is_honoured_by_every_instance(instances: list[ServerProcess]) -> None:
    """The answer kept by one instance is the answer of the others, byte for byte, even at the same moment;
    the same key with another body is refused on every instance."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for i in range(10):
            op = Op("issue", "/api/v1/tickets", kiosk(3, f"same-{i}"), {"service": "B01"})
            first = await send(session, instances[i % INSTANCES].url, op)
            assert first[0] == 201, first
            again = await asyncio.gather(*(send(session, s.url, op) for s in instances))
            assert all(answer == first for answer in again), (i, first, again)
            other = Op("issue", "/api/v1/tickets", kiosk(3, f"same-{i}"), {"service": "C01"})
            status, raw = await send(session, instances[(i + 1) % INSTANCES].url, other)
            assert status == 422 and error_code(json.loads(raw)) == "idempotency_key_reused", (status, raw)
        together = Op("issue", "/api/v1/tickets", kiosk(4, "together"), {"service": "A01"})
        answers = await asyncio.gather(*(send(session, s.url, together) for s in instances for _ in range(3)))
        assert len(set(answers)) == 1 and answers[0][0] == 201, answers
        log = await read_log(session, instances[0])
        issued = [e for e in log if e["type"] == "ticket.issued" and e["node"] in ("kiosk-3", "kiosk-4")]
        assert len(issued) == 11, "a retried key issued a second ticket"
