"""What a manager's month report costs: 30 days × 5,000 tickets, JSON and XLSX, against GET /api/v1/stats.

- The month: November 2026 (30 days), each day bench_stats' busy day of 5,000 tickets through the real
  engine (issue, printed, call-next, start, finish, skip, requeue, recall, transfer), every third finished
  matter rated through the engine's rate command; every day closes with day.rolled.
- In process: ``report_body`` + JSON for each ``by``, and ``to_xlsx`` of the service report; baseline:
  ``stats_rows`` + JSON of the same scope and days (what GET /api/v1/stats does).
- Over HTTP: the month's events written with SqliteStore, the real server (bench_stats' ``--serve`` on a
  clock set to 2026-12-01 09:00) replays them, then one client sends sequential GETs: the report as JSON and
  as XLSX by service and by hour, and the baseline GET /api/v1/stats?scope=service&from=&to= of the month.
- ``--replay``: only the figures' own cost on replay (a fresh ``Figures`` observing bench_stats' 20,000-ticket
  day with ratings), to compare two trees: run it from each with ``PYTHONPATH=<tree>``, alternating.
Run: .venv/bin/python benchmarks/bench_reports.py [--runs 5] [--requests 30] [--replay]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_stats
from bench_server_replay import write_day
from bench_server_support import ALLDAY, PYTHON, at, child, free_port, machine, median, percentile

from config.loader import load_hall
from queue_server.answer import dumps
from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.figures import Figures
from queue_server.stats.report import days_between, stats_rows
from queue_server.store.sqlite import SqliteStore

FIRST, LAST, DATE = "2026-11-01", "2026-11-30", "2026-11-15"
TICKETS = 5_000
LEVELS = (5, 5, 5, 4, 4, 3, 2, 1)


def build_month(hall: Any) -> tuple[QueueEngine, list[Event]]:
    """The engine after the month, and every event it emitted (for the server's log)."""
    engine = QueueEngine(hall)
    log: list[Event] = []
    for n, day in enumerate(days_between(FIRST, LAST)):
        events = bench_stats.simulate(engine, TICKETS, day, seed=n + 1)
        log += events
        finished = [e for e in events if e.type == ev.TICKET_FINISHED]
        for k, e in enumerate(finished[::3]):
            try:
                log += engine.rate(e.data["ticket"], LEVELS[k % len(LEVELS)], "pad", e.at + 30,
                                   node=f"window-{e.data['window']}").events
            except QueueError as err:  # a matter finished twice over (recall) is rated once
                log += err.events
    log += engine.roll_over(at("08:00", "2026-12-01")).events  # close the 30th day
    return engine, log


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


def in_process(engine: QueueEngine, runs: int) -> dict[str, float]:
    from queue_server.stats.export import to_xlsx  # here, so --replay also runs against a tree without reports
    from queue_server.stats.reports import BYS, report_body

    day = dt.date.fromisoformat(DATE)
    now = at("09:00", "2026-12-01")
    def report_json(by: str) -> Callable[[], object]:
        return lambda: dumps(report_body(engine, "month", day, by))

    def stats_json(scope: str) -> Callable[[], object]:
        return lambda: dumps(stats_rows(engine, scope, span, now))

    span = days_between(FIRST, LAST)
    out = {f"json by {by}": timed(report_json(by), runs) for by in BYS}
    report = report_body(engine, "month", day, "service")
    assert report["totals"]["handled"] > 0.9 * 30 * TICKETS, report["totals"]["handled"]
    out["xlsx by service (to_xlsx of the body)"] = timed(lambda: to_xlsx(report), runs)
    for scope in ("service", "staff"):
        out[f"baseline stats_rows {scope}"] = timed(stats_json(scope), runs)
    return out


async def _get(url: str, count: int) -> tuple[list[float], bytes]:
    from aiohttp import ClientSession

    times, body = [], b""
    async with ClientSession(headers={"Authorization": "Bearer demo-manager"}) as session:
        for n in range(count + 2):
            t0 = time.perf_counter()
            async with session.get(url) as answer:
                body = await answer.read()
                assert answer.status == 200, body[:300]
            if n >= 2:  # warm-up
                times.append((time.perf_counter() - t0) * 1000)
    return times, body


def over_http(events: list[Event], tmp: Path, count: int) -> dict[str, tuple[float, float, int]]:
    data = tmp / "month"
    asyncio.run(write_day(SqliteStore(data / "events.sqlite3"), events, chunk=512))
    port = free_port()
    argv = [PYTHON, bench_stats.__file__, "--serve", str(data), str(port), "on", repr(at("09:00", "2026-12-01"))]
    base = f"http://127.0.0.1:{port}/api/v1"
    urls = {
        "GET /reports month by service, JSON": f"{base}/reports?period=month&date={DATE}&by=service",
        "GET /reports month by service, XLSX": f"{base}/reports?period=month&date={DATE}&by=service&format=xlsx",
        "GET /reports month by hour, JSON": f"{base}/reports?period=month&date={DATE}&by=hour",
        "GET /reports month by staff, XLSX": f"{base}/reports?period=month&date={DATE}&by=staff&format=xlsx",
        "baseline GET /stats scope=service, the month": f"{base}/stats?scope=service&from={FIRST}&to={LAST}",
    }
    out = {}
    with child(argv, port):
        for name, url in urls.items():
            times, body = asyncio.run(_get(url, count))
            out[name] = (median(times), percentile(times, 90), len(body))
    return out


def figures_replay(hall: Any, runs: int) -> list[float]:
    """Milliseconds for a fresh Figures to observe the 20,000-ticket day, per run."""
    events = bench_stats.simulate(bench_stats.engine_for(hall, ratings=True), 20_000, "2026-11-23", rate_every=3)
    times = []
    for _ in range(runs):
        figures = Figures(QueueEngine(hall))
        gc.disable()
        t0 = time.perf_counter()
        for e in events:
            if figures.observes(e.type):
                figures.observe(e)
        times.append((time.perf_counter() - t0) * 1000)
        gc.enable()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--replay", action="store_true")
    args = parser.parse_args()
    hall = load_hall(ALLDAY)
    print(machine())
    if args.replay:
        times = figures_replay(hall, args.runs)
        print(f"figures alone, 20,000-ticket day: median {median(times):.0f} ms, fastest {min(times):.0f} ms "
              f"{[round(t) for t in times]}")
        return
    t0 = time.perf_counter()
    engine, events = build_month(hall)
    print(f"month built: {len(events):,} events in {time.perf_counter() - t0:.0f} s")
    for name, ms in in_process(engine, args.runs).items():
        print(f"in process, median of {args.runs}: {name}: {ms:.1f} ms")
    del engine
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        for name, (p50, p90, size) in over_http(events, Path(tmp), args.requests).items():
            print(f"over HTTP, {args.requests} sequential: {name}: median {p50:.1f} ms, p90 {p90:.1f} ms, "
                  f"{size:,} bytes")


if __name__ == "__main__":
    main()
