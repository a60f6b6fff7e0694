"""Working-day deadlines: weekends, public holidays and make-up workdays (调休), the start day never counted."""

from __future__ import annotations

import datetime as dt

import pytest

from queue_server.engine.workdays import is_working_day, nth_working_day_after

D = dt.date.fromisoformat
HOLIDAYS = (D("2026-12-31"), D("2027-01-01"))
WORKDAYS = (D("2027-01-03"),)  # a Sunday worked in exchange (调休)


@pytest.mark.parametrize(("start", "n", "deadline"), [
    ("2026-11-23", 5, "2026-11-30"),  # Monday + 5: across one weekend
    ("2026-11-27", 1, "2026-11-30"),  # Friday + 1: Saturday and Sunday do not count
    ("2026-11-28", 1, "2026-11-30"),  # from a Saturday: the day itself does not count, Monday is the first
    ("2026-12-24", 5, "2027-01-03"),  # across a weekend, two holidays, onto the make-up Sunday
    ("2026-12-25", 5, "2027-01-04"),
    ("2026-12-30", 1, "2027-01-03"),  # Thursday and Friday are holidays, Saturday is not worked
])
def test_the_nth_working_day_after(start: str, n: int, deadline: str) -> None:
    assert nth_working_day_after(D(start), n, HOLIDAYS, WORKDAYS) == D(deadline)


def test_what_counts_as_a_working_day() -> None:
    assert is_working_day(D("2027-01-03"), HOLIDAYS, WORKDAYS)  # Sunday, but worked
    assert not is_working_day(D("2026-12-31"), HOLIDAYS, WORKDAYS)  # Thursday, but a holiday
    assert not is_working_day(D("2026-11-28"), HOLIDAYS, WORKDAYS)  # Saturday


def test_a_deadline_needs_at_least_one_day_and_a_calendar_with_working_days() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        nth_working_day_after(D("2026-11-23"), 0, (), ())
    every_day = [D("2026-11-23") + dt.timedelta(days=i) for i in range(4000)]
    with pytest.raises(ValueError, match="working days within"):
        nth_working_day_after(D("2026-11-23"), 1, set(every_day), ())
