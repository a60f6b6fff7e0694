"""The hall's opening state in words (营业中, 午休, 延时服务, 已下班), from its sessions for the day.

Duck-typed on the hall's hours (``weekdays``, ``extended``, ``weekend``, ``weekend_days``, ``holidays``,
``workdays``: what config.model.HallHours holds) so the screens need no import of the config room.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Session = tuple[dt.time, dt.time, bool]  # start, end, extended (延时)


def day_sessions(hours: Any, day: dt.date) -> list[Session]:
    """The day's sessions in order: none on a holiday, weekend ones on weekend days unless a make-up workday."""
    if day in tuple(hours.holidays):
        return []
    weekend = day.weekday() in tuple(hours.weekend_days) and day not in tuple(hours.workdays)
    regular = hours.weekend if weekend else hours.weekdays
    out = [(r.start, r.end, False) for r in regular]
    if not weekend:
        out += [(r.start, r.end, True) for r in hours.extended]
    return sorted(out, key=lambda s: s[0])


def opening_state(sessions: list[Session], now: dt.time) -> tuple[str, str]:
    """(Chinese, English) words for ``now``: in a session, between two (lunch), before the first, after the last."""
    if not sessions:
        return "今日休息", "closed today"
    for start, end, extended in sessions:
        if start <= now < end or (end == dt.time.max and now >= start):
            return ("延时服务", "extended hours") if extended else ("正在办理", "open")
    if now < sessions[0][0]:
        return f"{sessions[0][0]:%H:%M} 开始办理", f"opens at {sessions[0][0]:%H:%M}"
    if now >= sessions[-1][1]:
        return "今日已停止办理", "closed for the day"
    following = next(s for s in sessions if s[0] > now)
    return f"午间休息 {following[0]:%H:%M} 恢复", f"lunch break until {following[0]:%H:%M}"
