"""Ticket printer software overhead: build + send a ticket, and one status query, against the simulator.

The simulator runs as its own process (``servicehall devices simulate ticket_printer --port 0``) so its
parsing is not charged to the driver. Baselines in the same run: a plain blocking socket ``sendall`` of the
same ticket bytes, and a plain socket DLE EOT 1..4 round trip, to the same simulator.

Targets: build + send < 50 ms per ticket, status query < 100 ms on a healthy printer (medians).
Run: .venv/bin/python benchmarks/bench_ticket_printer.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices.ticket_printer.driver import TicketPrinter  # noqa: E402
from devices.ticket_printer.ticket import TicketLayout, build_ticket  # noqa: E402

LAYOUT = TicketLayout("新野县政务服务中心", "社保业务", "A012", 5, 15, dt.datetime(2024, 5, 1, 9, 30),
                      "https://hall.example/t/7f3a9c", holder_masked="张*三", window_hint="3、5 号窗口",
                      footer=("请妥善保管本票", "过号请重新取号"), priority_mark="绿色通道")


RARE = TicketLayout(**{**LAYOUT.__dict__, "holder_masked": "赵*𫖯"})  # one raster line for a rare character


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def driver_figures(url: str, n: int) -> dict[str, float]:
    build, rare, prints, status = [], [], [], []
    async with TicketPrinter(url, name="bench") as printer:
        for _ in range(n):
            t0 = time.perf_counter()
            build_ticket(LAYOUT, printer.profile)
            build.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            build_ticket(RARE, printer.profile)
            rare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await printer.print_ticket(LAYOUT)
            prints.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await printer.status()
            status.append(time.perf_counter() - t0)
    return {"build_ms": median_ms(build), "rare_ms": median_ms(rare),
            "print_ticket_ms": median_ms(prints), "status_ms": median_ms(status)}


def socket_figures(host: str, port: int, data: bytes, n: int) -> dict[str, float]:
    send, status = [], []
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            t0 = time.perf_counter()
            sock.sendall(data)
            send.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sock.sendall(b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04")
            got = b""
            while len(got) < 4:
                got += sock.recv(4 - len(got))
            status.append(time.perf_counter() - t0)
    return {"raw_sendall_ms": median_ms(send), "raw_status_ms": median_ms(status)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    sim = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "devices", "simulate", "ticket_printer", "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        assert sim.stdout is not None  # piped
        url = sim.stdout.readline().strip()
        host, port = url.removeprefix("escpos+tcp://").split(":")
        data = build_ticket(LAYOUT)
        ours = asyncio.run(driver_figures(url, args.n))
        base = socket_figures(host, int(port), data, args.n)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)
    print(f"machine: {platform.machine()} {platform.release()}, Python {platform.python_version()}, "
          f"n={args.n}, ticket {len(data)} bytes")
    print(f"build_ticket                         median {ours['build_ms']:.3f} ms")
    print(f"build_ticket with a raster name line median {ours['rare_ms']:.3f} ms")
    print(f"print_ticket (status+send+status)    median {ours['print_ticket_ms']:.3f} ms   target < 50 ms")
    print(f"status() DLE EOT 1..4                median {ours['status_ms']:.3f} ms   target < 100 ms")
    print(f"baseline raw socket sendall          median {base['raw_sendall_ms']:.3f} ms")
    print(f"baseline raw socket DLE EOT 1..4     median {base['raw_status_ms']:.3f} ms")


if __name__ == "__main__":
    main()
