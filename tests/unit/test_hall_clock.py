"""The rush's morning clock: the opening of the latest working day, and the slots a booked citizen can use."""

from __future__ import annotations

from pathlib import Path

from config.loader import load_hall
from kiosk.hall_clock import CLOCK_ENV, MorningClock, opening_of_latest_working_day
from kiosk.rush.run import _slots_to_check_in
from tests.support.halls import at

COUNTY = load_hall(Path(__file__).resolve().parents[2] / "config" / "samples" / "county_hall.toml")


def test_the_morning_is_the_latest_working_days_opening_in_the_halls_zone() -> None:
    assert opening_of_latest_working_day(COUNTY, at("2026-12-01", "20:00")) == at("2026-12-01", "09:01")
    assert opening_of_latest_working_day(COUNTY, at("2026-12-01", "03:00")) == at("2026-12-01", "09:01")
    assert opening_of_latest_working_day(COUNTY, at("2026-11-29", "10:00")) == at("2026-11-27", "09:01")  # Sun→Fri
    assert opening_of_latest_working_day(COUNTY, at("2026-10-06", "10:00")) == at("2026-09-30", "09:01")  # 国庆
    assert opening_of_latest_working_day(COUNTY, at("2026-10-10", "10:00")) == at("2026-10-10", "09:01")  # 调休 Sat


def test_the_shift_is_kept_in_the_data_dir_and_reused(tmp_path: Path) -> None:
    first = MorningClock.prepare(COUNTY, tmp_path)
    again = MorningClock.prepare(COUNTY, tmp_path)
    assert again.offset_s == first.offset_s and first.path.parent == tmp_path
    env = first.env()
    assert env["FAKETIME"] == f"{first.offset_s:+.0f}" == env[CLOCK_ENV]
    assert env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1" and env["LD_PRELOAD"].endswith("libfaketime.so.1")


def test_a_booking_goes_to_a_slot_whose_check_in_window_holds_the_arrival() -> None:
    nine = at("2026-12-01", "09:00")
    # 30-minute slots, check-in from 20 minutes before to 10 minutes after the start (the county's D01)
    assert _slots_to_check_in(nine + 5 * 60, 30, 20, 10) == [nine]
    assert _slots_to_check_in(nine + 20 * 60, 30, 20, 10) == [nine + 1800]
    assert _slots_to_check_in(nine + 9.5 * 60, 30, 20, 10) == []  # neither leaves a minute to spare
    assert _slots_to_check_in(nine + 1 * 60, 30, 30, 15) == [nine, nine + 1800]
