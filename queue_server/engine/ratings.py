"""好差评: one rating per finished matter, credited to whoever finished it, kept for the provincial export.

Levels: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意; 1 and 2 are bad ratings (差评) and open a
follow-up case in the same command (see cases.py). A rating is credited (``rating.given`` carries it)
to the window and staff member of the ``ticket.finished`` event, and to the service and department the
ticket had then: for a transferred matter that is the last window, the one that finished it. A rating
whose follow-up was overturned on appeal stays in the log and in the export (``overturned``), but leaves
the satisfaction figure (``counted`` is false).

Memory: every rating since the log began stays in memory (the export of any closed range reads it
without replaying the log): about 4 MB per 10,000 ratings (benchmarks/bench_rating_memory.py, comments empty;
a comment adds its text). A hall rates a few hundred matters a day, so a year is a few tens of MB. The
finisher of each matter is kept only while it may still be rated (``window_hours``), pruned at each day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from queue_server.engine import events as ev
from queue_server.engine.domains import Domain
from queue_server.engine.events import Event

LEVELS = (1, 2, 3, 4, 5)
BAD_LEVELS = frozenset({1, 2})
SATISFIED_LEVELS = frozenset({3, 4, 5})  # 满意率 counts 基本满意 and better
LEVEL_ZH = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
CHANNELS = ("pad", "kiosk", "web")


@dataclass(slots=True)
class Rating:
    """One matter's rating and whom it is credited to."""

    ticket: str
    number: str
    level: int
    channel: str
    comment: str
    service: str
    department: str
    window: int | None
    staff: str
    finished_at: float
    rated_at: float
    day: str  # the rating's day in the hall's zone
    node: str
    overturned: bool = False

    @property
    def counted(self) -> bool:
        """Whether it counts in the satisfaction figure (an overturned 差评 does not)."""
        return not self.overturned

    def as_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "number": self.number, "level": self.level, "channel": self.channel,
                "comment": self.comment, "service": self.service, "department": self.department,
                "window": self.window, "staff": self.staff, "finished_at": self.finished_at,
                "rated_at": self.rated_at, "day": self.day, "overturned": self.overturned}


class RatingBook(Domain):
    """Every rating by ticket and by day, and who finished each matter still open to rating."""

    name = "ratings"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.ratings: dict[str, Rating] = {}
        self.by_day: dict[str, list[str]] = {}
        self.finishers: dict[str, tuple[int | None, str, float]] = {}  # ticket → (window, staff, finished at)

    def between(self, first_day: str, last_day: str) -> list[Rating]:
        """Ratings given from ``first_day`` to ``last_day`` (ISO dates, inclusive), in log order."""
        out: list[Rating] = []
        for day in sorted(d for d in self.by_day if first_day <= d <= last_day):
            out.extend(self.ratings[t] for t in self.by_day[day])
        return out

    def _on_given(self, e: Event) -> None:
        d = e.data
        day = self.picture.calendar.day_of(e.at)
        rating = Rating(ticket=d["ticket"], number=d.get("number", ""), level=d["level"], channel=d["channel"],
                        comment=d["comment"], service=d["service"], department=d["department"], window=d["window"],
                        staff=d["staff"], finished_at=d["finished_at"], rated_at=e.at, day=day, node=e.node)
        self.ratings[rating.ticket] = rating
        self.by_day.setdefault(day, []).append(rating.ticket)
        self.finishers.pop(rating.ticket, None)

    handlers: ClassVar[dict[str, Any]] = {ev.RATING_GIVEN: _on_given}

    def observes(self, type_: str) -> bool:
        return type_ in _OBSERVED

    def observe(self, event: Event) -> None:
        if event.type == ev.TICKET_FINISHED:
            self.finishers[event.data["ticket"]] = (event.data.get("window"), event.staff, event.at)
        elif event.type == ev.CASE_STEP and event.data["step"] == "overturn" and event.data.get("ticket"):
            rating = self.ratings.get(event.data["ticket"])
            if rating is not None:
                rating.overturned = True
        elif event.type == ev.DAY_ROLLED:
            horizon = event.at - self.picture.hall.ratings.window_hours * 3600
            for ticket_id in [t for t, (_, _, at) in self.finishers.items() if at < horizon]:
                del self.finishers[ticket_id]


_OBSERVED = frozenset({ev.TICKET_FINISHED, ev.CASE_STEP, ev.DAY_ROLLED})
