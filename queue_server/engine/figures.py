"""Figures (办件量 / 办结率 / 满意率 …) kept as events are applied, so a report never scans the day or the log.

``Figures`` is a domain that only observes: every event updates at most six tallies (the hall, the
department, the service, the window, the staff member it is credited to and the hour of day), O(1) per event. A day's
tallies are frozen into ``closed`` when the day rolls over (``day.rolled``) and kept ``DAYS_KEPT`` days,
so a month report merges 30 summaries instead of replaying a month. Everything is rebuilt by replay.

The hour of day (row key ``("hour", "09")``, the hall's time zone) is the matter's: every figure of a ticket
(issued, called, finished, skipped, cancelled, transferred, its wait, handling and rating) counts in the hour
its ticket was issued, so "wait by hour" is the wait of the citizens who came at that hour and the hour's
办结率 stays a share of its own matters. A transfer keeps the matter in its hour (as in the hall: nothing is
handed on). A no-show, and a rating of a matter not issued today, count in the hour they happened.

What each figure counts (credited to the business day current when the event happened):
- ``issued``: tickets issued (hall, department, service, hour; a window or staff row has 0).
- ``called``: call events (``ticket.called``; recalls are not calls), credited to the window and staff
  that called and to the ticket's service then.
- ``finished`` (办件量): matters finished, credited to the window, staff and service that finished them.
- ``skipped``: 过号 at the window that had called the ticket. ``cancelled``: cancellations (hall,
  department, service). ``no_show``: ``appointment.no_show`` (hall, department, service).
- ``transferred_out``: transfers that took the matter away from the row (hall: every transfer in the hall;
  a service: to another service; a department: to another department; a window and its staff: away from
  the window that had called it). A waiting ticket transferred counts for its service and department.
- ``completion_rate`` (办结率) = finished / (reached − handed on), where *reached* counts matters called at
  least once at the row (each matter once per row until it leaves it) and *handed on* counts those of them
  that were then transferred away. A matter passed on by a transfer is the next row's to complete, so it
  counts neither for nor against the row that passed it on; for the hall nothing is handed on, so the
  hall's rate is matters finished over matters called at least once. Skipped, returned-and-not-called-again
  and cancelled matters count against the rate. Null when nothing reached the row.
- ``ratings``: ``rating.given`` per level "1".."5" (every rating, overturned ones included: the event stays),
  credited to whoever finished the matter (the event names them). ``mean_level``: over those ratings.
  ``satisfaction`` (满意率) = levels 3–5 over ratings not overturned (a ``case.step`` ``overturn`` of a
  followup names the ticket; the overturn amends the day of the rating), null when there are none.
- ``wait_s``: issue → first call (once per matter, credited where it was first called); ``handling_s``:
  start → finish (from the call when the matter was finished without a start), where it was finished.
  Durations are whole seconds, clamped at 0 when the clock stepped back. Percentiles are exact, by nearest
  rank (p-th = the ⌈p/100·n⌉-th smallest), for one day or a range (the days' lists merged). Histograms
  (``histogram``) count the durations in fixed buckets, ``WAIT_EDGES_S`` / ``HANDLING_EDGES_S``: a bucket
  holds the values above the previous edge up to and including its own, the last (``upto_s`` null) the rest;
  read from the same sorted lists by bisection, so they cost per bucket, not per ticket.

Memory: a day keeps each duration once per row it is credited to (6 rows × 2 durations × 4 bytes), about
480 KB per 10,000 tickets; the same is kept per closed day, so 400 days of 5,000 tickets are ~96 MB, and
of 1,000 tickets ~19 MB.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from queue_server.engine import events as ev
from queue_server.engine.domains import Domain
from queue_server.engine.events import Event
from queue_server.engine.ratings import SATISFIED_LEVELS

if TYPE_CHECKING:
    from queue_server.engine.picture import HallPicture

SCOPES = ("hall", "department", "service", "window", "staff")
DAYS_KEPT = 400  # closed days whose summaries stay for range reports
RATING_DAYS_KEPT = 90  # how long a rating can still be overturned into its day's figures
Key = tuple[str, str]  # (scope, code): ("hall", ""), ("service", "A01"), ("window", "3") …
HALL: Key = ("hall", "")
# Histogram bucket edges, whole seconds (inclusive upper edges; one more bucket holds what is above the last).
WAIT_EDGES_S = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200)
HANDLING_EDGES_S = (60, 180, 300, 600, 900, 1200, 1800, 2700, 3600)


class Tally:
    """The counts and durations of one row for one day (or, merged, for a range of days)."""

    __slots__ = (
        "called",
        "cancelled",
        "finished",
        "handed_on",
        "handling",
        "handling_sum",
        "issued",
        "no_show",
        "overturned",
        "ratings",
        "reached",
        "skipped",
        "transferred_out",
        "wait",
        "wait_sum",
    )

    def __init__(self) -> None:
        self.issued = self.called = self.finished = self.skipped = self.no_show = 0
        self.cancelled = self.transferred_out = self.reached = self.handed_on = 0
        self.ratings = [0, 0, 0, 0, 0]  # per level 1..5
        self.overturned = [0, 0, 0, 0, 0]
        self.wait = array("I")  # sorted whole seconds
        self.wait_sum = 0
        self.handling = array("I")
        self.handling_sum = 0

    @classmethod
    def merged(cls, tallies: Iterable[Tally]) -> Tally:
        """One tally for several days: counts added, the sorted lists merged (exact percentiles of the range)."""
        out = cls()
        parts = list(tallies)
        if len(parts) == 1:
            return parts[0]
        for t in parts:
            for name in ("issued", "called", "finished", "skipped", "no_show", "cancelled", "transferred_out",
                         "reached", "handed_on", "wait_sum", "handling_sum"):
                setattr(out, name, getattr(out, name) + getattr(t, name))
            for level in range(5):
                out.ratings[level] += t.ratings[level]
                out.overturned[level] += t.overturned[level]
        # timsort finds the days' sorted runs and merges them: about n log(days), not n log n
        out.wait = array("I", sorted(v for t in parts for v in t.wait))
        out.handling = array("I", sorted(v for t in parts for v in t.handling))
        return out

    def figures(self) -> dict[str, Any]:
        """The row's fields of the stats API (the current ones, from the picture, are added by the caller)."""
        rated = sum(self.ratings)
        counted = rated - sum(self.overturned)
        good = sum(self.ratings[lv - 1] - self.overturned[lv - 1] for lv in SATISFIED_LEVELS)
        base = self.reached - self.handed_on
        return {
            "issued": self.issued, "called": self.called, "finished": self.finished, "skipped": self.skipped,
            "no_show": self.no_show, "cancelled": self.cancelled, "transferred_out": self.transferred_out,
            "completion_rate": round(self.finished / base, 4) if base > 0 else None,
            "ratings": {str(lv): self.ratings[lv - 1] for lv in range(1, 6)},
            "satisfaction": round(good / counted, 4) if counted > 0 else None,
            "mean_level": round(sum(lv * n for lv, n in enumerate(self.ratings, 1)) / rated, 3) if rated else None,
            "wait_s": summary(self.wait, self.wait_sum), "handling_s": summary(self.handling, self.handling_sum),
        }

    def state(self) -> dict[str, Any]:
        """Everything, for replay checks."""
        return {name: list(v) if isinstance(v, (list, array)) else v
                for name in self.__slots__ for v in [getattr(self, name)]}


