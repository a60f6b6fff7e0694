"""Small halls built in code for engine tests (the TOML samples are tested by the config tests)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from config.model import (
    Department,
    Hall,
    HallHours,
    QueuePolicy,
    Service,
    SlotQuota,
    Staff,
    TimeRange,
    Window,
    WindowKind,
    WindowService,
)

ZONE = ZoneInfo("Asia/Shanghai")


def hm(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def span(text: str) -> TimeRange:
    start, end = text.split("-")
    return TimeRange(hm(start), hm(end))


def at(day: str, clock: str) -> float:
    """A UTC instant for a local Beijing date and time."""
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE).timestamp()


MONDAY = "2026-11-23"


def small_hall(*, policy: QueuePolicy | None = None, daily_quota: int = 0, windows: int = 3) -> Hall:
    """Three services (A weight 2, B, C real-name + appointments), general windows serving all."""
    services = (
        Service("A01", "社保查询", "SB", "A", daily_quota=daily_quota, expected_minutes=5, name_en="Social insurance",
                slot_quotas=(SlotQuota(span("09:00-10:00"), 1000),)),
        Service("B01", "不动产登记", "BDC", "B", expected_minutes=15, name_en="Real estate", extended=True),
        Service("C01", "户籍办理", "GA", "C", real_name=True, appointments=True, weekend=True, name_en="Household"),
    )
    general = (WindowService("A01", 2, 0), WindowService("B01", 1, 1), WindowService("C01", 1, 2))
    win = (*(Window(n, f"{n}号综合窗口", WindowKind.GENERAL, general) for n in range(1, windows + 1)),
           Window(windows + 1, "专窗", WindowKind.DEDICATED, (WindowService("B01"),)))
    staff = tuple(Staff(f"s{n}", f"员工{n}", "scrypt$16384$8$1$00$00") for n in range(1, windows + 2))
    return Hall(
        name="测试大厅", timezone="Asia/Shanghai",
        hours=HallHours(weekdays=(span("09:00-12:00"), span("13:30-17:30")), extended=(span("17:30-19:00"),),
                        weekend=(span("09:00-12:00"),), weekend_days=(5,), holidays=(dt.date(2026, 12, 31),)),
        departments=(Department("SB", "社保"), Department("BDC", "不动产"), Department("GA", "公安")),
        services=services, windows=win, staff=staff, policy=policy or QueuePolicy(),
    )
