"""``servicehall hall`` as a child process: started, its process tree read from /proc, stopped with a signal."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.integration.server_support import PYTHON, REPO

RUNNING = re.compile(r"hall .* running: server (http://\S+), (\d+) nodes")
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0


def descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (children of children too), from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        one = todo.pop()
        for task in Path(f"/proc/{one}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        todo.append(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class HallProcess:
    """``servicehall hall ARGS`` with its log in ``log_path``; ``wait_running`` gives the server URL."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.log_path = log_path
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
        with log_path.open("wb") as out:
            self.proc = subprocess.Popen([PYTHON, "-m", "kiosk.cli", "hall", *args], cwd=REPO, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_running(self) -> tuple[str, int]:
        """The server URL and the number of nodes once the hall says it runs (fails if it stops first)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = RUNNING.search(self.log_text())
            if found:
                return found.group(1), int(found.group(2))
            assert self.proc.poll() is None, f"the hall stopped before running:\n{self.log_text()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"the hall did not start within {START_TIMEOUT_S:.0f} s:\n{self.log_text()[-3000:]}")

    def signal(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill_tree()
            tail = self.log_text()[-3000:]
            raise AssertionError(f"the hall did not stop within {timeout_s:.0f} s:\n{tail}") from None

    def kill_tree(self) -> None:
        """Last resort after a failed test: SIGKILL the hall and everything under it."""
        for pid in descendants(self.proc.pid) | {self.proc.pid}:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
