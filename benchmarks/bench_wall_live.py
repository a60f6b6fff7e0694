"""The running wall display against a real server: idle CPU, and event → pixels latency at 50 events/s.

- idle CPU: ``servicehall screen wall`` as its own process (SDL dummy driver, 1920×1080), fed by a real
  ``servicehall serve`` over its WebSocket, in a quiet hall: the process's CPU time (user + system, all
  threads, from /proc) over ``--idle-s`` seconds after a warm-up, as a share of one core. Baseline in the
  same minute: a bare loop process doing what any pygame screen must (``event.get`` and an asyncio sleep at
  the wall's wake rate, no feed, no drawing). Target < 3 % of one core.
- event → pixels: the wall loop (screens.app.run, unchanged) in this process, the load in a child process:
  ``--rate`` events per second over ``--windows`` windows, as service cycles of three events each (POST
  call-next: the previous citizen's implicit ``finished`` and the ``called``; then POST …/start). Latency =
  from the moment the child sends the call-next (CLOCK_MONOTONIC, shared by both processes) to the end of
  the first wall frame whose view model shows the called number in its window's column (the renderer's
  ``draw`` is wrapped to note the time and the view; ``display.update`` follows at once). Median and p99;
  the events per second actually written to the log are counted from its ids.
Run: .venv/bin/python benchmarks/bench_wall_live.py [--idle-s 60] [--rate 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import aiohttp  # noqa: E402
from bench_server_support import machine, median, percentile, stop_process  # noqa: E402

from tests.integration.server_support import ALLDAY_HALL, PIN, PYTHON, ServerProcess, display, kiosk, window  # noqa: E402

BARE_LOOP = """
import asyncio, os, pygame
pygame.display.init(); pygame.display.set_mode((1920, 1080))
async def main():
    while True:
        pygame.event.get()
        await asyncio.sleep(float(os.environ["FRAME_S"]))
