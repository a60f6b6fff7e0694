"""The queue engine: plain, deterministic Python that turns commands into events and events into state.

Every command first decides (checks rules, picks a ticket) without changing anything, then emits
events; state changes only in ``HallPicture.apply`` (picture.py), which is also what a restart
replays, so live and replayed state cannot drift apart. No I/O, no clock of its own: the caller passes
``at`` (UTC seconds).

Calling rules (``call_next``), in order:
1. a ticket overtaken ``policy.max_bypass`` times by later tickets at windows that could serve it is
   called first (the starvation bound: a ticket at the head of its line is passed over at most
   ``max_bypass`` times; one further back at most that many times per ticket ahead of it);
2. a ticket transferred to this window specifically (联办: the matter continues here);
3. green-channel and checked-in appointment tickets, oldest first;
4. otherwise the window's services share calls by weight (smooth weighted round robin, ties broken by
   the configured order), oldest ticket of the chosen service first.
Calling a given ticket (``call``) is the staff's explicit choice and is not counted as an overtake.
Calling next while the window's ticket is being served finishes that ticket first, even when nobody is
waiting (the 404 ``queue_empty`` then carries the finish in ``err.events``, which the server persists).
Transferred and re-queued tickets keep their original queue time. Numbers run A001…A999 per service
per business day and then widen to A1000: a citizen is never refused because the counter is full
(daily quotas bound it in practice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from config.model import GREEN_REASONS, Service
from queue_server.engine import events as ev
from queue_server.engine.alerts import AlertCommands
from queue_server.engine.appointments import AppointmentCommands
from queue_server.engine.certificates import CertificateCommands
from queue_server.engine.commands import CommandBase, command
from queue_server.engine.decision import Issued
from queue_server.engine.errors import QueueError, bad_state
from queue_server.engine.nodes import NodeCommands
from queue_server.engine.rating_commands import RatingCommands
from queue_server.engine.state import Priority, Ticket, TicketState, WindowState


class QueueEngine(RatingCommands, AppointmentCommands, AlertCommands, NodeCommands, CertificateCommands, CommandBase):
    """One hall's queues. Not thread-safe by design: the server runs it on one event loop."""

    @command
    def issue(self, service_code: str, at: float, *, priority: str = "normal", node: str = "",
              holder_key: str = "", holder_masked: str = "", appointment_id: str = "", green_reason: str = "",
              by_staff: bool = False) -> Issued:
        """Issue a ticket, or give the holder's open ticket of this service again (``existing``: a reprint).

        A priority cannot be claimed: an appointment ticket comes only from a check-in (appointments.py),
        and a green-channel ticket carries one of the config's reasons, a staff reason only when the
        asking node is a window or a manager (``by_staff``); the reason is kept in the ticket.issued event.
        """
        service = self.service(service_code)
        try:
            prio = Priority(priority)
        except ValueError:
            raise QueueError("invalid_priority", "取号类型无效", f"priority must be one of "
                             f"{', '.join(p.value for p in Priority)}", 422) from None
        if prio is Priority.APPOINTMENT or appointment_id:
            raise QueueError("appointment_check_in_required", "预约号须通过预约签到取得",
                             "an appointment ticket is issued only by checking in a booking "
                             "(POST /api/v1/appointments/check-in)", 422)
        self._check_green_reason(prio, green_reason, by_staff)
        if holder_key:
            existing = self._holders.get((holder_key, service.code))
            if existing is not None:
                return Issued(self.tickets[existing], True)
        slot = self._admit(service, at, holder_key)
        return Issued(self._emit_issued(service, at, prio, slot, node=node, holder_key=holder_key,
                                        holder_masked=holder_masked, green_reason=green_reason), False)

    def _check_green_reason(self, prio: Priority, reason: str, by_staff: bool) -> None:
        """绿色通道 needs a reason: kiosk reasons from anyone, staff reasons only from a window or a manager."""
        if prio is not Priority.GREEN:
            if reason:
                raise QueueError("green_reason_without_green", "只有绿色通道号需要填写原因",
                                 "green_reason is given only with priority green", 422)
            return
        if not reason:
            raise QueueError("green_reason_required", "绿色通道取号需要说明原因",
                             f"a green-channel ticket needs green_reason (one of {', '.join(GREEN_REASONS)})", 422)
        if reason not in GREEN_REASONS:
            raise QueueError("invalid_green_reason", "绿色通道原因无效",
                             f"green_reason must be one of {', '.join(GREEN_REASONS)}", 422)
        green = self.hall.green
        if reason in green.kiosk_reasons or (by_staff and reason in green.staff_reasons):
            return
        if reason in green.staff_reasons:
            raise QueueError("green_reason_needs_staff", "该绿色通道原因需由窗口工作人员或管理员确认",
                             f"green_reason {reason!r} must be confirmed by a window or a manager", 403)
        raise QueueError("green_reason_not_allowed", "本大厅不受理该绿色通道原因",
                         f"this hall does not accept green_reason {reason!r}", 403)

    def _admit(self, service: Service, at: float, holder_key: str, *, booked: bool = False) -> int | None:
        """Whether a new ticket of ``service`` may be issued now (hours, real name, quotas); its slot quota index.

        Today's open bookings hold their places in the daily quota: a walk-in may take only what they leave,
        and a checked-in booking (``booked``) takes the place it held, so the quota is never exceeded."""
        opening = self.calendar.check_open(service, at)
        if not opening.open:  # "closed" comes before "bring your card": nobody can take this ticket now
            raise QueueError(opening.code, opening.reason_zh, opening.reason_en, 409,
                             {"opens_at": opening.opens_at} if opening.opens_at else None)
        if service.real_name and not holder_key:
            raise QueueError("real_name_required", f"「{service.name}」需要刷身份证取号",
                             f"{service.name_en or service.code} needs an ID card to take a ticket", 422)
        held = 0 if booked else self.appointments.held.get((service.code, self.day or ""), 0)
        if service.daily_quota and self._issued.get(service.code, 0) + held >= service.daily_quota:
            raise QueueError("daily_quota_reached", f"「{service.name}」今日号源已满，请明日再来",
                             f"today's {service.daily_quota} tickets for {service.name_en or service.code} "
                             "are all taken", 409,
                             {"quota": service.daily_quota, **({"held_for_appointments": held} if held else {})})
        slot = self._slot_index(service, at)
        if slot is not None:
            quota = service.slot_quotas[slot]
            if self._slot_issued.get((service.code, slot), 0) >= quota.quota:
                raise QueueError("slot_quota_reached", f"{quota.span} 时段号源已满",
                                 f"all {quota.quota} tickets for {quota.span} are taken", 409,
                                 {"slot": str(quota.span), "quota": quota.quota})
        return slot

    def _emit_issued(self, service: Service, at: float, priority: Priority, slot: int | None, *, node: str,
                     holder_key: str, holder_masked: str, appointment_id: str = "", green_reason: str = "",
                     ticket_id: str = "") -> Ticket:
        """The ticket.issued event of an admitted ticket, numbered next in its service's prefix."""
        number_value = self._numbers.get(service.prefix, 0) + 1
        number = f"{service.prefix}{number_value:03d}"
        self._emit(ev.TICKET_ISSUED, at, {
            "ticket": ticket_id or self._new_id(), "number": number, "seq": number_value, "service": service.code,
            "day": self.day, "priority": priority.value, "queue_time": at, "holder_key": holder_key,
            "holder_masked": holder_masked, "appointment_id": appointment_id, "slot": slot,
            "green_reason": green_reason,
        }, node)
        return self.tickets[self._out[-1].data["ticket"]]

    def _slot_index(self, service: Service, at: float) -> int | None:
        now = self.calendar.local(at).time()
        for index, quota in enumerate(service.slot_quotas):
            if quota.span.contains(now):
                return index
        return None

    @command
    def call_next(self, window: int, at: float, *, node: str = "") -> Ticket:
        """Call the next ticket to ``window`` by the rules in the module docstring."""
        state = self._ready_window(window)
        self._finish_current(state, at, node)
        choice = self._choose(window)
        if choice is None:
            raise QueueError("queue_empty", "当前没有等候的号", "nobody is waiting for this window", 404)
        ticket_id, reason = choice
        self._emit(ev.TICKET_CALLED, at, {"ticket": ticket_id, "window": window, "mode": "next",
                                          "reason": reason}, node, state.staff)
        return self.tickets[ticket_id]

    @command
    def call(self, ticket_id: str, window: int, at: float, *, node: str = "") -> Ticket:
        """Call one given ticket (the staff picked it from the waiting list)."""
        state = self._ready_window(window)
        ticket = self.ticket(ticket_id)
        if ticket.state is not TicketState.WAITING:
            raise bad_state(ticket.number, ticket.state, "called", "叫号")
        cfg = self.window_config(window)
        if ticket.target_window not in (None, window) or (ticket.target_window is None
                                                          and not cfg.serves(ticket.service)):
            raise QueueError("not_served_here", f"{window} 号窗口不办理 {ticket.number} 号的业务",
                             f"window {window} does not serve ticket {ticket.number}", 409)
        self._finish_current(state, at, node)
        self._emit(ev.TICKET_CALLED, at, {"ticket": ticket.id, "window": window, "mode": "specific",
                                          "reason": "picked"}, node, state.staff)
        return ticket

    @command
    def act(self, action: str, ticket_id: str, at: float, *, window: int | None = None, node: str = "",
            to_service: str = "", to_window: int | None = None, reason: str = "",
            ) -> Ticket:
        """recall, skip, requeue, start, finish, transfer, cancel, printed, print_failed on one ticket."""
        ticket = self.ticket(ticket_id)
        handler = self._ACTIONS.get(action)
        if handler is None:
            raise QueueError("unknown_action", "未知操作", f"unknown action {action!r}", 404)
        handler(self, ticket, at, window, node, to_service, to_window, reason)
        return ticket

    def _at_window(self, ticket: Ticket, window: int | None, states: set[TicketState], verb_en: str,
                   verb_zh: str) -> WindowState | None:
        if ticket.state not in states:
            raise bad_state(ticket.number, ticket.state, verb_en, verb_zh)
        if window is None:
            return self.windows.get(ticket.window) if ticket.window is not None else None
        if ticket.window is not None and ticket.window != window:
            raise QueueError("other_window", f"{ticket.number} 号由 {ticket.window} 号窗口办理",
                             f"ticket {ticket.number} belongs to window {ticket.window}", 403)
        return self.windows[window]

    def _staff_at(self, window: int | None) -> str:
        """Who is signed in at the acting window: kiosk-side actions (requeue, cancel) may also come from one."""
        state = self.windows.get(window) if window is not None else None
        return state.staff if state else ""

    def _recall(self, t: Ticket, at: float, window: int | None, node: str, *_: Any) -> None:
        state = self._at_window(t, window, {TicketState.CALLED}, "recalled", "重呼")
        if t.recalls >= self.hall.policy.recall_limit:
            raise QueueError("recall_limit", f"{t.number} 号已重呼 {t.recalls} 次，请过号",
                             f"ticket {t.number} was recalled {t.recalls} times already; skip it", 409)
        self._emit(ev.TICKET_RECALLED, at, {"ticket": t.id, "window": t.window}, node, state.staff if state else "")

    def _skip(self, t: Ticket, at: float, window: int | None, node: str, *_: Any) -> None:
        state = self._at_window(t, window, {TicketState.CALLED}, "skipped", "过号")
        self._emit(ev.TICKET_SKIPPED, at, {"ticket": t.id, "window": t.window}, node, state.staff if state else "")

    def _requeue(self, t: Ticket, at: float, window: int | None, node: str, *_: Any) -> None:
        if t.state is not TicketState.SKIPPED:
            raise bad_state(t.number, t.state, "re-queued", "重新排队")
        policy = self.hall.policy
        if t.requeues >= policy.requeue_limit:
            raise QueueError("requeue_limit", f"{t.number} 号已重新排队 {t.requeues} 次，请重新取号",
                             f"ticket {t.number} was re-queued {t.requeues} times already; take a new ticket", 409)
        if t.skipped_at is not None and at - t.skipped_at > policy.requeue_window_minutes * 60:
            raise QueueError("requeue_expired", f"过号已超过 {policy.requeue_window_minutes:g} 分钟，请重新取号",
                             f"more than {policy.requeue_window_minutes:g} minutes since the skip; "
                             "take a new ticket", 409)
        self._refuse_second_open(t, t.service)
        self._emit(ev.TICKET_REQUEUED, at, {"ticket": t.id}, node, self._staff_at(window))

    def _refuse_second_open(self, t: Ticket, service_code: str) -> None:
        """One open ticket per holder and service: a re-queue or transfer may not make a second one."""
        other_id = self._holders.get((t.holder_key, service_code)) if t.holder_key else None
        if other_id is None or other_id == t.id:
            return
        other = self.tickets[other_id]
        raise QueueError("holder_has_ticket", f"该办事人已持有 {other.number} 号（同一业务），请先办结或取消",
                         f"the holder already has ticket {other.number} for this service; finish or cancel it first",
                         409, {"ticket": other.id, "number": other.number})

    def _start(self, t: Ticket, at: float, window: int | None, node: str, *_: Any) -> None:
        state = self._at_window(t, window, {TicketState.CALLED}, "started", "开始办理")
        self._emit(ev.TICKET_STARTED, at, {"ticket": t.id, "window": t.window}, node, state.staff if state else "")

    def _finish(self, t: Ticket, at: float, window: int | None, node: str, *_: Any) -> None:
        state = self._at_window(t, window, {TicketState.CALLED, TicketState.SERVING}, "finished", "办结")
        self._emit(ev.TICKET_FINISHED, at, {"ticket": t.id, "window": t.window}, node, state.staff if state else "")

    def _transfer(self, t: Ticket, at: float, window: int | None, node: str, to_service: str,
                  to_window: int | None, reason: str) -> None:
        state = self._at_window(t, window, {TicketState.WAITING, TicketState.CALLED, TicketState.SERVING},
                                "transferred", "转移")
        if not to_service and to_window is None:
            raise QueueError("transfer_target_missing", "请指定转往的业务或窗口",
                             "give to_service or to_window", 422)
        service = self.service(to_service or t.service)
        if to_window is not None:
            cfg = self.window_config(to_window)
            if not cfg.serves(service.code) and cfg.kind.value not in ("general", "assisted"):
                raise QueueError("not_served_here", f"{to_window} 号窗口不办理「{service.name}」",
                                 f"window {to_window} does not serve {service.code}", 409)
        self._refuse_second_open(t, service.code)
        self._emit(ev.TICKET_TRANSFERRED, at, {"ticket": t.id, "from_window": t.window, "to_service": service.code,
                                               "to_window": to_window, "reason": reason}, node,
                   state.staff if state else "")

    def _cancel(self, t: Ticket, at: float, window: int | None, node: str, to_service: str,
                to_window: int | None, reason: str) -> None:
        if t.state not in (TicketState.WAITING, TicketState.CALLED, TicketState.SKIPPED):
            raise bad_state(t.number, t.state, "cancelled", "取消")
        self._emit(ev.TICKET_CANCELLED, at, {"ticket": t.id, "reason": reason or "cancelled"}, node,
                   self._staff_at(window))

    def _printed(self, t: Ticket, at: float, window: int | None, node: str, to_service: str,
                 to_window: int | None, reason: str, ok: bool = True) -> None:
        """A kiosk's report on the paper ticket; once printed, it stays printed (a repeat changes nothing)."""
        if t.printed == "printed":
            if ok:
                return
            raise QueueError("already_printed", f"{t.number} 号已确认打印", f"ticket {t.number} was already "
                             "confirmed printed; that is final", 409)
        self._emit(ev.TICKET_PRINTED, at, {"ticket": t.id, "ok": ok, "reason": reason}, node)

    def _print_failed(self, t: Ticket, at: float, window: int | None, node: str, to_service: str,
                      to_window: int | None, reason: str) -> None:
        self._printed(t, at, window, node, to_service, to_window, reason or "print failed", ok=False)

    _ACTIONS: ClassVar[dict[str, Callable[..., None]]] = {
        "recall": _recall, "skip": _skip, "requeue": _requeue, "start": _start, "finish": _finish,
        "transfer": _transfer, "cancel": _cancel, "printed": _printed, "print_failed": _print_failed,
    }
    ACTIONS = frozenset(_ACTIONS)

    @command
    def sign_in(self, window: int, staff_id: str, at: float, *, node: str = "") -> WindowState:
        """Record that ``staff_id`` works at ``window`` (the PIN was checked by the caller)."""
        self.window_config(window)
        staff = self._staff.get(staff_id)
        if staff is None or (staff.windows and window not in staff.windows):
            raise QueueError("staff_not_allowed", "该工作人员不能在此窗口签到",
                             f"staff {staff_id!r} may not sign in at window {window}", 403)
        for number, other in self.windows.items():
            if other.staff == staff_id and number != window:
                self._close_window(other, at, node)
        self._emit(ev.WINDOW_SIGNED_IN, at, {"window": window}, node, staff_id)
        return self.windows[window]

    @command
    def sign_out(self, window: int, at: float, *, node: str = "") -> WindowState:
        self.window_config(window)
        state = self.windows[window]
        if state.staff:
            self._close_window(state, at, node)
        return state

    def _close_window(self, state: WindowState, at: float, node: str) -> None:
        """Sign a window out; its called or served citizen goes back to the head of the line, never stranded."""
        if state.current is not None:
            ticket = self.tickets[state.current]
            if ticket.state in (TicketState.CALLED, TicketState.SERVING):
                self._emit(ev.TICKET_RETURNED, at, {"ticket": ticket.id, "window": state.number,
                                                    "reason": "window_closed"}, node, state.staff)
        self._emit(ev.WINDOW_SIGNED_OUT, at, {"window": state.number}, node, state.staff)

    @command
    def pause(self, window: int, at: float, *, reason: str = "", node: str = "") -> WindowState:
        self.window_config(window)
        state = self.windows[window]
        if not reason:
            raise QueueError("pause_reason_required", "暂停需要填写原因", "a pause needs a reason", 422)
        if not state.paused:
            self._emit(ev.WINDOW_PAUSED, at, {"window": window, "reason": reason}, node, state.staff)
        return state

    @command
    def resume(self, window: int, at: float, *, node: str = "") -> WindowState:
        self.window_config(window)
        state = self.windows[window]
        if state.paused:
            self._emit(ev.WINDOW_RESUMED, at, {"window": window}, node, state.staff)
        return state

    @command
    def roll_over(self, at: float) -> None:
        """Open the new business day if ``at`` is in one (also done by every command)."""

    @command
    def tick(self, at: float) -> None:
        """What time alone decides, run by the service every second: the new day, then each domain's timers."""
        for domain in self.domains:
            domain.tick(self, at)

    @command
    def pin_failed(self, window: int | None, staff_id: str, at: float, *, node: str = "") -> None:
        """Record a wrong PIN (durably, so a restart does not reset the count; unknown ids count per node).

        ``window`` is None for a sign-in to the managers' web console (``node`` then names the browser's address)."""
        known = staff_id if staff_id in self._staff else ""
        self._emit(ev.STAFF_PIN_FAILED, at, {"window": window}, node, known)

    # ---------------------------------------------------------------- calling helpers
    def _ready_window(self, window: int) -> WindowState:
        self.window_config(window)
        state = self.windows[window]
        if not state.staff:
            raise QueueError("not_signed_in", f"{window} 号窗口尚未签到", f"nobody is signed in at window {window}",
                             409)
        if state.paused:
            raise QueueError("window_paused", f"{window} 号窗口已暂停：{state.pause_reason}",
                             f"window {window} is paused: {state.pause_reason}", 409)
        return state

    def _finish_current(self, state: WindowState, at: float, node: str) -> None:
        """Calling the next citizen finishes the one being served; one still only called must be skipped."""
        if state.current is None:
            return
        current = self.tickets[state.current]
        if current.state is TicketState.SERVING:
            self._emit(ev.TICKET_FINISHED, at, {"ticket": current.id, "window": state.number, "implicit": True},
                       node, state.staff)
        elif current.state is TicketState.CALLED:
            raise QueueError("ticket_still_called", f"{current.number} 号尚未到窗口，请先过号或开始办理",
                             f"ticket {current.number} is still called here; skip or start it first", 409,
                             {"ticket": current.id, "number": current.number})

    def _choose(self, window: int) -> tuple[str, str] | None:
        heads = self._heads(window)
        targeted_id = self.window_lines[window].head()
        candidates = heads + ([self.tickets[targeted_id]] if targeted_id else [])
        if not candidates:
            return None
        oldest = min  # readability: min by (queue_time, seq)
        starving = [t for t in candidates if t.bypassed >= self.hall.policy.max_bypass]
        if starving:
            return oldest(starving, key=lambda t: (t.queue_time, t.seq)).id, "starvation_bound"
        if targeted_id:
            return targeted_id, "transferred_here"
        urgent = [t for t in heads if t.rank == 0]
        if urgent:
            return oldest(urgent, key=lambda t: (t.queue_time, t.seq)).id, "priority"
        service = self._round_robin_pick(window, heads)
        head = next(t for t in heads if t.service == service)
        return head.id, "weighted"

    def _round_robin_pick(self, window: int, heads: list[Ticket]) -> str:
        """Smooth weighted round robin over services with someone waiting (pure: credits change in apply)."""
        credits = self.windows[window].credits
        active = {t.service: t for t in heads}
        best: tuple[int, int, float, str] | None = None
        for order, ws in enumerate(self._windows_cfg[window].services):
            if ws.service not in active:
                continue
            score = credits.get(ws.service, 0) + ws.weight
            key = (-score, ws.order * 1000 + order, active[ws.service].queue_time, ws.service)
            if best is None or key < best:
                best = key
        assert best is not None
        return best[3]
