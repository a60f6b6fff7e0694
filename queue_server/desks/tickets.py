"""The tickets-and-windows desk: what kiosks and windows ask of the hall, and the lists screens read.

Who may act on a ticket is decided here against the ticket as it is at that instant (a window on its own
citizens, a kiosk on the tickets it issued); the engine decides the queue rules; every answer is sent only
once what it rests on is durable (``command`` / ``read``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config.model import Node, NodeRole
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks.sign_in import SignInDesk
from queue_server.engine.decision import Decision, Issued
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError, forbidden
from queue_server.engine.state import Ticket, TicketState
from queue_server.views import queue_view, ticket_view, window_view

TICKET_ACTIONS = ("call", *sorted(QueueEngine.ACTIONS))  # the one list the routes and OpenAPI use
KIOSK_ACTIONS = frozenset({"requeue", "cancel", "printed", "print_failed"})
LIST_LIMIT = 200
LIST_LIMIT_MAX = 1000



class TicketDesk(SignInDesk):
    """Tickets and windows: issue, call, act, pause, sign in with a PIN; the ticket, window and queue reads."""

    # ================================================================ commands
    def _ticket_answer(self, ticket: Ticket, *, staff: bool, status: int = 200, **extra: Any) -> Answer:
        view = ticket_view(self.engine, ticket, self.clock(), staff=staff)
        view.update(extra)
        return _answer(view, status)

    async def issue(self, node: Node, key: str | None, fingerprint: bytes, *, service: str, priority: str,
                    holder_key: str, holder_masked: str, appointment_id: str, green_reason: str = "") -> Answer:
        """A kiosk (or a manager) takes a ticket; a holder's second tap gets the open ticket again (200).

        A window or a manager may assert the green channel's staff reasons; a kiosk only its own."""

        def present(issued: Issued) -> Answer:
            return self._ticket_answer(issued.ticket, staff=False, status=200 if issued.existing else 201,
                                       existing=issued.existing, rating_url=self.rating_url(issued.ticket.id))

        return await self.command(
            lambda at: self.engine.issue(service, at, priority=priority, node=node.name, holder_key=holder_key,
                                         holder_masked=holder_masked, appointment_id=appointment_id,
                                         green_reason=green_reason,
                                         by_staff=node.role in (NodeRole.WINDOW, NodeRole.MANAGER)),
            present, node=node.name, key=key, fingerprint=fingerprint)

    async def call_next(self, node: Node, key: str | None, fingerprint: bytes, window: int) -> Answer:
        return await self.command(lambda at: self.engine.call_next(window, at, node=node.name),
                                   lambda ticket: self._ticket_answer(ticket, staff=True),
                                   node=node.name, key=key, fingerprint=fingerprint)

    async def ticket_action(self, node: Node, key: str | None, fingerprint: bytes, action: str, ticket_id: str, *,
                            window: int | None, to_service: str, to_window: int | None, reason: str) -> Answer:
        """One action on one ticket, by a node allowed to take it (checked against the ticket as it is now)."""
        if action not in TICKET_ACTIONS:
            raise QueueError("unknown_action", "未知操作",
                             f"unknown action {action!r} (known: {', '.join(TICKET_ACTIONS)})", 404)

        def decide(at: float) -> Decision[Ticket]:
            acting = self._acting_window(node, action, self.engine.ticket(ticket_id), window)
            if action == "call":
                assert acting is not None
                return self.engine.call(ticket_id, acting, at, node=node.name)
            return self.engine.act(action, ticket_id, at, window=acting, node=node.name, to_service=to_service,
                                   to_window=to_window, reason=reason)

        return await self.command(decide, lambda ticket: self._ticket_answer(ticket, staff=True),
                                   node=node.name, key=key, fingerprint=fingerprint)

    @staticmethod
    def _acting_window(node: Node, action: str, ticket: Ticket, window: int | None) -> int | None:
        """Who may act on a ticket: a window on its own citizens, a kiosk on the tickets it issued."""
        if node.role is NodeRole.MANAGER:
            if action == "call" and window is None:
                raise QueueError("missing_field", "缺少窗口号", "field 'window' is required to call a ticket", 400,
                                 {"field": "window"})
            return window
        if node.role is NodeRole.WINDOW:
            if window is not None and window != node.window:
                raise forbidden(f"本终端属于 {node.window} 号窗口，不能操作 {window} 号窗口",
                               f"this node belongs to window {node.window}, not window {window}")
            free_to_take = action in ("call", "requeue") or (action == "transfer" and ticket.state is
                                                             TicketState.WAITING)
            if not free_to_take and ticket.window != node.window:
                where_zh = f"由 {ticket.window} 号窗口办理" if ticket.window else "不在本窗口"
                where_en = f"is at window {ticket.window}" if ticket.window else f"is {ticket.state.value}, not at " \
                                                                                  "your window"
                raise forbidden(f"{ticket.number} 号{where_zh}，本窗口不能操作",
                               f"ticket {ticket.number} {where_en}; window {node.window} cannot {action} it")
            return node.window
        if node.role is NodeRole.KIOSK and action in KIOSK_ACTIONS:
            # A ticket whose print failed may be reprinted at any kiosk (the citizen walks to the next one),
            # and that kiosk reports its reprint; otherwise only the issuing kiosk speaks for the paper.
            reprint = ticket.printed == "failed"
            if action in ("printed", "print_failed") and ticket.issued_by != node.name and not reprint:
                raise forbidden("只有出票的取号机（或补打失败票的取号机）可以报告打印结果",
                               f"only the kiosk that issued ticket {ticket.number} reports its printing, "
                               "unless it failed to print and this kiosk reprinted it")
            if action == "cancel" and ticket.state is not TicketState.WAITING:
                raise forbidden("取号机只能取消等候中的号", "a kiosk may only cancel a waiting ticket")
            return None
        raise forbidden(f"「{node.role.value}」角色不能执行此操作", f"role {node.role.value} may not {action} a ticket")

    async def window_command(self, node: Node, verb: str, window: int, reason: str = "") -> Answer:
        """pause (with a reason), resume or sign-out; answers the window's state."""
        engine = self.engine
        commands: dict[str, Callable[[float], Decision[Any]]] = {
            "pause": lambda at: engine.pause(window, at, reason=reason, node=node.name),
            "resume": lambda at: engine.resume(window, at, node=node.name),
            "sign-out": lambda at: engine.sign_out(window, at, node=node.name),
        }
        return await self.command(commands[verb], lambda _: _answer(window_view(engine, window)))

    async def sign_in(self, node: Node, window: int, staff_id: str, pin: str) -> Answer:
        """Staff sign in with a PIN: wrong PINs count per staff id and per node, durably; a lock says how long."""
        engine = self.engine
        engine.window_config(window)
        await self.verify_pin(staff_id, pin, client=node.name, window=window)
        return await self.command(lambda at: engine.sign_in(window, staff_id, at, node=node.name),
                                   lambda _: _answer(window_view(engine, window)))

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        """The public view of today's ticket or a recent day's (``day_over`` then says the day has ended)."""
        await self.fresh()
        ticket = self.engine.find_ticket(ticket_id)
        if ticket is None:
            raise QueueError("ticket_not_found", "号票不存在", "ticket does not exist", 404)
        view = ticket_view(self.engine, ticket, self.clock())
        await self._durable(self.engine.last_event_id)
        return view

    async def tickets(self, *, staff: bool, state: str | None, service: str | None, after: str | None,
                      limit: int) -> Answer:
        """Today's tickets in queue order, a page at a time; ``next`` is the cursor of the following page."""
        def present() -> Answer:
            cursor = _parse_cursor(after)
            chosen = sorted((t for t in self.engine.tickets.values()
                             if (state is None or t.state == state) and (service is None or t.service == service)
                             and (cursor is None or t.sort_key > cursor)), key=lambda t: t.sort_key)
            page = chosen[:limit]
            now = self.clock()
            more = len(chosen) > limit
            return _answer({"tickets": [ticket_view(self.engine, t, now, staff=staff) for t in page],
                            "next": _cursor(page[-1]) if more else None})

        return await self.read(present)

    async def windows(self, *, staff: bool) -> Answer:
        """Every window's state; who is signed in (a staff id) only for windows and managers."""
        def present() -> Answer:
            views = [window_view(self.engine, w.number) for w in self.hall.windows]
            if not staff:
                for view in views:
                    view["staff"] = ""
                    view["signed_in"] = bool(self.engine.windows[view["number"]].staff)
            return _answer({"windows": views})

        return await self.read(present)

    async def queues(self) -> Answer:
        # Before the hall's first event of the day (the tick opens it within a second) the day is the calendar's,
        # never null: a client dates its next request by it.
        return await self.read(lambda: _answer({"day": self.engine.day or self.engine.calendar.day_of(self.clock()),
                                                 "last_event_id": self.last_durable_id,
                                                 "queues": [queue_view(self.engine, s.code)
                                                            for s in self.hall.services]}))


def _cursor(ticket: Ticket) -> str:
    rank, queue_time, seq = ticket.sort_key
    return f"{rank}_{queue_time!r}_{seq}"


def _parse_cursor(text: str | None) -> tuple[int, float, int] | None:
    if text is None:
        return None
    try:
        rank, queue_time, seq = text.split("_")
        return int(rank), float(queue_time), int(seq)
    except ValueError:
        raise QueueError("invalid_cursor", "分页游标无效", "after must be the 'next' cursor of a previous page",
                         400) from None
