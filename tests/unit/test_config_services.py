"""The hall-service config: bookings, materials, green channel, ratings and alerts, each rule kept and refused.

Bad files are built by editing the township sample, which books its 低保 service (C01, services[2]); every
refusal is checked at its exact dotted path with the words a technician reads.
"""

from __future__ import annotations

import pytest

from config.loader import ConfigError, load_hall, parse_hall
from config.model import ALERT_KINDS, AlertThresholds, BookingRules, GreenChannel, RatingRules
from tests.support.config_edits import COUNTY, ROOT, TOWNSHIP_TEXT, assert_problem, edited, problems_of

ALLDAY = ROOT / "tests" / "data" / "halls" / "allday_hall.toml"

C01_BOOKING = ("[services.booking]\nslot_minutes = 60\ncapacity = 2\ndays_ahead = 14\ncheckin_early_minutes = 30\n"
               "checkin_late_minutes = 20\nno_show_grace_minutes = 15\n")


def booking(*lines: str) -> str:
    """The township sample with C01's booking table replaced by ``lines``."""
    return edited((C01_BOOKING, "[services.booking]\n" + "".join(line + "\n" for line in lines)))


# ---- the samples carry the new tables ------------------------------------------------------------------

def test_township_sample_books_its_assistance_service():
    hall = parse_hall(TOWNSHIP_TEXT, "township_hall.toml")
    c01 = hall.service("C01")
    assert c01 is not None and c01.appointments
    assert c01.booking == BookingRules(slot_minutes=60, capacity=2, days_ahead=14, checkin_early_minutes=30,
                                       checkin_late_minutes=20, no_show_grace_minutes=15)
    assert c01.materials[0] == "居民身份证原件" and len(c01.materials) == 4
    assert hall.service("A01").materials == ("居民身份证原件", "户口簿原件", "本人银行卡或社保卡")
    assert hall.service("B01").materials == () and hall.service("B01").booking == BookingRules()
    assert hall.green == GreenChannel(kiosk_reasons=("age_60_plus",),
                                      staff_reasons=("disability", "pregnancy", "illness", "staff_assisted"),
                                      elderly_age=60, elderly_automatic=True)
    assert hall.ratings == RatingRules(window_hours=72, followup_working_days=5, complaint_working_days=5,
                                       assisted_working_days=10)
    assert hall.alerts.node_silent_seconds == 120 and hall.alerts.hold_minutes == 5
    assert "window_idle" not in hall.alerts.kinds and len(hall.alerts.kinds) == len(ALERT_KINDS) - 1
    assert isinstance(hall.ratings.window_hours, float) and isinstance(hall.ratings.followup_working_days, int)


def test_county_sample_books_and_lists_materials():
    hall = load_hall(COUNTY)
    booked = {s.code: s.booking for s in hall.services if s.appointments}
    assert set(booked) == {"C01", "D01", "G02"}
    assert booked["C01"].capacity == 6 and booked["C01"].days_ahead == 14
    assert booked["G02"].slot_minutes == 60 and booked["G02"].capacity == 3
    for service in hall.services:
        if service.appointments:
            assert service.booking.capacity <= min([q.quota for q in service.slot_quotas] + [service.daily_quota])
    with_materials = [s for s in hall.services if s.materials]
    assert len(with_materials) >= 5 and "不动产权证书" in hall.service("C01").materials
    assert all(s.appointments or s.booking == BookingRules() for s in hall.services)
    assert hall.green.staff_reasons == ("disability", "pregnancy", "illness", "military", "staff_assisted")
    assert hall.green.elderly_automatic is False
    assert hall.ratings == RatingRules()
    assert hall.alerts == AlertThresholds(long_queue=40)  # every kind on, the other values written as defaults


def test_allday_hall_books_a_month_ahead_and_rates_for_a_day():
    hall = load_hall(ALLDAY)
    assert all(s.appointments for s in hall.services)
    assert {s.booking for s in hall.services} == {BookingRules(slot_minutes=30, capacity=4, days_ahead=30)}
    assert hall.ratings.window_hours == 24


def test_tables_left_out_take_the_defaults():
    text = edited((C01_BOOKING, ""))
    text = text[:text.index("[green]")] + text[text.index("[policy]"):]  # drops [green] and [ratings]
    hall = parse_hall(text, "t.toml")
    assert hall.service("C01").booking == BookingRules()
    assert hall.green == GreenChannel() and hall.ratings == RatingRules()


def test_empty_kinds_turns_alerts_off():
    hall = parse_hall(edited(('         "followup_overdue", "case_overdue", "quota_nearly_used"]\n', ""),
                             ('kinds = ["long_wait", "long_queue", "window_paused", "device_fault", "node_silent", '
                              '"bad_rating",\n', "kinds = []\n")), "t.toml")
    assert hall.alerts.kinds == ()


