"""A scripted hall day end to end over real HTTP and WebSocket, the server a subprocess, its clock in our hands.

Monday morning in the all-day test hall (plus a booking node and a 25-minute long-wait threshold): five
bookings, check-ins early (refused, then accepted), on time, twice and late; a no-show decided by the
tick; walk-in tickets; calls by call-next and by ticket; a skip, a transfer, a cancellation; pad ratings
of every level; a bad rating followed up and closed, another appealed and overturned; a long wait that
raises an alert which calling resolves; and kill -9 with a restart in the middle. GET /api/v1/stats for
every scope must equal the figures worked out by hand below (see queue_server/engine/figures.py for what
each counts), before and after the kill, and at the end of the morning.

The server's wall clock is frozen through libfaketime (``FAKETIME_FMT=%s``: the file holds the epoch
second the server sees, and it does not move until the test writes another), so every wait and handling
time is exact whole seconds; asyncio's timers run on the true monotonic clock, so the tick still runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
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
    sign_in,
    window,
)
from tests.support.halls import MONDAY
from tests.support.wall_clock import WallClock

WAIT_BOUND_S = 20.0  # the tick runs every second; this bounds a hang, it is not a performance figure
HOLDERS = {name: f"{n:02x}" * 32 for n, name in enumerate(("p1", "p2", "p3", "p4", "p5"), 0xa1)}
SCOPES = ("hall", "department", "service", "window", "staff")





def day_hall(tmp_path: Path) -> Path:
    """The all-day hall, a booking node, and a long-wait alert after 25 minutes."""
    path = tmp_path / "day_hall.toml"
    path.write_text(ALLDAY_HALL.read_text(encoding="utf-8") + '\n[alerts]\nlong_wait_minutes = 25\n'
                    '\n[[nodes]]\nname = "booking-1"\nrole = "booking"\ntoken = "demo-booking-1"\n', encoding="utf-8")
    return path


def booking(key: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer demo-booking-1", **({"Idempotency-Key": key} if key else {})}


# ------------------------------------------------------------------------------------------ the figures by hand
def span(mean: float | None = None, p50: int | None = None, p90: int | None = None) -> dict[str, Any]:
    return {"mean": mean, "p50": p50, "p90": p90}


def row(key: dict[str, Any], *, ratings: str = "", open_: int = 0, **figures: Any) -> dict[str, Any]:
    """A full stats row: zeros and nulls but for what is given; ``ratings`` lists the levels given ("521")."""
    out: dict[str, Any] = {
        **key, "issued": 0, "called": 0, "finished": 0, "skipped": 0, "no_show": 0, "cancelled": 0,
        "transferred_out": 0, "completion_rate": None,
        "ratings": {str(lv): ratings.count(str(lv)) for lv in range(1, 6)}, "satisfaction": None,
        "mean_level": None, "wait_s": span(), "handling_s": span(), "waiting_now": 0, "longest_wait_s": 0,
        "windows_open": open_, "windows_paused": 0}
    for name, value in figures.items():
        assert name in out, name
        out[name] = value
    return out


def final_rows() -> dict[str, list[dict[str, Any]]]:
    """At 09:59, everything done. Tickets (wait = issue → first call, handling = start, else call → finish):
    T1 A01 08:10, w1 08:15 (300), 08:16-08:21 (300), pad 5 · T2 B01 08:12, w2 08:15 (180), 08:15:30-08:25:30
    (600), pad 4 · T3 A01 appointment 08:40, w1 09:00 (1200), 09:01-09:11 (600), pad 1, followed up ·
    T4 C01 08:45, w3 08:50 (300), finished unstarted 08:58 (480), pad 2, appealed, overturned · T5 A01
    appointment 09:05, w2 09:06 (60), skipped · T6 B01 09:20, w2 09:30 (600), transferred to D01, w3 09:40,
    09:41-09:46 (300), pad 3 · T7 A01 09:10, w1 09:50 (2400), 09:51-09:59 (480) · T8 C01 09:25, cancelled;
    the B01 and C01 bookings of 09:00 no-shows (the late one took a normal ticket instead of checking in).
    Windows 1-3 signed in all morning (every service has them)."""
    w1: dict[str, Any] = dict(called=3, finished=3, completion_rate=1.0, ratings="51", satisfaction=0.5, mean_level=3.0,
              wait_s=span(1300.0, 1200, 2400), handling_s=span(460.0, 480, 600), open_=1)
    w2: dict[str, Any] = dict(called=3, finished=1, skipped=1, transferred_out=1, completion_rate=0.5, ratings="4",
              satisfaction=1.0, mean_level=4.0, wait_s=span(280.0, 180, 600), handling_s=span(600.0, 600, 600),
              open_=1)
    w3: dict[str, Any] = dict(called=2, finished=2, completion_rate=1.0, ratings="23", satisfaction=1.0, mean_level=2.5,
              wait_s=span(300.0, 300, 300), handling_s=span(390.0, 300, 480), open_=1)
    quiet = [row({"window": n}) for n in range(4, 25)]
    return {
        "hall": [row({"hall": "全天测试大厅"}, issued=8, called=8, finished=6, skipped=1, no_show=2, cancelled=1,
                     transferred_out=1, completion_rate=round(6 / 7, 4), ratings="54123", satisfaction=0.75,
                     mean_level=3.0, wait_s=span(720.0, 300, 2400), handling_s=span(460.0, 480, 600), open_=3)],
        "department": [
            row({"department": "shebao"}, issued=6, called=6, finished=5, skipped=1, no_show=1, cancelled=1,
                completion_rate=round(5 / 6, 4), ratings="5123", satisfaction=round(2 / 3, 4), mean_level=2.75,
                wait_s=span(852.0, 300, 2400), handling_s=span(432.0, 480, 600), open_=3),
            row({"department": "budongchan"}, issued=2, called=2, finished=1, no_show=1, transferred_out=1,
                completion_rate=1.0, ratings="4", satisfaction=1.0, mean_level=4.0, wait_s=span(390.0, 180, 600),
                handling_s=span(600.0, 600, 600), open_=3)],
        "service": [
            row({"service": "A01"}, issued=4, called=4, finished=3, skipped=1, completion_rate=0.75, ratings="51",
                satisfaction=0.5, mean_level=3.0, wait_s=span(990.0, 300, 2400), handling_s=span(460.0, 480, 600),
                open_=3),
            row({"service": "B01"}, issued=2, called=2, finished=1, no_show=1, transferred_out=1, completion_rate=1.0,
                ratings="4", satisfaction=1.0, mean_level=4.0, wait_s=span(390.0, 180, 600),
                handling_s=span(600.0, 600, 600), open_=3),
            row({"service": "C01"}, issued=2, called=1, finished=1, no_show=1, cancelled=1, completion_rate=1.0,
                ratings="2", mean_level=2.0, wait_s=span(300.0, 300, 300), handling_s=span(480.0, 480, 480),
                open_=3),  # its only rating was overturned: no satisfaction figure
            row({"service": "D01"}, called=1, finished=1, completion_rate=1.0, ratings="3", satisfaction=1.0,
                mean_level=3.0, handling_s=span(300.0, 300, 300), open_=3)],
        "window": [row({"window": 1}, **w1), row({"window": 2}, **w2), row({"window": 3}, **w3), *quiet],
        "staff": [row({"staff": "s001"}, **w1), row({"staff": "s002"}, **w2), row({"staff": "s003"}, **w3),
                  *[row({"staff": f"s{n:03d}"}) for n in range(4, 25)]],
    }


MIDDLE_HALL = row({"hall": "全天测试大厅"}, issued=6, called=5, finished=4, skipped=1, completion_rate=0.8,
                  ratings="5412", satisfaction=0.5, mean_level=3.0, wait_s=span(408.0, 300, 1200),
                  handling_s=span(495.0, 480, 600), waiting_now=1, longest_wait_s=120, open_=3)
"""At 09:12, before the kill: T1-T5 called, T1-T4 finished and rated (T4's appeal not decided), T7 waiting
since 09:10. Waits [60, 180, 300, 300, 1200], handlings [300, 480, 600, 600]."""
AFTER_THE_KILL = Counter(issued=2, called=3, finished=2, no_show=2, cancelled=1, transferred_out=1)
"""What the rest of the morning adds to the hall's counts: T6 (issued, called twice, transferred, finished),
T7 (called, finished), T8 (issued, cancelled), the two no-shows; and one rating of level 3."""
COUNTS = ("issued", "called", "finished", "skipped", "no_show", "cancelled", "transferred_out")


# ------------------------------------------------------------------------------------------ the HTTP side
@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


class Hall:
    """Requests to the server under test, each asserting the status it must answer with."""

    def __init__(self, session: aiohttp.ClientSession, server: ServerProcess) -> None:
        self.session, self.server = session, server

    async def call(self, method: str, path: str, headers: dict[str, str] | None, body: Any = None,
                   status: int = 200) -> Any:
        async with self.session.request(method, self.server.url + path, headers=headers, json=body) as answer:
            assert answer.status == status, (method, path, body, answer.status, await answer.text())
            return await answer.json()

    async def post(self, path: str, headers: dict[str, str] | None, body: Any = None, status: int = 200) -> Any:
        return await self.call("POST", path, headers, body, status)

    async def get(self, path: str, headers: dict[str, str] | None = None, status: int = 200) -> Any:
        return await self.call("GET", path, headers, None, status)

    async def issue(self, service: str, key: str, **extra: str) -> dict[str, Any]:
        return await self.post("/api/v1/tickets", kiosk(1, key), {"service": service, **extra}, 201)

    async def act(self, ticket: str, action: str, n: int, body: Any = None) -> dict[str, Any]:
        return await self.post(f"/api/v1/tickets/{ticket}/{action}", window(n, f"{action}-{ticket}"), body)

    async def rate(self, ticket: str, n: int, level: int, **extra: str) -> dict[str, Any]:
        return await self.post(f"/api/v1/tickets/{ticket}/rating", window(n, f"rate-{ticket}"),
                               {"level": level, "channel": "pad", **extra}, 201)

    async def step(self, followup: str, step: str, headers: dict[str, str], note: str) -> dict[str, Any]:
        return await self.post(f"/api/v1/followups/{followup}/{step}", headers, {"note": note})

    async def stats(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for scope in SCOPES:
            body = await self.get(f"/api/v1/stats?scope={scope}", manager())
            assert (body["scope"], body["from"], body["to"]) == (scope, MONDAY, MONDAY)
            out[scope] = body["rows"]
        return out

    async def until(self, path: str, found: Any) -> Any:
        """GET ``path`` (as the manager) until ``found(body)`` is true: the tick decides it within a second."""
        deadline = time.monotonic() + WAIT_BOUND_S
        while True:
            body = await self.get(path, manager())
            if found(body):
                return body
            assert time.monotonic() < deadline, f"{path}: not decided by the tick within {WAIT_BOUND_S} s: {body}"
            await asyncio.sleep(0.2)

    async def long_waits(self) -> list[dict[str, Any]]:
        return [a for a in (await self.get("/api/v1/alerts", manager()))["alerts"] if a["kind"] == "long_wait"]


async def ledger(hall: Hall) -> dict[str, Any]:
    """Everything acknowledged so far that must survive a kill exactly once."""
    tickets = await hall.get("/api/v1/tickets?limit=500", manager())
    assert tickets["next"] is None
    return {"tickets": tickets["tickets"],
            "appointments": (await hall.get(f"/api/v1/appointments?day={MONDAY}", manager()))["appointments"],
            "followups": (await hall.get("/api/v1/followups", manager()))["followups"],
            "ratings": await export(hall)}


async def export(hall: Hall) -> str:
    async with hall.session.get(hall.server.url + "/api/v1/ratings/export", headers=manager(),
                                params={"format": "jsonl"}) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.text()


async def test_a_scripted_day_its_figures_an_alert_and_kill_9_in_the_middle(
        tmp_path: Path, session: aiohttp.ClientSession, server_store: str | None) -> None:
    clock = WallClock(tmp_path / "faketime", frozen=True)
    clock.set(MONDAY, "08:00")
    server = ServerProcess(tmp_path / "data", config=day_hall(tmp_path), env=clock.env(), store=server_store)
    with server:
        hall = Hall(session, server)

        # 08:00 bookings (the booking node; a retry under the same key is the same booking), windows 1-3 open.
        def slot(holder: str, service: str, when: str) -> dict[str, Any]:
            return {"service": service, "slot_start": f"{MONDAY}T{when}", "holder_key": HOLDERS[holder],
                    "holder_masked": "王*"}

        booked = {}
        for holder, service, when in (("p1", "A01", "09:00"), ("p2", "A01", "09:00"), ("p3", "B01", "09:00"),
                                      ("p4", "C01", "09:00"), ("p5", "B01", "10:00")):
            booked[holder] = await hall.post("/api/v1/appointments", booking(f"book-{holder}"),
                                             slot(holder, service, when), 201)
            assert booked[holder]["state"] == "booked"
        assert await hall.post("/api/v1/appointments", booking("book-p1"), slot("p1", "A01", "09:00"),
                               201) == booked["p1"]
        cancelled = await hall.post(f"/api/v1/appointments/{booked['p5']['id']}/cancel", booking("x-p5"),
                                    {"reason": "改约"})
        assert cancelled["state"] == "cancelled"
        for n in (1, 2, 3):
            await sign_in(session, server, n)

        clock.set(MONDAY, "08:10")
        t1 = await hall.issue("A01", "t1")
        clock.set(MONDAY, "08:12")
        t2 = await hall.issue("B01", "t2")
        clock.set(MONDAY, "08:15")
        await hall.act(t1["id"], "call", 1, {"window": 1})
        await hall.act(t2["id"], "call", 2, {"window": 2})
        clock.set(MONDAY, "08:15:30")
        await hall.act(t2["id"], "start", 2)
        clock.set(MONDAY, "08:16")
        await hall.act(t1["id"], "start", 1)

        # 08:20 too early for the 09:00 slot: refused, with the time to come back.
        clock.set(MONDAY, "08:20")
        early = await hall.post(f"/api/v1/appointments/{booked['p1']['id']}/check-in", kiosk(2), None, 409)
        assert error_code(early) == "checkin_too_early"
        assert early["error"]["details"]["come_back_at"] == f"{MONDAY}T08:30"

        clock.set(MONDAY, "08:21")
        await hall.act(t1["id"], "finish", 1)
        clock.set(MONDAY, "08:22")
        assert (await hall.rate(t1["id"], 1, 5))["followup"] is None
        clock.set(MONDAY, "08:25:30")
        await hall.act(t2["id"], "finish", 2)
        await hall.rate(t2["id"], 2, 4)

        # 08:40 early but inside the check-in window: the appointment ticket.
        clock.set(MONDAY, "08:40")
        t3 = await hall.post(f"/api/v1/appointments/{booked['p1']['id']}/check-in", kiosk(2, "ci-p1"), None, 201)
        assert t3["priority"] == "appointment" and t3["existing"] is False
        clock.set(MONDAY, "08:45")
        t4 = await hall.issue("C01", "t4")
        clock.set(MONDAY, "08:50")
        await hall.act(t4["id"], "call", 3, {"window": 3})
        clock.set(MONDAY, "08:58")
        await hall.act(t4["id"], "finish", 3)  # never started: handled from the call
        clock.set(MONDAY, "08:59")
        appealed = (await hall.rate(t4["id"], 3, 2, comment="等太久"))["followup"]
        assert appealed["state"] == "open" and appealed["level"] == 2

        # 09:00 the slot starts: call-next gives window 1 the appointment (nobody else waits).
        clock.set(MONDAY, "09:00")
        assert (await hall.post("/api/v1/windows/1/call-next", window(1, "cn-0900")))["id"] == t3["id"]
        clock.set(MONDAY, "09:01")
        await hall.act(t3["id"], "start", 1)
        clock.set(MONDAY, "09:05")  # on time, by code; checked in twice: the same ticket
        t5 = await hall.post("/api/v1/appointments/check-in", kiosk(3, "ci-p2"), {"code": booked["p2"]["code"]}, 201)
        assert t5["priority"] == "appointment"
        again = await hall.post(f"/api/v1/appointments/{booked['p2']['id']}/check-in", kiosk(4), None, 200)
        assert again["id"] == t5["id"] and again["existing"] is True
        clock.set(MONDAY, "09:06")
        assert (await hall.post("/api/v1/windows/2/call-next", window(2, "cn-0906")))["id"] == t5["id"]
        clock.set(MONDAY, "09:08")
        await hall.act(t5["id"], "skip", 2)
        clock.set(MONDAY, "09:10")
        t7 = await hall.issue("A01", "t7")
        clock.set(MONDAY, "09:11")
        await hall.act(t3["id"], "finish", 1)
        clock.set(MONDAY, "09:12")
        rated3 = await hall.rate(t3["id"], 1, 1, comment="态度差")
        followed = rated3["followup"]
        contacted = await hall.step(followed["id"], "contact", window(1, "f-contact"), "已电话联系")
        assert contacted["state"] == "contacted"
        assert (await hall.step(appealed["id"], "appeal", window(3, "f-appeal"), "非本窗口原因"))["state"] == "appealed"

        # kill -9 in the middle of the morning: every figure, ticket, booking, rating and case step survives once.
        before = await hall.stats()
        assert before["hall"] == [MIDDLE_HALL]
        kept = await ledger(hall)
        last_id = (await hall.get("/api/v1/health"))["last_event_id"]
        server.kill()
        server.start()
        assert await hall.stats() == before
        assert await ledger(hall) == kept
        assert (await hall.get("/api/v1/health"))["last_event_id"] == last_id
        # retries of acknowledged requests get their first answers, and nothing new
        assert await hall.issue("A01", "t7") == t7
        assert await hall.rate(t3["id"], 1, 1, comment="态度差") == rated3
        assert await hall.post("/api/v1/appointments/check-in", kiosk(3, "ci-p2"), {"code": booked["p2"]["code"]},
                               201) == t5
        assert (await hall.get("/api/v1/health"))["last_event_id"] == last_id

        # the rest of the morning
        clock.set(MONDAY, "09:15")
        assert (await hall.step(followed["id"], "rectify", window(1, "f-rectify"), "已整改"))["state"] == "rectified"
        assert (await hall.step(appealed["id"], "overturn", manager(), "申诉成立"))["state"] == "overturned"
        # too late for the 09:00 slot: refused with the offer of a normal ticket, which they take
        clock.set(MONDAY, "09:20")
        late = await hall.post("/api/v1/appointments/check-in", kiosk(4), {"holder_key": HOLDERS["p3"],
                                                                           "service": "B01"}, 409)
        assert error_code(late) == "checkin_too_late" and late["error"]["details"]["offer"] == "normal_ticket"
        t6 = await hall.issue("B01", "t6", holder_key=HOLDERS["p3"], holder_masked="王*")
        assert t6["priority"] == "normal"
        clock.set(MONDAY, "09:25")
        t8 = await hall.issue("C01", "t8")
        clock.set(MONDAY, "09:27")
        await hall.post(f"/api/v1/tickets/{t8['id']}/cancel", kiosk(1, "x-t8"))
        clock.set(MONDAY, "09:30")
        await hall.act(t6["id"], "call", 2, {"window": 2})
        clock.set(MONDAY, "09:32")
        await hall.act(t6["id"], "transfer", 2, {"to_service": "D01"})

        # 09:36 T7 has waited 26 minutes: one long-wait alert, raised by the tick, acknowledged by the manager.
        assert await hall.long_waits() == []
        clock.set(MONDAY, "09:36")
        alert = (await hall.until("/api/v1/alerts?state=open",
                                  lambda b: any(a["kind"] == "long_wait" for a in b["alerts"])))
        (alert,) = [a for a in alert["alerts"] if a["kind"] == "long_wait"]
        assert alert["subject"] == f"ticket:{t7['id']}" and alert["figures"]["number"] == t7["number"]
        acked = await hall.post(f"/api/v1/alerts/{alert['id']}/ack", {**manager(), "Idempotency-Key": "ack-lw"})
        assert acked["state"] == "acknowledged"

        clock.set(MONDAY, "09:40")
        await hall.act(t6["id"], "call", 3, {"window": 3})
        clock.set(MONDAY, "09:41")
        await hall.act(t6["id"], "start", 3)
        clock.set(MONDAY, "09:46")  # past the C01 slot's end + grace: the tick makes the booking a no-show
        await hall.act(t6["id"], "finish", 3)
        await hall.rate(t6["id"], 3, 3)
        shows = await hall.until(f"/api/v1/appointments?day={MONDAY}&state=no_show", lambda b: b["appointments"])
        assert [a["id"] for a in shows["appointments"]] == [booked["p3"]["id"], booked["p4"]["id"]]

        clock.set(MONDAY, "09:50")  # calling T7 clears the condition; the alert resolves once the hold time has passed
        assert (await hall.post("/api/v1/windows/1/call-next", window(1, "cn-0950")))["id"] == t7["id"]
        await asyncio.sleep(1.5)  # a tick sees the condition clear at 09:50 (the hold runs from what a tick saw)
        clock.set(MONDAY, "09:51")
        await hall.act(t7["id"], "start", 1)
        assert [a["state"] for a in await hall.long_waits()] == ["acknowledged"]
        clock.set(MONDAY, "09:56")
        await hall.until("/api/v1/alerts?state=resolved", lambda b: any(a["id"] == alert["id"] for a in b["alerts"]))
        clock.set(MONDAY, "09:59")
        await hall.act(t7["id"], "finish", 1)
        closed = await hall.step(followed["id"], "close", window(1, "f-close"), "市民认可")
        assert closed["state"] == "closed"
        assert [s["step"] for s in closed["steps"]] == ["contact", "rectify", "close"]

        # the figures at the end of the morning, every scope, as worked out by hand
        after = await hall.stats()
        assert after == final_rows()
        moved = Counter({k: after["hall"][0][k] - before["hall"][0][k] for k in COUNTS})
        assert +moved == AFTER_THE_KILL
        assert {lv: after["hall"][0]["ratings"][lv] - before["hall"][0]["ratings"][lv] for lv in "12345"} == {
            "1": 0, "2": 0, "3": 1, "4": 0, "5": 0}

        # the log over the WebSocket: each thing once
        log = await read_log(session, server)
        kinds = Counter(e["type"] for e in log)
        assert kinds["ticket.issued"] == 8 and kinds["appointment.booked"] == 5
        assert kinds["appointment.checked_in"] == 2 and kinds["appointment.cancelled"] == 1
        assert kinds["appointment.no_show"] == 2 and kinds["rating.given"] == 5
        assert [e["data"]["ticket"] for e in log if e["type"] == "rating.given"] == [
            t["id"] for t in (t1, t2, t4, t3, t6)]
        steps = [(e["data"]["case"], e["data"]["step"]) for e in log if e["type"] == "case.step"]
        assert steps == [(followed["id"], "contact"), (appealed["id"], "appeal"), (followed["id"], "rectify"),
                         (appealed["id"], "overturn"), (followed["id"], "close")]
        opened = [e["data"]["case"] for e in log if e["type"] == "case.opened"]
        assert opened == [appealed["id"], followed["id"]]
        alert_steps = [e["type"] for e in log if e["type"].startswith("alert.") and e["data"]["alert"] == alert["id"]]
        assert alert_steps == ["alert.raised", "alert.acknowledged", "alert.resolved"]

        # and a second kill -9 at the end changes nothing
        end = await ledger(hall)
        server.kill()
        server.start()
        assert await hall.stats() == after
        assert await ledger(hall) == end
        assert [a["state"] for a in await hall.long_waits()] == ["resolved"]
