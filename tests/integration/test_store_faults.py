"""Store faults that recover: the real server, a real fault under its event log, then the fault goes away.

Three faults, one scenario: the database locked by another process past the busy timeout, the disk full
(a small tmpfs as the data directory, filled with a file), fsync stalling then failing (an LD_PRELOAD
shim built here with gcc). Kiosks issue tickets before the fault and in a burst during it; the fault is removed as soon
as the first 503 arrives, while requests of the burst still wait behind the failed batch (the moment that
used to commit them and leave a hole in the log). The promises checked: every answer during the fault is
a 201 or the JSON 503 ``store_unavailable``; the server stays fail-stop until restarted; after a restart
every acknowledged ticket is there with its number, the event ids run 1..N without a gap, nothing beyond
the failed batch was written, the next ticket gets the next number and no number exists twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import REPO, ServerProcess, error_code, kiosk, read_log

BEFORE = 5  # tickets acknowledged before the fault
BURST = 12  # concurrent requests once the fault is in place
SERVICE = "A01"
STAGE_S = 0.3  # staging, never asserted: less than the 5 s busy timeout and the fsync stall below
FSYNC_STALL_MS = 1500  # a dying disk's flush hangs before it fails: long enough for the burst to queue
TIMEOUT = aiohttp.ClientTimeout(total=30)  # the lock case waits out the 5 s busy timeout once
SHIM_SOURCE = REPO / "tests" / "support" / "fsync_fault.c"


@dataclass
class Ledger:
    """What the kiosks were told, and what they must retry."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticket id → acknowledged body
    refused: list[tuple[int, str]] = field(default_factory=list)  # (kiosk, Idempotency-Key) answered 503


async def issue(session: aiohttp.ClientSession, server: ServerProcess, k: int, key: str) -> tuple[int, Any]:
    async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(k, key), json={"service": SERVICE}) as answer:
        return answer.status, await answer.json()


def take(ledger: Ledger, k: int, key: str, status: int, body: Any) -> None:
    """A 201 is a promise; anything else must be the JSON 503 of a store that cannot write."""
    if status == 201:
        ledger.acknowledged[body["id"]] = body
        return
    assert status == 503 and error_code(body) == "store_unavailable", (status, body)
    ledger.refused.append((k, key))


async def run_fault(server: ServerProcess, inject: Callable[[], Awaitable[None]],
                    remove: Callable[[], Awaitable[None]], *, failed_batch_may_survive: bool,
                    fail_stop: bool = True) -> None:
    """The scenario every fault shares; ``failed_batch_may_survive``: a write refused with 503 may still be
    found after the restart (an fsync that failed after the write reached the file), but nothing after it.
    ``fail_stop=False``: the fault hit before anything was decided (a shared log's turn: the lock, the
    catch-up), so once it is gone the server takes tickets again without a restart."""
    ledger = Ledger()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for i in range(BEFORE):
            take(ledger, 1, f"before-{i}", *await issue(session, server, 1, f"before-{i}"))
        assert len(ledger.acknowledged) == BEFORE, ledger

        await inject()
        first_refusal = asyncio.Event()

        async def one(i: int) -> None:
            k, key = 1 + i % 6, f"during-{i}"
            status, body = await issue(session, server, k, key)
            take(ledger, k, key, status, body)
            if status == 503:
                first_refusal.set()

        lead = asyncio.ensure_future(one(0))
        await asyncio.sleep(STAGE_S)  # staging only: the first write meets the fault, the rest queue behind it
        burst: asyncio.Future[Any] = asyncio.gather(lead, *(one(i) for i in range(1, BURST)))
        refused: asyncio.Future[Any] = asyncio.ensure_future(first_refusal.wait())
        await asyncio.wait([burst, refused], return_when=asyncio.FIRST_COMPLETED)
        await remove()  # the fault goes away while the rest of the burst may still wait behind the failed batch
        refused.cancel()
        await burst
        assert ledger.refused, "the fault refused nothing"
        take(ledger, 2, "after-fault", *await issue(session, server, 2, "after-fault"))
        if fail_stop:  # with the fault gone the server still refuses until a restart replays the log
            assert ledger.refused[-1] == (2, "after-fault")
        else:  # nothing was decided during the fault: the next turn on a fresh session decides again
            assert ledger.refused[-1] != (2, "after-fault"), server.log_text()[-3000:]
    assert server.stop() == 0, server.log_text()[-3000:]

    server.start()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        log = await check_log(session, server, ledger)
        extra = {e["data"]["ticket"] for e in log if e["type"] == "ticket.issued"} - set(ledger.acknowledged)
        if failed_batch_may_survive:
            assert len(extra) <= len(ledger.refused) - 1, extra  # at most the failed batch, never what was after
        else:
            assert not extra, f"tickets answered 503 became durable: {extra}"
        last_seq = max(e["data"]["seq"] for e in log if e["type"] == "ticket.issued")
        status, body = await issue(session, server, 3, "after-restart")
        assert status == 201, body
        assert body["number"] == f"A{last_seq + 1:03d}", (body, last_seq)
        ledger.acknowledged[body["id"]] = body
        # Every refused request retried with its key: one ticket each, answered the same way twice.
        for k, key in ledger.refused:
            status, body = await issue(session, server, k, key)
            assert status == 201, body
            assert await issue(session, server, k, key) == (status, body)
            ledger.acknowledged[body["id"]] = body
        log = await check_log(session, server, ledger)
        assert len([e for e in log if e["type"] == "ticket.issued"]) == len(ledger.acknowledged)


