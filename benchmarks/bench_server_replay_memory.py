"""The server's memory when 100 screens replay 2,500 events at once, and after they left (issue 7, item 14).

The real server (``python -m kiosk.cli serve`` on the all-day test hall) runs as a child process; 2,500
tickets are issued (2,501 events with the day roll). Then 100 WebSocket clients (token demo-display, the
public view; ``--staff`` uses a manager token) connect with ``?after=0`` at once and each reads the whole
history. The server's RSS (VmRSS from /proc) is read before (the same-run baseline: the idle server with
that log), sampled every 20 ms during the replay (peak), and 2 s after every client left. The replay is
done ``--rounds`` times on the same server, so a leak would show as growth from round to round.
Run: .venv/bin/python benchmarks/bench_server_replay_memory.py [--clients 100] [--tickets 2500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_server_support import free_port, machine, median, server_argv, stop_process, wait_health


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def issue(session: aiohttp.ClientSession, base: str, count: int) -> int:
    async def one(k: int) -> None:
        for i in range(k, count, 8):
            async with session.post(f"{base}/api/v1/tickets", headers={"Authorization": f"Bearer demo-kiosk-{k + 1}"},
                                    json={"service": ("A01", "B01", "C01", "D01")[i % 4],
                                          "holder_masked": "张*"}) as answer:
                assert answer.status == 201, await answer.text()
    await asyncio.gather(*(one(k) for k in range(8)))
    async with session.get(f"{base}/api/v1/health") as answer:
        return int((await answer.json())["last_event_id"])


async def replay_storm(session: aiohttp.ClientSession, base: str, pid: int, clients: int, last: int,
                       token: str) -> tuple[float, float]:
    """``clients`` sockets replay everything at once; returns (peak RSS during, seconds taken)."""
    peak = [rss_mb(pid)]
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak.append(rss_mb(pid))
            await asyncio.sleep(0.02)

    async def client() -> None:
        async with session.ws_connect(f"{base}/api/v1/events?after=0&token={token}", max_msg_size=0) as ws:
            while True:
                event = json.loads(await ws.receive_str(timeout=60))
                if event["id"] >= last:
                    return

    sampler = asyncio.create_task(sample())
    t0 = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    took = time.monotonic() - t0
    done.set()
    await sampler
    return max(peak), took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--tickets", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--staff", action="store_true", help="replay the staff view (manager token)")
    args = parser.parse_args()
    token = "demo-manager" if args.staff else "demo-display"
    with tempfile.TemporaryDirectory(prefix="bench-replay-mem-") as tmp:
        port = free_port()
        proc = await asyncio.to_thread(subprocess.Popen, server_argv(Path(tmp, "data"), port),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await asyncio.to_thread(wait_health, port)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                last = await issue(session, base, args.tickets)
                await asyncio.sleep(2.0)
                idle = rss_mb(proc.pid)
                rounds = []
                for _ in range(args.rounds):
                    peak, took = await replay_storm(session, base, proc.pid, args.clients, last, token)
                    await asyncio.sleep(2.0)
                    rounds.append((peak, rss_mb(proc.pid), took))
        finally:
            stop_process(proc, signal.SIGTERM, timeout_s=30)
    print(machine())
    print(f"{args.clients} clients × {last} events ({'staff' if args.staff else 'public'} view), "
          f"{args.rounds} rounds on one server")
    print(f"  idle server with the log [baseline]  {idle:7.1f} MB")
    print(f"  peak during replay, median           {median([r[0] for r in rounds]):7.1f} MB "
          f"(rounds: {', '.join(f'{r[0]:.1f}' for r in rounds)})")
    print(f"  2 s after they left, median          {median([r[1] for r in rounds]):7.1f} MB "
          f"(rounds: {', '.join(f'{r[1]:.1f}' for r in rounds)})")
    print(f"  replay wall time, median             {median([r[2] for r in rounds]):7.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
