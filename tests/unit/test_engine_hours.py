"""Opening hours: before opening, lunch, after closing, 延时 and 错时 sessions, holidays and make-up workdays."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from config.model import Hall
from queue_server.engine.errors import QueueError
from tests.support.engine_kit import has_cjk, new_engine, with_service
from tests.support.halls import MONDAY, at, small_hall, span

SATURDAY, SUNDAY, HOLIDAY = "2026-11-28", "2026-11-29", "2026-12-31"


def refused(service: str, day: str, clock: str, *, hall: Hall | None = None, **kwargs: Any) -> QueueError:
    """The refusal an issue gets at a local time (the test fails if it is accepted)."""
    engine = new_engine(hall)
    with pytest.raises(QueueError) as excinfo:
        engine.issue(service, at(day, clock), **kwargs)
    err = excinfo.value
    assert has_cjk(err.message_zh) and err.message_en.isascii()
    return err


def issued(service: str, day: str, clock: str, hall: Hall | None = None, **kwargs: Any) -> str:
    return new_engine(hall).issue(service, at(day, clock), **kwargs).outcome.ticket.number


def test_before_opening_says_when_it_opens() -> None:
    err = refused("A01", MONDAY, "08:59")
    assert err.code == "not_open_yet" and err.details == {"opens_at": "09:00"}


def test_opening_minute_is_open() -> None:
    assert issued("A01", MONDAY, "09:00") == "A001"


def test_lunch_break_says_afternoon_opening() -> None:
    err = refused("A01", MONDAY, "12:00")
    assert err.code == "lunch_break" and err.details == {"opens_at": "13:30"}
    assert "13:30" in err.message_zh
    assert issued("A01", MONDAY, "13:30") == "A001"


def test_after_closing_is_closed_for_today() -> None:
    err = refused("A01", MONDAY, "17:30")
    assert err.code == "closed_for_today" and "opens_at" not in err.details


def test_extended_hours_only_for_extended_services() -> None:
    assert issued("B01", MONDAY, "17:45") == "B001"  # B01 has extended=True
    assert refused("A01", MONDAY, "17:45").code == "closed_for_today"
    assert refused("B01", MONDAY, "19:00").code == "closed_for_today"


def test_weekend_sessions_only_on_weekend_days_for_weekend_services() -> None:
    assert issued("C01", SATURDAY, "10:00", holder_key="h1") == "C001"  # C01 has weekend=True, Saturday is listed
    assert refused("A01", SATURDAY, "10:00").code == "closed"
    assert refused("C01", SUNDAY, "10:00", holder_key="h1").code == "closed"  # Sunday is not a weekend day here
    assert refused("C01", SATURDAY, "13:30", holder_key="h1").code == "closed_for_today"


def test_weekday_hours_do_not_apply_on_the_weekend() -> None:
    assert refused("C01", SATURDAY, "14:00", holder_key="h1").code == "closed_for_today"
    assert refused("B01", SATURDAY, "17:45").code == "closed"  # nor does 延时


def test_holiday_closes_every_service() -> None:
    for service, holder_key in (("A01", ""), ("B01", ""), ("C01", "h1")):
        err = refused(service, HOLIDAY, "10:00", holder_key=holder_key)
        assert err.code == "closed" and "节假日" in err.message_zh


def test_make_up_workday_follows_weekday_hours() -> None:
    hall = small_hall()
    hall = dataclasses.replace(hall, hours=dataclasses.replace(hall.hours, workdays=(dt.date(2026, 11, 29),)))
    assert issued("A01", SUNDAY, "10:00", hall=hall) == "A001"
    assert issued("B01", SUNDAY, "17:45", hall=hall) == "B001"
    assert refused("A01", SUNDAY, "12:30", hall=hall).code == "lunch_break"


def test_a_service_with_its_own_hours_ignores_the_halls() -> None:
    hall = with_service(small_hall(), "A01", hours=(span("10:00-11:00"),))
    err = refused("A01", MONDAY, "09:30", hall=hall)
    assert err.code == "not_open_yet" and err.details == {"opens_at": "10:00"}
    assert refused("A01", MONDAY, "14:00", hall=hall).code == "closed_for_today"
