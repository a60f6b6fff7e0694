"""The audit desk (流程追溯): a matter's history from the log, and the log itself paged with filters.

Both read the durable log (``store.read_after``), never the picture, so they show what happened rather
than what is. A ticket's history costs one read per run of nearby event ids (the engine's TicketIndex
knows which ids are the ticket's). ``/audit`` scans the log from ``after`` in pages and stops after
``AUDIT_SCAN_MAX`` events even if fewer matched, answering ``next`` so the client goes on: a narrow
filter over a long log costs bounded work per request. Private data never leaves: ``holder_key`` and any
``*secret*`` field are dropped from every event shown (names are already masked in the log).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from config.model import Node, NodeRole
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks import DeskBase
from queue_server.engine.errors import QueueError, forbidden
from queue_server.engine.events import Event

AUDIT_SCAN_MAX = 20_000
AUDIT_PAGE = 2_000
RUN_GAP = 64  # ids closer than this are read in one range


@dataclass(frozen=True)
class AuditFilter:
    """What /audit keeps: instants [start, end), a staff id, a window, an event type (all optional)."""

    start: float | None = None
    end: float | None = None
    staff: str = ""
    window: int | None = None
    type: str = ""

    def keeps(self, event: Event) -> bool:
        if self.start is not None and event.at < self.start:
            return False
        if self.end is not None and event.at >= self.end:
            return False
        if self.staff and event.staff != self.staff:
            return False
        if self.type and event.type != self.type and not event.type.startswith(self.type + "."):
            return False
        return self.window is None or self.window in _windows(event)


def _windows(event: Event) -> set[int]:
    d = event.data
    return {w for w in (d.get("window"), d.get("from_window"), d.get("to_window")) if isinstance(w, int)}


def audit_view(event: Event) -> dict[str, Any]:
    """One event as the audit trail shows it: when, who, where, and what changed, without private keys."""
    changed = {k: v for k, v in event.data.items() if k != "holder_key" and "secret" not in k}
    windows = sorted(_windows(event))
    return {"id": event.id, "type": event.type, "at": event.at,
            "at_iso": dt.datetime.fromtimestamp(event.at, dt.UTC).isoformat().replace("+00:00", "Z"),
            "node": event.node, "staff": event.staff, "window": windows[0] if windows else None, "data": changed}


class AuditDesk(DeskBase):
    """Façade methods of the audit trail (a mixin of HallService)."""

    async def ticket_history(self, node: Node, ticket_id: str) -> Answer:
        """Every event of one matter, in log order: for managers and any window that held it."""
        index = self.engine.audit
        ids = list(index.events.get(ticket_id, ()))
        if not ids:
            raise QueueError("ticket_not_found", "号票不存在", "no such ticket in the audit index (today and the "
                             "last 7 closed days)", 404)
        held = node.role is NodeRole.WINDOW and node.window in index.windows.get(ticket_id, set())
        if node.role is not NodeRole.MANAGER and not held:
            raise forbidden("只有办理过该号的窗口或管理员可以查看流程",
                            "only a manager or a window that held this ticket may read its history")
        await self._durable(ids[-1])
        events = await self._read_ids(ids)
        ticket = self.engine.find_ticket(ticket_id)
        return _answer({"ticket": ticket_id, "number": ticket.number if ticket else events[0].data.get("number"),
                        "events": [audit_view(e) for e in events]})

    async def _read_ids(self, ids: list[int]) -> list[Event]:
        wanted, out = set(ids), []
        start = 0
        while start < len(ids):
            end = start
            while end + 1 < len(ids) and ids[end + 1] - ids[end] < RUN_GAP:
                end += 1
            page = await self.store.read_after(ids[start] - 1, ids[end] - ids[start] + 1)
            out += [e for e in page if e.id in wanted]
            start = end + 1
        return out

    async def audit(self, filters: AuditFilter, after: int, limit: int) -> Answer:
        """A page of the log after event ``after`` that the filters keep; ``next`` goes on from where it stopped."""
        last = self.last_durable_id
        kept: list[Event] = []
        cursor, scanned = after, 0
        while cursor < last and len(kept) < limit and scanned < AUDIT_SCAN_MAX:
            page = await self.store.read_after(cursor, min(AUDIT_PAGE, last - cursor))
            if not page:
                break
            for event in page:
                cursor, scanned = event.id, scanned + 1
                if filters.keeps(event):
                    kept.append(event)
                    if len(kept) >= limit:
                        break
        more = cursor < last
        return _answer({"events": [audit_view(e) for e in kept], "next": cursor if more else None,
                        "scanned": scanned})
