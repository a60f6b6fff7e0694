"""Event-stream messages shaped as the server's public view sends them, for screen tests and benchmarks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from screens.models import HallState

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=TZ).timestamp()
SERVICES = (("A01", "社保查询", "Social insurance enquiry", "shebao"),
            ("B01", "不动产登记", "Real estate registration", "budongchan"),
            ("C01", "社保卡补换", "Social security card", "shebao"),
            ("D01", "户籍证明", "Household proof", "shebao"))
DEPARTMENTS = (("shebao", "社保"), ("budongchan", "不动产"))


class Stream:
    """Builds consecutive events (ids from 1) the way /api/v1/events sends them."""

    def __init__(self, start_id: int = 1, at: float = T0) -> None:
        self.next_id = start_id
        self.at = at
        self.seq: dict[str, int] = {}

    def event(self, kind: str, data: dict[str, Any], dt_s: float = 1.0) -> dict[str, Any]:
        self.at += dt_s
        out = {"id": self.next_id, "type": kind, "v": 1, "at": self.at, "data": data}
        self.next_id += 1
        return out

    def issued(self, service: str = "A01", prefix: str | None = None) -> dict[str, Any]:
        n = self.seq[service] = self.seq.get(service, 0) + 1
        number = f"{prefix or service[0]}{n:03d}"
        return self.event("ticket.issued", {"ticket": f"t-{number}", "number": number, "seq": n,
                                            "service": service, "day": "2026-12-01", "priority": "normal"})

    def called(self, ticket: str, window: int) -> dict[str, Any]:
        return self.event("ticket.called", {"ticket": ticket, "window": window, "mode": "next"})

    def finished(self, ticket: str, window: int) -> dict[str, Any]:
        return self.event("ticket.finished", {"ticket": ticket, "window": window})

    def window(self, verb: str, window: int) -> dict[str, Any]:
        return self.event(f"window.{verb}", {"window": window})

    def rolled(self, to: str) -> dict[str, Any]:
        return self.event("day.rolled", {"from": "2026-12-01", "to": to})


def live(services: int = 4, windows: int = 12, last_event_id: int = 0) -> dict[str, Any]:
    """A stats message's ``live`` body with ``services`` rows (the first four real, then made-up ones)."""
    rows = []
    for i in range(services):
        code, name, name_en, dept = SERVICES[i] if i < len(SERVICES) else (f"S{i:03d}", f"综合事项{i}", f"Matter {i}",
                                                                            "shebao")
        waiting = (i * 7) % 23
        rows.append({"service": code, "name": name, "name_en": name_en, "department": dept, "issued": 10 + i,
                     "called": 5, "finished": 4, "completion_rate": 0.8, "waiting": waiting,
                     "estimated_wait_s": waiting * 240})
    return {"day": "2026-12-01", "last_event_id": last_event_id,
            "hall": {"issued": 180, "called": 150, "finished": 142, "completion_rate": 0.9861, "waiting_now": 38,
                     "longest_wait_s": 1500, "windows_open": 9, "windows_paused": 1, "satisfaction": 0.987},
            "departments": [{"department": code, "name": name, "issued": 90, "called": 80, "finished": 76 + i,
                             "completion_rate": 0.974 - i / 100, "waiting_now": 19} for i, (code, name)
                            in enumerate(DEPARTMENTS)],
            "services": rows,
            "windows": [{"window": n, "name": f"{n}号窗口", "state": "closed", "number": None, "ticket_state": None}
                        for n in range(1, windows + 1)]}


def busy_state(services: int = 4, windows: int = 12, calling: int = 8) -> tuple[HallState, float]:
    """A hall mid-morning: ``calling`` windows each called a few tickets, one paused, stats and alerts in."""
    state = HallState(hall_name="全天测试大厅")
    state.seed(live(services, windows))
    stream = Stream(at=T0)
    state.apply_event(stream.rolled("2026-12-01"))
    for n in range(1, windows + 1):
        state.apply_event(stream.window("signed_in", n))
    tickets = [stream.issued(SERVICES[i % 4][0]) for i in range(calling * 3)]
    for e in tickets:
        state.apply_event(e)
    for round_ in range(3):
        for w in range(1, calling + 1):
            state.apply_event(stream.called(tickets[round_ * calling + w - 1]["data"]["ticket"], w))
    state.apply_event(stream.window("paused", windows))
    body = live(services, windows, stream.next_id - 1)
    body["windows"] = [{"window": w.number, "name": w.name, "state": w.state, "number": w.serving,
                        "ticket_state": "called" if w.serving else None} for w in state.windows.values()]
    state.apply_stats({"type": "stats", "at": stream.at, "live": body})
    state.apply_figures("department", [{"department": "shebao", "satisfaction": 0.992},
                                       {"department": "budongchan", "satisfaction": 0.975}])
    state.apply_figures("hall", [{"wait_s": {"mean": 612.0}, "handling_s": {"mean": 431.0}}])
    state.set_alerts([{"id": "al1", "kind": "long_queue", "subject": "service:B01", "level": "warning"},
                      {"id": "al2", "kind": "device_fault", "subject": "node:kiosk-3", "level": "warning"}])
    state.resumed()
    return state, stream.at
