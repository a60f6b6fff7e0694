"""The hall's child processes (the queue server, the e-licence library simulator): start, wait, stop, kill -9.

They are children rather than tasks of the hall's loop so that the rush can kill the server with SIGKILL and
start it again on the same data, as a power cut would. Each child gets ``PR_SET_PDEATHSIG`` = SIGTERM, so a
hall that dies without cleaning up (kill -9 of the hall itself) still takes its children with it: one process
tree, nothing left running. A start is bounded: the child's health URL must answer 200 in ``start_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp

__all__ = ["ChildProcess", "ChildStartFailed", "free_port"]

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 15.0


class ChildStartFailed(RuntimeError):
    """A child did not answer its health URL in time (the message holds the end of its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """``python -m kiosk.cli ARGS`` with its output in ``log_path``; healthy when ``health_url`` answers 200."""

    def __init__(self, name: str, args: Sequence[str], health_url: str, log_path: Path, *,
                 env: dict[str, str] | None = None, start_timeout_s: float = 30.0) -> None:
        self.name = name
        self.args = list(args)
        self.health_url = health_url
        self.log_path = Path(log_path)
        self.env = {**os.environ, **env} if env else None
        self.start_timeout_s = start_timeout_s
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Spawn the child and return once it is healthy; ChildStartFailed (child stopped) if it never is."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kiosk.cli", *self.args, stdout=out, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, env=self.env, preexec_fn=_die_with_parent)
        self.starts += 1
        if await self._healthy():
            log.info("%s started (pid %d)", self.name, self.proc.pid)
            return
        await self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise ChildStartFailed(f"{self.name} did not start within {self.start_timeout_s:.0f} s; the end of its log "
                               f"({self.log_path}):\n{tail}")

    async def _healthy(self) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as http:
            while loop.time() < deadline:
                if not self.running:
                    return False
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with http.get(self.health_url) as answer:
                        if answer.status == 200:
                            return True
                await asyncio.sleep(0.1)
        return False

    async def stop(self) -> int | None:
        """SIGTERM, wait up to STOP_TIMEOUT_S, then SIGKILL; the exit code (None if it was not running)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s did not stop within %.0f s of SIGTERM; killing it", self.name, STOP_TIMEOUT_S)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        log.info("%s stopped (exit code %s)", self.name, proc.returncode)
        return proc.returncode

    async def kill(self) -> None:
        """kill -9: no shutdown code runs in the child, as in a power cut."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        log.warning("%s killed with SIGKILL", self.name)
