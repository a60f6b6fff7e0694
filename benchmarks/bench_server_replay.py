"""How long a restart takes to rebuild a busy day from the event log (target: 20,000 tickets in < 1 s).

The day is generated in process through the real engine and ``SqliteStore`` (exactly what the server
writes) on the all-day test hall: 20,000 tickets issued between 08:30 and 17:30 with their print
confirmations; the 24 windows call, start and finish them; about 4 % are skipped (a quarter of those
re-queued), 3 % transferred to another service, 2 % recalled once. Figures, medians of several runs:
- ``HallService.start()`` in process (open the log, replay every event, load idempotency records),
  split into reading pages (SQL + json.loads + Event) and applying them;
- the same rows read with plain sqlite3 + json.loads [baseline];
- the real server as a subprocess: process start to the first 200 from /api/v1/health, on this day
  and on an empty data directory [baseline: interpreter, imports, aiohttp start-up].
With ``--postgres ADMIN_URL`` the same day is also written to a PostgreSQL database of the run's own (dropped
after) and replayed from there, in process and as the server subprocess (``--store``).
Run: .venv/bin/python benchmarks/bench_server_replay.py [--tickets N] [--runs N] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from bench_server_support import ALLDAY, at, child, free_port, machine, median, server_argv

from config.loader import load_hall
from config.model import Hall
from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.state import TicketState
from queue_server.service import HallService
from queue_server.store.base import EventStore
from queue_server.store.postgres import PostgresStore
from queue_server.store.sqlite import SqliteStore
from queue_server.store.url import PostgresUrl


def simulate_day(engine: QueueEngine, tickets: int, seed: int = 11, *, rich: bool = True) -> list[Event]:
    """Drive the engine through a busy day; returns every event in log order.

    ``rich`` (the default) adds the hall services of issue 8 through the real commands: a rating of every
    third finished matter (``engine.rate``; levels weighted 5,5,5,4,4,3,2,1, so a quarter are bad and
    open a follow-up), bad ratings followed up (contact → rectify → close) an hour later, an appeal
    overturned for one in ten, two windows paused for 25 minutes twice a day, and the tick every second
    (``engine.tick``: alerts raised and resolved, as the server would log them).
    """
    rng = random.Random(seed)
    hall = engine.hall
    out: list[Event] = []
    now = at("08:30")
    for window in hall.windows:
        out += engine.sign_in(window.number, f"s{window.number:03d}", now, node=f"window-{window.number}").events
    step = 9 * 3600 / tickets
    codes = [s.code for s in hall.services]
    windows = [w.number for w in hall.windows]
    finished = 0
    followups: list[tuple[float, str, list[str]]] = []  # (when, case, steps still to take)
    pauses = {at(clock): (w, minutes) for clock, w, minutes in
              (("10:00:00", windows[0], 25), ("11:00:00", windows[1], 25), ("14:30:00", windows[0], 25),
               ("15:30:00", windows[1], 25))} if rich else {}
    resumes: list[tuple[float, int]] = []
    ticked = int(now)
    for n in range(tickets):
        now += step
        if rich:
            while ticked + 1 <= now:  # the service's tick, once a second
                ticked += 1
                out += tick_step(engine, float(ticked), pauses, resumes, followups)
        green = rng.random() < 0.04
        decision = engine.issue(rng.choice(codes), now, priority="green" if green else "normal",
                                green_reason="age_60_plus" if green else "", node=f"kiosk-{n % 10 + 1}")
        ticket = decision.outcome.ticket
        out += decision.events
        out += engine.act("printed", ticket.id, now + 0.3, node=f"kiosk-{n % 10 + 1}").events
        for _ in range(4):  # a few window actions per issued ticket keep the lines short, as in a real day
            events = window_step(engine, rng.choice(windows), now + 0.5, rng, codes)
            out += events
            if not rich:
                continue
            for e in events:
                if e.type == ev.TICKET_FINISHED:
                    finished += 1
                    if finished % 3 == 0:
                        out += rate(engine, e.data["ticket"], now + 0.6, rng, followups)
    return out


def rate(engine: QueueEngine, ticket_id: str, now: float, rng: random.Random,
         followups: list[tuple[float, str, list[str]]]) -> list[Event]:
    """A citizen rates a finished matter on the window's pad; a bad rating's follow-up is scheduled."""
    ticket = engine.tickets[ticket_id]
    level = rng.choice([5, 5, 5, 4, 4, 3, 2, 1])
    events = engine.rate(ticket_id, level, "pad", now, node=f"window-{ticket.window}").events
    if level <= 2:
        case = engine.cases.followup_of[ticket_id]
        steps = ["appeal", "overturn"] if rng.random() < 0.1 else ["contact", "rectify", "close"]
        followups.append((now + 3600, case, steps))
    return events


def tick_step(engine: QueueEngine, now: float, pauses: dict[float, tuple[int, int]],
              resumes: list[tuple[float, int]], followups: list[tuple[float, str, list[str]]]) -> list[Event]:
    """One second of the hall: scheduled pauses and resumes, follow-up steps that are due, then the tick."""
    out: list[Event] = []
    if now in pauses:
        window, minutes = pauses[now]
        out += engine.pause(window, now, reason="break", node=f"window-{window}").events
        resumes.append((now + minutes * 60, window))
    while resumes and resumes[0][0] <= now:
        _, window = resumes.pop(0)
        out += engine.resume(window, now, node=f"window-{window}").events
    while followups and followups[0][0] <= now:
        _, case, steps = followups.pop(0)
        for step in steps:
            out += engine.case_step(case, step, now, note="已联系群众并整改", node="manager").events
    out += engine.tick(now).events
    return out


def window_step(engine: QueueEngine, window: int, now: float, rng: random.Random, codes: list[str]) -> list[Event]:
    node = f"window-{window}"
    current = engine.windows[window].current
    try:
        if current is None or engine.tickets[current].state is TicketState.SERVING:
            if current is not None and rng.random() < 0.03:
                to = rng.choice([c for c in codes if c != engine.tickets[current].service])
                return engine.act("transfer", current, now, window=window, node=node, to_service=to).events
            return engine.call_next(window, now, node=node).events
        ticket = engine.tickets[current]
        roll = rng.random()
        if roll < 0.04:
            events = engine.act("skip", current, now, window=window, node=node).events
            if ticket.requeues == 0 and rng.random() < 0.25:
                events += engine.act("requeue", current, now, node="kiosk-1").events
            return events
        if roll < 0.06 and ticket.recalls == 0:
            return engine.act("recall", current, now, window=window, node=node).events
        return engine.act("start", current, now, window=window, node=node).events
    except QueueError as err:
        if err.code not in ("queue_empty", "window_paused"):
            raise
        return err.events


async def write_day(store: EventStore, events: list[Event], chunk: int = 64) -> None:
    await store.open()
    try:
        pending = [store.submit(events[i:i + chunk]) for i in range(0, len(events), chunk)]
        await asyncio.gather(*pending)
    finally:
        await store.close()


async def time_start(hall: Hall, make_store: Callable[[], EventStore]) -> tuple[float, float, int]:
    """Wall time of HallService.start() and, separately, of reading the same pages without applying."""
    service = HallService(hall, make_store())
    t0 = time.perf_counter()
    await service.start()
    start_s = time.perf_counter() - t0
    count = service.last_durable_id
    await service.stop()
    store = make_store()
    await store.open()
    gc.disable()  # as the replay does (HallService.replay)
    t0 = time.perf_counter()
    after = 0
    while page := await store.read_after(after, 5000):
        after = page[-1].id
    read_s = time.perf_counter() - t0
    gc.enable()
    await store.close()
    return start_s, read_s, count


def plain_read(path: Path) -> float:
    t0 = time.perf_counter()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, type, v, at, node, staff, data FROM events ORDER BY id").fetchall()
    decoded = [json.loads(row[6]) for row in rows]
    conn.close()
    assert len(decoded) == len(rows)
    return time.perf_counter() - t0


def process_start(data_dir: Path, cpu: int | None, store: str | None = None) -> float:
    port = free_port()
    t0 = time.monotonic()
    with child([*server_argv(data_dir, port, cpu), *(["--store", store] if store else [])], port) as _proc:
        ready = time.monotonic()
    return ready - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--plain", action="store_true", help="the day of issue 7 (tickets only, no ticks)")
    parser.add_argument("--cpu", type=int, default=0, help="pin the server subprocess to this core (-1: no pinning)")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="also replay the same day from PostgreSQL, in a "
                        "database this run creates there and drops (e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        pg_url = stack.enter_context(own_database(args.postgres)) if args.postgres else None
        measure(args, pg_url)


@contextlib.contextmanager
def own_database(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"bench_replay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # our own name
    try:
        yield admin_url.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def measure(args: argparse.Namespace, pg_url: str | None) -> None:
    """Simulate the day, write it, and time its replay (and the same on PostgreSQL with ``pg_url``)."""
    cpu = None if args.cpu < 0 else args.cpu
    hall = load_hall(ALLDAY)
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        day_dir, empty_dir = Path(tmp, "day"), Path(tmp, "empty")
        empty_dir.mkdir()
        engine = QueueEngine(hall)
        t0 = time.perf_counter()
        events = simulate_day(engine, args.tickets, rich=not args.plain)
        simulated = time.perf_counter() - t0
        sqlite_path = day_dir / "events.sqlite3"
        asyncio.run(write_day(SqliteStore(sqlite_path), events))
        if pg_url:
            asyncio.run(write_day(PostgresStore(PostgresUrl.parse(pg_url)), events))
        states: dict[str, int] = {}
        for ticket in engine.tickets.values():
            states[ticket.state.value] = states.get(ticket.state.value, 0) + 1
        kinds: dict[str, int] = {}
        alert_kinds: dict[str, int] = {}
        for event in events:
            kinds[event.type] = kinds.get(event.type, 0) + 1
            if event.type == ev.ALERT_RAISED:
                alert_kinds[event.data["kind"]] = alert_kinds.get(event.data["kind"], 0) + 1
        size_mb = sum(p.stat().st_size for p in day_dir.iterdir()) / 1e6
        event_count = len(events)
        del engine, events  # measure with a heap like the server's, not one holding the simulated day
        gc.collect()

        runs = [asyncio.run(time_start(hall, lambda: SqliteStore(sqlite_path))) for _ in range(args.runs)]
        assert all(count == event_count for _, _, count in runs)
        pg_runs = [asyncio.run(time_start(hall, lambda: PostgresStore(PostgresUrl.parse(pg_url or ""))))
                   for _ in range(args.runs if pg_url else 0)]
        assert all(count == event_count for _, _, count in pg_runs)
        pg_on_day = [process_start(empty_dir, cpu, pg_url) for _ in range(args.runs if pg_url else 0)]
        plain = [plain_read(day_dir / "events.sqlite3") for _ in range(args.runs)]
        on_day = [process_start(day_dir, cpu) for _ in range(args.runs)]
        on_empty = [process_start(empty_dir, cpu) for _ in range(args.runs)]

    start_s = [r[0] for r in runs]
    read_s = [r[1] for r in runs]
    print(machine())
    print(f"day: {args.tickets} tickets, {event_count} events ({size_mb:.1f} MB on disk), simulated in "
          f"{simulated:.2f} s; tickets by state: {states}")
    print("events by type: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("alerts raised by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(alert_kinds.items())))
    print(f"medians of {args.runs} runs:")
    print(f"  HallService.start() in process          {median(start_s) * 1000:8.1f} ms")
    print(f"    of which reading pages (SQL+JSON+Event) {median(read_s) * 1000:8.1f} ms")
    print(f"    so applying (engine.apply) about       {(median(start_s) - median(read_s)) * 1000:8.1f} ms")
    print(f"  plain sqlite3 + json.loads [baseline]    {median(plain) * 1000:8.1f} ms")
    print(f"  server process start → health 200, this day     {median(on_day) * 1000:8.1f} ms")
    print(f"  server process start → health 200, empty [base] {median(on_empty) * 1000:8.1f} ms")
    print(f"  difference (the replay as the server sees it)   {(median(on_day) - median(on_empty)) * 1000:8.1f} ms")
    if pg_runs:
        print(f"  PostgreSQL: HallService.start() in process      {median([r[0] for r in pg_runs]) * 1000:8.1f} ms")
        print(f"    of which reading pages (SQL+JSON+Event)       {median([r[1] for r in pg_runs]) * 1000:8.1f} ms")
        print(f"  PostgreSQL: server process start → health 200   {median(pg_on_day) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
