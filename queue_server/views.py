"""Presenters: the JSON shapes the API answers with, computed from the engine's picture at one instant.

They live apart from the routes so the service (which answers idempotent retries with the exact body
it first gave) and the routes present a ticket, a window or a queue the same way.
"""

from __future__ import annotations

from typing import Any

from queue_server.engine.engine import QueueEngine
from queue_server.engine.state import STATE_ZH, Ticket, TicketState

STATUS_PATH = "/api/v1/tickets/{id}"
NOT_TODAY = "may_not_be_served_today"


def ticket_view(engine: QueueEngine, ticket: Ticket, at: float, *, staff: bool = False) -> dict[str, Any]:
    """A ticket as its holder (public) or the staff see it, with the people ahead and an honest wait."""
    cfg = engine.service(ticket.service)
    view = ticket.staff_view() if staff else ticket.public()
    day_over = ticket.day != engine.day
    view.update({"service_name": cfg.name, "service_name_en": cfg.name_en, "state_zh": STATE_ZH[ticket.state],
                 "ahead": 0, "estimated_wait_s": 0, "day_over": day_over,
                 "status_url": engine.hall.public_url + STATUS_PATH.format(id=ticket.id)})
    if ticket.state is TicketState.WAITING and not day_over:
        ahead = engine.ahead_of(ticket)
        wait = engine.estimated_wait_s(ticket.service, ahead)
        closes = engine.calendar.closes_at(cfg, at)
        view["ahead"] = ahead
        if closes is not None and at + wait > closes:  # past today's last session: say so, not 240,000 s
            view["estimated_wait_s"] = None
            view["wait_note"] = NOT_TODAY
        else:
            view["estimated_wait_s"] = wait
    return view


def window_view(engine: QueueEngine, number: int) -> dict[str, Any]:
    """A window's state with its name, services and what it is doing now."""
    cfg = engine.window_config(number)
    state = engine.windows[number].as_dict()
    current = engine.tickets.get(state["current"] or "")
    return {**state, "name": cfg.name, "kind": cfg.kind.value, "services": [ws.service for ws in cfg.services],
            "current_number": current.number if current else None,
            "current_state": current.state.value if current else None}


def queue_view(engine: QueueEngine, code: str) -> dict[str, Any]:
    """One service's line: how many wait, and the wait a newcomer should expect."""
    cfg = engine.service(code)
    waiting = engine.waiting_count(code)
    return {"service": cfg.code, "name": cfg.name, "name_en": cfg.name_en, "prefix": cfg.prefix,
            "department": cfg.department, "waiting": waiting,
            "estimated_wait_s": engine.estimated_wait_s(code, waiting), "active_windows": engine.active_windows(code)}
