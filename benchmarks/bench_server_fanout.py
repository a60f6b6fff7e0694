"""How fast an event reaches every screen: 200 WebSocket subscribers (target: p99 < 50 ms).

The real server (``python -m kiosk.cli serve`` on the all-day test hall) runs in a child process; a
second child process holds 200 WebSocket clients on /api/v1/events (token demo-display via ?token=,
``after`` = the last event, so no history) and issues tickets at a steady rate from kiosk 1. Each
delivery is timed from the moment the issuing POST was sent (same process, same clock) and from the
event's own ``at`` (the server's clock when it decided; same machine, so the same wall clock).
The two processes are pinned to different cores with taskset; the subscriber process parses 200
sockets on one core, so its own queueing is part of the figure (its CPU share is printed).
Baseline in the same run: the same 200 clients on a bare aiohttp app that sends each message the
load process posts to all its sockets at once (no engine, no log, no fsync).
Run: .venv/bin/python benchmarks/bench_server_fanout.py [--clients 200] [--rate 10] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_server_support import PYTHON, child, free_port, machine, median, percentile, server_argv, taskset


# ----------------------------------------------------------------------------------------- baseline app
def baseline_app(port: int) -> None:
    """Bare fan-out: POST /publish sends the body to every connected socket, then answers."""
    from aiohttp import web

    sockets: set[web.WebSocketResponse] = set()
    counter = [0]

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            sockets.discard(ws)
        return ws

    async def publish(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        counter[0] += 1
        text = json.dumps({"id": counter[0], "type": "ticket.issued", "at": time.time(),
                           "data": {"ticket": body["ticket"], "number": "A001", "service": "A01"}})
        for ws in list(sockets):
            await ws.send_str(text)
        return web.json_response({"id": body["ticket"]}, status=201)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/api/v1/events", events)
    app.router.add_post("/publish", publish)
    app.router.add_get("/api/v1/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ----------------------------------------------------------------------------------------- load process
async def drive(port: int, mode: str, clients: int, rate: float, seconds: float) -> dict[str, Any]:
    """Connect ``clients`` sockets, issue ``rate`` tickets/s for ``seconds``, time every delivery."""
    from aiohttp import ClientSession, ClientTimeout, TCPConnector, WSMsgType

    base = f"http://127.0.0.1:{port}"
    sent: dict[str, float] = {}
    received: list[list[tuple[float, str]]] = [[] for _ in range(clients)]
    async with ClientSession(connector=TCPConnector(limit=0), timeout=ClientTimeout(total=30)) as session:
        after = 0
        if mode == "server":
            async with session.get(f"{base}/api/v1/health") as answer:
                after = (await answer.json())["last_event_id"]
        gate = asyncio.Semaphore(20)

        async def connect(n: int) -> Any:
            async with gate:
                return await session.ws_connect(f"{base}/api/v1/events?token=demo-display&after={after}",
                                                autoping=True)

        sockets = await asyncio.gather(*(connect(n) for n in range(clients)))
        await asyncio.sleep(0.5)

        async def listen(n: int, ws: Any) -> None:
            box = received[n]
            while True:
                msg = await ws.receive()
                now = time.time()
                if msg.type is not WSMsgType.TEXT:
                    return
                box.append((now, msg.data))

        listeners = [asyncio.create_task(listen(n, ws)) for n, ws in enumerate(sockets)]
        cpu0, t_start = os.times(), time.perf_counter()
        count = int(rate * seconds)
        start = time.time() + 0.1
        for k in range(count):
            await asyncio.sleep(max(0.0, start + k / rate - time.time()))
            t_send = time.time()
            if mode == "server":
                async with session.post(f"{base}/api/v1/tickets", json={"service": "A01"},
                                        headers={"Authorization": "Bearer demo-kiosk-1"}) as answer:
                    assert answer.status == 201, await answer.text()
                    sent[(await answer.json())["id"]] = t_send
            else:
                async with session.post(f"{base}/publish", json={"ticket": f"t{k}"}) as answer:
                    sent[(await answer.json())["id"]] = t_send
        await asyncio.sleep(1.0)
        cpu1, t_end = os.times(), time.perf_counter()
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*listeners, return_exceptions=True)

    from_send, from_at = [], []
    for box in received:
        for now, text in box:
            event = json.loads(text)
            ticket = event["data"].get("ticket")
            if ticket in sent:
                from_send.append((now - sent[ticket]) * 1000)
                from_at.append((now - event["at"]) * 1000)
    return {"issued": count, "deliveries": len(from_send), "expected": count * clients,
            "from_send": {"p50": percentile(from_send, 50), "p99": percentile(from_send, 99), "max": max(from_send)},
            "from_at": {"p50": percentile(from_at, 50), "p99": percentile(from_at, 99)},
            "client_cpu": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (t_end - t_start)}


def run_load(port: int, mode: str, args: argparse.Namespace, cpu: int | None) -> dict[str, Any]:
    argv = [*taskset(cpu), PYTHON, __file__, "--load", str(port), mode, str(args.clients), str(args.rate),
            str(args.seconds)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 120, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="tickets issued per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server_cpu, load_cpu = 0, 1
    results: dict[str, list[dict[str, Any]]] = {"server": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        for n in range(args.rounds):
            port = free_port()
            with child(server_argv(Path(tmp, f"data-{n}"), port, server_cpu), port, log=Path(tmp, f"server-{n}.log")):
                results["server"].append(run_load(port, "server", args, load_cpu))
            port = free_port()
            argv = [*taskset(server_cpu), PYTHON, __file__, "--baseline-app", str(port)]
            with child(argv, port):
                results["baseline"].append(run_load(port, "baseline", args, load_cpu))
    print(machine())
    print(f"{args.clients} subscribers, {args.rate:g} tickets/s for {args.seconds:g} s, {args.rounds} rounds "
          "(server core 0, subscribers + issuer core 1); medians over rounds")
    for label, key in (("server (durable, hub)", "server"), ("bare aiohttp fan-out [baseline]", "baseline")):
        rs = results[key]
        print(f"{label:32s} from send: p50 {median([r['from_send']['p50'] for r in rs]):6.2f} ms  "
              f"p99 {median([r['from_send']['p99'] for r in rs]):6.2f} ms  "
              f"max {median([r['from_send']['max'] for r in rs]):6.1f} ms | from event at: "
              f"p50 {median([r['from_at']['p50'] for r in rs]):6.2f} ms  "
              f"p99 {median([r['from_at']['p99'] for r in rs]):6.2f} ms"
              f" | deliveries {sum(r['deliveries'] for r in rs)}/{sum(r['expected'] for r in rs)}"
              f" | subscriber CPU {median([r['client_cpu'] for r in rs]) * 100:.0f} %")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--baseline-app":
        baseline_app(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--load":
        port, mode, clients, rate, seconds = sys.argv[2:7]
        print(json.dumps(asyncio.run(drive(int(port), mode, int(clients), float(rate), float(seconds)))))
    else:
        main()
