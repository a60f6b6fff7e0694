"""The hall as typed, frozen dataclasses: what the TOML file means once it has been validated.

Everything downstream (the queue engine, the server, nodes) reads only these records, never raw TOML,
so a value that made it here is already known to be in range and consistent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class WindowKind(StrEnum):
    """What a window is for (综合窗口, 专窗, 绿色通道, 帮办代办, 办不成事反映)."""

    GENERAL = "general"
    DEDICATED = "dedicated"
    GREEN = "green"
    ASSISTED = "assisted"
    COMPLAINTS = "complaints"


class NodeRole(StrEnum):
    """What a node may do through the API: a kiosk issues, a window calls, a display reads."""

    KIOSK = "kiosk"
    WINDOW = "window"
    DISPLAY = "display"
    MANAGER = "manager"
    BOOKING = "booking"  # the hall's online / 12345 booking channel: books and cancels appointments


@dataclass(frozen=True)
class TimeRange:
    """A half-open local time span [start, end) within one day."""

    start: dt.time
    end: dt.time

    def contains(self, moment: dt.time) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        end = "24:00" if self.end == dt.time.max else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}-{end}"


@dataclass(frozen=True)
class HallHours:
    """When the hall serves: weekday sessions (the gap between them is lunch), 延时 and 错时 service.

    ``weekend`` sessions apply on ``weekend_days`` (0 = Monday); ``holidays`` close the hall and
    ``workdays`` are make-up working days (调休) that follow the weekday sessions.
    """

    weekdays: tuple[TimeRange, ...]
    extended: tuple[TimeRange, ...] = ()
    weekend: tuple[TimeRange, ...] = ()
    weekend_days: tuple[int, ...] = (5,)
    holidays: tuple[dt.date, ...] = ()
    workdays: tuple[dt.date, ...] = ()


@dataclass(frozen=True)
class Department:
    code: str
    name: str


@dataclass(frozen=True)
class SlotQuota:
    """At most ``quota`` tickets issued for the service between ``span.start`` and ``span.end``."""

    span: TimeRange
    quota: int


@dataclass(frozen=True)
class BookingRules:
    """How a service takes appointments (预约): slots of its opening hours, how many bookings each holds."""

    slot_minutes: int = 30
    capacity: int = 4  # bookings per slot; the rest of the slot's tickets stay for walk-ins
    days_ahead: int = 7  # booking opens this many days before the slot's day
    checkin_early_minutes: float = 30.0  # a check-in is accepted from this long before the slot starts
    checkin_late_minutes: float = 15.0  # and until this long after; later, a normal ticket is offered
    no_show_grace_minutes: float = 15.0  # not checked in by slot end + this: no_show


@dataclass(frozen=True)
class Service:
    """What a citizen queues for; its prefix letter numbers its tickets (A001…)."""

    code: str
    name: str
    department: str
    prefix: str
    daily_quota: int = 0  # 0 = no daily limit
    slot_quotas: tuple[SlotQuota, ...] = ()
    hours: tuple[TimeRange, ...] = ()  # empty = the hall's weekday sessions
    extended: bool = False  # also served in the hall's extended (延时) sessions
    weekend: bool = False  # also served in weekend (错时) sessions
    expected_minutes: float = 10.0
    appointments: bool = False
    real_name: bool = False
    name_en: str = ""
    booking: BookingRules = BookingRules()  # used when ``appointments`` is true
    materials: tuple[str, ...] = ()  # 办事指南: what to bring


@dataclass(frozen=True)
class WindowService:
    """One service a window serves: ``weight`` shares calls between services, ``order`` breaks ties."""

    service: str
    weight: int = 1
    order: int = 0


@dataclass(frozen=True)
class Window:
    number: int
    name: str
    kind: WindowKind
    services: tuple[WindowService, ...]
    department: str = ""

    def serves(self, service: str) -> bool:
        return any(ws.service == service for ws in self.services)


@dataclass(frozen=True)
class Staff:
    """A member of window staff; the PIN is held only as a scrypt hash (``pin_hash``)."""

    id: str
    name: str
    pin_hash: str
    windows: tuple[int, ...] = ()  # empty = may sign in at any window


@dataclass(frozen=True)
class Node:
    """A machine that talks to the server: its role, its credential and its devices by URL."""

    name: str
    role: NodeRole
    token_hash: str  # sha256 hex of the bearer token; a demo token in clear is hashed at load
    window: int | None = None  # for role = window
    devices: dict[str, str] = field(default_factory=dict)  # device name → URL (already parsed once)
    demo_token: str | None = None  # only in sample halls, marked demo-only


ALERT_KINDS = ("long_wait", "long_queue", "window_paused", "window_idle", "device_fault", "node_silent",
               "bad_rating", "followup_overdue", "case_overdue", "quota_nearly_used")


@dataclass(frozen=True)
class AlertThresholds:
    """预警 rules: each kind in ``kinds`` is raised once when its condition starts and resolved when it clears."""

    long_wait_minutes: float = 30.0  # a ticket waiting longer than this
    long_queue: int = 30  # a service's line longer than this
    idle_window_minutes: float = 15.0  # signed in, calling nobody, while its services have people waiting
    pause_minutes: float = 20.0  # paused longer than this while its services have people waiting
    device_fault_seconds: float = 60.0  # a node's device down longer than this
    node_silent_seconds: float = 90.0  # no heartbeat from a node for this long
    quota_nearly_used_percent: float = 90.0  # a service's daily quota this full
    hold_minutes: float = 5.0  # a condition that clears and returns within this is the same alert
    kinds: tuple[str, ...] = ALERT_KINDS


GREEN_REASONS = ("age_60_plus", "disability", "pregnancy", "illness", "military", "staff_assisted")


@dataclass(frozen=True)
class GreenChannel:
    """绿色通道: which reasons a kiosk may assert itself (from the card) and which need a window or a manager."""

    kiosk_reasons: tuple[str, ...] = ("age_60_plus",)
    staff_reasons: tuple[str, ...] = ("disability", "pregnancy", "illness", "military", "staff_assisted")
    elderly_age: int = 60
    elderly_automatic: bool = False  # True: a 60+ card gets the green channel without being asked


@dataclass(frozen=True)
class RatingRules:
    """好差评: how long after finishing a matter may be rated, and the deadlines of the cases that follow."""

    window_hours: float = 24.0  # later: rating_expired
    followup_working_days: int = 5  # 差评 follow-up (整改) deadline
    complaint_working_days: int = 5  # 办不成事 complaint
    assisted_working_days: int = 10  # 帮办代办 matter


@dataclass(frozen=True)
class QueuePolicy:
    """Limits of the calling rules; see queue_server/engine for how each is applied."""

    recall_limit: int = 3
    requeue_limit: int = 1  # how many times a skipped ticket may be re-queued
    requeue_window_minutes: float = 30.0  # a late holder may re-queue within this time after the skip
    max_bypass: int = 10  # a waiting ticket is passed over at most this many times by a window that serves it
    green_first: bool = True


@dataclass(frozen=True)
class Hall:
    name: str
    timezone: str
    hours: HallHours
    departments: tuple[Department, ...]
    services: tuple[Service, ...]
    windows: tuple[Window, ...]
    nodes: tuple[Node, ...] = ()
    staff: tuple[Staff, ...] = ()
    alerts: AlertThresholds = AlertThresholds()
    policy: QueuePolicy = QueuePolicy()
    green: GreenChannel = GreenChannel()
    ratings: RatingRules = RatingRules()
    code: str = "hall"
    source: str = ""  # the file it came from, for error messages
    public_url: str = ""  # where phones reach the server (QR links); "" = links relative to the server
    holder_key: str = ""  # hex HMAC key for holder keys, in clear: demo halls only (see config.secrets.holder_secret)
    holder_key_file: str = ""  # a file holding that key in hex, relative to the hall file

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def window(self, number: int) -> Window | None:
        return next((w for w in self.windows if w.number == number), None)

    def node_by_token_hash(self, token_hash: str) -> Node | None:
        return next((n for n in self.nodes if n.token_hash == token_hash), None)

    def summary(self) -> str:
        """The hall in one line of words, for check-config and the log."""
        return (f"{self.name}: {len(self.departments)} departments, {len(self.services)} services, "
                f"{len(self.windows)} windows, {len(self.staff)} staff, {len(self.nodes)} nodes; "
                f"time zone {self.timezone}")
