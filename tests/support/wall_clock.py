"""A real server process's wall clock, moved by the test through libfaketime (Debian's package).

libfaketime shifts what the process's CLOCK_REALTIME says; the monotonic clock, which asyncio's timers
use, stays true (FAKETIME_DONT_FAKE_MONOTONIC), so the server's tick keeps running every second while
its idea of the date and time is whatever the test writes. Nothing in the server knows. .ci/setup
installs the package; without it these tests fail with that message rather than being skipped.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path

from tests.support.halls import at

LIBFAKETIME = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))


class WallClock:
    """Running from an instant the test sets (``set``/``step``), or frozen there (``frozen=True``)."""

    def __init__(self, path: Path, *, frozen: bool = False) -> None:
        assert LIBFAKETIME, "libfaketime is not installed: run .ci/setup (Debian package libfaketime)"
        self.path = path
        self.frozen = frozen
        self.now = time.time()

    def set(self, day: str, clock: str) -> None:
        """The server's local (Beijing) date and time from now on."""
        self.set_instant(at(day, clock))

    def set_instant(self, instant: float) -> None:
        self.now = instant
        self.path.write_text(f"{instant:.0f}\n" if self.frozen else f"{instant - time.time():+.0f}\n")

    def step(self, seconds: float) -> None:
        """Move the clock on (or back, with a negative step) from where the test last put it."""
        self.set_instant(self.now + seconds)

    def env(self) -> dict[str, str]:
        """The environment that puts a server process on this clock."""
        env = {"LD_PRELOAD": LIBFAKETIME[-1], "FAKETIME_TIMESTAMP_FILE": str(self.path), "FAKETIME_NO_CACHE": "1",
               "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        if self.frozen:
            env["FAKETIME_FMT"] = "%s"
        return env
