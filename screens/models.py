"""What the wall and window screens show, decided from the event stream and the stats messages (no pygame, no I/O).

``HallState`` is the screens' replay of the log: ``apply_event`` takes the stream's public (or staff) JSON
in id order and ignores what it already applied, so a reconnect with ``?after=last_event_id`` never
duplicates; an id that skips ahead is a gap, and the state says so (``gap``) so the feed reconnects from the
last id it applied instead of showing figures with holes. The server's ``stats`` messages (their ``live``
body is GET /api/v1/stats/live) and GET /api/v1/stats rows are taken as they come. ``wall_view`` and
``window_view`` turn the state into frozen dataclasses; a screen repaints only the parts that differ.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Any

CALLS_KEPT = 4  # calls kept per window column (the newest first)
HIGHLIGHT_S = 30.0  # a call this recent is drawn highlighted
STALE_AFTER_S = 5.0  # no word from the server for this long while disconnected: say the data is not current

ALERT_WORDS: dict[str, tuple[str, str]] = {
    "long_wait": ("等候时间过长", "long wait"), "long_queue": ("排队人数较多", "long queue"),
    "window_paused": ("窗口暂停服务", "window paused"), "window_idle": ("窗口空闲", "window idle"),
    "device_fault": ("设备故障", "device fault"), "node_silent": ("设备离线", "device offline"),
    "bad_rating": ("收到差评", "bad rating"), "followup_overdue": ("差评整改逾期", "follow-up overdue"),
    "case_overdue": ("办件逾期", "case overdue"), "quota_nearly_used": ("号源即将用完", "tickets nearly gone"),
}
WINDOW_STATE_WORDS = {"open": ("服务中", "open"), "paused": ("暂停服务", "paused"), "closed": ("暂停办理", "closed")}


@dataclass
class WindowLive:
    """One window as the stream tells it: who is being served, the last calls, open/paused/closed."""

    number: int
    name: str
    state: str = "closed"
    reason: str = ""
    serving: str | None = None
    calls: deque[tuple[str, float]] = field(default_factory=lambda: deque(maxlen=CALLS_KEPT))


@dataclass
class HallState:
    """The screens' running copy of the hall, fed in log order; every method is pure bookkeeping."""

    hall_name: str = ""
    day: str = ""
    last_event_id: int = 0
    gap: bool = False  # an event arrived after a hole: reconnect from last_event_id
    gap_seen: int = 0  # the id that jumped; if the replay from last_event_id starts there too, the log has a hole
    tickets: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (number, service) of today
    windows: dict[int, WindowLive] = field(default_factory=dict)
    alerts: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id → (kind, subject, level)
    live: dict[str, Any] = field(default_factory=dict)  # the last stats message's ``live``
    figures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scope → GET /api/v1/stats rows
    upcoming: dict[int, tuple[str, ...]] = field(default_factory=dict)  # window → next numbers (HTTP)
    unknown: set[str] = field(default_factory=set)  # ticket ids called whose number this screen never saw
    connected: bool = False
    lost_at: float | None = None  # when the feed was lost (None: never lost, or back)

    # ------------------------------------------------------------------ input
    def apply_event(self, event: dict[str, Any]) -> bool:
        """Apply one stream event; False when it was already applied or came after a gap (then ``gap``)."""
        event_id = int(event["id"])
        if event_id <= self.last_event_id:
            return False
        if self.last_event_id and event_id != self.last_event_id + 1 and event_id != self.gap_seen:
            self.gap, self.gap_seen = True, event_id  # the same jump again after a reconnect is no hole
            return False
        self.last_event_id = event_id
        self._apply(event["type"], event.get("data") or {}, float(event.get("at", 0.0)))
        return True

    def resumed(self) -> None:
        """The feed is connected again (after a gap or a loss): events continue from ``last_event_id``."""
        self.gap = False
        self.connected = True
        self.lost_at = None

    def lost(self, now: float) -> None:
        """The feed dropped; the figures shown are from ``lost_at`` on, and the screens say so."""
        if self.connected or self.lost_at is None:
            self.lost_at = now
        self.connected = False

    def seed(self, live: dict[str, Any]) -> None:
        """Start from GET /api/v1/stats/live (a screen that starts mid-day): figures, windows and the event id
        they stand at, from which the stream then continues."""
        self.last_event_id = 0
        self.apply_stats(live)
        self.last_event_id = int(live.get("last_event_id", 0))
        for w in self.windows.values():
            if w.serving and not w.calls:
                w.calls.append((w.serving, 0.0))  # being served since before this screen started

    def apply_stats(self, message: dict[str, Any]) -> None:
        """A ``stats`` message (or GET /api/v1/stats/live): waiting, estimates, windows now."""
        live = message.get("live", message)
        self.live = live
        if live.get("day") and live["day"] != self.day and self.day:
            self._roll(live["day"])
        self.day = live.get("day") or self.day
        if int(live.get("last_event_id", -1)) == self.last_event_id or not self.last_event_id:
            for row in live.get("windows", ()):
                w = self._window(int(row["window"]), row.get("name", ""))
                w.state, w.serving = row.get("state", w.state), row.get("number")

    def apply_figures(self, scope: str, rows: list[dict[str, Any]]) -> None:
        """GET /api/v1/stats?scope=…'s rows: satisfaction and wait/handling means the live view lacks."""
        self.figures[scope] = rows

    def set_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """GET /api/v1/alerts?state=open: the alerts open when the feed (re)connected."""
        self.alerts = {a["id"]: (a["kind"], a.get("subject", ""), a.get("level", "")) for a in alerts}

    def learn_ticket(self, ticket: str, number: str, service: str) -> None:
        """A ticket issued before this screen started, read over HTTP when a call named it."""
        self.tickets[ticket] = (number, service)
        self.unknown.discard(ticket)
        for w in self.windows.values():
            w.calls = deque((((number if n == ticket else n), at) for n, at in w.calls), maxlen=CALLS_KEPT)
            if w.serving == ticket:
                w.serving = number

    # ------------------------------------------------------------------ events
    def _window(self, number: int, name: str = "") -> WindowLive:
        if number not in self.windows:
            self.windows[number] = WindowLive(number, name or f"{number}号窗口")
        elif name:
            self.windows[number].name = name
        return self.windows[number]

    def _number(self, ticket: str) -> str:
        """The ticket's number, or its id until the feed has read the number (``unknown``)."""
        if ticket in self.tickets:
            return self.tickets[ticket][0]
        self.unknown.add(ticket)
        return ticket

    def _roll(self, day: str) -> None:
        self.day = day
        self.tickets.clear()
        self.unknown.clear()
        self.upcoming.clear()
        for w in self.windows.values():
            w.calls.clear()
            w.serving = None

    def _apply(self, kind: str, d: dict[str, Any], at: float) -> None:
        if kind == "day.rolled":
            self._roll(str(d.get("to") or ""))
        elif kind == "ticket.issued":
            self.tickets[d["ticket"]] = (d["number"], d["service"])
        elif kind in ("ticket.called", "ticket.recalled"):
            w = self._window(int(d["window"]))
            number = self._number(d["ticket"])
            w.calls = deque(((n, t) for n, t in w.calls if n != number), maxlen=CALLS_KEPT)
            w.calls.appendleft((number, at))
            w.serving = number
        elif kind in ("ticket.finished", "ticket.skipped", "ticket.returned"):
            self._release(d.get("window"), d["ticket"])
        elif kind == "ticket.transferred":
            self._release(d.get("from_window"), d["ticket"])
        elif kind.startswith("window."):
            w = self._window(int(d["window"]))
            verb = kind.removeprefix("window.")
            w.state = {"signed_in": "open", "resumed": "open", "paused": "paused", "signed_out": "closed"}.get(
                verb, w.state)
            w.reason = str(d.get("reason", "")) if verb == "paused" else ""
            if verb == "signed_out":
                w.serving = None
        elif kind == "alert.raised":
            self.alerts[d["alert"]] = (d.get("kind", ""), d.get("subject", ""), d.get("level", ""))
        elif kind in ("alert.resolved", "alert.closed"):
            self.alerts.pop(d.get("alert", ""), None)

    def _release(self, window: Any, ticket: str) -> None:
        if window is None or int(window) not in self.windows:
            return
        w = self.windows[int(window)]
        if w.serving == self._number(ticket):
            w.serving = None


