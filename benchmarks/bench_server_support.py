"""Shared helpers for the queue-server benchmarks (not a benchmark itself): halls, percentiles, subprocesses.

The server benchmarks run the real server as a child process on loopback only; every helper here is
bounded in time and cleans up what it started.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.model import (  # noqa: E402
    Department,
    Hall,
    HallHours,
    QueuePolicy,
    Service,
    Staff,
    TimeRange,
    Window,
    WindowKind,
    WindowService,
)

ALLDAY = ROOT / "tests" / "data" / "halls" / "allday_hall.toml"
PYTHON = sys.executable
ZONE = ZoneInfo("Asia/Shanghai")
BENCH_DAY = "2026-11-23"  # a Monday


def at(clock: str, day: str = BENCH_DAY) -> float:
    """A UTC instant for a local Beijing time on the benchmark day."""
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE).timestamp()


def big_hall(*, windows: int = 200, services: int = 20) -> Hall:
    """A hall the size of a city centre: ``services`` services, each window serving 4 of them.

    Window n serves services n, n+1, n+2, n+3 (mod ``services``) with weights 2, 1, 1, 1, so every
    service is shared by several windows and the weighted round robin and starvation bound all run.
    """
    day = TimeRange(dt.time(0, 0), dt.time.max)
    codes = [f"S{i:02d}" for i in range(services)]
    svc = tuple(Service(code, f"业务{i}", "D", chr(ord("A") + i % 26) + str(i // 26 or ""), weekend=True,
                        appointments=True, expected_minutes=5 + i % 10) for i, code in enumerate(codes))
    win = tuple(
        Window(n, f"{n}号窗口", WindowKind.GENERAL,
               tuple(WindowService(codes[(n + k) % services], 2 if k == 0 else 1, k) for k in range(4)))
        for n in range(1, windows + 1))
    staff = tuple(Staff(f"s{n}", f"员工{n}", "scrypt$16384$8$1$00$00") for n in range(1, windows + 1))
    return Hall(name="基准大厅", timezone="Asia/Shanghai",
                hours=HallHours(weekdays=(day,), weekend=(day,), weekend_days=(5, 6)),
                departments=(Department("D", "综合"),), services=svc, windows=win, staff=staff,
                policy=QueuePolicy())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; values need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    return (f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {dt.date.today().isoformat()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def taskset(cpu: int | None) -> list[str]:
    """A ``taskset -c CPU`` prefix when pinning was asked for and the tool exists."""
    if cpu is None or not Path("/usr/bin/taskset").exists():
        return []
    return ["taskset", "-c", str(cpu)]


def wait_health(port: int, timeout_s: float = 20.0, path: str = "/api/v1/health") -> float:
    """Poll the health route until it answers 200; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1.0) as answer:
                if answer.status == 200:
                    return time.monotonic()
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} within {timeout_s} s")


@contextlib.contextmanager
def child(argv: list[str], port: int, *, health: str = "/api/v1/health", log: Path | None = None,
          env: dict[str, str] | None = None, timeout_s: float = 20.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process, wait until it answers, and stop it (SIGINT, then kill) on the way out."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_health(port, path=health, timeout_s=timeout_s)
        yield proc
    finally:
        stop_process(proc)
        if log:
            out.close()  # type: ignore[union-attr]


def server_argv(data_dir: Path, port: int, cpu: int | None = None, config: Path = ALLDAY) -> list[str]:
    return [*taskset(cpu), PYTHON, "-m", "kiosk.cli", "serve", "--config", str(config), "--data", str(data_dir),
            "--host", "127.0.0.1", "--port", str(port)]


def stop_process(proc: subprocess.Popen[Any], signum: int = signal.SIGINT, timeout_s: float = 15.0) -> None:
    """Ask a child to stop (``signum``), then kill it if it has not within ``timeout_s``: no benchmark leaves one."""
    proc.send_signal(signum)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