def test_booking_edge_values_are_accepted():
    hall = parse_hall(booking("slot_minutes = 5", "capacity = 1", "days_ahead = 0", "checkin_early_minutes = 0",
                              "checkin_late_minutes = 0", "no_show_grace_minutes = 0"), "t.toml")
    assert hall.service("C01").booking == BookingRules(5, 1, 0, 0.0, 0.0, 0.0)
    hall = parse_hall(booking("slot_minutes = 180", "capacity = 20", "days_ahead = 90",
                              "checkin_late_minutes = 190", "no_show_grace_minutes = 10"), "t.toml")
    assert hall.service("C01").booking.capacity == 20  # = the daily quota
    hall = parse_hall(booking("slot_minutes = 45", "checkin_early_minutes = 12.5"), "t.toml")
    assert hall.service("C01").booking.slot_minutes == 45 and hall.service("C01").booking.checkin_early_minutes == 12.5


def test_rating_and_green_edge_values_are_accepted():
    hall = parse_hall(edited(("window_hours = 72", "window_hours = 0.5"), ("followup_working_days = 5",
                                                                          "followup_working_days = 1"),
                             ("assisted_working_days = 10", "assisted_working_days = 60"),
                             ("elderly_age = 60", "elderly_age = 100")), "t.toml")
    assert hall.ratings.window_hours == 0.5 and hall.ratings.followup_working_days == 1
    assert hall.ratings.assisted_working_days == 60 and hall.green.elderly_age == 100


def test_every_problem_of_the_new_tables_is_listed_at_once():
    text = edited(("capacity = 2", "capacity = 0"), ("elderly_age = 60", "elderly_age = 30"),
                  ("window_hours = 72", "window_hours = 0"), ("hold_minutes = 5", "hold_minutes = -1"))
    assert [p for p, _ in problems_of(text)] == ["services[2].booking.capacity", "alerts.hold_minutes",
                                                 "green.elderly_age", "ratings.window_hours"]