# ---------------------------------------------------------------------- what is drawn
@dataclass(frozen=True)
class Call:
    number: str
    highlighted: bool


@dataclass(frozen=True)
class WindowColumn:
    number: int
    name: str
    state_zh: str
    state_en: str
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class ServiceRow:
    name: str
    name_en: str
    waiting: int
    wait_zh: str


@dataclass(frozen=True)
class DepartmentRow:
    name: str
    handled: int
    completion: str
    satisfaction: str


@dataclass(frozen=True)
class Header:
    title: str
    date_zh: str
    clock: str
    opening_zh: str
    opening_en: str
    stale_zh: str  # "" when the figures are live
    stale_en: str


@dataclass(frozen=True)
class HallFigures:
    waiting_now: int
    issued: int
    finished: int
    avg_wait: str
    avg_handling: str


@dataclass(frozen=True)
class WallView:
    """One frame of the wall: each part compared on its own to decide what to repaint."""

    header: Header
    columns: tuple[WindowColumn, ...]
    services: tuple[ServiceRow, ...]
    departments: tuple[DepartmentRow, ...]
    hall: HallFigures
    alerts: tuple[str, ...]


@dataclass(frozen=True)
class WindowView:
    """One frame of a counter screen."""

    header: Header
    number: int
    name: str
    state_zh: str
    state_en: str
    reason: str
    serving: str
    upcoming: tuple[str, ...]


