"""Benchmark: the RS-485 poller serving 16 call pads at 10 polls/s each on one 115200-baud pty line.

Measures the node's CPU per device (time.process_time over a fixed wall interval; the simulated line
runs in a separate process so its CPU is not counted) and the median poll transaction latency, against
a same-run baseline: a bare asyncio loop writing the same poll frames and reading the same replies by
length, with no framing, scheduling or driver logic. Usage: .venv/bin/python benchmarks/bench_bus485.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.bus485 import framing as fr  # noqa: E402
from devices.bus485 import poller as poller_mod  # noqa: E402
from devices.bus485.driver import bus_device  # noqa: E402
from devices.transport.streams import open_serial  # noqa: E402

SIM_CODE = """
import asyncio, sys
from devices.bus485.simulator import BusSimulator
async def main():
    sim = BusSimulator("pty", devices={a: "callpad" for a in range(1, %d + 1)}, realtime=True)
    await sim.start()
    print(sim.link.address, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.stop()
asyncio.run(main())
"""


async def measure_poller(path: str, devices: int, seconds: float) -> tuple[float, float, int]:
    latencies: list[float] = []
    original = poller_mod.BusPoller.exchange

    async def timed(self, request, timeout_s):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return await original(self, request, timeout_s)
        finally:
            latencies.append(time.perf_counter() - start)

    poller_mod.BusPoller.exchange = timed  # type: ignore[method-assign]
    pads = [bus_device(f"modbus+serial://{path}?address={a}&poll=0.1") for a in range(1, devices + 1)]
    try:
        for pad in pads:
            await pad.open()
        await asyncio.sleep(1.0)
        latencies.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        count = len(latencies)
        median = statistics.median(latencies)
    finally:
        for pad in pads:
            await pad.close()
        poller_mod.BusPoller.exchange = original  # type: ignore[method-assign]
    return 100 * cpu / wall, median, count


async def measure_baseline(path: str, devices: int, seconds: float) -> tuple[float, float, int]:
    stream = await open_serial(path, 115200)
    latencies: list[float] = []
    frames = [(fr.read_input(a, 16, 7).encode(), fr.read_input(a, 16, 7).reply_length) for a in range(1, devices + 1)]
    period_s = 0.1 / devices
    try:
        async def run(until: float) -> None:
            i = 0
            next_at = time.perf_counter()
            while time.perf_counter() < until:
                frame, length = frames[i % devices]
                start = time.perf_counter()
                await stream.write(frame)
                await stream.read_exactly(length, 0.05)
                latencies.append(time.perf_counter() - start)
                i += 1
                next_at += period_s
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

        await run(time.perf_counter() + 1.0)
        latencies.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run(wall0 + seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await stream.close()
    return 100 * cpu / wall, statistics.median(latencies), len(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    sim = subprocess.Popen([sys.executable, "-c", SIM_CODE % args.devices], cwd=ROOT, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        path = (sim.stdout.readline() if sim.stdout else "").strip()
        base_cpu, base_lat, base_n = asyncio.run(measure_baseline(path, args.devices, args.seconds))
        cpu, lat, n = asyncio.run(measure_poller(path, args.devices, args.seconds))
    finally:
        if sim.stdin:
            sim.stdin.close()
        sim.wait(timeout=10)
    print(f"{args.devices} call pads, 115200 baud pty, simulated wire time on, {args.seconds:g} s measured")
    print(f"baseline bare loop : {base_n / args.seconds:6.1f} transactions/s, CPU {base_cpu:5.2f} % "
          f"({base_cpu / args.devices:.3f} % per device), median latency {base_lat * 1000:.2f} ms")
    print(f"poller + drivers   : {n / args.seconds:6.1f} transactions/s, CPU {cpu:5.2f} % "
          f"({cpu / args.devices:.3f} % per device), median latency {lat * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
