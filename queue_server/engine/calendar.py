"""Business days and opening hours in the hall's own time zone.

Instants are stored in UTC; the business day and "is the service open now" are always computed in the
hall's zone, so a ticket issued at 17:05 Beijing time belongs to that day whatever the server's zone is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from config.model import Hall, Service, TimeRange

# A gap between two sessions is the lunch break only around midday; the gap before evening 延时 hours is not.
LUNCH_EARLIEST = dt.time(11, 0)
LUNCH_LATEST = dt.time(15, 0)


@dataclass(frozen=True)
class OpenCheck:
    """Whether a service takes tickets now, and if not, the reason and when it opens again."""

    open: bool
    reason_zh: str = ""
    reason_en: str = ""
    code: str = ""
    opens_at: str = ""  # "HH:MM" of the next session today, if any


class HallCalendar:
    """Answers day and hours questions for one hall."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.zone = ZoneInfo(hall.timezone)
        self._holidays = set(hall.hours.holidays)
        self._workdays = set(hall.hours.workdays)

    def local(self, at: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(at, self.zone)

    def day_of(self, at: float) -> str:
        """The business day (ISO date in the hall's zone) an instant belongs to."""
        return self.local(at).date().isoformat()

    def sessions(self, service: Service, day: dt.date) -> tuple[TimeRange, ...]:
        """The spans in which ``service`` issues tickets on ``day`` (lunch is the gap between spans)."""
        hours = self.hall.hours
        if day in self._holidays:
            return ()
        if day.weekday() >= 5 and day not in self._workdays:  # Saturday/Sunday unless a make-up workday
            if day.weekday() in hours.weekend_days and service.weekend:
                return hours.weekend
            return ()
        spans = service.hours or hours.weekdays
        if service.extended:
            spans = spans + hours.extended
        return tuple(sorted(spans, key=lambda s: s.start))

    def closes_at(self, service: Service, at: float) -> float | None:
        """The instant today's last session of ``service`` ends (None when it has none today)."""
        moment = self.local(at)
        spans = self.sessions(service, moment.date())
        if not spans:
            return None
        last = max(spans, key=lambda span: span.end)
        end = dt.datetime.combine(moment.date(), last.end, self.zone)
        return end.timestamp()

    def check_open(self, service: Service, at: float) -> OpenCheck:
        moment = self.local(at)
        day, now = moment.date(), moment.time()
        spans = self.sessions(service, day)
        if not spans:
            if day in self._holidays:
                return OpenCheck(False, "今日为节假日，大厅不办理业务", "the hall is closed for a public holiday",
                                 "closed")
            return OpenCheck(False, f"「{service.name}」今日不办理",
                             f"{service.name_en or service.code} is not served today", "closed")
        if any(span.contains(now) for span in spans):
            return OpenCheck(True)
        later = [span for span in spans if span.start > now]
        if later and now >= spans[0].start:
            opens = f"{later[0].start:%H:%M}"
            ended = max(span.end for span in spans if span.end <= now)
            if ended >= LUNCH_EARLIEST and later[0].start <= LUNCH_LATEST:
                return OpenCheck(False, f"午间休息，{opens} 恢复取号", f"lunch break; tickets again from {opens}",
                                 "lunch_break", opens)
            return OpenCheck(False, f"本时段取号已结束，{opens} 恢复取号",
                             f"this session is over; tickets again from {opens}", "between_sessions", opens)
        if later:
            opens = f"{later[0].start:%H:%M}"
            return OpenCheck(False, f"尚未开始取号，{opens} 开始", f"not open yet; tickets from {opens}",
                             "not_open_yet", opens)
        return OpenCheck(False, "今日取号已结束", "ticket issuing has ended for today", "closed_for_today")