WEEKDAYS_ZH = "一二三四五六日"


def minutes_zh(seconds: float | None) -> str:
    """A duration as a hall says it: 约 12 分钟, under a minute 不足1分钟, unknown —."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return "不足1分钟"
    return f"约{round(seconds / 60)}分钟"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def header(state: HallState, now: dt.datetime, opening: tuple[str, str]) -> Header:
    """Title, date, clock, opening state and, when the feed is lost, since when the figures are old."""
    stale_zh = stale_en = ""
    if not state.connected and state.lost_at is not None and now.timestamp() - state.lost_at >= STALE_AFTER_S:
        since = dt.datetime.fromtimestamp(state.lost_at, now.tzinfo).strftime("%H:%M")
        stale_zh, stale_en = f"数据未更新（{since} 起）", f"data not current since {since}"
    date_zh = f"{now.year}年{now.month}月{now.day}日 星期{WEEKDAYS_ZH[now.weekday()]}"
    return Header(state.hall_name, date_zh, now.strftime("%H:%M:%S"),
                  opening[0], opening[1], stale_zh, stale_en)


def _column(w: WindowLive, at: float) -> WindowColumn:
    zh, en = WINDOW_STATE_WORDS.get(w.state, (w.state, w.state))
    calls = tuple(Call(number, i == 0 and w.serving == number and at - t <= HIGHLIGHT_S)
                  for i, (number, t) in enumerate(w.calls))
    return WindowColumn(w.number, w.name, zh, en, calls)


def _alert_text(state: HallState, kind: str, subject: str) -> str:
    words = ALERT_WORDS.get(kind, (kind, kind))[0]
    scope, _, code = subject.partition(":")
    services = {s.get("service"): s.get("name", "") for s in state.live.get("services", ())}
    if scope == "window" and code.isdigit():
        return f"{code}号窗口 {words}"
    if scope == "service" and code in services:
        return f"{services[code]} {words}"
    if scope == "ticket" and code in state.tickets:
        return f"{state.tickets[code][0]}号 {words}"
    return words


def wall_view(state: HallState, now: dt.datetime, opening: tuple[str, str], max_columns: int = 12) -> WallView:
    """The wall's frame: windows that called most recently first (so five at once all show), then the rest."""
    at = now.timestamp()
    rank = {"open": 0, "paused": 1, "closed": 2}
    windows = sorted(state.windows.values(),
                     key=lambda w: (-(w.calls[0][1] if w.calls else -1.0), rank.get(w.state, 3), w.number))
    shown = sorted(windows[:max_columns], key=lambda w: w.number)
    live = state.live
    services = tuple(ServiceRow(s.get("name", ""), s.get("name_en", ""), int(s.get("waiting", 0)),
                                minutes_zh(s.get("estimated_wait_s")) if s.get("waiting") else "无需等候")
                     for s in live.get("services", ()))
    satisfaction = {r.get("department"): r.get("satisfaction") for r in state.figures.get("department", ())}
    departments = tuple(DepartmentRow(d.get("name", ""), int(d.get("finished", 0)), percent(d.get("completion_rate")),
                                      percent(satisfaction.get(d.get("department"))))
                        for d in live.get("departments", ()))
    hall_row = live.get("hall", {})
    figures = (state.figures.get("hall") or [{}])[0]
    hall = HallFigures(int(hall_row.get("waiting_now", 0)), int(hall_row.get("issued", 0)),
                       int(hall_row.get("finished", 0)), minutes_zh((figures.get("wait_s") or {}).get("mean")),
                       minutes_zh((figures.get("handling_s") or {}).get("mean")))
    alerts = tuple(_alert_text(state, kind, subject) for kind, subject, _ in state.alerts.values())
    return WallView(header(state, now, opening), tuple(_column(w, at) for w in shown), services, departments,
                    hall, alerts)


def window_view(state: HallState, number: int, now: dt.datetime, opening: tuple[str, str]) -> WindowView:
    """A counter screen's frame: its window, the number served, its state and the next few waiting."""
    w = state.windows.get(number) or WindowLive(number, f"{number}号窗口")
    zh, en = WINDOW_STATE_WORDS.get(w.state, (w.state, w.state))
    return WindowView(header(state, now, opening), number, w.name, zh, en, w.reason, w.serving or "",
                      state.upcoming.get(number, ()))
