"""What the figures cost and how fast they answer (targets: /stats/live p99 < 2 ms with 10,000 tickets in the
day; a month report of 30 days × 5,000 tickets < 500 ms; replay of a 20,000-ticket day < 1 s; issue +
call-next throughput with the figures on within 10 % of the same server with them off).

- live: a 10,000-ticket day (bench_server_replay's busy day on the all-day hall) written with SqliteStore;
  the server (this file's ``--serve``: ``create_app`` with a clock set to that day's 17:31, running on) replays
  it, then one client sends GET /api/v1/stats/live one after another [baseline: GET /api/v1/health, same
  server, same run]; also the view built in process without the per-second cache.
- month: 30 business days × 5,000 tickets through the real engine (every day closes with day.rolled), then
  ``stats_rows`` over the 30 days for each scope; medians of runs.
- replay: the 20,000-ticket day plus a rating for every third finished matter, applied to a fresh engine
  with the figures observing vs switched off [baseline].
- throughput: bench_server_throughput's load (10 clients, issue + printed, call-next + finish, with keys)
  against this file's ``--serve`` with the figures on and off, rounds alternating.
Run: .venv/bin/python benchmarks/bench_stats.py [--runs 5] [--rounds 2] [--seconds 10] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
from pathlib import Path

from bench_server_replay import window_step, write_day
from bench_server_support import ALLDAY, PYTHON, at, child, free_port, machine, median, percentile

from config.loader import load_hall
from queue_server.answer import dumps
from queue_server.engine import events as ev
from queue_server.engine.domains import Domain
from queue_server.engine.engine import QueueEngine
from queue_server.engine.events import Event
from queue_server.engine.figures import switch_off
from queue_server.stats.report import days_between, live_view, stats_rows
from queue_server.store.sqlite import SqliteStore

MONTH_START = "2026-10-05"  # a Monday; weekends are skipped (the all-day hall is open, but halls rest)


class _RatingsStub(Domain):
    """Owns rating.given here, as the ratings domain will (the figures only observe it)."""

    handlers = {ev.RATING_GIVEN: lambda self, e: None}  # noqa: RUF012


def engine_for(hall: object, *, figures: bool = True, ratings: bool = False) -> QueueEngine:
    engine = QueueEngine(hall)  # type: ignore[arg-type]
    if ratings and ev.RATING_GIVEN not in engine._domain_handlers:  # the ratings domain owns it once merged
        engine._add(_RatingsStub(engine))
    if not figures:
        switch_off(engine)
    return engine


def simulate(engine: QueueEngine, tickets: int, day: str, seed: int = 11, rate_every: int = 0) -> list[Event]:
    """bench_server_replay's busy day on ``day``; with ``rate_every``, every n-th finished matter is rated."""
    rng = random.Random(seed)
    hall = engine.hall
    out: list[Event] = []
    now = at("08:30", day)
    for window in hall.windows:
        out += engine.sign_in(window.number, f"s{window.number:03d}", now, node=f"window-{window.number}").events
    step = 9 * 3600 / tickets
    codes = [s.code for s in hall.services]
    windows = [w.number for w in hall.windows]
    finished = 0
    for n in range(tickets):
        now += step
        decision = engine.issue(rng.choice(codes), now, node=f"kiosk-{n % 10 + 1}")
        out += decision.events
        out += engine.act("printed", decision.outcome.ticket.id, now + 0.3, node=f"kiosk-{n % 10 + 1}").events
        for _ in range(4):
            step_events = window_step(engine, rng.choice(windows), now + 0.5, rng, codes)
            out += step_events
            for e in step_events:
                if e.type == ev.TICKET_FINISHED and rate_every:
                    finished += 1
                    if finished % rate_every == 0:
                        t = engine.tickets[e.data["ticket"]]
                        engine._out = []
                        out.append(engine._emit(ev.RATING_GIVEN, now + 1, {
                            "ticket": t.id, "level": rng.choice([5, 5, 5, 4, 4, 3, 2, 1]), "channel": "pad",
                            "comment": "", "service": t.service, "department": "", "window": t.window,
                            "staff": t.staff, "finished_at": t.finished_at}, f"window-{t.window}"))
                        engine._out = []
    return out


def bench_live_in_process(hall: object, runs: int) -> dict[str, float]:
    engine = engine_for(hall)
    simulate(engine, 10_000, "2026-11-23")
    now = at("17:31")
    times = []
    for _ in range(runs * 400):
        t0 = time.perf_counter()
        dumps(live_view(engine, now, engine.last_event_id))
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": percentile(times, 50), "p99": percentile(times, 99)}


async def _sequential(url: str, token: str, count: int) -> list[float]:
    from aiohttp import ClientSession

    out = []
    async with ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for n in range(count + 200):
            t0 = time.perf_counter()
            async with session.get(url) as answer:
                await answer.read()
                assert answer.status == 200
            if n >= 200:  # warm-up
                out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_live_http(hall: object, tmp: Path, count: int) -> dict[str, float]:
    events = simulate(engine_for(hall), 10_000, "2026-11-23")
    data = tmp / "live"
    asyncio.run(write_day(SqliteStore(data / "events.sqlite3"), events))
    port = free_port()
    argv = [PYTHON, __file__, "--serve", str(data), str(port), "on", repr(at("17:31"))]
    with child(argv, port):
        base = f"http://127.0.0.1:{port}"
        live = asyncio.run(_sequential(base + "/api/v1/stats/live", "demo-display", count))
        health = asyncio.run(_sequential(base + "/api/v1/health", "demo-display", count))
        body = asyncio.run(_one(base + "/api/v1/stats/live"))
    assert body["hall"]["issued"] == 10_000, body["hall"]
    return {"live_p50": percentile(live, 50), "live_p99": percentile(live, 99),
            "health_p50": percentile(health, 50), "health_p99": percentile(health, 99)}


