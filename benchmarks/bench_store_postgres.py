"""Durable issue + call-next through the real server with its log on PostgreSQL, against SQLite and a bare
insert loop on the same database, in the same run.

- Server rounds: bench_server_throughput.py's load (a child process, 10 concurrent keep-alive clients:
  5 kiosks issue + confirm printed, 5 windows call-next + finish, an Idempotency-Key on every POST) against
  ``servicehall serve --store postgresql://…`` (a database of this run's own on the server at ``--admin-url``,
  dropped at the end) and against the default SQLite log in a data directory (``synchronous=FULL``), through
  bench_server_throughput.py's ``server_round`` (its wrapper counts group commits of either store). Pinned as
  there: server core 0, load core 1; PostgreSQL itself is not pinned (it shares both cores with them).
- Bare insert loops [baseline], same database: 10 connections, each in a loop ``INSERT`` one event-sized row
  and ``COMMIT`` (one durable commit per insert, no batching), for the same span: with ``pgbench -n -c 10
  -f insert.sql`` when pgbench is installed, and with psycopg's async API from Python (what our writer pays
  per statement, without the server); and from one connection alone, which is what our single writer
  can commit at most per second (each commit waits for its WAL flush; group commit fills each one).
- The stores alone, in process (bench_store.py's load: 10 submitters, ``--jobs`` jobs of one event and one
  idempotency record, each awaited): PostgresStore on the same database, SqliteStore on this disk.
- Where the time goes: server CPU per operation from /proc for both stores, commits per request, and with
  ``--py-spy`` one extra PostgreSQL round profiled by py-spy (the top functions by own time).
Rounds alternate PostgreSQL, SQLite, bare loops; medians over rounds are reported.
Run: .venv/bin/python benchmarks/bench_store_postgres.py [--rounds 3] [--seconds 10] [--py-spy]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_server_support import ROOT, machine, median, taskset
from bench_server_throughput import WARMUP_S, server_round, summary
from bench_store import submitters

from queue_server.store.postgres import PostgresStore
from queue_server.store.sqlite import SqliteStore
from queue_server.store.url import PostgresUrl

CLIENTS = 10
ROW_DATA = ('{"ticket":"00000000002a","number":"A042","seq":42,"service":"A01","day":"2026-11-23",'
            '"priority":"normal","holder_key":"","holder_masked":"张*"}')
INSERT_SQL = ("INSERT INTO bare_events (type, v, at, node, staff, data) "
              "VALUES ('ticket.issued', 1, extract(epoch from now()), 'kiosk-1', '', '{data}');\n")


# ----------------------------------------------------------------------------------------- server rounds
def pg_round(tmp: Path, n: int, seconds: float, store: str | None, *, profile: Path | None = None) -> dict[str, Any]:
    """bench_server_throughput.py's round (same wrapper counting commits, same load, same pinning) on ``store``."""
    return server_round(tmp, n, seconds, True, store=store, during=(lambda pid: py_spy(pid, seconds, profile))
                        if profile else None)


