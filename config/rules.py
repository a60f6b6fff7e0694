"""The hall-service rules ([services.booking], materials, [green], [ratings], [alerts]), read strictly.

Each table is filled by ``Reader.record`` (types and bounds) and then cross-checked against what it depends
on: a booking against its service's quotas and sessions, the green channel's two reason lists against each
other. Problems go to the same Reader, so they come out with the rest of the file's, each at its dotted path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from config.fields import Reader, sub
from config.model import (
    ALERT_KINDS,
    GREEN_REASONS,
    AlertThresholds,
    BookingRules,
    GreenChannel,
    RatingRules,
    SlotQuota,
    TimeRange,
)

__all__ = ["MAX_MATERIALS", "alerts", "booking", "green", "materials", "ratings"]

MAX_MATERIALS = 50
_DAY_MINUTES = 24 * 60

BOOKING_BOUNDS = {"slot_minutes": (5, 240), "capacity": (1, 10_000), "days_ahead": (0, 90),
                  "checkin_early_minutes": (0, 1440), "checkin_late_minutes": (0, 1440),
                  "no_show_grace_minutes": (0, 1440)}
ALERT_BOUNDS = {"long_wait_minutes": (1, 600), "long_queue": (1, 10_000), "idle_window_minutes": (1, 600),
                "pause_minutes": (1, 600), "device_fault_seconds": (0, 86_400), "node_silent_seconds": (5, 86_400),
                "quota_nearly_used_percent": (1, 100), "hold_minutes": (0, 1440)}
GREEN_BOUNDS = {"elderly_age": (50, 100)}
RATING_BOUNDS = {"window_hours": (0.5, 720), "followup_working_days": (1, 60), "complaint_working_days": (1, 60),
                 "assisted_working_days": (1, 60)}


def _minutes(rng: TimeRange) -> int:
    """Length of a session in minutes; an end of 24:00 counts as midnight."""
    end = _DAY_MINUTES if rng.end == dt.time.max else rng.end.hour * 60 + rng.end.minute
    return end - (rng.start.hour * 60 + rng.start.minute)


def booking(r: Reader, t: dict[str, Any], path: str, *, appointments: bool, daily_quota: int,
            slots: Sequence[tuple[str, SlotQuota]], sessions: Sequence[TimeRange]) -> BookingRules:
    """``[services.booking]`` of the service at ``path``, checked against its quotas and sessions."""
    where = sub(path, "booking")
    given = t.get("booking", {})
    if "booking" in t and not appointments:
        r.problem(where, "this service takes no appointments: set appointments = true, or remove the table")
    rules: BookingRules = r.record(given, where, BookingRules, BOOKING_BOUNDS)
    if not appointments:
        return rules
    written = given if isinstance(given, dict) else {}

    def said(key: str) -> str:
        return "" if key in written else " (the default)"

    slot = rules.slot_minutes
    if _DAY_MINUTES % slot:
        r.problem(sub(where, "slot_minutes"), f"{slot} minutes does not divide the day into whole slots, so slots "
                  f"would start at different times each day (use e.g. 10, 15, 20, 30, 45, 60, 90 or 120)")
    else:
        for rng in sessions:
            if _minutes(rng) < slot:
                r.problem(sub(where, "slot_minutes"), f"the session {rng} ({_minutes(rng)} minutes) is shorter "
                          f"than one {slot}-minute slot{said('slot_minutes')}, so it could take no booking")
    no_show_after = slot + rules.no_show_grace_minutes
    if rules.checkin_late_minutes > no_show_after:
        r.problem(sub(where, "checkin_late_minutes"), f"a check-in {rules.checkin_late_minutes:g} minutes after the "
                  f"slot start would come after the no-show (slot_minutes + no_show_grace_minutes = "
                  f"{no_show_after:g} minutes after the start)")
    capacity = sub(where, "capacity")
    if daily_quota > 0 and rules.capacity > daily_quota:
        r.problem(capacity, f"capacity {rules.capacity}{said('capacity')} is above the daily_quota {daily_quota} "
                  f"at {sub(path, 'daily_quota')}: a slot cannot hold more bookings than the day has tickets")
    # Booking slots tile the service's sessions and every slot quota span lies inside one of them, so each
    # span overlaps at least one booking slot: the capacity must fit every span's quota.
    for slot_path, quota in slots:
        if rules.capacity > quota.quota:
            r.problem(capacity, f"capacity {rules.capacity}{said('capacity')} is above the quota {quota.quota} of "
                      f"the slot {quota.span} at {sub(slot_path, 'quota')}: bookings in it could not all get a "
                      f"ticket")
    return rules


def materials(r: Reader, t: dict[str, Any], path: str) -> tuple[str, ...]:
    """A service's 办事指南 list: what to bring, shown before a citizen queues."""
    return r.strings(t, path, "materials", max_items=MAX_MATERIALS, max_len=200)


def green(r: Reader, data: dict[str, Any]) -> GreenChannel:
    """``[green]``: who may assert which reason; a reason is either the kiosk's or the staff's, never both."""
    reasons = (GREEN_REASONS, "green-channel reason")
    rules: GreenChannel = r.record(data.get("green", {}), "green", GreenChannel, GREEN_BOUNDS,
                                   {"kiosk_reasons": reasons, "staff_reasons": reasons})
    raw = data.get("green", {}) if isinstance(data.get("green", {}), dict) else {}

    def located(key: str, chosen: tuple[str, ...]) -> dict[str, str]:
        """Each reason of the list with its path: item paths as written, the list's path for the default."""
        if key not in raw or not isinstance(raw[key], list):
            return {name: f"green.{key} (the default)" for name in chosen}
        first: dict[str, str] = {}
        for i, item in enumerate(raw[key]):
            if isinstance(item, str) and item in chosen:
                first.setdefault(item, f"green.{key}[{i}]")
        return first

    kiosk = located("kiosk_reasons", rules.kiosk_reasons)
    for name, where in located("staff_reasons", rules.staff_reasons).items():
        if name in kiosk:
            r.problem(where.removesuffix(" (the default)"), f"{name!r} is also in {kiosk[name]}: a reason is either "
                      f"asserted by the kiosk or given by staff, not both")
    kiosk_ok = not any(where.startswith("green.kiosk_reasons") for where, _ in r.problems)
    if rules.elderly_automatic and kiosk_ok and "age_60_plus" not in rules.kiosk_reasons:
        r.problem("green.elderly_automatic", "true needs 'age_60_plus' in green.kiosk_reasons (the kiosk reads the "
                  "age from the card)")
    return rules


def ratings(r: Reader, data: dict[str, Any]) -> RatingRules:
    """``[ratings]``: how long a matter may be rated, and the working-day deadlines of the cases that follow."""
    rules: RatingRules = r.record(data.get("ratings", {}), "ratings", RatingRules, RATING_BOUNDS)
    return rules


def alerts(r: Reader, data: dict[str, Any]) -> AlertThresholds:
    """``[alerts]``: the thresholds, and ``kinds``, the rules that are on (each a known kind, once)."""
    rules: AlertThresholds = r.record(data.get("alerts", {}), "alerts", AlertThresholds, ALERT_BOUNDS,
                                      {"kinds": (ALERT_KINDS, "alert kind")})
    return rules
