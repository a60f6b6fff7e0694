"""A city on one PostgreSQL: durable issue + call-next with 1, 2, 3 instances and 1, 10, 50 halls, vs SQLite.

- Every server is ``kiosk.cli serve --city FILE`` (halls h1…hN: copies of allday_hall.toml with their own codes
  and tokens, tests/support/city.py); PostgreSQL rounds put 1, 2 or 3 instances on one database, the SQLite
  rounds run one instance (a log per hall under --data), in the same run. Tables are dropped between rounds.
- PostgreSQL: a private cluster of the run's own (Debian's postgresql, in a temporary directory), DURABLE:
  ``fsync=on``, ``synchronous_commit=on`` (the default), and ``max_connections=600`` because every hall's store
  holds three sessions per instance (writer, reader, listener): 50 halls × 3 instances = 450.
- Load (a child process, aiohttp), per hall: 1 kiosk (issue + printed) and 1 window (call-next + finish), or
  bench_server_throughput.py's 5 + 5 for the one-hall rounds; an Idempotency-Key on every POST; every request to
  the next instance in turn (a round-robin balancer), so with 2 or 3 instances nearly every command catches
  up with events another instance wrote. Windows are signed in and 20 tickets per hall (100 for one hall)
  issued before the clock starts.
- Latency: one hall, 2 instances; a manager's WebSocket on instance B, 50 tickets/s issued on instance A; the
  time from the POST's answer to the event's arrival on B (NOTIFY → LISTEN → log read → hub), and on A itself.
- Nothing is pinned: 2 cores carry the instances, the load generator and PostgreSQL.
Run: .venv/bin/python benchmarks/bench_city.py [--rounds 2] [--seconds 5] [--halls 1,10,50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench_server_support import PYTHON, ROOT, child, free_port, machine, median, percentile
from bench_server_throughput import SERVICES, WARMUP_S, process_cpu_s
from bench_store_postgres import admin, settings

from tests.support.city import hall_code, write_city
from tests.support.postgres import PrivateCluster

LATENCY_RATE = 50  # tickets/s issued during the latency round
TABLES = "events, idempotency, servicehall_schema"
DURABLE = "-c fsync=on -c full_page_writes=on -c max_connections=600"


def clients_per_hall(halls: int) -> int:
    return 5 if halls == 1 else 1


async def prepare(base: str, halls: int) -> None:
    """Sign each hall's windows in and fill its line before the clock starts."""
    from aiohttp import ClientSession

    per = clients_per_hall(halls)
    fill = 100 if halls == 1 else 20
    async with ClientSession() as session:

        async def one(code: str) -> None:
            for w in range(1, per + 1):
                async with session.post(f"{base}/api/v1/windows/{w}/sign-in", json={"staff": f"s{w:03d}",
                                        "pin": "123456"}, headers={"Authorization": f"Bearer {code}-window-{w}"}) as a:
                    assert a.status == 200, await a.text()
            for n in range(fill):
                async with session.post(f"{base}/api/v1/tickets", json={"service": SERVICES[n % len(SERVICES)]},
                                        headers={"Authorization": f"Bearer {code}-kiosk-{1 + n % per}"}) as a:
                    assert a.status == 201, await a.text()

        await asyncio.gather(*(one(hall_code(n)) for n in range(1, halls + 1)))


