"""The SQLite store alone: group-commit throughput after the fail-stop changes, and the cost of a prune.

- Commits: ``CLIENTS`` concurrent submitters, each waiting for its own job (one event plus one idempotency
  record, as a kiosk's issue), ``--jobs`` jobs in total, on the machine's disk with ``synchronous=FULL``.
  Baseline in the same run: the store as it was at ``--baseline-rev`` (read with ``git show``), same load.
- Prune: ``--records`` idempotency records in insertion (time) order; ``prune_idempotency`` deleting the
  oldest 5 % (chunks of 1,000 rows), then again with nothing left to delete (one scan of the table), and
  the longest a commit waited while the first prune ran.
Run: .venv/bin/python benchmarks/bench_store.py [--jobs N] [--records N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench_server_support import machine, median

from queue_server.engine.events import Event
from queue_server.store.base import IdempotencyRecord
from queue_server.store.sqlite import SqliteStore

CLIENTS = 10
REPO = Path(__file__).resolve().parents[1]


def old_store(rev: str) -> ModuleType:
    """queue_server/store/sqlite.py at ``rev``, imported under another name."""
    source = subprocess.run(["git", "show", f"{rev}:queue_server/store/sqlite.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_sqlite_store.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_sqlite_store", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def job(i: int) -> tuple[list[Event], IdempotencyRecord]:
    data = {"ticket": f"{i:012x}", "number": f"A{i:03d}", "seq": i, "service": "A01", "day": "2026-11-24",
            "priority": "normal", "holder_key": "", "holder_masked": "张*"}
    body = f'{{"id":"{i:012x}","number":"A{i:03d}","state":"waiting","ahead":3}}'
    return [Event(i, "ticket.issued", 1.8e9 + i, data, node="kiosk-1")], IdempotencyRecord(
        "kiosk-1", f"key-{i}", "f" * 64, 201, body, 1.8e9 + i)


async def commits(store_class: Any, jobs: int) -> float:
    """Jobs per second, every job waited for by its submitter."""
    with tempfile.TemporaryDirectory(dir=REPO) as tmp:
        return await submitters(store_class(Path(tmp) / "events.sqlite3"), jobs)


async def submitters(store: Any, jobs: int) -> float:
    """Open ``store``, let CLIENTS submitters write ``jobs`` jobs (each awaited), close it; jobs per second."""
    await store.open()
    try:
        numbers = iter(range(1, jobs + 1))

        async def client() -> None:
            for i in numbers:
                await store.submit(*job(i))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        return jobs / (time.perf_counter() - started)
    finally:
        await store.close()


async def prune(records: int) -> tuple[float, float, float]:
    """(s to prune the oldest 5 %, s for a prune finding nothing, longest commit wait in s during the first)."""
    with tempfile.TemporaryDirectory(dir=REPO) as tmp:
        path = Path(tmp) / "events.sqlite3"
        store = SqliteStore(path)
        await store.open()
        try:
            for start in range(0, records, 5000):
                await asyncio.gather(*(store.submit([], job(i + 1)[1]) for i in range(start, start + 5000)))
            horizon = 1.8e9 + records // 20 + 0.5
            waits: list[float] = []
            started = time.perf_counter()
            pruning = asyncio.ensure_future(store.prune_idempotency(horizon))
            i = records
            while not pruning.done():
                i += 1
                t = time.perf_counter()
                await store.submit([], job(i)[1])
                waits.append(time.perf_counter() - t)
            deleted = await pruning
            first = time.perf_counter() - started
            assert deleted == records // 20, deleted
            started = time.perf_counter()
            assert await store.prune_idempotency(horizon) == 0
            again = time.perf_counter() - started
            return first, again, max(waits, default=0.0)
        finally:
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rev", default="1100f6e")
    args = parser.parse_args()
    baseline = old_store(args.baseline_rev).SqliteStore
    new: list[float] = []
    old: list[float] = []
    for _ in range(args.rounds):  # alternate, so both see the same machine
        new.append(await commits(SqliteStore, args.jobs))
        old.append(await commits(baseline, args.jobs))
    print(machine())
    print(f"commits, {CLIENTS} clients, {args.jobs} jobs: this store {median(new):,.0f} jobs/s "
          f"(rounds {', '.join(f'{x:,.0f}' for x in new)}); {args.baseline_rev} [baseline] {median(old):,.0f} jobs/s "
          f"(rounds {', '.join(f'{x:,.0f}' for x in old)})")
    results = [await prune(args.records) for _ in range(max(1, args.rounds // 2))]
    first, again, wait = (median([r[k] for r in results]) * 1e3 for k in range(3))
    print(f"prune of {args.records // 20:,} of {args.records:,} records: {first:.1f} ms; a prune finding nothing: "
          f"{again:.1f} ms; longest commit wait during the prune: {wait:.1f} ms (medians of {len(results)})")


if __name__ == "__main__":
    asyncio.run(main())
