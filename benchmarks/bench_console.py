"""What the managers' console costs to open in Chromium: the dashboard, and a month report page (30 × 5,000).

- Data: November 2026, 30 days × 5,000 tickets through the real engine (bench_stats' busy day: issue,
  printed, call-next, start, finish, skip, requeue, recall, transfer), every third finished matter rated with
  the engine's rate command (so 差评 open follow-ups, as in bench_reports), written with SqliteStore.
- The real server (bench_stats' ``--serve``) replays it on a clock set to 2026-11-30 17:31, so "today" is the
  month's last busy day. Headless Chromium (tests/support/cdp.py) signs in with the manager token once.
- Dashboard first load: navigation to /manage until every section has been read once and the event stream
  is live (the page's ``data-ready``, ``performance.now()`` since the navigation began); baseline: the
  history page, a shell with the same header and scripts that reads no API until asked. Cache disabled.
- Month report page: /manage/reports?period=month&by=service until its table and charts are drawn (four
  GET /api/v1/reports of the month); only when the reports API is present (the reports helper builds it).
Run: .venv/bin/python benchmarks/bench_console.py [--runs 7] [--tickets 5000] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_stats
from bench_server_replay import write_day
from bench_server_support import ALLDAY, PYTHON, ROOT, at, child, free_port, machine, median, percentile

from config.loader import load_hall
from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.stats.report import days_between
from queue_server.store.sqlite import SqliteStore
from tests.support.cdp import Chromium, Page

LEVELS = (5, 5, 5, 4, 4, 3, 2, 1)
CLOCK_AT = "2026-11-30"


def build(days: int, tickets: int) -> list[Event]:
    """Every event of ``days`` busy days from 2026-11-01, with ratings (and the follow-ups bad ones open)."""
    engine = QueueEngine(load_hall(ALLDAY))
    log: list[Event] = []
    for n, day in enumerate(days_between("2026-11-01", f"2026-11-{days:02d}")):
        events = bench_stats.simulate(engine, tickets, day, seed=n + 1)
        log += events
        for k, e in enumerate([e for e in events if e.type == ev.TICKET_FINISHED][::3]):
            try:
                log += engine.rate(e.data["ticket"], LEVELS[k % len(LEVELS)], "pad", e.at + 30,
                                   node=f"window-{e.data['window']}").events
            except QueueError as err:  # a matter finished twice over (recall) is rated once
                log += err.events
    return log


async def load_ms(page: Page, url: str, ready: str) -> float:
    """One navigation with an empty cache: ms from its start until ``ready`` holds (read in the page)."""
    await page.send("Network.clearBrowserCache")
    await page.goto(url)
    await page.wait_for(ready, f"{url} ready", timeout_s=120.0)
    return float(await page.evaluate("Number(document.body.dataset.ready || performance.now())"))


async def measure(url: str, runs: int, reports: bool) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"history page shell [baseline]": [], "dashboard": [], "month report": []}
    async with Chromium() as browser:
        page = await browser.new_page()
        await page.send("Network.enable")
        await page.send("Network.setCacheDisabled", cacheDisabled=True)
        await page.goto(f"{url}/manage/sign-in")
        await page.evaluate("fetch('/manage/sign-in', {method: 'POST', headers: {'Content-Type': 'application/json'},"
                            " body: JSON.stringify({token: 'demo-manager'})}).then(r => r.status)")
        for _ in range(runs + 1):  # the first of each is a warm-up
            out["history page shell [baseline]"].append(await load_ms(
                page, f"{url}/manage/history", "document.readyState === 'complete'"))
            out["dashboard"].append(await load_ms(page, f"{url}/manage", "document.body.dataset.ready"))
            if reports:
                out["month report"].append(await load_ms(
                    page, f"{url}/manage/reports?period=month&date=2026-11-15&by=service",
                    "document.body.dataset.ready"))
    return {name: times[1:] for name, times in out.items() if times}


def reports_api_present() -> bool:
    return (ROOT / "queue_server" / "api" / "reports.py").exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    print(machine())
    t0 = time.perf_counter()
    events = build(args.days, args.tickets)
    print(f"built {args.days} days × {args.tickets:,} tickets: {len(events):,} events "
          f"in {time.perf_counter() - t0:.0f} s")
    reports = reports_api_present()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        data = Path(tmp) / "data"
        asyncio.run(write_day(SqliteStore(data / "events.sqlite3"), events, chunk=512))
        del events
        port = free_port()
        argv = [PYTHON, bench_stats.__file__, "--serve", str(data), str(port), "on", repr(at("17:31", CLOCK_AT))]
        with child(argv, port, timeout_s=300.0):  # the month's 800,000 events are replayed first
            results: dict[str, Any] = asyncio.run(measure(f"http://127.0.0.1:{port}", args.runs, reports))
    for name, times in results.items():
        print(f"{name}: median {median(times):.0f} ms, p90 {percentile(times, 90):.0f} ms ({len(times)} loads)")
    if not reports:
        print("month report page: not measured (GET /api/v1/reports is not on this branch)")


if __name__ == "__main__":
    main()