# ----------------------------------------------------------------------------------------- the load (child)
async def drive(bases: list[str], halls: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    """Each hall's clients over the instances in turn; latencies of requests that start and end in the span."""
    from aiohttp import ClientSession, ClientTimeout, TCPConnector

    rng = random.Random(5)
    turn = itertools.cycle(range(len(bases)))
    start = time.perf_counter()
    measure_from, stop_at = start + warmup_s, start + warmup_s + seconds
    latencies: list[float] = []
    refused: dict[str, int] = {}
    async with ClientSession(connector=TCPConnector(limit=0), timeout=ClientTimeout(total=30)) as session:

        async def post(path: str, token: str, body: bytes) -> tuple[int, bytes]:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": uuid.uuid4().hex}
            t0 = time.perf_counter()
            async with session.post(bases[next(turn)] + path, data=body, headers=headers) as answer:
                text, status = await answer.read(), answer.status
            t1 = time.perf_counter()
            if measure_from <= t0 and t1 <= stop_at:
                latencies.append((t1 - t0) * 1000)
            if status >= 500:
                refused[str(status)] = refused.get(str(status), 0) + 1
            return status, text

        async def kiosk(code: str, k: int) -> None:
            token = f"{code}-kiosk-{k}"
            while time.perf_counter() < stop_at:
                body = json.dumps({"service": rng.choice(SERVICES)}).encode()
                status, text = await post("/api/v1/tickets", token, body)
                assert status == 201, text
                await post(f"/api/v1/tickets/{json.loads(text)['id']}/printed", token, b"{}")

        async def window(code: str, w: int) -> None:
            token = f"{code}-window-{w}"
            while time.perf_counter() < stop_at:
                status, text = await post(f"/api/v1/windows/{w}/call-next", token, b"")
                if status == 200:
                    await post(f"/api/v1/tickets/{json.loads(text)['id']}/finish", token, b"{}")
                elif status != 404:
                    raise RuntimeError(f"call-next answered {status}: {text[:200]!r}")

        codes = [hall_code(n) for n in range(1, halls + 1)]
        per = range(1, clients_per_hall(halls) + 1)
        await asyncio.gather(*(kiosk(c, k) for c in codes for k in per), *(window(c, w) for c in codes for w in per))
    rate = len(latencies) / seconds
    return {"ops": len(latencies), "rate": rate, "per_hall": rate / halls, "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "refused": refused}


async def stream_latency(issue_on: str, watch_on: list[str], seconds: float) -> dict[str, list[float]]:
    """Issue LATENCY_RATE tickets/s on one instance; per watched instance, answer → stream arrival in ms."""
    from aiohttp import ClientSession

    answered: dict[str, float] = {}
    arrived: dict[str, dict[str, float]] = {base: {} for base in watch_on}
    async with ClientSession() as session:
        async with session.get(f"{issue_on}/api/v1/health") as answer:
            after = (await answer.json())["halls"]["h1"]["last_event_id"]

        async def watch(base: str) -> None:
            ws_url = base.replace("http://", "ws://") + f"/api/v1/events?after={after}"
            async with session.ws_connect(ws_url, headers={"Authorization": "Bearer h1-manager"}) as ws:
                ready.set()
                async for message in ws:
                    event = json.loads(message.data)
                    if event.get("type") == "ticket.issued":
                        arrived[base][event["data"]["ticket"]] = time.perf_counter()

        tasks = []
        for base in watch_on:
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(watch(base)))
            await asyncio.wait_for(ready.wait(), 10)
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            async with session.post(f"{issue_on}/api/v1/tickets", json={"service": "A01"},
                                    headers={"Authorization": "Bearer h1-kiosk-1"}) as answer:
                ticket = (await answer.json())["id"]
                answered[ticket] = time.perf_counter()
            await asyncio.sleep(1 / LATENCY_RATE)
        await asyncio.sleep(1.0)  # the last events on their way
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {base: [(got[t] - answered[t]) * 1000 for t in answered if t in got] for base, got in arrived.items()}


def run_child(*argv: str, timeout_s: float) -> Any:
    done = subprocess.run([PYTHON, __file__, *argv], capture_output=True, text=True, timeout=timeout_s, check=True)
    return json.loads(done.stdout)


# ----------------------------------------------------------------------------------------- rounds
@contextlib.contextmanager
def instances(tmp: Path, tag: str, count: int, store: str | None, city: Path) -> Any:
    """``count`` servers of ``city`` on ``store`` (None: SQLite); yields their base URLs; all stopped after."""
    with contextlib.ExitStack() as stack:
        bases, pids = [], []
        for i in range(count):
            port = free_port()
            argv = [PYTHON, "-m", "kiosk.cli", "serve", "--city", str(city), "--data", str(tmp / f"{tag}-{i}"),
                    "--host", "127.0.0.1", "--port", str(port), *(["--store", store] if store else [])]
            pids.append(stack.enter_context(child(argv, port, log=tmp / f"{tag}-{i}.log", timeout_s=120)).pid)
            bases.append(f"http://127.0.0.1:{port}")
        yield bases, pids


def cluster_pids(cluster: PrivateCluster) -> list[int]:
    """The private cluster's postmaster and its children (backends, WAL writer …), from /proc."""
    postmaster = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            pids.append(int(stat.parent.name))
    return pids


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += process_cpu_s(pid)
    return total


def load_round(tmp: Path, tag: str, count: int, store: str | None, city: Path, halls: int,
               seconds: float, cluster: PrivateCluster) -> dict[str, Any]:
    """One measured run; adds the CPU per acknowledged request of the instances and of PostgreSQL."""
    with instances(tmp, tag, count, store, city) as (bases, pids):
        asyncio.run(prepare(bases[0], halls))
        pg = cluster_pids(cluster)  # its backends for our sessions exist by now
        before = (cpu_s(pids), cpu_s(pg))
        result: dict[str, Any] = run_child("--load", json.dumps(bases), str(halls), str(seconds),
                                           timeout_s=seconds + 300)
        after = (cpu_s(pids), cpu_s(pg))
    requests = result["rate"] * (seconds + WARMUP_S)  # the load ran warm-up + seconds at about that rate
    result["server_ms"] = (after[0] - before[0]) * 1000 / requests
    result["pg_ms"] = (after[1] - before[1]) * 1000 / requests
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--halls", default="1,10,50")
    parser.add_argument("--load", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--latency", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(drive(json.loads(args.load[0]), int(args.load[1]), float(args.load[2]),
                                           WARMUP_S))))
        return
    if args.latency:
        print(json.dumps(asyncio.run(stream_latency(args.latency[0], json.loads(args.latency[1]),
                                                    float(args.latency[2])))))
        return
    hall_counts = [int(h) for h in args.halls.split(",")]
    kinds = [("sqlite", 1), ("pg", 1), ("pg", 2), ("pg", 3)]
    results: dict[tuple[int, str, int], list[dict[str, Any]]] = {(h, k, c): [] for h in hall_counts for k, c in kinds}
    lat: dict[str, list[float]] = {}
    cluster = PrivateCluster.create(DURABLE)
    try:
        url = cluster.url
        with tempfile.TemporaryDirectory(prefix="bench-city-", dir=ROOT) as tmp_text:
            tmp = Path(tmp_text)
            cities = {}
            for halls in hall_counts:
                (tmp / f"city-{halls}").mkdir()
                cities[halls] = write_city(tmp / f"city-{halls}", halls)
            for n in range(args.rounds):
                for halls in hall_counts:
                    for kind, count in kinds:
                        admin(url, f"DROP TABLE IF EXISTS {TABLES}")
                        result = load_round(tmp, f"{kind}{count}-{halls}-{n}", count, url if kind == "pg" else None,
                                            cities[halls], halls, args.seconds, cluster)
                        results[(halls, kind, count)].append(result)
                        print(f"round {n}: {halls} halls, {kind} × {count}: {result['rate']:.0f} ops/s "
                              f"(p99 {result['p99_ms']:.1f} ms, refused {result['refused']})", file=sys.stderr,
                              flush=True)
            admin(url, f"DROP TABLE IF EXISTS {TABLES}")
            with instances(tmp, "latency", 2, url, cities[hall_counts[0]]) as (bases, _):
                asyncio.run(prepare(bases[0], hall_counts[0]))
                got = run_child("--latency", bases[0], json.dumps(bases), str(args.seconds * 2),
                                timeout_s=args.seconds * 2 + 60)
                lat["same"], lat["other"] = got[bases[0]], got[bases[1]]
        shown = settings(url)
    finally:
        cluster.destroy()
    print(machine())
    print(f"PostgreSQL (private cluster): {shown}; {args.rounds} rounds of {args.seconds:.0f} s (after "
          f"{WARMUP_S:.0f} s warm-up), nothing pinned")
    for (halls, kind, count), rs in results.items():
        label = f"{halls:2d} halls, {'SQLite' if kind == 'sqlite' else 'PostgreSQL'} × {count}"
        refused = sum(sum(r["refused"].values()) for r in rs)
        print(f"{label:26s} ops/s {median([r['rate'] for r in rs]):7.0f}  per hall "
              f"{median([r['per_hall'] for r in rs]):6.0f}  p50 {median([r['p50_ms'] for r in rs]):6.2f} ms  "
              f"p99 {median([r['p99_ms'] for r in rs]):7.2f} ms  CPU/request: instances "
              f"{median([r['server_ms'] for r in rs]):.2f} ms, PostgreSQL {median([r['pg_ms'] for r in rs]):.2f} ms  "
              f"refused {refused}  rounds: "
              + ", ".join(f"{r['rate']:.0f}" for r in rs))
    for key, label in (("same", "the issuing instance"), ("other", "another instance")):
        values = lat[key]
        print(f"answer → stream on {label:22s} n {len(values)}  p50 {percentile(values, 50):6.2f} ms"
              f"  p99 {percentile(values, 99):6.2f} ms  max {max(values):6.2f} ms")


if __name__ == "__main__":
    main()
