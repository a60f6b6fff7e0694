"""The in-memory picture the engine derives from the event log: tickets, windows, waiting lines."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TicketState(StrEnum):
    """Where a ticket stands. A transfer puts a ticket back to WAITING under its new service or window."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    FINISHED = "finished"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({TicketState.WAITING, TicketState.CALLED, TicketState.SERVING})

STATE_ZH = {
    TicketState.WAITING: "等候中",
    TicketState.CALLED: "已叫号",
    TicketState.SERVING: "办理中",
    TicketState.FINISHED: "已办结",
    TicketState.SKIPPED: "已过号",
    TicketState.CANCELLED: "已取消",
}


class Priority(StrEnum):
    NORMAL = "normal"
    GREEN = "green"  # 绿色通道: elderly, disabled, pregnant, sick
    APPOINTMENT = "appointment"  # checked in for a booked slot


def priority_rank(priority: Priority, green_first: bool) -> int:
    """0 goes before 1: green channel and checked-in appointments are called first."""
    if priority is Priority.NORMAL:
        return 1
    if priority is Priority.GREEN and not green_first:
        return 1
    return 0


@dataclass(slots=True)
class Ticket:
    """One place in a queue; ``holder_key`` is an HMAC of the ID number, never the number itself."""

    id: str
    number: str
    service: str
    day: str
    priority: Priority
    issued_at: float
    queue_time: float  # kept across transfer and re-queue so the holder keeps the place
    seq: int  # issue order, the final tie-breaker
    state: TicketState = TicketState.WAITING
    holder_key: str = ""
    holder_masked: str = ""
    appointment_id: str = ""
    window: int | None = None  # the window that called it
    target_window: int | None = None  # transferred to one window specifically
    staff: str = ""
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    skipped_at: float | None = None
    recalls: int = 0
    requeues: int = 0
    transfers: int = 0
    bypassed: int = 0  # times overtaken by a later ticket at a window that could serve it
    printed: str = "pending"  # pending | printed | failed
    cancel_reason: str = ""
    rank: int = 1
    issued_by: str = ""  # the node that issued it: only that kiosk (or a manager) reports its printing

    @property
    def sort_key(self) -> tuple[int, float, int]:
        return (self.rank, self.queue_time, self.seq)

    def public(self) -> dict[str, Any]:
        """What anyone holding the ticket's QR code may see: no personal data."""
        return {
            "id": self.id, "number": self.number, "service": self.service, "day": self.day,
            "state": self.state.value, "priority": self.priority.value, "issued_at": self.issued_at,
            "window": self.window, "called_at": self.called_at, "recalls": self.recalls,
        }

    def staff_view(self) -> dict[str, Any]:
        """What window staff and managers see: the public view plus the masked holder and history."""
        return {**self.public(), "holder_masked": self.holder_masked, "staff": self.staff,
                "started_at": self.started_at, "finished_at": self.finished_at, "skipped_at": self.skipped_at,
                "requeues": self.requeues, "transfers": self.transfers, "printed": self.printed,
                "target_window": self.target_window, "cancel_reason": self.cancel_reason,
                "appointment_id": self.appointment_id}


@dataclass
class WindowState:
    number: int
    staff: str = ""
    paused: bool = False
    pause_reason: str = ""
    paused_at: float | None = None
    current: str | None = None  # ticket id called or being served here
    credits: dict[str, int] = field(default_factory=dict)  # smooth weighted round robin per service
    last_call_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "staff": self.staff, "paused": self.paused,
                "pause_reason": self.pause_reason, "current": self.current}


class WaitingLine:
    """Waiting tickets of one service (or targeted at one window), oldest and highest priority first.

    A heap with lazy deletion: a ticket that leaves the line (called, cancelled, transferred) stays in
    the heap until it reaches the top, so every change is O(log n) and peeking is amortised O(1).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, float, int, str]] = []
        self._members: dict[str, tuple[int, float, int]] = {}
        self._top: tuple[int, float, int] | None = None  # >= every member's key (members only leave)

    def push(self, ticket: Ticket) -> None:
        key = ticket.sort_key
        self._members[ticket.id] = key
        heapq.heappush(self._heap, (*key, ticket.id))
        if self._top is None or key > self._top:
            self._top = key

    def discard(self, ticket_id: str) -> None:
        self._members.pop(ticket_id, None)
        if not self._members:
            self._heap.clear()
            self._top = None

    def head(self) -> str | None:
        heap = self._heap
        while heap:
            rank, queue_time, seq, ticket_id = heap[0]
            if self._members.get(ticket_id) == (rank, queue_time, seq):
                return ticket_id
            heapq.heappop(heap)
        return None

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._members

    def ahead_of(self, ticket: Ticket) -> int:
        """How many members sort before ``ticket`` (people ahead): O(1) for the newest ticket, else O(n)."""
        key = ticket.sort_key
        if self._top is not None and key >= self._top:  # the usual case: a ticket just issued
            return len(self._members) - (1 if ticket.id in self._members else 0)
        return sum(1 for other in self._members.values() if other < key)

    def ids(self) -> list[str]:
        return [tid for tid, _ in sorted(self._members.items(), key=lambda item: item[1])]