async def check_log(session: aiohttp.ClientSession, server: ServerProcess, ledger: Ledger) -> list[dict[str, Any]]:
    """Ids 1..N without a gap, every acknowledged ticket with its number, no number twice."""
    log = await read_log(session, server)
    assert [e["id"] for e in log] == list(range(1, len(log) + 1)), "the log has a gap"
    issued = {e["data"]["ticket"]: e["data"] for e in log if e["type"] == "ticket.issued"}
    for ticket_id, ticket in ledger.acknowledged.items():
        assert ticket_id in issued, f"acknowledged ticket {ticket['number']} was lost"
        assert issued[ticket_id]["number"] == ticket["number"]
    numbers = [(d["day"], d["number"]) for d in issued.values()]
    assert len(numbers) == len(set(numbers)), f"a number was issued twice: {sorted(numbers)}"
    return log


# ---------------------------------------------------------------------------------------------- the lock
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
"""


async def test_database_locked_by_another_process_past_the_busy_timeout(tmp_path: Path) -> None:
    holder: list[asyncio.subprocess.Process] = []

    async def inject() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCKER, str(tmp_path / "data" / "events.sqlite3"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        holder.append(proc)
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"locked\n"

    async def remove() -> None:
        proc = holder[0]
        assert proc.stdin is not None
        proc.stdin.write(b"release\n")
        await proc.stdin.drain()
        assert await asyncio.wait_for(proc.wait(), 10) == 0

    try:
        with ServerProcess(tmp_path / "data") as server:
            await run_fault(server, inject, remove, failed_batch_may_survive=False)
    finally:
        for proc in holder:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


# ---------------------------------------------------------------------------------------------- disk full
@contextlib.contextmanager
def small_tmpfs(mountpoint: Path, size: str) -> Iterator[None]:
    """``mount -t tmpfs`` of ``size`` on ``mountpoint``, always unmounted again."""
    mountpoint.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def fill(path: Path) -> None:
    """Write ``path`` until the file system has no block left (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)


async def test_disk_full_for_one_batch_then_freed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    filler = data / "filler"

    async def inject() -> None:
        fill(filler)

    async def remove() -> None:
        filler.unlink()

    with small_tmpfs(data, "16m"), ServerProcess(data) as server:
        await run_fault(server, inject, remove, failed_batch_may_survive=False)


# ---------------------------------------------------------------------------------------------- fsync
@pytest.fixture
def fsync_shim(tmp_path: Path) -> Path:
    """The LD_PRELOAD shim, compiled for this machine."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to build the fsync shim (tests/support/fsync_fault.c)")
    out = tmp_path / "fsync_fault.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM_SOURCE), "-ldl"], check=True)
    return out


async def test_failing_fsync_then_recovered(tmp_path: Path, fsync_shim: Path) -> None:
    flag = tmp_path / "fsync-fails"
    env = {"LD_PRELOAD": str(fsync_shim), "SERVICEHALL_FSYNC_FAIL_FLAG": str(flag),
           "SERVICEHALL_FSYNC_STALL_MS": str(FSYNC_STALL_MS)}

    async def inject() -> None:
        flag.touch()

    async def remove() -> None:
        flag.unlink()

    with ServerProcess(tmp_path / "data", env=env) as server:
        await run_fault(server, inject, remove, failed_batch_may_survive=True)
        assert "disk I/O error" in server.log_text()  # the shim reached SQLite: the fault was the one meant
