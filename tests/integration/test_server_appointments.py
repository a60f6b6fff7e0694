"""Appointments over real HTTP: book, refusals, claimed priorities refused, check-in early / on time / late /
twice, a no-show decided by the tick, and kill -9 with a restart in the middle with nothing lost or doubled.

The server runs under libfaketime (as in test_server_time.py) so the scripted morning can jump from
09:00 to 10:01 and 10:46 without waiting; the hall is the all-day test hall plus one booking node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import (
    ALLDAY_HALL,
    ServerProcess,
    error_code,
    kiosk,
    manager,
    read_log,
    window,
)
from tests.support.halls import MONDAY
from tests.support.wall_clock import WallClock

TICK_BOUND_S = 20.0  # the tick runs every second; this bounds a hang, it is not a performance figure
APPOINTMENTS = "/api/v1/appointments"
HOLDER = {name: f"{n:02x}" * 32 for n, name in enumerate(("early", "late", "missed", "c1", "c2", "c3"), 1)}





def booking(key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": "Bearer demo-booking-1"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def hall_with_booking_node(tmp_path: Path) -> Path:
    """The all-day hall, booking 7 days ahead (the dates below rely on it), and a node of the ``booking`` role."""
    path = tmp_path / "hall.toml"
    hall = ALLDAY_HALL.read_text(encoding="utf-8").replace("days_ahead = 30", "days_ahead = 7")
    path.write_text(hall + '\n[[nodes]]\nname = "booking-1"\nrole = "booking"\n'
                    'token = "demo-booking-1"\n', encoding="utf-8")
    return path


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def call(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
               body: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with session.request(method, url, headers=headers, json=body) as answer:
        return answer.status, await answer.json()


async def test_a_morning_of_bookings_and_check_ins_survives_kill_9(tmp_path: Path,
                                                                   session: aiohttp.ClientSession) -> None:
    clock = WallClock(tmp_path / "faketime")
    clock.set(MONDAY, "09:00")
    server = ServerProcess(tmp_path / "data", config=hall_with_booking_node(tmp_path), env=clock.env())
    with server:
        base = server.url + APPOINTMENTS

        def slot(holder: str, when: str = "10:00", service: str = "A01") -> dict[str, Any]:
            return {"service": service, "slot_start": f"{MONDAY}T{when}", "holder_key": HOLDER[holder],
                    "holder_masked": "张*"}

        # Booking, with a retry under the same key answered byte for byte and no second booking.
        status, early = await call(session, "POST", base, booking("b-early"), slot("early"))
        assert status == 201 and len(early["code"]) == 6 and early["state"] == "booked", early
        assert (early["slot_start"], early["slot_end"]) == (f"{MONDAY}T10:00", f"{MONDAY}T10:30")
        assert await call(session, "POST", base, booking("b-early"), slot("early")) == (201, early)
        status, late = await call(session, "POST", base, booking("b-late"), slot("late"))
        assert status == 201
        status, missed = await call(session, "POST", base, manager(), slot("missed"))
        assert status == 201

        # Refusals with their own codes; a kiosk cannot book.
        refusals = [
            (booking(), slot("early", "14:00"), 409, "already_booked"),
            (booking(), {**slot("c1"), "slot_start": "2026-12-05T10:00"}, 409, "booking_not_open"),
            (booking(), slot("c1", "08:30"), 409, "slot_unavailable"),
            (booking(), slot("c1", "10:10"), 409, "slot_unavailable"),
            (booking(), {**slot("c1"), "slot_start": "10:00"}, 400, "invalid_slot_start"),
            (booking(), {**slot("c1"), "holder_key": "110101199001011234"}, 400, "invalid_holder_key"),
            (booking(), {**slot("c1"), "holder_masked": "张三"}, 400, "unmasked_name"),
            (booking(), {**slot("c1"), "phone": "13800000000"}, 400, "unknown_field"),
            (kiosk(1), slot("c1"), 403, "forbidden"),
        ]
        for headers, body, want_status, want_code in refusals:
            status, answer = await call(session, "POST", base, headers, body)
            assert (status, error_code(answer)) == (want_status, want_code), (body, answer)
        c1: dict[str, Any] = {}
        for holder in ("c1", "c2", "c3"):  # the 10:00 slot holds 4 (config default BookingRules.capacity)
            status, answer = await call(session, "POST", base, booking(), slot(holder))
            assert status == (201 if holder == "c1" else 409), answer
            c1 = answer if holder == "c1" else c1
        assert error_code(answer) == "slot_full"

        # Priorities cannot be claimed at POST /api/v1/tickets.
        tickets = server.url + "/api/v1/tickets"
        claims = [
            (kiosk(1), {"service": "A01", "priority": "appointment", "appointment_id": early["id"]}, 422,
             "appointment_check_in_required"),
            (kiosk(1), {"service": "A01", "priority": "green"}, 422, "green_reason_required"),
            (kiosk(1), {"service": "A01", "priority": "green", "green_reason": "disability"}, 403,
             "green_reason_needs_staff"),
            (window(3), {"service": "A01"}, 403, "forbidden"),
        ]
        for headers, body, want_status, want_code in claims:
            status, answer = await call(session, "POST", tickets, headers, body)
            assert (status, error_code(answer)) == (want_status, want_code), (body, answer)
        for headers, reason in ((kiosk(1), "age_60_plus"), (window(3), "disability")):
            status, green = await call(session, "POST", tickets, headers,
                                       {"service": "B01", "priority": "green", "green_reason": reason})
            assert status == 201 and green["priority"] == "green", green

        # Too early: refused with the time to come back.
        status, answer = await call(session, "POST", f"{base}/{early['id']}/check-in", kiosk(2))
        assert (status, error_code(answer)) == (409, "checkin_too_early")
        assert answer["error"]["details"]["come_back_at"] == f"{MONDAY}T09:30"

        status, walk_in = await call(session, "POST", tickets, kiosk(1), {"service": "A01"})
        assert status == 201

        # On time, by code: 201 with the appointment ticket; the retry and a second check-in get the same one.
        clock.set(MONDAY, "10:01")
        status, ticket = await call(session, "POST", f"{base}/check-in", kiosk(2, "ci-early"), {"code": early["code"]})
        assert status == 201 and ticket["priority"] == "appointment" and ticket["existing"] is False, ticket
        assert ticket["appointment"]["state"] == "checked_in" and "code" not in ticket["appointment"]
        assert await call(session, "POST", f"{base}/check-in", kiosk(2, "ci-early"), {"code": early["code"]}) == (
            201, ticket)

        server.kill()  # kill -9 in the middle of the morning
        server.start()
        base = server.url + APPOINTMENTS  # the port may have changed

        status, again = await call(session, "POST", f"{base}/{early['id']}/check-in", kiosk(3))
        assert status == 200 and again["id"] == ticket["id"] and again["existing"] is True
        assert await call(session, "POST", f"{base}/check-in", kiosk(2, "ci-early"), {"code": early["code"]}) == (
            201, ticket)  # the retry's answer survived the kill too

        # Called first, with the (older) green tickets, ahead of the walk-in who came before the check-in.
        called = []
        for number in (1, 2, 3):
            async with session.post(f"{server.url}/api/v1/windows/{number}/sign-in", headers=window(number),
                                    json={"staff": f"s{number:03d}", "pin": "123456"}) as answer:
                assert answer.status == 200
            status, next_one = await call(session, "POST", f"{server.url}/api/v1/windows/{number}/call-next",
                                          window(number))
            assert status == 200, next_one
            called.append((next_one["priority"], next_one["id"]))
        assert called[2] == ("appointment", ticket["id"]) and [p for p, _ in called] == ["green", "green",
                                                                                          "appointment"]
        status, walk_in = await call(session, "GET", f"{server.url}/api/v1/tickets/{walk_in['id']}", kiosk(1))
        assert walk_in["state"] == "waiting"

        # Too late: refused with the offer of a normal ticket; nothing issued silently.
        clock.set(MONDAY, "10:20")
        status, answer = await call(session, "POST", f"{base}/check-in", kiosk(4),
                                    {"holder_key": HOLDER["late"], "service": "A01"})
        assert (status, error_code(answer)) == (409, "checkin_too_late")
        assert answer["error"]["details"]["offer"] == "normal_ticket"

        # Cancel (idempotent), then the no-show of the one who never came, decided by the tick.
        status, cancelled = await call(session, "POST", f"{base}/{late['id']}/cancel", booking("x-late"),
                                       {"reason": "迟到改约"})
        assert status == 200 and cancelled["state"] == "cancelled"
        clock.set(MONDAY, "10:46")
        deadline = time.monotonic() + TICK_BOUND_S
        while True:
            status, listing = await call(session, "GET", f"{base}?day={MONDAY}&state=no_show", manager())
            assert status == 200
            if listing["appointments"]:
                break
            assert time.monotonic() < deadline, "the tick did not decide the no-show"
            await asyncio.sleep(0.2)
        assert [a["id"] for a in listing["appointments"]] == [missed["id"], c1["id"]]  # slot, then booking order
        assert [a["holder_no_shows"] for a in listing["appointments"]] == [1, 1]

        server.kill()
        server.start()
        base = server.url + APPOINTMENTS

        status, counted = await call(session, "GET", f"{base}/no-shows?holder_key={HOLDER['missed']}", manager())
        assert status == 200 and counted["no_shows"] == 1 and counted["days"] == 90
        status, answer = await call(session, "GET", f"{base}/no-shows?holder_key={HOLDER['missed']}", booking())
        assert (status, error_code(answer)) == (403, "forbidden")
        status, listing = await call(session, "GET", f"{base}?day={MONDAY}", booking())
        states = {a["id"]: a["state"] for a in listing["appointments"]}
        assert states == {early["id"]: "checked_in", late["id"]: "cancelled", missed["id"]: "no_show",
                          c1["id"]: "no_show"}
        assert all("holder_key" not in a and "code" not in a and "holder_no_shows" not in a
                   for a in listing["appointments"])

        log = await read_log(session, server)
        kinds = [e["type"] for e in log]
        assert kinds.count("appointment.booked") == 4 and kinds.count("appointment.checked_in") == 1
        assert kinds.count("appointment.no_show") == 2 and kinds.count("appointment.cancelled") == 1
        issued = [e["data"] for e in log if e["type"] == "ticket.issued"]
        assert [d["priority"] for d in issued] == ["green", "green", "normal", "appointment"]
        assert [d["green_reason"] for d in issued[:2]] == ["age_60_plus", "disability"]
        checked = kinds.index("appointment.checked_in")
        assert log[checked + 1]["type"] == "ticket.issued" and log[checked + 1]["data"]["ticket"] == ticket["id"]
        text = "\n".join(str(e) for e in log) + server.log_text()
        assert "110101199001011234" not in text and "13800000000" not in text
