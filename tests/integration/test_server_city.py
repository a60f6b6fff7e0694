"""A city on one PostgreSQL: three instances serving five halls, one instance killed -9 mid-burst and restarted.

Size (bounded to run in well under a minute here): 5 halls × (20 windows + 10 kiosks), 4 tickets per kiosk
(200 tickets, each issued, called, started and finished: ~800 acknowledged commands plus the windows' polls),
every request to the next instance in turn with an Idempotency-Key, one manager stream per hall moving
between instances. Afterwards, per hall: the log's ids run 1..N; every acknowledged ticket exists once with
its number; the numbers of each (day, service) run 1..n; no ticket was called twice; every acknowledged
call, start and finish is kept; the hall's stream saw exactly its log. The city manager reads every hall's
figures in one request; a node's token reaches its own hall only.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import ServerProcess, error_code, kiosk, sign_in
from tests.integration.test_server_crash import Ledger, Op, WindowClient, check_promises
from tests.integration.test_server_instances import Balancer, Watcher, kill_and_restart, serving
from tests.support.city import CITY_MANAGER, hall_code, write_city
from tests.support.postgres import PrivateCluster
from tests.support.waiting import until as until_true

INSTANCES = 3
HALLS = 5
KIOSKS = range(1, 11)
WINDOWS = range(1, 21)
ISSUES_PER_KIOSK = 4
WINDOW_STEPS = 400
SERVICES = ("A01", "B01", "C01", "D01")
IDLE_POLL_S = 0.2  # a window with nothing waiting asks again after this (100 windows must not flood 2 cores)
TIMEOUT = aiohttp.ClientTimeout(total=30)
CONVERGE_S = 30.0


@pytest.fixture
def city(tmp_path: Path, private_cluster: PrivateCluster) -> Iterator[list[ServerProcess]]:
    """Three instances of a five-hall city on a cluster of the test's own (45 sessions: a shared server's
    connection budget is not ours to spend)."""
    city_file = write_city(tmp_path, HALLS)
    yield from serving([ServerProcess(tmp_path / f"instance-{i}", store=private_cluster.url, city=city_file)
                        for i in range(1, INSTANCES + 1)])


async def hall_heads(session: aiohttp.ClientSession, server: ServerProcess) -> dict[str, int]:
    async with session.get(f"{server.url}/api/v1/health") as answer:
        assert answer.status == 200, await answer.text()
        return {code: h["last_event_id"] for code, h in (await answer.json())["halls"].items()}


async def test_three_instances_five_halls_one_killed(city: list[ServerProcess]) -> None:
    seed = int(os.environ.get("SERVICEHALL_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    codes = [hall_code(n) for n in range(1, HALLS + 1)]
    ledgers = {code: Ledger() for code in codes}
    balancer = Balancer(city)
    keys = iter(range(10**9))
    acks = 0
    kill_after = rng.randrange(100, 400)
    kill_now = asyncio.Event()
    victim = city[1]
    loop = asyncio.get_running_loop()

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await asyncio.gather(*(sign_in(session, city[n % INSTANCES], n, hall=code)
                               for code in codes for n in WINDOWS))
        watchers = {code: Watcher(i, hall=code) for i, code in enumerate(codes)}
        ends: dict[str, asyncio.Future[int]] = {code: loop.create_future() for code in codes}  # set at the end
        watching = [asyncio.create_task(w.run(session, city, ends[code])) for code, w in watchers.items()]

        def acked() -> None:
            nonlocal acks
            acks += 1
            if acks >= kill_after:
                kill_now.set()

        async def kiosk_client(code: str, k: int) -> None:
            for i in range(ISSUES_PER_KIOSK):
                op = Op("issue", "/api/v1/tickets", kiosk(k, f"{code}-k{k}-{i}", code),
                        {"service": SERVICES[(k + i) % 4]})
                status, raw = await balancer.send(session, op)
                assert status == 201, (seed, status, raw)
                ticket = json.loads(raw)
                ledgers[code].issued[ticket["id"]] = ticket
                acked()

        async def window_client(code: str, client: WindowClient) -> None:
            for _ in range(WINDOW_STEPS):
                op = client.next_op(f"{code}-w{client.number}-{next(keys)}")
                status, raw = await balancer.send(session, op)
                client.take(op, status, json.loads(raw), ledgers[code])
                if status == 404:
                    if issuing.done():
                        return
                    await asyncio.sleep(IDLE_POLL_S)
                else:
                    acked()

        issuing = asyncio.gather(*(kiosk_client(code, k) for code in codes for k in KIOSKS))
        crash = asyncio.create_task(kill_and_restart(kill_now, victim))
        serving = asyncio.gather(*(window_client(code, WindowClient(n, hall=code)) for code in codes for n in WINDOWS))
        await asyncio.wait_for(asyncio.gather(issuing, serving, crash), 120)
        assert victim.starts == 2, "the victim was not killed and restarted"

        heads = await hall_heads(session, city[0])

        async def converged() -> bool:
            return all([await hall_heads(session, s) == heads for s in city])

        await until_true(converged, "every instance to reach every hall's end", CONVERGE_S)
        for code in codes:  # tell each stream where its hall's log ends, then wait for it to get there
            ends[code].set_result(heads[code])
        await asyncio.wait_for(asyncio.gather(*watching), CONVERGE_S)

        for i, code in enumerate(codes):
            ledger = ledgers[code]
            log = await check_promises(session, city[i % INSTANCES], ledger, f"seed {seed} hall {code}", hall=code,
                                       until=heads[code])
            assert [e["id"] for e in log] == list(range(1, heads[code] + 1))
            issued = [e["data"] for e in log if e["type"] == "ticket.issued"]
            assert len(issued) == len(ledger.issued) == len(KIOSKS) * ISSUES_PER_KIOSK, (seed, code)
            per_service: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
            for data in issued:
                per_service[(data["day"], data["service"])].append(data["seq"])
            for slot, seqs in per_service.items():
                assert sorted(seqs) == list(range(1, len(seqs) + 1)), (seed, code, slot, sorted(seqs))
            assert ledger.finished == set(ledger.issued), f"hall {code}: a ticket was left unserved"
            assert watchers[code].events == log, f"seed {seed}: the stream of hall {code} differs from its log"
        all_ids = [t for ledger in ledgers.values() for t in ledger.issued]
        assert len(all_ids) == len(set(all_ids)), "a ticket id exists in two halls"
        assert balancer.retried > 0, "the kill refused nothing: it did not strike mid-burst"

        await check_city_scope(session, city[2], codes, ledgers)


async def check_city_scope(session: aiohttp.ClientSession, server: ServerProcess, codes: list[str],
                           ledgers: dict[str, Ledger]) -> None:
    """The city manager sees every hall's figures; a hall's manager its own; an unknown token nothing."""
    async with session.get(f"{server.url}/api/v1/stats", headers={"Authorization": f"Bearer {CITY_MANAGER}"}) as ans:
        assert ans.status == 200, await ans.text()
        body: dict[str, Any] = await ans.json()
    assert [h["hall"] for h in body["halls"]] == codes
    assert all(h["scope"] == "hall" and h["rows"] for h in body["halls"])
    city_manager = {"Authorization": f"Bearer {CITY_MANAGER}"}
    async with session.get(f"{server.url}/api/v1/reports", headers=city_manager,
                           params={"period": "day", "by": "service"}) as ans:
        assert ans.status == 200, await ans.text()
        report: dict[str, Any] = await ans.json()
    assert [h["hall"] for h in report["halls"]] == codes and report["by"] == "service"
    assert {h["hall"]: h["totals"]["handled"] for h in report["halls"]} == {
        code: len(ledger.finished) for code, ledger in ledgers.items()}, "the city report disagrees with the halls"
    async with session.get(f"{server.url}/api/v1/reports", headers=city_manager, params={"period": "week!"}) as ans:
        assert ans.status == 400 and error_code(await ans.json()) == "invalid_period"
    async with session.get(f"{server.url}/api/v1/stats", headers={"Authorization": "Bearer h2-manager"}) as ans:
        assert ans.status == 200, await ans.text()
        own = await ans.json()
    assert "halls" not in own and own["rows"], own
    async with session.get(f"{server.url}/api/v1/stats", headers={"Authorization": "Bearer nobody-at-all"}) as ans:
        assert ans.status == 401
        assert error_code(await ans.json()) == "unauthorized"


async def test_a_city_on_sqlite_keeps_each_halls_log_apart(tmp_path: Path) -> None:
    """One instance without --store: a log per hall under --data; numbering is per hall."""
    city_file = write_city(tmp_path, 2)
    with ServerProcess(tmp_path / "data", city=city_file) as server:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            numbers = {}
            for code in ("h1", "h2"):
                async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1, hall=code),
                                        json={"service": "A01"}) as answer:
                    assert answer.status == 201, await answer.text()
                    numbers[code] = (await answer.json())["number"]
            assert numbers == {"h1": "A001", "h2": "A001"}
            heads = await hall_heads(session, server)
            assert heads["h1"] == heads["h2"] > 0, heads  # the same events in each hall's own log
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["h1", "h2"]