asyncio.run(main())
"""


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(server: ServerProcess, seconds: float, warm_s: float = 10.0) -> dict[str, float]:
    """CPU share of one core of the wall program, the bare loop and the server over the same quiet span."""
    from screens.app import FRAME_S

    env = {**os.environ, "FRAME_S": str(FRAME_S)}
    wall = subprocess.Popen([PYTHON, "-m", "kiosk.cli", "screen", "wall", "--config", str(ALLDAY_HALL), "--node",
                             "display", "--server", server.url, "--size", "1920x1080"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = subprocess.Popen([PYTHON, "-c", BARE_LOOP], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert server.proc is not None
    pids = {"wall": wall.pid, "bare loop [baseline]": bare.pid, "server": server.proc.pid}
    try:
        time.sleep(warm_s)
        for name, proc in (("wall", wall), ("bare loop", bare)):
            if proc.poll() is not None:
                raise RuntimeError(f"the {name} process exited early ({proc.returncode})")
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        start = time.monotonic()
        time.sleep(seconds)
        span = time.monotonic() - start
        return {name: (cpu_s(pid) - before[name]) / span * 100 for name, pid in pids.items()}
    finally:
        for proc in (wall, bare):
            stop_process(proc, signal.SIGTERM, timeout_s=10)


async def prepare(server: ServerProcess, tickets: int, windows: int) -> None:
    """Staff signed in at windows 1..N and ``tickets`` waiting across the four services."""
    async with aiohttp.ClientSession() as session:
        for number in range(1, windows + 1):
            async with session.post(f"{server.url}/api/v1/windows/{number}/sign-in", headers=window(number),
                                    json={"staff": f"s{number:03d}", "pin": PIN}) as answer:
                assert answer.status == 200, await answer.text()
        gate = asyncio.Semaphore(8)

        async def issue(i: int) -> None:
            async with gate, session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1 + i % 10, f"bench-{i}"),
                                          json={"service": "ABCD"[i % 4] + "01"}) as answer:
                assert answer.status in (200, 201), await answer.text()

        await asyncio.gather(*(issue(i) for i in range(tickets)))


EVENTS_PER_CYCLE = 3  # finished (implicit in call-next), called, started


async def load(url: str, rate: float, seconds: float, windows: int) -> None:
    """The child: service cycles at ``rate / 3`` per second on an absolute schedule, each window's cycles one
    after another; one JSON line per answered call."""
    cycles = rate / EVENTS_PER_CYCLE
    async with aiohttp.ClientSession() as session:
        start = time.monotonic() + 0.5

        async def serve(number: int) -> None:
            for k in range(int(cycles * seconds / windows)):
                i = k * windows + number - 1
                await asyncio.sleep(max(0.0, start + i / cycles - time.monotonic()))
                sent = time.monotonic()
                async with session.post(f"{url}/api/v1/windows/{number}/call-next",
                                        headers=window(number, f"c{i}"), json={}) as answer:
                    body = await answer.json()
                if answer.status != 200 or not isinstance(body.get("number"), str):
                    print(json.dumps({"error": body, "window": number}), file=sys.stderr, flush=True)
                    continue
                print(json.dumps({"number": body["number"], "window": number, "sent": sent}), flush=True)
                async with session.post(f"{url}/api/v1/tickets/{body['id']}/start", headers=window(number, f"s{i}"),
                                        json={"window": number}) as answer:
                    if answer.status != 200:
                        print(json.dumps({"start": await answer.text()}), file=sys.stderr, flush=True)

        await asyncio.gather(*(serve(n) for n in range(1, windows + 1)))


async def latency(server: ServerProcess, rate: float, seconds: float, windows: int) -> dict[str, Any]:
    """Run the real wall loop here while the child calls; match each call to the first frame showing it."""
    import screens.wall as wall_module
    from config.loader import load_hall
    from screens.app import ScreenConfig, run

    frames: list[tuple[float, dict[int, tuple[str, ...]]]] = []
    original = wall_module.WallRenderer.draw

    def draw(self: Any, view: Any, tick: int = 0) -> Any:
        dirty = original(self, view, tick)
        frames.append((time.monotonic(), {c.number: tuple(call.number for call in c.calls) for c in view.columns}))
        return dirty

    wall_module.WallRenderer.draw = draw  # type: ignore[method-assign]
    hall = load_hall(ALLDAY_HALL)
    cfg = ScreenConfig(server=server.url, token=display()["Authorization"].split()[1], size=(1920, 1080),
                       tz=zoneinfo.ZoneInfo(hall.timezone), hours=hall.hours, exit_after_s=seconds + 8)
    screen = asyncio.create_task(run(cfg))
    await asyncio.sleep(3)  # connected and drawn
    last_before = (await _health(server))["last_event_id"]
    child = await asyncio.create_subprocess_exec(
        PYTHON, __file__, "--load", server.url, "--rate", str(rate), "--seconds", str(seconds), "--windows",
        str(windows), stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    out, _ = await child.communicate()
    last_after = (await _health(server))["last_event_id"]
    await screen
    wall_module.WallRenderer.draw = original  # type: ignore[method-assign]
    calls = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    waits: list[float] = []
    missing = 0
    for call in calls:
        shown = next((t for t, columns in frames if t >= call["sent"] and call["number"] in
                      columns.get(call["window"], ())), None)
        if shown is None:
            missing += 1
        else:
            waits.append(shown - call["sent"])
    span = calls[-1]["sent"] - calls[0]["sent"] if len(calls) > 1 else float("nan")
    return {"calls": len(calls), "missing": missing, "waits": waits, "frames": len(frames),
            "events_per_s": (last_after - last_before) / max(span, 1e-9), "calls_per_s": len(calls) / max(span, 1e-9)}


async def _health(server: ServerProcess) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/api/v1/health") as answer:
        return await answer.json()  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the child's mode: the server URL
    parser.add_argument("--skip-idle", action="store_true")
    args = parser.parse_args()
    if args.load:
        asyncio.run(load(args.load, args.rate, args.seconds, args.windows))
        return 0
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-wall-") as tmp, ServerProcess(Path(tmp) / "data") as server:
        if not args.skip_idle:
            shares = idle_cpu(server, args.idle_s)
            for name, share in shares.items():
                print(f"idle CPU over {args.idle_s:.0f} s, {name}: {share:.2f} % of one core")
        asyncio.run(prepare(server, int(args.rate * args.seconds / EVENTS_PER_CYCLE) + 200, args.windows))
        result = asyncio.run(latency(server, args.rate, args.seconds, args.windows))
        waits = result["waits"]
        print(f"event → pixels: {result['calls']} calls at {result['calls_per_s']:.1f}/s "
              f"({result['events_per_s']:.1f} events/s in the log), {result['frames']} frames, "
              f"{result['missing']} never shown")
        if waits:
            print(f"event → pixels: median {median(waits) * 1000:.1f} ms, p99 {percentile(waits, 99) * 1000:.1f} ms, "
                  f"max {max(waits) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
