"""Driver overhead above wire time for a full ID-card read (find + select + read) at 115200 baud.

The SAM simulator runs in realtime mode on a pty, so each answer arrives at the pace of the line.
Measured in the same run: the driver's ``read()`` (what a kiosk calls), the driver's three separate calls,
and a baseline of raw pyserial writing the same frames and reading the known answer lengths.

Run: .venv/bin/python benchmarks/bench_idcard.py [--reads N]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time

import serial

from devices.idcard.driver import IdCardReader
from devices.idcard.protocol import COMMANDS
from devices.idcard.simulator import IdCardSimulator

BAUD = 115200
#: (command, answer length) of one full read
EXCHANGES = [(COMMANDS["find"].frame, 15), (COMMANDS["select"].frame, 19), (COMMANDS["read"].frame, 1295)]


def wire_s(nbytes: int) -> float:
    return nbytes * 10 / BAUD


def pyserial_reads(path: str, reads: int) -> list[float]:
    """Blocking pyserial, one frame at a time, reading exactly the expected answer length (no parsing)."""
    times = []
    with serial.Serial(path, BAUD, timeout=2.0) as port:
        for _ in range(reads):
            start = time.perf_counter()
            for frame, answer in EXCHANGES:
                port.reset_input_buffer()
                port.write(frame)
                got = port.read(answer)
                if len(got) != answer:
                    raise RuntimeError(f"pyserial baseline got {len(got)} of {answer} bytes")
            times.append(time.perf_counter() - start)
    return times


async def driver_reads(url: str, reads: int, separate: bool) -> list[float]:
    times = []
    async with IdCardReader(url) as reader:
        for _ in range(reads):
            start = time.perf_counter()
            if separate:
                await reader.find_card()
                await reader.select_card()
                await reader.read_card()
            else:
                await reader.read(timeout_s=3.0)
            times.append(time.perf_counter() - start)
    return times


async def main(reads: int) -> None:
    async with IdCardSimulator("pty", realtime=True, baudrate=BAUD) as sim:
        url = f"{sim.url}?baudrate={BAUD}"
        await driver_reads(url, 3, False)  # warm-up (imports, first open)
        read_all = await driver_reads(url, reads, False)
        separate = await driver_reads(url, reads, True)
        before = sim.bytes_in + sim.bytes_out
        baseline = await asyncio.to_thread(pyserial_reads, sim.link.address, reads)
        per_read = (sim.bytes_in + sim.bytes_out - before) // reads
    exchanged = sum(len(frame) + answer for frame, answer in EXCHANGES)
    assert per_read == exchanged, (per_read, exchanged)
    wire_exchanged, wire_answer = wire_s(exchanged), wire_s(1295)
    print(f"machine: {platform.machine()}, kernel {platform.release()}, Python {platform.python_version()}")
    print(f"{reads} reads each; simulator realtime on a pty at {BAUD} baud (32-byte chunks)")
    print(f"wire time of the bytes exchanged per read ({exchanged} bytes): {wire_exchanged * 1e3:.1f} ms")
    print(f"wire time of the 1295-byte answer alone: {wire_answer * 1e3:.1f} ms (target: median <= "
          f"{wire_answer * 1.2 * 1e3:.1f} ms)")
    for label, times in [("driver read() (find+select+read)", read_all),
                         ("driver find_card/select_card/read_card", separate),
                         ("baseline: raw pyserial, same frames", baseline)]:
        median = statistics.median(times)
        print(f"{label:42s} median {median * 1e3:7.1f} ms  p90 {statistics.quantiles(times, n=10)[-1] * 1e3:7.1f} ms"
              f"  overhead vs exchanged {100 * (median - wire_exchanged) / wire_exchanged:5.1f} %"
              f"  vs 1295-byte answer {100 * (median - wire_answer) / wire_answer:5.1f} %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=30)
    asyncio.run(main(parser.parse_args().reads))
