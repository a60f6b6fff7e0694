"""Durable issue + call-next throughput of the real server at 10 concurrent clients, against bare aiohttp.

Targets: >= 1,500 operations/s with p99 < 20 ms, and at least half the rate of a bare aiohttp route
that parses the same JSON and answers a similar JSON body, measured in the same run on this machine.

- Server: ``python -m kiosk.cli serve --config tests/data/halls/allday_hall.toml`` in a child process
  (through a thin wrapper in this file that counts group commits: see ``--serve``), data directory on
  the machine's disk, ``synchronous=FULL`` (one fsync per commit). 500 tickets are issued and windows
  1-5 signed in before the clock starts, so the windows never run dry.
- Load: another child process (aiohttp client), 10 concurrent clients on keep-alive connections:
  5 kiosks (issue a ticket, then confirm it printed, as a kiosk does: 2 requests per ticket, which also
  keeps the line steady) and 5 windows (call-next, then finish that ticket). Every POST carries an
  Idempotency-Key, as the kiosk's client sends. One operation = one HTTP request answered.
- Baseline: a bare aiohttp app (``--baseline-app``) with one POST route that reads the same JSON
  body, ``json.loads`` it and answers a ticket-sized JSON object; the same 10 clients send the same
  kiosk body to it. No auth, no engine, no disk.
- With ``--pin`` (the default) the server is pinned to core 0 and the load generator to core 1 with
  taskset: the machine has 2 cores, so the server (event loop + SQLite writer thread) gets one core.
Rounds alternate server and baseline; medians over rounds are reported.
Run: .venv/bin/python benchmarks/bench_server_throughput.py [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench_server_support import (
    ALLDAY,
    PYTHON,
    ROOT,
    child,
    free_port,
    machine,
    median,
    percentile,
    taskset,
)

SERVICES = ("A01", "B01", "C01", "D01")
KIOSKS = 5
WINDOWS = 5
PREFILL = 500
WARMUP_S = 2.0


# ----------------------------------------------------------------------------------------- baseline app
def baseline_app(port: int) -> None:
    """The bare aiohttp route: parse the JSON body, answer a ticket-sized JSON object."""
    from aiohttp import web

    counter = itertools.count(1)

    async def handle(request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        n = next(counter)
        view = {"id": f"{n:012x}", "number": f"A{n:03d}", "service": body.get("service", "A01"), "day": "2026-11-23",
                "state": "waiting", "priority": body.get("priority", "normal"), "issued_at": time.time(),
                "window": None, "called_at": None, "recalls": 0, "service_name": "社保查询",
                "service_name_en": "Social insurance enquiry", "state_zh": "等候中", "ahead": n % 50,
                "estimated_wait_s": 300, "status_url": f"/api/v1/tickets/{n:012x}", "existing": False}
        return web.Response(status=201, text=json.dumps(view, ensure_ascii=False, separators=(",", ":")),
                            content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/v1/tickets", handle)
    app.router.add_get("/api/v1/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ----------------------------------------------------------------------------------------- server wrapper
def instrumented_server(stats_path: str, argv: list[str]) -> int:
    """Run ``kiosk.cli`` unchanged, counting group commits; SIGUSR1 and exit write the counts to a file."""
    sys.path.insert(0, str(ROOT))
    from kiosk.cli import main
    from queue_server.store.postgres import PostgresStore
    from queue_server.store.sqlite import SqliteStore

    counts = {"commits": 0, "requests": 0, "events": 0}
    original, original_pg = SqliteStore._commit, PostgresStore._transaction

    def count(batch: list[Any]) -> None:  # in the store's writer (thread or task) only
        if batch:
            counts["commits"] += 1
            counts["requests"] += len(batch)
            counts["events"] += sum(len(job.events) for job in batch)

    def counted(self: SqliteStore, conn: Any, batch: list[Any]) -> None:
        count(batch)
        original(self, conn, batch)

    async def counted_pg(self: PostgresStore, conn: Any, plan: Any) -> list[tuple[str, str]]:  # decided, as written
        count(plan.ready)
        return await original_pg(self, conn, plan)

    SqliteStore._commit = counted  # type: ignore[method-assign]
    PostgresStore._transaction = counted_pg  # type: ignore[method-assign]
    if os.environ.get("BENCH_FEATURES") == "off":  # the A/B of --features-ab: figures and alert rules off
        import functools

        import queue_server.cli  # kiosk.cli's serve imports it; it calls create_app by this name

        queue_server.cli.create_app = functools.partial(  # type: ignore[attr-defined]
            queue_server.cli.create_app, _figures=False, _alerts=False)
    synchronous = os.environ.get("BENCH_SQLITE_SYNCHRONOUS")  # what-if rounds only, never the headline figure
    if synchronous:
        connect = SqliteStore._connect

        def relaxed(self: SqliteStore) -> Any:
            conn = connect(self)
            conn.execute(f"PRAGMA synchronous={synchronous}")
            return conn

        SqliteStore._connect = relaxed  # type: ignore[method-assign]
    snapshots: list[dict[str, int]] = []

    def dump(*_: object) -> None:
        snapshots.append(dict(counts))
        Path(stats_path).write_text(json.dumps(snapshots))

    signal.signal(signal.SIGUSR1, dump)
    try:
        return main(argv)
    finally:
        dump()


# ----------------------------------------------------------------------------------------- load generator
async def drive(base: str, mode: str, seconds: float, warmup_s: float) -> dict[str, Any]:
    """10 clients for warmup + seconds; latencies of requests that start and end inside the measured span."""
    from aiohttp import ClientSession, ClientTimeout, TCPConnector

    rng = random.Random(5)
    with_keys = not mode.endswith("-nokey")
    mode = mode.removesuffix("-nokey")
    start = time.perf_counter()
    measure_from, stop_at = start + warmup_s, start + warmup_s + seconds
    latencies: dict[str, list[float]] = {"issue": [], "printed": [], "call_next": [], "finish": []}
    statuses: dict[str, int] = {}
    cpu0 = os.times()

    async with ClientSession(connector=TCPConnector(limit=0), timeout=ClientTimeout(total=30)) as session:

        async def post(kind: str, path: str, token: str, body: bytes) -> tuple[int, bytes]:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            if with_keys:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            t0 = time.perf_counter()
            async with session.post(base + path, data=body, headers=headers) as answer:
                text = await answer.read()
                status = answer.status
            t1 = time.perf_counter()
            if measure_from <= t0 and t1 <= stop_at:
                latencies[kind].append((t1 - t0) * 1000)
                statuses[f"{kind} {status}"] = statuses.get(f"{kind} {status}", 0) + 1
            return status, text

        async def kiosk(k: int) -> None:
            token = f"demo-kiosk-{k}"
            while time.perf_counter() < stop_at:
                body = json.dumps({"service": rng.choice(SERVICES)}).encode()
                status, text = await post("issue", "/api/v1/tickets", token, body)
                if mode == "server":
                    assert status == 201, text
                    await post("printed", f"/api/v1/tickets/{json.loads(text)['id']}/printed", token, b"{}")
                else:
                    await post("printed", "/api/v1/tickets", token, body)

        async def window(w: int) -> None:
            token = f"demo-window-{w}"
            while time.perf_counter() < stop_at:
                if mode == "server":
                    status, text = await post("call_next", f"/api/v1/windows/{w}/call-next", token, b"")
                    if status == 200:
                        await post("finish", f"/api/v1/tickets/{json.loads(text)['id']}/finish", token, b"{}")
                    elif status != 404:
                        raise RuntimeError(f"call-next answered {status}: {text[:200]!r}")
                else:
                    body = json.dumps({"service": rng.choice(SERVICES)}).encode()
                    await post("call_next", "/api/v1/tickets", token, body)
                    await post("finish", "/api/v1/tickets", token, body)

        await asyncio.gather(*(kiosk(k) for k in range(1, KIOSKS + 1)),
                             *(window(w) for w in range(1, WINDOWS + 1)))
    cpu1 = os.times()
    every = [v for values in latencies.values() for v in values]
    return {"ops": len(every), "seconds": seconds, "rate": len(every) / seconds,
            "p50_ms": percentile(every, 50), "p99_ms": percentile(every, 99),
            "by_kind": {k: {"n": len(v), "p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)}
                        for k, v in latencies.items() if v},
            "statuses": statuses,
            "client_cpu": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (time.perf_counter() - start)}


async def prepare(base: str) -> None:
    """Sign windows 1-5 in and fill the line before the clock starts."""
    from aiohttp import ClientSession

    async with ClientSession() as session:
        for w in range(1, WINDOWS + 1):
            async with session.post(f"{base}/api/v1/windows/{w}/sign-in",
                                    headers={"Authorization": f"Bearer demo-window-{w}"},
                                    json={"staff": f"s{w:03d}", "pin": "123456"}) as answer:
                assert answer.status == 200, await answer.text()

        async def fill(k: int) -> None:
            for n in range(PREFILL // KIOSKS):
                async with session.post(f"{base}/api/v1/tickets", headers={"Authorization": f"Bearer demo-kiosk-{k}"},
                                        json={"service": SERVICES[n % len(SERVICES)]}) as answer:
                    assert answer.status == 201, await answer.text()

        await asyncio.gather(*(fill(k) for k in range(1, KIOSKS + 1)))


async def waiting(base: str) -> int:
    from aiohttp import ClientSession

    async with ClientSession() as session, session.get(
            f"{base}/api/v1/queues", headers={"Authorization": "Bearer demo-display"}) as answer:
        return sum(q["waiting"] for q in (await answer.json())["queues"])


def run_load(port: int, mode: str, seconds: float, cpu: int | None) -> dict[str, Any]:
    argv = [*taskset(cpu), PYTHON, __file__, "--load", str(port), mode, str(seconds)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=True)
    return json.loads(done.stdout)


def fsync_ms(directory: Path, count: int = 50) -> float:
    """Median time of one 4 KiB write + fsync on the data directory's disk (what each commit pays)."""
    path = directory / "fsync-probe"
    times = []
    with open(path, "wb") as fh:
        for _ in range(count):
            fh.write(b"x" * 4096)
            fh.flush()
            t0 = time.perf_counter()
            os.fsync(fh.fileno())
            times.append((time.perf_counter() - t0) * 1000)
    path.unlink()
    return median(times)


