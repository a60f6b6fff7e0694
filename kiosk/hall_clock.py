"""The rush's morning: the hall's wall clock set to a working day's opening, so a rush works at any hour.

A hall like the county sample takes tickets only in its sessions (weekdays 09:00–12:00, 13:30–17:30); at
night or on a Sunday every request of a rush would be refused with ``hall_closed``. Rather than a special
"always open" mode in the server (a second mechanism that production would never run), ``servicehall hall
--rush`` runs itself again under libfaketime (Debian's package, installed by .ci/setup) with the clock shifted
to the opening of the latest working day on or before today; its children (the server, the simulators)
inherit it, so the server, the kiosks and the announcer agree on the time as NTP-synced machines do (the
announcer drops calls that look minutes old; a kiosk dates tickets). Only CLOCK_REALTIME moves; timers
(monotonic) keep true time, and the clock runs at real speed from there. The shift is kept in the data
directory, so a server killed and restarted, or a second rush on the same data, stays on the same clock.
"""

from __future__ import annotations

import datetime as dt
import glob
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from config.model import Hall

__all__ = ["CLOCK_ENV", "MorningClock", "libfaketime", "opening_of_latest_working_day"]

CLOCK_ENV = "SERVICEHALL_CLOCK_SHIFT_S"  # set in a process already running on the morning clock

OPEN_AFTER_S = 60.0  # a minute after the doors open: the first session is certainly running
MAX_LOOKBACK_DAYS = 40  # a hall closed for longer than this (no working day found) is a config problem


def libfaketime() -> str | None:
    """The path of libfaketime.so.1, if the Debian package is installed."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    return found[-1] if found else None


def is_working_day(hall: Hall, day: dt.date) -> bool:
    """Whether ``day`` uses the weekday sessions (a weekday that is no holiday, or a make-up working day)."""
    hours = hall.hours
    if day in hours.workdays:
        return True
    return day.weekday() < 5 and day not in hours.holidays


def opening_of_latest_working_day(hall: Hall, now: float) -> float:
    """The instant (UTC seconds) a minute after the first weekday session of the latest working day ≤ today."""
    zone = zoneinfo.ZoneInfo(hall.timezone)
    day = dt.datetime.fromtimestamp(now, zone).date()
    first = min(session.start for session in hall.hours.weekdays)
    for _ in range(MAX_LOOKBACK_DAYS):
        if is_working_day(hall, day):
            return dt.datetime.combine(day, first, zone).timestamp() + OPEN_AFTER_S
        day -= dt.timedelta(days=1)
    raise ValueError(f"hall {hall.name!r} has no working day in the last {MAX_LOOKBACK_DAYS} days")


@dataclass(frozen=True)
class MorningClock:
    """The server's clock shift (seconds added to true time), kept in ``path``."""

    path: Path
    offset_s: float

    @classmethod
    def prepare(cls, hall: Hall, data_dir: Path) -> MorningClock:
        """Reuse the shift a previous start of this rush wrote, else compute one and write it."""
        path = Path(data_dir) / "rush-clock-offset"
        if path.exists():
            return cls(path, float(path.read_text().strip()))
        offset = opening_of_latest_working_day(hall, time.time()) - time.time()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{offset:+.0f}\n")
        return cls(path, float(f"{offset:.0f}"))

    def env(self) -> dict[str, str]:
        """The environment that puts a process (and its children) on this clock; CLOCK_ENV marks it."""
        lib = libfaketime()
        if lib is None:
            raise RuntimeError("libfaketime is not installed (Debian package libfaketime; .ci/setup installs it); "
                               "without it the rush needs --clock real and a hall that is open now")
        return {"LD_PRELOAD": lib, "FAKETIME": f"{self.offset_s:+.0f}", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                CLOCK_ENV: f"{self.offset_s:+.0f}"}
