"""Which clock the technician's one-shot commands print: the hall's zone from its config, else the machine's, said.

A hall PC often runs in UTC while the hall lives in Asia/Shanghai; a time printed without its zone is then
eight hours wrong to the person reading it. With ``--config`` every printed time is in the hall's zone; without
it the times are the machine's and the output says so (and how to get the hall's).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from devices.ticket_printer.ticket import zone_name

__all__ = ["ToolClock", "tool_clock"]


@dataclass(frozen=True)
class ToolClock:
    """The zone the command prints its times in; ``label`` is what it says beside each time."""

    zone: dt.tzinfo
    label: str
    from_hall: bool

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.zone)

    def today(self) -> dt.date:
        return self.now().date()

    def stamp(self, moment: dt.datetime) -> str:
        """"2026-12-01 19:30:05 (Asia/Shanghai)"."""
        return f"{moment.astimezone(self.zone):%Y-%m-%d %H:%M:%S} ({self.label})"

    @property
    def hint(self) -> str:
        return "" if self.from_hall else "times are in this machine's time zone; give --config FILE for the hall's"


def tool_clock(timezone: str | None) -> ToolClock:
    """The hall's zone (an IANA name from its config), or the machine's when there is no config."""
    if timezone:
        return ToolClock(zoneinfo.ZoneInfo(timezone), timezone, True)
    here = dt.datetime.now().astimezone()
    zone = here.tzinfo
    assert zone is not None
    return ToolClock(zone, f"{zone_name(here)}, this machine's time zone", False)
