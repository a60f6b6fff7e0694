"""The case ledger (台账): 差评 follow-ups, 办不成事 complaints and 帮办代办 matters, one mechanism.

A case outlives a ticket: it has a kind, the ticket it came from (if any), the masked holder, a subject
and category, the department it is assigned (交办) to, a state, a deadline in working days (see
workdays.py) and every step attributed (node, staff) with a note. Kinds differ only in their steps:

- ``followup`` (opened by a rating of level 1 or 2, in the same command): open → contacted → rectified
  → closed; from any of the first three an appeal (申诉, once) → appealed, then a manager upholds it
  (back to the state it was appealed from) or overturns it (→ overturned: the rating leaves the
  satisfaction figure, every event stays in the log).
- ``complaint`` and ``assisted``: registered → assigned → in_progress → resolved → closed, or declined
  (with a reason) from any state before resolved; ``assign`` again re-assigns (转办).

A case is *done* when it is closed, overturned or declined, and for complaints and assisted matters
also when resolved. ``tick`` emits ``case.overdue`` once per case when the end of its deadline day in
the hall's zone has passed while it is not done (an appealed follow-up keeps running: the manager must
decide in time too). Figures per opening day, kind and department are kept as counters moved on every
change, so a range report sums days, never scans cases: registered, resolved (done but not withdrawn),
resolved on time (done on or before the deadline day), withdrawn (declined or overturned), and the
resolution rate 受理办结率 = resolved / (registered − withdrawn), null when nothing is left to count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from queue_server.engine import events as ev
from queue_server.engine.domains import Domain
from queue_server.engine.events import Event
from queue_server.engine.workdays import nth_working_day_after

if TYPE_CHECKING:
    from queue_server.engine.engine import QueueEngine
    from queue_server.engine.picture import HallPicture

KINDS = ("followup", "complaint", "assisted")
FOLLOWUP_STATES = ("open", "contacted", "rectified", "appealed", "closed", "overturned")
CASE_STATES = ("registered", "assigned", "in_progress", "resolved", "closed", "declined")
STATES = tuple(dict.fromkeys(FOLLOWUP_STATES + CASE_STATES))
UPHOLD = "<appealed_from>"  # the target of ``uphold``: the state the appeal came from

# step → (states it may start from, the state after it)
FOLLOWUP_STEPS: dict[str, tuple[frozenset[str], str]] = {
    "contact": (frozenset({"open"}), "contacted"),
    "rectify": (frozenset({"contacted"}), "rectified"),
    "close": (frozenset({"rectified"}), "closed"),
    "appeal": (frozenset({"open", "contacted", "rectified"}), "appealed"),
    "uphold": (frozenset({"appealed"}), UPHOLD),
    "overturn": (frozenset({"appealed"}), "overturned"),
}
CASE_STEPS: dict[str, tuple[frozenset[str], str]] = {
    "assign": (frozenset({"registered", "assigned"}), "assigned"),
    "start": (frozenset({"assigned"}), "in_progress"),
    "resolve": (frozenset({"in_progress"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "decline": (frozenset({"registered", "assigned", "in_progress"}), "declined"),
}
STEPS_BY_KIND = {"followup": FOLLOWUP_STEPS, "complaint": CASE_STEPS, "assisted": CASE_STEPS}
FOLLOWUP_ACTIONS = tuple(FOLLOWUP_STEPS)
CASE_ACTIONS = tuple(CASE_STEPS)
WITHDRAWN = frozenset({"declined", "overturned"})
DONE_BY_KIND = {"followup": frozenset({"closed", "overturned"}),
                "complaint": frozenset({"resolved", "closed", "declined"}),
                "assisted": frozenset({"resolved", "closed", "declined"})}
FIRST_STATE = {"followup": "open", "complaint": "registered", "assisted": "registered"}


@dataclass(slots=True)
class CaseStep:
    """One attributed step of a case, as its event recorded it."""

    step: str
    state: str
    note: str
    at: float
    node: str
    staff: str
    department: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "state": self.state, "note": self.note, "at": self.at, "node": self.node,
                "staff": self.staff, "department": self.department}


@dataclass(slots=True)
class Case:
    """One ledger entry; ``deadline`` is the ISO date of its last working day."""

    id: str
    kind: str
    ticket: str | None
    level: int | None
    holder_masked: str
    subject: str
    category: str
    department: str
    state: str
    opened_at: float
    opened_day: str
    deadline: str
    node: str
    staff: str
    steps: list[CaseStep] = field(default_factory=list)
    overdue: bool = False
    appealed: bool = False  # an appeal was made (one per follow-up)
    appealed_from: str = ""
    done_day: str | None = None  # the day it became done (closed, resolved, declined, overturned)

    @property
    def done(self) -> bool:
        return self.state in DONE_BY_KIND[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "ticket": self.ticket, "level": self.level,
                "holder_masked": self.holder_masked, "subject": self.subject, "category": self.category,
                "department": self.department, "state": self.state, "opened_at": self.opened_at,
                "opened_day": self.opened_day, "deadline": self.deadline, "overdue": self.overdue,
                "node": self.node, "staff": self.staff, "steps": [s.as_dict() for s in self.steps]}


def _contribution(case: Case) -> tuple[int, int, int, int]:
    """(registered, resolved, resolved on time, withdrawn) that ``case`` adds to its figures bucket."""
    withdrawn = case.state in WITHDRAWN
    resolved = case.done and not withdrawn
    on_time = resolved and case.done_day is not None and case.done_day <= case.deadline
    return 1, int(resolved), int(on_time), int(withdrawn)


class CaseLedger(Domain):
    """Every case of the hall since the log began (cases are few: tens a day), and their figures."""

    name = "cases"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.cases: dict[str, Case] = {}
        self.followup_of: dict[str, str] = {}  # ticket id → its follow-up case id
        self._watch: dict[str, str] = {}  # case id → deadline, for cases neither done nor overdue
        self._next_due: str | None = None  # min of _watch's deadlines (a cache: tick is every second)
        self._figures: dict[tuple[str, str, str], list[int]] = {}  # (opened day, kind, department) → counts

    # ------------------------------------------------------------------ queries
    def figures(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Rows per kind and department of the cases opened from ``first_day`` to ``last_day`` (ISO, inclusive)."""
        totals: dict[tuple[str, str], list[int]] = {}
        for (day, kind, department), counts in self._figures.items():
            if first_day <= day <= last_day:
                row = totals.setdefault((kind, department), [0, 0, 0, 0])
                for i, count in enumerate(counts):
                    row[i] += count
        rows = []
        for (kind, department), (registered, resolved, on_time, withdrawn) in sorted(totals.items()):
            counted = registered - withdrawn
            rows.append({"kind": kind, "department": department, "registered": registered, "resolved": resolved,
                         "resolved_on_time": on_time, "withdrawn": withdrawn,
                         "resolution_rate": round(resolved / counted, 4) if counted else None})
        return rows

    # ------------------------------------------------------------------ apply
    def _on_opened(self, e: Event) -> None:
        d = e.data
        case = Case(id=d["case"], kind=d["kind"], ticket=d["ticket"], level=d["level"],
                    holder_masked=d["holder_masked"], subject=d["subject"], category=d["category"],
                    department=d["department"], state=FIRST_STATE[d["kind"]], opened_at=e.at,
                    opened_day=self.picture.calendar.day_of(e.at), deadline=d["deadline"], node=e.node,
                    staff=e.staff)
        self.cases[case.id] = case
        if case.kind == "followup" and case.ticket:
            self.followup_of[case.ticket] = case.id
        self._add_figures(case)
        self._watch_case(case)

    def _on_step(self, e: Event) -> None:
        d = e.data
        case = self.cases[d["case"]]
        self._add_figures(case, -1)
        if d["step"] == "appeal":
            case.appealed, case.appealed_from = True, case.state
        if d["step"] == "assign" and d.get("department"):
            case.department = d["department"]
        case.state = d["state"]
        case.steps.append(CaseStep(d["step"], d["state"], d["note"], e.at, e.node, e.staff,
                                   d.get("department") or ""))
        if case.done and case.done_day is None:
            case.done_day = self.picture.calendar.day_of(e.at)
        self._add_figures(case)
        self._watch_case(case)

    def _on_overdue(self, e: Event) -> None:
        case = self.cases[e.data["case"]]
        case.overdue = True
        self._watch_case(case)

    handlers: ClassVar[dict[str, Any]] = {
        ev.CASE_OPENED: _on_opened, ev.CASE_STEP: _on_step, ev.CASE_OVERDUE: _on_overdue}

    def _add_figures(self, case: Case, sign: int = 1) -> None:
        bucket = self._figures.setdefault((case.opened_day, case.kind, case.department), [0, 0, 0, 0])
        for i, count in enumerate(_contribution(case)):
            bucket[i] += sign * count

    def _watch_case(self, case: Case) -> None:
        if case.done or case.overdue:
            if self._watch.pop(case.id, None) is not None and self._next_due == case.deadline:
                self._next_due = min(self._watch.values(), default=None)
        elif case.id not in self._watch:
            self._watch[case.id] = case.deadline
            if self._next_due is None or case.deadline < self._next_due:
                self._next_due = case.deadline

    # ------------------------------------------------------------------ time
    def tick(self, engine: QueueEngine, at: float) -> None:
        """case.overdue for each case whose deadline day is over (today is later) and that is not done."""
        today = engine.day
        if today is None or self._next_due is None or self._next_due >= today:
            return
        for case_id, deadline in sorted(self._watch.items(), key=lambda item: (item[1], item[0])):
            if deadline < today:
                case = self.cases[case_id]
                engine._emit(ev.CASE_OVERDUE, at, {"case": case.id, "kind": case.kind, "deadline": case.deadline,
                                                   "department": case.department, "ticket": case.ticket})


def next_deadline(picture: HallPicture, at: float, working_days: int) -> str:
    """The deadline of a case opened at ``at``: the N-th working day after that day in the hall's zone."""
    hours = picture.hall.hours
    opened = dt.date.fromisoformat(picture.calendar.day_of(at))
    return nth_working_day_after(opened, working_days, hours.holidays, hours.workdays).isoformat()