@contextlib.contextmanager
def py_spy(pid: int, seconds: float, profile: Path) -> Iterator[None]:
    """py-spy recording the server for the measured span (collapsed stacks into ``profile``)."""
    spy = subprocess.Popen([py_spy_path(), "record", "--pid", str(pid), "--duration", f"{seconds:.0f}",
                            "--format", "raw", "--output", str(profile), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            spy.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


def py_spy_path() -> str:
    """py-spy on PATH, or next to this interpreter (pip install py-spy into the virtualenv)."""
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


# ----------------------------------------------------------------------------------------- bare loops
def admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # this script's own statements


def bare_table(url: str) -> None:
    admin(url, "DROP TABLE IF EXISTS bare_events; CREATE TABLE bare_events (id BIGSERIAL PRIMARY KEY, "
               "type TEXT NOT NULL, v INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL, node TEXT NOT NULL, "
               "staff TEXT NOT NULL, data TEXT NOT NULL)")


async def python_loop(url: str, seconds: float, clients: int = CLIENTS) -> dict[str, float]:
    """``clients`` psycopg connections, each INSERT + COMMIT (autocommit: one durable commit per row) in a loop.
    With one connection it is our writer's floor: one commit at a time, each waiting for its WAL flush."""
    import psycopg

    sql = INSERT_SQL.format(data=ROW_DATA)
    stop_at = time.perf_counter() + seconds
    counts = [0] * clients

    async def one(i: int) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while time.perf_counter() < stop_at:
                await conn.execute(sql)  # type: ignore[arg-type]
                counts[i] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return {"rate": sum(counts) / (time.perf_counter() - started)}


def pgbench_loop(url: str, seconds: float, tmp: Path) -> dict[str, float] | None:
    """pgbench with a one-INSERT script, 10 clients, 1 thread: the database's own ceiling for this row."""
    if not shutil.which("pgbench"):
        return None
    script = tmp / "insert.sql"
    script.write_text(INSERT_SQL.format(data=ROW_DATA))
    done = subprocess.run([*taskset(1), "pgbench", "-n", "-c", str(CLIENTS), "-j", "1", "-T", f"{seconds:.0f}",
                           "-f", str(script), url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    assert tps is not None, done.stdout
    return {"rate": float(tps.group(1)), "latency_ms": float(latency.group(1)) if latency else float("nan")}


def top_functions(profile: Path, count: int = 12) -> list[tuple[str, float]]:
    """py-spy's raw (collapsed stacks) output → the functions with the most own samples, as % of all samples."""
    own: dict[str, int] = {}
    total = 0
    for line in profile.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frame = stack.rsplit(";", 1)[-1]
        own[frame] = own.get(frame, 0) + int(samples)
        total += int(samples)
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:count]
    return [(frame, n * 100 / max(total, 1)) for frame, n in ranked]


def settings(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', "
                            "'wal_sync_method', 'server_version')").fetchall()
    return ", ".join(f"{name}={value}" for name, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL where this run may create (and drops) a database of its own")
    parser.add_argument("--jobs", type=int, default=3000, help="jobs of the store-alone rounds")
    parser.add_argument("--py-spy", action="store_true", help="one more PostgreSQL round, profiled with py-spy")
    args = parser.parse_args()
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin(args.admin_url, f'CREATE DATABASE "{name}"')
    url = args.admin_url.rpartition("/")[0] + "/" + name
    results: dict[str, list[dict[str, Any]]] = {"pg": [], "sqlite": [], "pgbench": [], "python": [], "serial": []}
    alone: dict[str, list[float]] = {"pg": [], "sqlite": []}
    profile: list[tuple[str, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-store-pg-", dir=ROOT) as tmp_text:
            tmp = Path(tmp_text)
            for n in range(args.rounds):
                admin(url, "DROP TABLE IF EXISTS events, idempotency, servicehall_schema, bare_events")
                results["pg"].append(pg_round(tmp, 2 * n, args.seconds, url))
                results["sqlite"].append(pg_round(tmp, 2 * n + 1, args.seconds, None))
                bare_table(url)
                bench = pgbench_loop(url, args.seconds, tmp)
                if bench is not None:
                    results["pgbench"].append(bench)
                results["python"].append(asyncio.run(python_loop(url, args.seconds)))
                results["serial"].append(asyncio.run(python_loop(url, args.seconds, clients=1)))
                admin(url, "DROP TABLE IF EXISTS events, idempotency, servicehall_schema")
                alone["pg"].append(asyncio.run(submitters(PostgresStore(PostgresUrl.parse(url)), args.jobs)))
                alone["sqlite"].append(asyncio.run(submitters(SqliteStore(tmp / f"alone-{n}.sqlite3"), args.jobs)))
                print(f"round {n}: pg {results['pg'][-1]['rate']:.0f}, sqlite {results['sqlite'][-1]['rate']:.0f}, "
                      f"pgbench {bench['rate'] if bench else float('nan'):.0f}, "
                      f"python loop {results['python'][-1]['rate']:.0f}, "
                      f"one session {results['serial'][-1]['rate']:.0f} ops/s", flush=True)
            if args.py_spy:
                admin(url, "DROP TABLE IF EXISTS events, idempotency, servicehall_schema, bare_events")
                pg_round(tmp, 99, args.seconds, url, profile=tmp / "profile.txt")
                if (tmp / "profile.txt").exists():
                    profile = top_functions(tmp / "profile.txt")
        shown = settings(url)
    finally:
        admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(machine())
    print(f"PostgreSQL: {shown}; {args.rounds} rounds of {args.seconds:.0f} s (after {WARMUP_S:.0f} s warm-up); "
          "server core 0, load core 1, PostgreSQL unpinned")
    print(summary("server on PostgreSQL (durable)", results["pg"]))
    print(summary("server on SQLite (durable)", results["sqlite"]))
    for label, key in (("bare INSERT+COMMIT, pgbench [base]", "pgbench"),
                       ("bare INSERT+COMMIT, psycopg [base]", "python"),
                       ("bare, ONE session, psycopg [base]", "serial")):
        if results[key]:
            print(f"{label:34s} ops/s {median([r['rate'] for r in results[key]]):7.0f}   rounds: "
                  + ", ".join(f"{r['rate']:.0f}" for r in results[key]))
    for label in ("pg", "sqlite"):
        c = [r["commits"] for r in results[label]]
        print(f"{label}: requests per commit (median) "
              f"{median([x['requests'] / max(x['commits'], 1) for x in c]):.1f}; commits/s "
              f"{median([x['commits'] / (args.seconds + WARMUP_S) for x in c]):.0f}")
    for label, key in (("PostgresStore alone, in process", "pg"), ("SqliteStore alone, in process", "sqlite")):
        print(f"{label:34s} jobs/s {median(alone[key]):7.0f}   rounds: " + ", ".join(f"{r:.0f}" for r in alone[key]))
    for frame, share in profile:
        print(f"py-spy own time {share:5.1f} %  {frame}")


if __name__ == "__main__":
    main()
