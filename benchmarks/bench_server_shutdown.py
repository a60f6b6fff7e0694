"""SIGTERM to exit with 200 screens on the event stream, 50 of which stopped reading (they never answer).

The real server (``python -m kiosk.cli serve`` on the all-day test hall) runs as a child process with
1,000 tickets in its log. 150 screens (aiohttp clients, up to date: ``?after=`` the last event) read and
answer the close handshake; 50 are raw sockets with a 4 KiB receive buffer that ask for the whole history
and then read nothing, so their buffers fill and no close frame of the server ever reaches them. The
figure is the time from SIGTERM to the process's exit, against the same-run baseline of SIGTERM on the
same server with no client at all. Each round is capped (``--cap``, default 60 s; the process is then
killed and the round counted as the cap). All traffic is on 127.0.0.1.
Run: .venv/bin/python benchmarks/bench_server_shutdown.py [--rounds 3] [--screens 200] [--stalled 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_server_support import free_port, machine, median, server_argv, wait_health

TOKEN = "demo-display"


async def stalled_screen(port: int) -> socket.socket:
    """A WebSocket that asks for all history and then never reads (a frozen screen)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await asyncio.get_running_loop().sock_sendall(sock, (
        f"GET /api/v1/events?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").encode())
    return sock


async def issue(session: aiohttp.ClientSession, base: str, count: int) -> int:
    async def one(k: int) -> None:
        for i in range(k, count, 8):
            async with session.post(f"{base}/api/v1/tickets", headers={"Authorization": f"Bearer demo-kiosk-{k + 1}"},
                                    json={"service": ("A01", "B01", "C01", "D01")[i % 4]}) as answer:
                assert answer.status == 201, await answer.text()
    await asyncio.gather(*(one(k) for k in range(8)))
    async with session.get(f"{base}/api/v1/health") as answer:
        return int((await answer.json())["last_event_id"])


async def one_round(data: Path, screens: int, stalled: int, tickets: int, cap_s: float) -> tuple[float, int]:
    """Start a server, connect the screens, SIGTERM: (seconds to exit, screens that saw 1001)."""
    port = free_port()
    proc = await asyncio.to_thread(subprocess.Popen, server_argv(data, port), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    raw: list[socket.socket] = []
    try:
        await asyncio.to_thread(wait_health, port)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            last = await issue(session, base, tickets) if tickets else 0
            live = [await session.ws_connect(f"{base}/api/v1/events?after={last}&token={TOKEN}")
                    for _ in range(screens - stalled)]
            raw = [await stalled_screen(port) for _ in range(stalled)]
            await asyncio.sleep(1.0)  # let the stalled screens' replays fill their buffers

            async def until_close(ws: aiohttp.ClientWebSocketResponse) -> bool:
                message = await ws.receive(timeout=cap_s)
                return message.type is aiohttp.WSMsgType.CLOSE and message.data == 1001

            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            closes = asyncio.gather(*(until_close(ws) for ws in live), return_exceptions=True)
            try:
                await asyncio.to_thread(proc.wait, cap_s)
                took = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                took = cap_s
            told = sum(1 for ok in await closes if ok is True)
            for ws in live:
                await ws.close()
        return took, told
    finally:
        for sock in raw:
            sock.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--stalled", type=int, default=50)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--cap", type=float, default=60.0)
    args = parser.parse_args()
    loaded, empty = [], []
    with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
        for n in range(args.rounds):
            loaded.append(await one_round(Path(tmp, f"d{n}"), args.screens, args.stalled, args.tickets, args.cap))
            empty.append(await one_round(Path(tmp, f"e{n}"), 0, 0, 0, args.cap))
    print(machine())
    print(f"SIGTERM → exit, medians of {args.rounds} rounds (rounds: "
          f"{', '.join(f'{t:.2f}' for t, _ in loaded)} s; cap {args.cap:.0f} s)")
    print(f"  {args.screens} screens, {args.stalled} stalled      {median([t for t, _ in loaded]):7.3f} s; "
          f"live screens told 1001: {median([c for _, c in loaded]):.0f} / {args.screens - args.stalled}")
    print(f"  no client [baseline]              {median([t for t, _ in empty]):7.3f} s")


if __name__ == "__main__":
    asyncio.run(main())
