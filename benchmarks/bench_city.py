"""Several server instances of one hall on one PostgreSQL: durable issue + call-next, and event → stream latency.

- Rounds: 1, 2, 3 instances of ``kiosk.cli serve --store postgresql://…`` (allday_hall.toml) on one database
  created for the run (dropped after), and the SQLite single instance (``--data``) in the same run. Tables are
  dropped between rounds, so every round starts from an empty log.
- Load (a child process, aiohttp): bench_server_throughput.py's 10 clients (5 kiosks: issue + printed; 5 windows:
  call-next + finish; an Idempotency-Key on every POST), each request sent to the next instance in turn, as a
  round-robin load balancer would; so nearly every command on 2 or 3 instances catches up with events another
  instance wrote. 500 tickets issued and windows 1-5 signed in before the clock starts.
- Latency: 2 instances; a manager's WebSocket on instance B, 50 tickets/s issued on instance A; the time from
  the POST's answer to the event's arrival on B (the cross-instance path: NOTIFY → LISTEN → log read → hub),
  and for comparison on A itself.
- Nothing is pinned: 2 cores carry the instances, the load generator and PostgreSQL.
Run: .venv/bin/python benchmarks/bench_city.py [--rounds 3] [--seconds 8]
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

from bench_server_support import ALLDAY, PYTHON, ROOT, child, free_port, machine, median, percentile
from bench_server_throughput import KIOSKS, SERVICES, WARMUP_S, WINDOWS, prepare
from bench_store_postgres import admin, settings

LATENCY_RATE = 50  # tickets/s issued during the latency round
TABLES = "events, idempotency, servicehall_schema"


# ----------------------------------------------------------------------------------------- the load (child)
async def drive(bases: list[str], seconds: float, warmup_s: float) -> dict[str, Any]:
    """10 clients over the instances in turn; latencies of requests that start and end inside the span."""
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

        async def kiosk(k: int) -> None:
            token = f"demo-kiosk-{k}"
            while time.perf_counter() < stop_at:
                body = json.dumps({"service": rng.choice(SERVICES)}).encode()
                status, text = await post("/api/v1/tickets", token, body)
                assert status == 201, text
                await post(f"/api/v1/tickets/{json.loads(text)['id']}/printed", token, b"{}")

        async def window(w: int) -> None:
            token = f"demo-window-{w}"
            while time.perf_counter() < stop_at:
                status, text = await post(f"/api/v1/windows/{w}/call-next", token, b"")
                if status == 200:
                    await post(f"/api/v1/tickets/{json.loads(text)['id']}/finish", token, b"{}")
                elif status != 404:
                    raise RuntimeError(f"call-next answered {status}: {text[:200]!r}")

        await asyncio.gather(*(kiosk(k) for k in range(1, KIOSKS + 1)), *(window(w) for w in range(1, WINDOWS + 1)))
    return {"ops": len(latencies), "rate": len(latencies) / seconds, "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "refused": refused}


async def stream_latency(issue_on: str, watch_on: list[str], seconds: float) -> dict[str, list[float]]:
    """Issue LATENCY_RATE tickets/s on one instance; per watched instance, answer → stream arrival in ms."""
    from aiohttp import ClientSession

    answered: dict[str, float] = {}
    arrived: dict[str, dict[str, float]] = {base: {} for base in watch_on}
    async with ClientSession() as session:
        async with session.get(f"{issue_on}/api/v1/health") as answer:
            after = (await answer.json())["last_event_id"]

        async def watch(base: str) -> None:
            ws_url = base.replace("http://", "ws://") + f"/api/v1/events?after={after}"
            async with session.ws_connect(ws_url, headers={"Authorization": "Bearer demo-manager"}) as ws:
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
                                    headers={"Authorization": "Bearer demo-kiosk-1"}) as answer:
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
def instances(tmp: Path, tag: str, count: int, store: str | None) -> Any:
    """``count`` servers on ``store`` (None: one SQLite instance); yields their base URLs; all stopped after."""
    with contextlib.ExitStack() as stack:
        bases = []
        for i in range(count):
            port = free_port()
            argv = [PYTHON, "-m", "kiosk.cli", "serve", "--config", str(ALLDAY), "--data", str(tmp / f"{tag}-{i}"),
                    "--host", "127.0.0.1", "--port", str(port), *(["--store", store] if store else [])]
            stack.enter_context(child(argv, port, log=tmp / f"{tag}-{i}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        yield bases


def load_round(tmp: Path, tag: str, count: int, store: str | None, seconds: float) -> dict[str, Any]:
    with instances(tmp, tag, count, store) as bases:
        asyncio.run(prepare(bases[0]))
        return run_child("--load", json.dumps(bases), str(seconds), timeout_s=seconds + 120)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL where this run may create (and drops) a database of its own")
    parser.add_argument("--load", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--latency", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(drive(json.loads(args.load[0]), float(args.load[1]), WARMUP_S))))
        return
    if args.latency:
        print(json.dumps(asyncio.run(stream_latency(args.latency[0], json.loads(args.latency[1]),
                                                    float(args.latency[2])))))
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin(args.admin_url, f'CREATE DATABASE "{name}"')
    url = args.admin_url.rpartition("/")[0] + "/" + name
    results: dict[str, list[dict[str, Any]]] = {"sqlite": [], "pg1": [], "pg2": [], "pg3": []}
    lat: dict[str, list[float]] = {"same": [], "other": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-city-", dir=ROOT) as tmp_text:
            tmp = Path(tmp_text)
            for n in range(args.rounds):
                results["sqlite"].append(load_round(tmp, f"sqlite-{n}", 1, None, args.seconds))
                for count in (1, 2, 3):
                    admin(url, f"DROP TABLE IF EXISTS {TABLES}")
                    results[f"pg{count}"].append(load_round(tmp, f"pg{count}-{n}", count, url, args.seconds))
                print(f"round {n}: " + ", ".join(f"{k} {v[-1]['rate']:.0f}" for k, v in results.items()) + " ops/s",
                      file=sys.stderr, flush=True)
            admin(url, f"DROP TABLE IF EXISTS {TABLES}")
            with instances(tmp, "latency", 2, url) as bases:
                asyncio.run(prepare(bases[0]))
                got = run_child("--latency", bases[0], json.dumps(bases), str(args.seconds * args.rounds),
                                timeout_s=args.seconds * args.rounds + 60)
                lat["same"], lat["other"] = got[bases[0]], got[bases[1]]
        shown = settings(url)
    finally:
        admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(machine())
    print(f"PostgreSQL: {shown}; {args.rounds} rounds of {args.seconds:.0f} s (after {WARMUP_S:.0f} s warm-up), "
          "nothing pinned")
    labels = {"sqlite": "SQLite, 1 instance", "pg1": "PostgreSQL, 1 instance", "pg2": "PostgreSQL, 2 instances",
              "pg3": "PostgreSQL, 3 instances"}
    for key, label in labels.items():
        rs = results[key]
        refused = sum(sum(r["refused"].values()) for r in rs)
        print(f"{label:26s} ops/s {median([r['rate'] for r in rs]):7.0f}  "
              f"p50 {median([r['p50_ms'] for r in rs]):6.2f} ms  p99 {median([r['p99_ms'] for r in rs]):6.2f} ms  "
              f"refused {refused}  rounds: " + ", ".join(f"{r['rate']:.0f}" for r in rs))
    for key, label in (("same", "the issuing instance"), ("other", "another instance")):
        values = lat[key]
        print(f"answer → stream on {label:22s} n {len(values)}  p50 {percentile(values, 50):6.2f} ms"
              f"  p99 {percentile(values, 99):6.2f} ms  max {max(values):6.2f} ms")


if __name__ == "__main__":
    main()