B = "services[2].booking"
BAD = [
    # [services.booking]: shape
    ("booking without appointments", [("appointments = true  # 低保 interviews are booked, two an hour\n", "")],
     B, ["set appointments = true", "or remove the table"]),
    ("booking with appointments = false",
     [("appointments = true  # 低保 interviews are booked, two an hour", "appointments = false")],
     B, ["set appointments = true", "or remove the table"]),
    ("booking as a value", [(C01_BOOKING, "booking = 5\n")], B, ["expected a table", "integer"]),
    ("unknown booking key", [("capacity = 2", "capacity = 2\nslots = 3")], f"{B}.slots",
     ["unknown key", "slot_minutes, capacity, days_ahead"]),
    # bounds
    ("slot too short", [("slot_minutes = 60", "slot_minutes = 4")], f"{B}.slot_minutes", ["out of range", "5 to 240"]),
    ("slot too long", [("slot_minutes = 60", "slot_minutes = 300")], f"{B}.slot_minutes", ["5 to 240"]),
    ("slot not whole", [("slot_minutes = 60", "slot_minutes = 30.5")], f"{B}.slot_minutes",
     ["expected a whole number"]),
    ("slot not dividing the day", [("slot_minutes = 60", "slot_minutes = 25")], f"{B}.slot_minutes",
     ["25 minutes does not divide the day", "whole slots"]),
    ("slot longer than a session",
     [('daily_quota = 20\nexpected_minutes = 15',
       'daily_quota = 20\nexpected_minutes = 15\nhours = ["08:30-09:00", "14:00-17:30"]')],
     f"{B}.slot_minutes", ["08:30-09:00", "shorter than one 60-minute slot"]),
    ("capacity zero", [("capacity = 2", "capacity = 0")], f"{B}.capacity", ["out of range", "1 to"]),
    ("capacity as text", [("capacity = 2", 'capacity = "2"')], f"{B}.capacity", ["expected a whole number"]),
    ("days ahead negative", [("days_ahead = 14", "days_ahead = -1")], f"{B}.days_ahead", ["0 to 90"]),
    ("days ahead too far", [("days_ahead = 14", "days_ahead = 91")], f"{B}.days_ahead", ["0 to 90"]),
    ("negative early check-in", [("checkin_early_minutes = 30", "checkin_early_minutes = -5")],
     f"{B}.checkin_early_minutes", ["out of range", "from 0"]),
    ("negative late check-in", [("checkin_late_minutes = 20", "checkin_late_minutes = -1")],
     f"{B}.checkin_late_minutes", ["out of range"]),
    ("negative grace", [("no_show_grace_minutes = 15", "no_show_grace_minutes = -0.5")],
     f"{B}.no_show_grace_minutes", ["out of range"]),
    ("nan grace", [("no_show_grace_minutes = 15", "no_show_grace_minutes = nan")], f"{B}.no_show_grace_minutes",
     ["out of range"]),
    ("late check-in after the no-show", [("checkin_late_minutes = 20", "checkin_late_minutes = 80")],
     f"{B}.checkin_late_minutes", ["after the no-show", "slot_minutes + no_show_grace_minutes = 75"]),
    # capacity against the quotas
    ("capacity above the daily quota", [("capacity = 2", "capacity = 21")], f"{B}.capacity",
     ["capacity 21", "above the daily_quota 20", "services[2].daily_quota"]),
    ("capacity above a slot quota",
     [("[policy]", '[[services.slot_quotas]]\nspan = "09:00-10:00"\nquota = 5\n'
                   '[[services.slot_quotas]]\nspan = "14:00-15:00"\nquota = 1\n[policy]')],
     f"{B}.capacity", ["capacity 2", "above the quota 1 of the slot 14:00-15:00", "services[2].slot_quotas[1]"]),
    ("default capacity above the daily quota", [(C01_BOOKING, ""), ("daily_quota = 20", "daily_quota = 3")],
     f"{B}.capacity", ["capacity 4 (the default)", "above the daily_quota 3"]),
    # materials
    ("materials as text", [('materials = ["居民身份证原件", "户口簿原件", "本人银行卡或社保卡"]',
                            'materials = "居民身份证原件"')], "services[0].materials", ["expected a list"]),
    ("material not a string", [('"户口簿原件", "本人银行卡或社保卡"]', '"户口簿原件", 3]')], "services[0].materials[2]",
     ["expected a string", "integer"]),
    ("material empty", [('"户口簿原件", "本人银行卡或社保卡"]', '"户口簿原件", "  "]')], "services[0].materials[2]",
     ["must not be empty"]),
    ("material too long", [('"户口簿原件", "本人银行卡或社保卡"]', '"户口簿原件", "' + "证" * 201 + '"]')],
     "services[0].materials[2]", ["too long", "201 characters, at most 200"]),
    ("material twice", [('"户口簿原件", "本人银行卡或社保卡"]', '"户口簿原件", "居民身份证原件"]')],
     "services[0].materials[2]", ["'居民身份证原件' is listed twice", "services[0].materials[0]"]),
    ("too many materials", [('materials = ["居民身份证原件", "户口簿原件", "本人银行卡或社保卡"]',
                             "materials = [" + ", ".join(f'"材料{i}"' for i in range(51)) + "]")],
     "services[0].materials", ["51 items, at most 50"]),
    # [green]
    ("unknown green key", [("elderly_age = 60", "elderly_age = 60\nage = 60")], "green.age",
     ["unknown key", "kiosk_reasons, staff_reasons, elderly_age, elderly_automatic"]),
    ("unknown green reason", [('kiosk_reasons = ["age_60_plus"]', 'kiosk_reasons = ["age_60_plus", "vip"]')],
     "green.kiosk_reasons[1]", ["unknown green-channel reason 'vip'", "known: age_60_plus, disability"]),
    ("green reason in both lists", [('staff_reasons = ["disability"', 'staff_reasons = ["age_60_plus", "disability"')],
     "green.staff_reasons[0]", ["'age_60_plus' is also in green.kiosk_reasons[0]", "not both"]),
    ("staff reason clashing with the default kiosk list",
     [('kiosk_reasons = ["age_60_plus"]\n', ""), ('staff_reasons = ["disability"', 'staff_reasons = ["age_60_plus"'),
      ("elderly_automatic = true", "elderly_automatic = false")],
     "green.staff_reasons[0]", ["'age_60_plus' is also in green.kiosk_reasons (the default)"]),
    ("green reason twice", [('staff_reasons = ["disability"', 'staff_reasons = ["disability", "disability"')],
     "green.staff_reasons[1]", ["'disability' is listed twice"]),
    ("green reason not a string", [('kiosk_reasons = ["age_60_plus"]', "kiosk_reasons = [60]")],
     "green.kiosk_reasons[0]", ["expected a green-channel reason", "integer"]),
    ("elderly age too low", [("elderly_age = 60", "elderly_age = 49")], "green.elderly_age", ["50 to 100"]),
    ("elderly age too high", [("elderly_age = 60", "elderly_age = 101")], "green.elderly_age", ["50 to 100"]),
    ("elderly automatic as text", [("elderly_automatic = true", 'elderly_automatic = "yes"')],
     "green.elderly_automatic", ["expected true or false"]),
    ("elderly automatic without the kiosk reason", [('kiosk_reasons = ["age_60_plus"]', "kiosk_reasons = []")],
     "green.elderly_automatic", ["needs 'age_60_plus' in green.kiosk_reasons"]),
    ("green as a list", [("[hall]\n", "green = [1]\n[hall]\n"), ("[green]\n", "[green_old]\n")], "green",
     ["expected a table", "a list"]),
    # [ratings]
    ("unknown ratings key", [("window_hours = 72", "window_hours = 72\nwindow_days = 3")], "ratings.window_days",
     ["unknown key", "window_hours, followup_working_days"]),
    ("rating window too short", [("window_hours = 72", "window_hours = 0.25")], "ratings.window_hours",
     ["out of range", "from 0.5 up to 720"]),
    ("rating window too long", [("window_hours = 72", "window_hours = 721")], "ratings.window_hours", ["up to 720"]),
    ("follow-up days zero", [("followup_working_days = 5", "followup_working_days = 0")],
     "ratings.followup_working_days", ["out of range", "1 to 60"]),
    ("follow-up days too many", [("followup_working_days = 5", "followup_working_days = 61")],
     "ratings.followup_working_days", ["1 to 60"]),
    ("follow-up days not whole", [("followup_working_days = 5", "followup_working_days = 2.5")],
     "ratings.followup_working_days", ["expected a whole number"]),
    ("complaint days zero", [("complaint_working_days = 5", "complaint_working_days = 0")],
     "ratings.complaint_working_days", ["1 to 60"]),
    ("assisted days negative", [("assisted_working_days = 10", "assisted_working_days = -3")],
     "ratings.assisted_working_days", ["1 to 60"]),
    # [alerts]
    ("negative device fault", [("hold_minutes = 5", "hold_minutes = 5\ndevice_fault_seconds = -1")],
     "alerts.device_fault_seconds", ["out of range", "from 0 up to 86400"]),
    ("node silent too short", [("node_silent_seconds = 120", "node_silent_seconds = 1")],
     "alerts.node_silent_seconds", ["from 5"]),
    ("negative hold", [("hold_minutes = 5", "hold_minutes = -1")], "alerts.hold_minutes", ["out of range"]),
    ("quota percent above 100", [("hold_minutes = 5", "hold_minutes = 5\nquota_nearly_used_percent = 120")],
     "alerts.quota_nearly_used_percent", ["up to 100"]),
    ("quota percent zero", [("hold_minutes = 5", "hold_minutes = 5\nquota_nearly_used_percent = 0")],
     "alerts.quota_nearly_used_percent", ["from 1"]),
    ("negative long wait", [("long_wait_minutes = 30", "long_wait_minutes = -30")], "alerts.long_wait_minutes",
     ["out of range"]),
    ("unknown alert kind", [('kinds = ["long_wait",', 'kinds = ["long_wiat",')], "alerts.kinds[0]",
     ["unknown alert kind 'long_wiat'", "known: " + ", ".join(ALERT_KINDS)]),
    ("alert kind twice", [('"case_overdue", "quota_nearly_used"]', '"case_overdue", "long_wait"]')],
     "alerts.kinds[8]", ["alert kind 'long_wait' is listed twice"]),
    ("kinds as text", [('kinds = ["long_wait", "long_queue", "window_paused", "device_fault", "node_silent", '
                        '"bad_rating",\n         "followup_overdue", "case_overdue", "quota_nearly_used"]',
                        'kinds = "long_wait"')], "alerts.kinds", ["expected a list"]),
    ("unknown alerts key", [("hold_minutes = 5", "hold_minutes = 5\nbad_rating_level = 2")],
     "alerts.bad_rating_level", ["unknown key", "long_wait_minutes", "kinds"]),
]


@pytest.mark.parametrize(("edits", "path", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_service_config_is_refused_at_its_path(edits, path, words):
    assert_problem(edited(*edits), path, *words)


def test_a_bad_kiosk_reason_is_reported_once_not_again_as_a_missing_one():
    found = problems_of(edited(('kiosk_reasons = ["age_60_plus"]', 'kiosk_reasons = ["age60"]')))
    assert [p for p, _ in found] == ["green.kiosk_reasons[0]"]


def test_error_text_names_the_file_and_the_path():
    with pytest.raises(ConfigError) as caught:
        parse_hall(edited(("followup_working_days = 5", "followup_working_days = 0")), "township_hall.toml")
    assert str(caught.value) == ("township_hall.toml: ratings.followup_working_days: 0 is out of range "
                                 "(allowed 1 to 60)")