def server_round(tmp: Path, n: int, seconds: float, pin: bool, *, mode: str = "server",
                 synchronous: str = "", features: str = "on", store: str | None = None,
                 during: Callable[[int], AbstractContextManager[object]] | None = None) -> dict[str, Any]:
    """One measured run against the real server; ``mode``/``synchronous`` only for the what-if rounds;
    ``store`` a --store URL (bench_store_postgres.py), ``during(pid)`` wraps the measured span (a profiler)."""
    server_cpu, load_cpu = (0, 1) if pin else (None, None)
    data = tmp / f"data-{n}"
    stats = tmp / f"stats-{n}.json"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [*taskset(server_cpu), PYTHON, __file__, "--serve", str(stats), "serve", "--config", str(ALLDAY),
            "--data", str(data), "--host", "127.0.0.1", "--port", str(port), *(["--store", store] if store else [])]
    env = {**os.environ, "BENCH_SQLITE_SYNCHRONOUS": synchronous, "BENCH_FEATURES": features}
    with child(argv, port, log=tmp / f"server-{n}.log", env=env) as proc:
        asyncio.run(prepare(base))
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        with during(proc.pid) if during else contextlib.nullcontext():
            cpu_before = process_cpu_s(proc.pid)
            real = run_load(port, mode, seconds, load_cpu)
            cpu_after = process_cpu_s(proc.pid)
        real["waiting_after"] = asyncio.run(waiting(base))
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
    before, after = json.loads(stats.read_text())[:2]
    real["commits"] = {k: after[k] - before[k] for k in after}
    # the load runs warm-up + seconds; ops are counted over the measured span only, so CPU per op uses the rate
    real["cpu_ms_per_op"] = (cpu_after - cpu_before) * 1000 / (real["rate"] * (seconds + WARMUP_S))
    return real


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_round(tmp: Path, n: int, seconds: float, pin: bool) -> dict[str, Any]:
    server_cpu, load_cpu = (0, 1) if pin else (None, None)
    port = free_port()
    argv = [*taskset(server_cpu), PYTHON, __file__, "--baseline-app", str(port)]
    with child(argv, port, log=tmp / f"baseline-{n}.log") as proc:
        cpu_before = process_cpu_s(proc.pid)
        bare = run_load(port, "baseline", seconds, load_cpu)
        bare["cpu_ms_per_op"] = (process_cpu_s(proc.pid) - cpu_before) * 1000 / (bare["rate"] * (seconds + WARMUP_S))
        if shutil.which("wrk"):
            bare["wrk"] = wrk_baseline(port, seconds, load_cpu, tmp)
    return bare


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"service":"A01"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer demo-kiosk-1"
"""


def wrk_baseline(port: int, seconds: float, cpu: int | None, tmp: Path) -> dict[str, float]:
    """The bare route driven by wrk (C, far cheaper per request than the Python client): its real ceiling."""
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT)
    argv = [*taskset(cpu), "wrk", "-t1", "-c10", f"-d{seconds:.0f}s", "--latency", "-s", str(script),
            f"http://127.0.0.1:{port}/api/v1/tickets"]
    text = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    found = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", text, re.M))
    return {"rate": rate, "p50_ms": _ms(found.get("50", "nan")), "p99_ms": _ms(found.get("99", "nan"))}


def _ms(text: str) -> float:
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float("nan")


def summary(label: str, results: list[dict[str, Any]]) -> str:
    return (f"{label:34s} ops/s {median([r['rate'] for r in results]):7.0f}   "
            f"p50 {median([r['p50_ms'] for r in results]):6.2f} ms   "
            f"p99 {median([r['p99_ms'] for r in results]):6.2f} ms"
            f"   client CPU {median([r['client_cpu'] for r in results]) * 100:3.0f} %"
            + (f"   server CPU/op {median([r['cpu_ms_per_op'] for r in results]) * 1000:5.0f} µs"
               if all("cpu_ms_per_op" in r for r in results) else "") + "   rounds: "
            + ", ".join(f"{r['rate']:.0f}" for r in results))


def features_ab(rounds: int, seconds: float, pin: bool) -> None:
    """Figures and alert rules on vs off, same server, same load, rounds alternating (ABBA) in one run."""
    results: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="bench-throughput-ab-") as tmp_text:
        tmp = Path(tmp_text)
        for n in range(rounds):
            for features in ("on", "off") if n % 2 == 0 else ("off", "on"):
                r = server_round(tmp, n * 2 + (features == "off"), seconds, pin, features=features)
                results[features].append(r)
                print(f"round {n} features {features}: {r['rate']:.0f} ops/s, p99 {r['p99_ms']:.2f} ms, "
                      f"server CPU {r['cpu_ms_per_op'] * 1000:.0f} µs/op", flush=True)
    print(machine())
    print(f"pinned: {'server core 0, load generator core 1' if pin else 'no'}; {rounds} rounds of {seconds:.0f} s each")
    print(summary("figures + alerts on", results["on"]))
    print(summary("figures + alerts off [base]", results["off"]))
    on, off = (median([r["rate"] for r in results[k]]) for k in ("on", "off"))
    cpu_on, cpu_off = (median([r["cpu_ms_per_op"] for r in results[k]]) for k in ("on", "off"))
    print(f"on / off: {on / off * 100:.1f} % of the rate; server CPU per op {cpu_on / cpu_off * 100:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-pin", action="store_true", help="let the scheduler place server and load")
    parser.add_argument("--what-if", action="store_true",
                        help="also one round without Idempotency-Key and one with synchronous=NORMAL (no fsync)")
    parser.add_argument("--features-ab", action="store_true",
                        help="rounds alternate the server with figures and alert rules on / off (create_app's hidden "
                             "_figures/_alerts) instead of server / bare route")
    args = parser.parse_args()
    if args.features_ab:
        features_ab(args.rounds, args.seconds, not args.no_pin)
        return
    pin = not args.no_pin
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp_text:
        tmp = Path(tmp_text)
        fsync = fsync_ms(tmp)
        real, bare = [], []
        for n in range(args.rounds):
            real.append(server_round(tmp, n, args.seconds, pin))
            bare.append(baseline_round(tmp, n, args.seconds, pin))
        extra = {}
        if args.what_if:
            extra["what-if: no Idempotency-Key"] = server_round(tmp, 100, args.seconds, pin, mode="server-nokey")
            extra["what-if: synchronous=NORMAL"] = server_round(tmp, 101, args.seconds, pin, synchronous="NORMAL")
    print(machine())
    print(f"pinned: {'server core 0, load generator core 1' if pin else 'no'}; {args.rounds} rounds of "
          f"{args.seconds:.0f} s (after 2 s warm-up); 4 KiB write+fsync median {fsync:.2f} ms")
    print(summary("server (durable)", real))
    print(summary("bare aiohttp, Python client [base]", bare))
    wrk = [r["wrk"] for r in bare if "wrk" in r]
    if wrk:
        print(f"{'bare aiohttp, wrk -t1 -c10 [base]':34s} ops/s {median([r['rate'] for r in wrk]):7.0f}   "
              f"p50 {median([r['p50_ms'] for r in wrk]):6.2f} ms   p99 {median([r['p99_ms'] for r in wrk]):6.2f} ms")
    rate = median([r["rate"] for r in real])
    print(f"server / bare (same Python client): {rate / median([r['rate'] for r in bare]) * 100:.0f} %"
          + (f"; server / bare (wrk): {rate / median([r['rate'] for r in wrk]) * 100:.0f} %" if wrk else ""))
    for label, r in extra.items():
        print(summary(label, [r]))
    for label, r in [*((f"round {n}", r) for n, r in enumerate(real)), *extra.items()]:
        c = r["commits"]
        print(f"{label}: {c['commits']} commits for {c['requests']} requests / {c['events']} events "
              f"(avg {c['requests'] / max(c['commits'], 1):.1f} requests per commit); waiting after: "
              f"{r['waiting_after']}; statuses {r['statuses']}")
        print("   per route: " + ", ".join(f"{k} n={v['n']} p50 {v['p50_ms']:.2f} p99 {v['p99_ms']:.2f} ms"
                                           for k, v in r["by_kind"].items()))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--baseline-app":
        baseline_app(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve":
        sys.exit(instrumented_server(sys.argv[2], sys.argv[3:]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--load":
        result = asyncio.run(drive(f"http://127.0.0.1:{sys.argv[2]}", sys.argv[3], float(sys.argv[4]), WARMUP_S))
        print(json.dumps(result))
    else:
        main()
