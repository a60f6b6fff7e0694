"""Benchmark: a call-pad press → the number on the window's LED display, and → the first sound of the hall speaker.

The whole path runs for real: the queue server as a child process; in this process the window node
(NodeRuntime + WindowNode) with its call pad and window display on a simulated RS-485 pty line at 115200 baud
with wire time (``realtime=1``) and the default 100 ms poll, and the speaker node (NodeRuntime +
AnnouncerNode) with the espeak-ng clip library playing through pygame (SDL_AUDIODRIVER=dummy, real time).
t0 is the moment the simulated pad queues the key; "display" is when the simulated display applies the
command block carrying the number; "first sound" is when the speaker starts the announcement's Sound. Each
run waits until the previous announcement is over, so no call waits behind another in the speaker's queue.

Baselines measured in the same run: the server alone (POST /api/v1/windows/2/call-next from an aiohttp client
on loopback), and the bus's own share (half the poll interval on average, plus the wire time of a poll).
The window node's idle CPU is measured too: ``servicehall node`` in its own process with its three bus
devices on a simulated line in another (``servicehall devices simulate bus485 --pty``), watched doing nothing.
Usage: SDL_AUDIODRIVER=dummy .venv/bin/python benchmarks/bench_window_call.py [--runs 15] [--idle-s 30]
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
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aiohttp  # noqa: E402
from bench_server_support import (  # noqa: E402
    ALLDAY,
    PYTHON,
    child,
    free_port,
    machine,
    median,
    percentile,
    server_argv,
    stop_process,
)

from devices.bus485.registers import Key  # noqa: E402
from devices.bus485.simulator import BusSimulator, SimWindowDisplay  # noqa: E402
from devices.speaker.clips import ClipLibrary  # noqa: E402
from kiosk.announcer_node import AnnouncerNode  # noqa: E402
from kiosk.node import NodeSettings  # noqa: E402
from kiosk.window_node import WindowNode  # noqa: E402
from tests.support.node_rig import running_behaviour  # noqa: E402

PIN = "123456"
LINE = "bench?realtime=1&poll=0.1&address="


async def until(condition: Callable[[], bool], limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's condition was not reached in time")
        await asyncio.sleep(0.001)


async def post(http: aiohttp.ClientSession, url: str, token: str, key: str, body: dict[str, Any] | None = None,
               ) -> dict[str, Any]:
    async with http.post(url, json=body or {}, headers={"Authorization": f"Bearer {token}",
                                                        "Idempotency-Key": key}) as answer:
        data = await answer.json()
        if answer.status not in (200, 201):
            raise RuntimeError(f"{url}: {answer.status} {data}")
        return dict(data)


async def measure(url: str, runs: int, work: Path) -> dict[str, list[float]]:
    clips = work / "clips"
    await ClipLibrary(clips).load()  # build once, outside the measurement
    out: dict[str, list[float]] = {"display": [], "sound": [], "server": []}
    bus = {"callpad": f"sim+modbus+serial://{LINE}1&device=callpad",
           "window_display": f"sim+modbus+serial://{LINE}2&device=window_display"}
    async with aiohttp.ClientSession() as http, \
            running_behaviour(url, "window-1", bus, work / "w1", WindowNode, NodeSettings()) as (_, window), \
            running_behaviour(url, "display", {"speaker": f"espeak://?clips={clips}&repeat=1"}, work / "sp",
                              AnnouncerNode, NodeSettings()) as (_, speaker):
        assert window.pad is not None and isinstance(window.pad.simulator, BusSimulator)
        sim = window.pad.simulator
        display = sim.devices[2]
        assert isinstance(display, SimWindowDisplay)
        shown: list[tuple[float, str]] = []
        applied = display.apply

        def apply(block: list[int]) -> None:  # when the display applies a block: the moment it shows it
            applied(block)
            shown.append((time.monotonic(), display.view().number))

        display.apply = apply  # type: ignore[method-assign]
        await until(lambda: speaker._synced.is_set() and window._synced.is_set())
        for n in (1, 2):
            await post(http, f"{url}/api/v1/windows/{n}/sign-in", f"demo-window-{n}", f"si-{n}",
                       {"staff": f"s{n:03d}", "pin": PIN})
        await until(lambda: window.state.signed_in)

        async def one(i: int) -> tuple[float, float, float]:
            number = (await post(http, f"{url}/api/v1/tickets", "demo-kiosk-1", f"k-{i}", {"service": "A01"}))["number"]
            before = len(speaker.announced)
            t0 = time.monotonic()
            sim.press(1, Key.CALL_NEXT)
            await until(lambda: any(n == number for _, n in shown[-3:]))
            t_display = next(at for at, n in reversed(shown) if n == number)
            await until(lambda: len(speaker.announced) > before and speaker.announced[-1].spoken.started_at is not None)
            t_sound = speaker.announced[-1].spoken.started_at
            assert t_sound is not None
            await speaker.announced[-1].wait()
            sim.press(1, Key.SKIP)
            await until(lambda: window.state.stage.value == "idle" and window.state.pending is None)
            await post(http, f"{url}/api/v1/tickets", "demo-kiosk-1", f"b-{i}", {"service": "A01"})
            s0 = time.perf_counter()
            called = await post(http, f"{url}/api/v1/windows/2/call-next", "demo-window-2", f"c2-{i}")
            server_s = time.perf_counter() - s0
            await post(http, f"{url}/api/v1/tickets/{called['id']}/skip", "demo-window-2", f"s2-{i}")
            await until(lambda: len(speaker.announced) > before + 1)
            await speaker.announced[-1].wait()  # window 2's call said too, before the next run
            return t_display - t0, t_sound - t0, server_s

        await one(0)  # warms every path up; not counted
        for i in range(1, runs + 1):
            for name, value in zip(("display", "sound", "server"), await one(i), strict=True):
                out[name].append(value)
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def devices_ready(url: str) -> bool:
    """Whether the server has window-1's three devices as ready (GET /api/v1/nodes as the manager)."""
    request = urllib.request.Request(f"{url}/api/v1/nodes", headers={"Authorization": "Bearer demo-manager"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        nodes = json.loads(answer.read())["nodes"]
    devices = next(n for n in nodes if n["node"] == "window-1")["devices"]
    return len(devices) == 3 and all(d["state"] == "ready" for d in devices)


def idle_cpu(url: str, work: Path, idle_s: float) -> float:
    """The window node as staff start it (``servicehall node``, its own process), with its three bus devices on a
    simulated line in another process, doing nothing for ``idle_s``: the share of one core it uses."""
    sim = subprocess.Popen([PYTHON, "-m", "kiosk.cli", "devices", "simulate", "bus485", "--pty"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    node: subprocess.Popen[bytes] | None = None
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline().strip()
        devices = "".join(f'{name} = "{line}?address={a}&device={name}"\n'
                          for a, name in ((1, "callpad"), (2, "window_display"), (3, "rating_pad")))
        head = 'name = "window-1"\nrole = "window"\nwindow = 1\ntoken = "demo-window-1"\n'
        hall = work / "idle_hall.toml"
        hall.write_text(ALLDAY.read_text(encoding="utf-8").replace(head, head + "[nodes.devices]\n" + devices),
                        encoding="utf-8")
        node = subprocess.Popen([PYTHON, "-m", "kiosk.cli", "node", "--config", str(hall), "--node", "window-1",
                                 "--server", url, "--data", str(work / "idle")], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready_by = time.monotonic() + 30
        while not devices_ready(url):  # started, devices identified and reported, stream replayed
            if time.monotonic() > ready_by:
                raise RuntimeError("the idle window node's bus devices never became ready")
            time.sleep(0.5)
        time.sleep(2.0)
        cpu0, wall0 = cpu_s(node.pid), time.monotonic()
        time.sleep(idle_s)
        return (cpu_s(node.pid) - cpu0) / (time.monotonic() - wall0)
    finally:
        for proc in (node, sim):
            if proc is not None:
                stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--idle-s", type=float, default=30.0, help="how long the idle window node is watched")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        with child(server_argv(work / "data", port), port):
            idle = idle_cpu(f"http://127.0.0.1:{port}", work, args.idle_s)
            results = asyncio.run(measure(f"http://127.0.0.1:{port}", args.runs, work)) if args.runs else {
                "display": [], "sound": [], "server": []}
    poll_wire_ms = (8 + 19) * 10 / 115200 * 1000
    print(f"machine: {machine()}; {args.runs} runs")
    print("| measure | median | p90 |")
    print("| --- | --- | --- |")
    for name, label in (("display", "pad press → number on the LED display"),
                        ("sound", "pad press → first sound of the speaker"),
                        ("server", "POST call-next round trip, server alone [baseline]")):
        values = results[name]
        if not values:
            continue
        print(f"| {label} | {median(values) * 1000:.1f} ms | {percentile(values, 90) * 1000:.1f} ms |")
    print(f"| the bus's share: half a 100 ms poll on average + {poll_wire_ms:.1f} ms wire time [baseline] "
          f"| {50 + poll_wire_ms:.1f} ms | |")
    print(f"| window node idle CPU (3 bus devices polled at 10/s, heartbeat, queue reads), {args.idle_s:.0f} s "
          f"| {idle * 100:.2f} % of one core | |")


if __name__ == "__main__":
    main()