async def _one(url: str) -> dict:
    from aiohttp import ClientSession

    async with ClientSession(headers={"Authorization": "Bearer demo-display"}) as session, session.get(url) as a:
        return await a.json()


def bench_month(hall: object, runs: int) -> dict[str, float]:
    engine = engine_for(hall)
    import datetime as dt

    day = dt.date.fromisoformat(MONTH_START)
    days: list[str] = []
    while len(days) < 30:
        if day.weekday() < 5:
            days.append(day.isoformat())
            simulate(engine, 5_000, day.isoformat(), seed=len(days))
        day += dt.timedelta(days=1)
    engine.roll_over(at("08:00", (day + dt.timedelta(days=1)).isoformat()))  # close the 30th day
    span = days_between(days[0], days[-1])
    out: dict[str, float] = {}
    for scope in ("hall", "department", "service", "window", "staff"):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            rows = stats_rows(engine, scope, span, at("09:00", day.isoformat()))
            dumps(rows)
            times.append((time.perf_counter() - t0) * 1000)
        out[scope] = median(times)
    (hall_row,) = stats_rows(engine, "hall", span, at("09:00", day.isoformat()))
    assert hall_row["issued"] == 150_000, hall_row["issued"]
    return out


def bench_replay(hall: object, runs: int) -> dict[str, float]:
    events = simulate(engine_for(hall, ratings=True), 20_000, "2026-11-23", rate_every=3)
    out: dict[str, float] = {"events": len(events), "ratings": sum(e.type == ev.RATING_GIVEN for e in events)}
    for label, figures in (("on", True), ("off", False)) * 1:
        times = []
        for _ in range(runs):
            engine = engine_for(hall, figures=figures, ratings=True)
            gc.disable()
            t0 = time.perf_counter()
            for e in events:
                engine.apply(e)
            times.append(time.perf_counter() - t0)
            gc.enable()
            del engine
            gc.collect()
        out[label] = median(times) * 1000
    return out


def bench_throughput(tmp: Path, rounds: int, seconds: float) -> dict[str, list[float]]:
    from bench_server_throughput import prepare, run_load

    rates: dict[str, list[float]] = {"on": [], "off": []}
    for n in range(rounds):
        for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
            port = free_port()
            data = tmp / f"tp-{mode}-{n}"
            with child([PYTHON, __file__, "--serve", str(data), str(port), mode, ""], port):
                asyncio.run(prepare(f"http://127.0.0.1:{port}"))
                result = run_load(port, "server", seconds, None)
            rates[mode].append(result["rate"])
    return rates


def serve(data: str, port: int, figures: str, clock_at: str) -> None:
    """The server with the figures on or off (create_app's hidden switch), optionally on a shifted clock."""
    import logging

    from queue_server.app import create_app
    from queue_server.cli import _serve

    logging.basicConfig(level=logging.WARNING)
    hall = load_hall(ALLDAY)
    clock = time.time
    if clock_at:
        shift = float(clock_at) - time.time()

        def clock() -> float:
            return time.time() + shift

    app = create_app(hall, data_dir=data, clock=clock, _figures=figures == "on")
    Path(data).mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(app, "127.0.0.1", port, hall.name, data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    hall = load_hall(ALLDAY)
    print(machine())
    replay = bench_replay(hall, args.runs)
    print(f"replay of a 20,000-ticket day ({replay['events']:.0f} events, {replay['ratings']:.0f} ratings), "
          f"median of {args.runs}: figures on {replay['on']:.0f} ms, off [baseline] {replay['off']:.0f} ms")
    live = bench_live_in_process(hall, args.runs)
    print(f"live view built in process (no cache), 10,000 tickets: p50 {live['p50']:.3f} ms, p99 {live['p99']:.3f} ms")
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        http = bench_live_http(hall, Path(tmp), args.requests)
        print(f"GET /api/v1/stats/live over HTTP, {args.requests} sequential: p50 {http['live_p50']:.3f} ms, "
              f"p99 {http['live_p99']:.3f} ms; GET /api/v1/health [baseline] p50 {http['health_p50']:.3f} ms, "
              f"p99 {http['health_p99']:.3f} ms")
        month = bench_month(hall, args.runs)
        print("month report, 30 days × 5,000 tickets, median of runs: " +
              ", ".join(f"{scope} {ms:.0f} ms" for scope, ms in month.items()))
        if not args.skip_throughput:
            rates = bench_throughput(Path(tmp), args.rounds, args.seconds)
            on, off = median(rates["on"]), median(rates["off"])
            print(f"throughput, {args.rounds} rounds of {args.seconds:.0f} s: figures on {on:.0f} ops/s "
                  f"{[round(r) for r in rates['on']]}, off [baseline] {off:.0f} ops/s "
                  f"{[round(r) for r in rates['off']]}: on/off {on / off:.1%}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        main()