def percentile(ordered: array[int] | list[int], p: float) -> int | None:
    """The p-th percentile of a sorted list by nearest rank: the ⌈p/100·n⌉-th smallest value."""
    n = len(ordered)
    if n == 0:
        return None
    rank = -(-p * n // 100)  # ceil without floats drifting
    return ordered[max(0, min(n - 1, int(rank) - 1))]


def summary(ordered: array[int], total: int) -> dict[str, float | int | None]:
    n = len(ordered)
    return {"mean": round(total / n, 1) if n else None, "p50": percentile(ordered, 50), "p90": percentile(ordered, 90)}


def histogram(ordered: array[int] | list[int], edges: tuple[int, ...]) -> list[dict[str, int | None]]:
    """Counts of a sorted list per bucket: (previous edge, edge], and a last bucket above the last edge."""
    out: list[dict[str, int | None]] = []
    below = 0
    for edge in edges:
        upto = bisect_right(ordered, edge)
        out.append({"upto_s": edge, "count": upto - below})
        below = upto
    out.append({"upto_s": None, "count": len(ordered) - below})
    return out


def hour_key(hour: int) -> Key:
    """The row of an hour of day, ``("hour", "09")`` (two digits, so the keys sort as the hours)."""
    return ("hour", f"{hour:02d}")


@dataclass(slots=True)
class _Track:
    """What the figures remember of one of today's matters (the picture has changed by the time we observe)."""

    service: str
    issued_at: float
    hour: Key
    called: bool = False
    window: int | None = None
    staff: str = ""
    handling_from: float | None = None
    reached: set[Key] = field(default_factory=set)


@dataclass(slots=True)
class _Rating:
    day: str
    level: int
    keys: tuple[Key, ...]
    overturned: bool = False


class Figures(Domain):
    """Today's tallies per row, the closed days' summaries, and what is needed to keep them (O(1) per event)."""

    name = "figures"

    def __init__(self, picture: HallPicture) -> None:
        super().__init__(picture)
        self._department = {s.code: s.department for s in picture.hall.services}
        self._calendar = picture.calendar
        self.day: str | None = None
        self.today: dict[Key, Tally] = {}
        self.closed: dict[str, dict[Key, Tally]] = {}  # ISO day → its rows, oldest first
        self._tracks: dict[str, _Track] = {}
        self._ratings: dict[str, _Rating] = {}  # ticket id → its rating (for an overturn)
        self._cache: dict[tuple[str, Key, int | None, str], tuple[list[Key], list[Tally]]] = {}  # by credit
        self._observe: dict[str, Callable[[Event], None]] = {
            ev.DAY_ROLLED: self._day_rolled, ev.TICKET_ISSUED: self._issued, ev.TICKET_CALLED: self._called,
            ev.TICKET_STARTED: self._started, ev.TICKET_FINISHED: self._finished, ev.TICKET_SKIPPED: self._skipped,
            ev.TICKET_RETURNED: self._returned, ev.TICKET_TRANSFERRED: self._transferred,
            ev.TICKET_CANCELLED: self._cancelled, ev.APPOINTMENT_NO_SHOW: self._no_show,
            ev.RATING_GIVEN: self._rated, ev.CASE_STEP: self._case_step,
        }

    # ------------------------------------------------------------------------------------------ reading
    def rows(self, day: str) -> dict[Key, Tally]:
        """The tallies of one day (today's live ones, or a closed day's summary; empty when not kept)."""
        if day == self.day:
            return self.today
        return self.closed.get(day, {})

    def tally(self, key: Key) -> Tally:
        return self.today.get(key) or _EMPTY

    def snapshot(self) -> dict[str, Any]:
        """Everything a replay must rebuild, for tests."""
        def rows(table: dict[Key, Tally]) -> dict[str, Any]:
            return {f"{s}:{c}": t.state() for (s, c), t in sorted(table.items())}
        return {"day": self.day, "today": rows(self.today), "closed": {d: rows(t) for d, t in self.closed.items()},
                "tracks": {tid: (t.service, t.hour, t.called, t.window, t.staff, t.handling_from, sorted(t.reached))
                           for tid, t in self._tracks.items()},
                "ratings": {tid: (r.day, r.level, r.keys, r.overturned) for tid, r in self._ratings.items()}}

    # ------------------------------------------------------------------------------------------ observing
    def observes(self, type_: str) -> bool:
        return type_ in self._observe

    def observe(self, event: Event) -> None:
        handler = self._observe.get(event.type)
        if handler is not None:
            handler(event)

    def _rows(self, keys: Iterable[Key]) -> list[Tally]:
        today = self.today
        out = []
        for key in keys:
            t = today.get(key)
            if t is None:
                t = today[key] = Tally()
            out.append(t)
        return out

    def _credit(self, service: str, hour: Key, window: int | None = None,
                staff: str = "") -> tuple[list[Key], list[Tally]]:
        """The keys and today's tallies an event of ``service`` in ``hour`` at ``window`` by ``staff`` counts in."""
        cached = self._cache.get((service, hour, window, staff))
        if cached is None:
            keys: list[Key] = [HALL, ("department", self._department.get(service, "")), ("service", service), hour]
            if window is not None:
                keys.append(("window", str(window)))
            if staff:
                keys.append(("staff", staff))
            cached = self._cache[(service, hour, window, staff)] = (keys, self._rows(keys))
        return cached

    def _hour(self, at: float) -> Key:
        return hour_key(self._calendar.local(at).hour)

    def _day_rolled(self, e: Event) -> None:
        if self.day is not None:
            self.closed[self.day] = self.today
            while len(self.closed) > DAYS_KEPT:
                del self.closed[next(iter(self.closed))]
        self.day = e.data["to"]
        self.today = {}
        self._tracks = {}
        self._cache = {}
        if self._ratings and self.closed:
            horizon = sorted(self.closed)[-min(len(self.closed), RATING_DAYS_KEPT)]
            self._ratings = {tid: r for tid, r in self._ratings.items() if r.day >= horizon}

    def _issued(self, e: Event) -> None:
        service = e.data["service"]
        track = self._tracks[e.data["ticket"]] = _Track(service, e.at, self._hour(e.at))
        for t in self._credit(service, track.hour)[1]:
            t.issued += 1

    def _called(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is None:
            return
        track.window, track.staff, track.handling_from = e.data["window"], e.staff, e.at
        keys, rows = self._credit(track.service, track.hour, track.window, track.staff)
        for key, t in zip(keys, rows, strict=True):
            t.called += 1
            if key not in track.reached:
                track.reached.add(key)
                t.reached += 1
        if not track.called:
            track.called = True
            wait = max(0, round(e.at - track.issued_at))
            for t in rows:
                insort(t.wait, wait)
                t.wait_sum += wait

    def _started(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is not None:
            track.handling_from = e.at

    def _finished(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is None:
            return
        handling = max(0, round(e.at - track.handling_from)) if track.handling_from is not None else None
        # the staff the event names finished it (another may have signed in at the window since the call)
        for t in self._credit(track.service, track.hour, track.window, e.staff or track.staff)[1]:
            t.finished += 1
            if handling is not None:
                insort(t.handling, handling)
                t.handling_sum += handling

    def _skipped(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is not None:
            for t in self._credit(track.service, track.hour, track.window, track.staff)[1]:
                t.skipped += 1

    def _returned(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is not None:
            track.window, track.staff, track.handling_from = None, "", None

    def _transferred(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is None:
            return
        to_service = e.data["to_service"]
        from_window = e.data.get("from_window")
        left = [HALL, track.hour]  # the matter stays in the hall and in its hour: nothing handed on there
        if to_service != track.service:
            left.append(("service", track.service))
            if self._department.get(to_service) != self._department.get(track.service):
                left.append(("department", self._department.get(track.service, "")))
        if from_window is not None:
            left.append(("window", str(from_window)))
            if track.staff:
                left.append(("staff", track.staff))
        for key, t in zip(left, self._rows(left), strict=True):
            t.transferred_out += 1
            if key not in (HALL, track.hour) and key in track.reached:
                track.reached.discard(key)
                t.handed_on += 1
        track.service, track.window, track.staff, track.handling_from = to_service, None, "", None

    def _cancelled(self, e: Event) -> None:
        track = self._tracks.get(e.data["ticket"])
        if track is not None:
            for t in self._credit(track.service, track.hour)[1]:
                t.cancelled += 1

    def _no_show(self, e: Event) -> None:
        for t in self._credit(e.data["service"], self._hour(e.at))[1]:
            t.no_show += 1

    def _rated(self, e: Event) -> None:
        d = e.data
        level = int(d["level"])
        track = self._tracks.get(d["ticket"])
        keys: list[Key] = [HALL, ("department", d.get("department") or self._department.get(d["service"], "")),
                           ("service", d["service"]), track.hour if track is not None else self._hour(e.at)]
        if d.get("window") is not None:
            keys.append(("window", str(d["window"])))
        if d.get("staff"):
            keys.append(("staff", d["staff"]))
        for t in self._rows(keys):
            t.ratings[level - 1] += 1
        if self.day is not None:
            self._ratings[d["ticket"]] = _Rating(self.day, level, tuple(keys))

    def _case_step(self, e: Event) -> None:
        d = e.data
        if d.get("step") != "overturn" or d.get("kind") != "followup":
            return
        rating = self._ratings.get(d.get("ticket") or "")
        if rating is None or rating.overturned:
            return
        rating.overturned = True
        table = self.rows(rating.day)
        for key in rating.keys:
            t = table.get(key)
            if t is not None:
                t.overturned[rating.level - 1] += 1


_EMPTY = Tally()


def switch_off(picture: HallPicture) -> None:
    """Stop the figures observing (the A/B of the throughput benchmark; never in a served hall)."""
    picture._observers = [d for d in picture._observers if not isinstance(d, Figures)]
