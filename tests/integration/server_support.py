"""The real queue server as a child process for integration tests: start, wait for health, stop or kill.

Tests talk to it only over HTTP and WebSocket on loopback, as kiosks and screens do. Every start is
bounded (health must answer within ``START_TIMEOUT_S``), every stop is SIGTERM then SIGKILL after a
bound, so no server outlives its test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ALLDAY_HALL = REPO / "tests" / "data" / "halls" / "allday_hall.toml"
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
PIN = "123456"


def free_port() -> int:
    """A loopback port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kiosk(n: int, key: str | None = None, hall: str = "demo") -> dict[str, str]:
    """Headers of kiosk ``n`` (demo-kiosk-1…10; HALL-kiosk-N in a test city), with an Idempotency-Key when given."""
    return _headers(f"{hall}-kiosk-{n}", key)


def window(n: int, key: str | None = None, hall: str = "demo") -> dict[str, str]:
    """Headers of the node of window ``n`` (demo-window-1…24)."""
    return _headers(f"{hall}-window-{n}", key)


def manager(hall: str = "demo") -> dict[str, str]:
    return _headers(f"{hall}-manager", None)


def display() -> dict[str, str]:
    return _headers("demo-display", None)


def _headers(token: str, key: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


class ServerProcess:
    """``servicehall serve`` on a data directory, or on a PostgreSQL database given as ``store`` (the --store
    URL); restartable on the same log (and port)."""

    def __init__(self, data_dir: Path, config: Path = ALLDAY_HALL, env: dict[str, str] | None = None,
                 store: str | None = None, city: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.store = store
        self.config = Path(config)
        self.city = city  # serve every hall of this city file instead of ``config``
        self.env = {**os.environ, **env} if env else None  # e.g. LD_PRELOAD for a fault shim
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/events"

    def start(self, *, same_port: bool = False) -> None:
        """Spawn the server and return once GET /api/v1/health answers 200 (a new port if the old is taken;
        ``same_port`` keeps it through TIME_WAIT, for a client such as a screen's feed that must find it again)."""
        assert self.proc is None, "server already running"
        for _attempt in range(3):
            if not self.port or self._port_taken(self.port, reuse=same_port):
                self.port = free_port()
            self.starts += 1
            log = self.log_path.open("ab")
            try:
                which = ["--city", str(self.city)] if self.city else ["--config", str(self.config)]
                self.proc = subprocess.Popen(
                    [PYTHON, "-m", "kiosk.cli", "serve", *which, "--data", str(self.data_dir),
                     "--host", "127.0.0.1", "--port", str(self.port), *(["--store", self.store] if self.store else [])],
                    cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)
            finally:
                log.close()
            if self._wait_healthy():
                return
            self._reap()
        raise RuntimeError(f"the server did not start; its log:\n{self.log_text()[-3000:]}")

    def _wait_healthy(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2.0) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        return False

    @staticmethod
    def _port_taken(port: int, *, reuse: bool = False) -> bool:
        """Whether the port is busy. ``reuse`` probes with SO_REUSEADDR as the server binds, so connections a
        stopped server left in TIME_WAIT do not count; without it a restart usually moves to a fresh port, which
        also spares test clients their dead keep-alive connections."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if reuse:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return True
            return False

    def stop(self) -> int:
        """SIGTERM and wait (SIGKILL if it hangs); returns the exit code."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        return self._reap()

    def terminate(self) -> None:
        """Send SIGTERM without waiting (the caller watches requests finish), then ``wait()``."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        return self._reap()

    def kill(self) -> None:
        """kill -9: no shutdown code runs, as in a power cut of the server process."""
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> int:
        assert self.proc is not None
        proc, self.proc = self.proc, None
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
            raise AssertionError(f"the server did not stop within {STOP_TIMEOUT_S} s of SIGTERM; killed") from None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            try:
                self.stop()
            finally:
                if self.proc is not None:
                    self.kill()


def error_code(body: Any) -> str:
    """The code of a JSON error body, asserting the shape every error shares."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message_zh", "message_en"} <= set(error), error
    assert all(isinstance(error[k], str) and error[k] for k in ("code", "message_zh", "message_en")), error
    return error["code"]


def events_of(texts: list[str]) -> list[dict[str, Any]]:
    return [json.loads(text) for text in texts]


async def health(session: Any, server: ServerProcess) -> dict[str, Any]:
    async with session.get(f"{server.url}/api/v1/health") as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def sign_in(session: Any, server: ServerProcess, number: int, hall: str = "demo") -> None:
    """Sign staff s0NN in at window NN (each demo staff member may only work at their own window)."""
    async with session.post(f"{server.url}/api/v1/windows/{number}/sign-in", headers=window(number, hall=hall),
                            json={"staff": f"s{number:03d}", "pin": PIN}) as answer:
        assert answer.status == 200, await answer.text()


async def all_tickets(session: Any, server: ServerProcess, headers: dict[str, str], **query: str,
                      ) -> list[dict[str, Any]]:
    """Every ticket of GET /api/v1/tickets, following the ``next`` cursor page by page."""
    out: list[dict[str, Any]] = []
    params = dict(query)
    while True:
        async with session.get(f"{server.url}/api/v1/tickets", headers=headers, params=params) as answer:
            assert answer.status == 200, await answer.text()
            page = await answer.json()
        out += page["tickets"]
        if page["next"] is None:
            return out
        params["after"] = page["next"]


async def read_log(session: Any, server: ServerProcess, after: int = 0, until: int | None = None,
                   headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The event log after ``after`` up to ``until`` (default: the last durable id now), over the WebSocket,
    in the staff view (a manager's: everything but holder_key) unless other ``headers`` are given."""
    if until is None:
        until = (await health(session, server))["last_event_id"]
    out: list[dict[str, Any]] = []
    if until <= after:
        return out
    async with session.ws_connect(f"{server.ws_url}?after={after}", headers=headers or manager()) as ws:
        while True:
            event = json.loads(await ws.receive_str(timeout=10.0))
            out.append(event)
            if event["id"] >= until:
                return out
