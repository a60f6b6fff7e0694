"""Working days (工作日) for case deadlines: Monday to Friday, minus public holidays, plus make-up workdays (调休).

Deadlines of 差评 follow-ups, 办不成事 complaints and 帮办代办 matters are counted in working days of the
government calendar, not in the hall's opening days: a hall that also opens on Saturday (错时服务) still
gives its departments Monday to Friday. The config's ``hours.holidays`` and ``hours.workdays`` are that
calendar (a date is never both: the loader refuses it). Pure functions of dates, no zone: the caller
passes the day in the hall's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

MAX_SEARCH_DAYS = 3660  # ten years: a calendar whose every day is a holiday is a config error, not a loop


def is_working_day(day: dt.date, holidays: Collection[dt.date], workdays: Collection[dt.date]) -> bool:
    """Whether ``day`` counts: a make-up workday always, a holiday never, else Monday to Friday."""
    if day in workdays:
        return True
    if day in holidays:
        return False
    return day.weekday() < 5


def nth_working_day_after(day: dt.date, n: int, holidays: Collection[dt.date],
                          workdays: Collection[dt.date]) -> dt.date:
    """The ``n``-th working day after ``day`` (``day`` itself never counts, working or not); n >= 1."""
    if n < 1:
        raise ValueError(f"a deadline needs at least 1 working day, not {n}")
    current, counted = day, 0
    for _ in range(MAX_SEARCH_DAYS):
        current += dt.timedelta(days=1)
        if is_working_day(current, holidays, workdays):
            counted += 1
            if counted == n:
                return current
    raise ValueError(f"no {n} working days within {MAX_SEARCH_DAYS} days after {day}: check hours.holidays")
