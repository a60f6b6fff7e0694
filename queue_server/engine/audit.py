"""流程追溯: which log events belong to which ticket, kept as ids so a matter's history is a few reads away.

The index holds event ids only (the events stay in the log and are read back for a history), for today
and the tickets of the last ``PAST_DAYS_KEPT`` closed days, like the picture's readable past. Cost: an
``array('q')`` per ticket, 8 bytes per event plus about 150 bytes per ticket (the dict entry and the
array header): with 10 events a matter, about 2.3 MB for 10,000 tickets; a restart rebuilds it by replay.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Any

from queue_server.engine import events as ev
from queue_server.engine.domains import Domain
from queue_server.engine.events import Event
from queue_server.engine.picture import PAST_DAYS_KEPT


class TicketIndex(Domain):
    """Ticket id → the ids of its events, in log order; also who held it (for the window's right to read)."""

    name = "audit"

    def __init__(self, picture: Any) -> None:
        super().__init__(picture)
        self.events: dict[str, array[int]] = {}
        self.windows: dict[str, set[int]] = {}  # ticket → every window that called it or it was sent to
        self._today: list[str] = []
        self._days: deque[list[str]] = deque()

    def observe(self, event: Event) -> None:
        d = event.data
        ticket_id = d.get("ticket")
        if ticket_id.__class__ is not str:  # the hot path of a replay: one type check, not isinstance chains
            if event.type == ev.DAY_ROLLED:
                self._close_day()
            return
        ids = self.events.get(ticket_id)
        if ids is None:
            ids = self.events[ticket_id] = array("q")
            self._today.append(ticket_id)
        ids.append(event.id)
        window = d.get("window")
        if window.__class__ is int:
            self._held_by(ticket_id, window)
        to_window = d.get("to_window")
        if to_window.__class__ is int:
            self._held_by(ticket_id, to_window)

    def _held_by(self, ticket_id: str, window: int) -> None:
        windows = self.windows.get(ticket_id)
        if windows is None:
            self.windows[ticket_id] = {window}
        else:
            windows.add(window)

    def _close_day(self) -> None:
        self._days.append(self._today)
        self._today = []
        while len(self._days) > PAST_DAYS_KEPT:
            for old in self._days.popleft():
                self.events.pop(old, None)
                self.windows.pop(old, None)
