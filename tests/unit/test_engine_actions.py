"""Actions on one ticket: recall, skip and re-queue, start, finish, cancel, and refusals from the wrong state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from queue_server.engine import events as ev
from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.state import Ticket, TicketState
from tests.support.engine_kit import Clock, Recorder, has_cjk, new_engine


def called_at_window_1(engine: QueueEngine, clock: Clock, service: str = "A01") -> Ticket:
    engine.sign_in(1, "s1", clock())
    engine.issue(service, clock())
    return engine.call_next(1, clock()).outcome


def refused(code: str, command: Callable[..., Any], *args: Any, **kwargs: Any) -> QueueError:
    """The refusal a command gets, checked for its code and for words in both languages."""
    with pytest.raises(QueueError) as excinfo:
        command(*args, **kwargs)
    err = excinfo.value
    assert err.code == code, err
    assert has_cjk(err.message_zh) and err.message_en.isascii()
    return err


def test_recall_is_limited() -> None:
    engine, clock = new_engine(recall_limit=2), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.act("recall", ticket.id, clock(), window=1)
    engine.act("recall", ticket.id, clock(), window=1)
    assert ticket.recalls == 2
    refused("recall_limit", engine.act, "recall", ticket.id, clock(), window=1)
    engine.act("skip", ticket.id, clock(), window=1)  # what the refusal tells staff to do
    assert ticket.state is TicketState.SKIPPED


def test_requeue_within_the_window_keeps_the_queue_time() -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    queued_at = ticket.queue_time
    later = engine.issue("A01", clock()).outcome.ticket
    engine.act("skip", ticket.id, clock(), window=1)
    assert engine.windows[1].current is None and ticket.id not in engine.lines[("A01", 1)]
    engine.act("requeue", ticket.id, clock(29 * 60), node="kiosk-1")
    assert ticket.state is TicketState.WAITING and ticket.queue_time == queued_at and ticket.window is None
    assert engine.ahead_of(later) == 1
    assert engine.call_next(1, clock()).outcome.id == ticket.id


def test_requeue_after_the_window_is_refused() -> None:
    engine, clock = new_engine(requeue_window_minutes=30), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.act("skip", ticket.id, clock(), window=1)
    err = refused("requeue_expired", engine.act, "requeue", ticket.id, clock(30 * 60 + 1))
    assert "30" in err.message_zh
    assert ticket.state is TicketState.SKIPPED


def test_requeue_beyond_the_limit_is_refused() -> None:
    engine, clock = new_engine(requeue_limit=1), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.act("skip", ticket.id, clock(), window=1)
    engine.act("requeue", ticket.id, clock())
    engine.call_next(1, clock())
    engine.act("skip", ticket.id, clock(), window=1)
    refused("requeue_limit", engine.act, "requeue", ticket.id, clock())


def test_requeue_of_a_ticket_that_was_not_skipped_is_invalid() -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("A01", clock()).outcome.ticket
    err = refused("invalid_state", engine.act, "requeue", ticket.id, clock())
    assert err.details == {"state": "等候中"}


@pytest.mark.parametrize(("action", "state_zh"), [("start", "等候中"), ("recall", "等候中"), ("skip", "等候中"),
                                                  ("finish", "等候中")])
def test_actions_from_waiting_are_invalid(action: str, state_zh: str) -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("A01", clock()).outcome.ticket
    err = refused("invalid_state", engine.act, action, ticket.id, clock(), window=1)
    assert err.details == {"state": state_zh} and ticket.number in err.message_zh


@pytest.mark.parametrize("action", ["start", "recall", "skip", "finish", "transfer", "cancel", "requeue"])
def test_actions_on_a_finished_ticket_are_invalid(action: str) -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.act("finish", ticket.id, clock(), window=1)
    err = refused("invalid_state", engine.act, action, ticket.id, clock(), window=1, to_service="B01")
    assert err.details == {"state": "已办结"}


def test_cancel_of_a_serving_ticket_is_invalid() -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.act("start", ticket.id, clock(), window=1)
    assert refused("invalid_state", engine.act, "cancel", ticket.id, clock()).details == {"state": "办理中"}


@pytest.mark.parametrize("action", ["start", "recall", "skip", "finish", "transfer"])
def test_a_window_cannot_act_on_another_windows_ticket(action: str) -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.sign_in(2, "s2", clock())
    err = refused("other_window", engine.act, action, ticket.id, clock(), window=2, to_service="B01")
    assert err.status == 403 and ticket.state is TicketState.CALLED and ticket.window == 1


def test_start_and_finish_move_the_ticket_and_free_the_window() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    ticket = rec.do("issue", "A01", clock())[0]
    rec.do("call_next", 1, clock())
    rec.do("act", "start", ticket.id, clock(), window=1)
    assert ticket.state is TicketState.SERVING and ticket.started_at == clock.now
    rec.do("act", "finish", ticket.id, clock(), window=1)
    assert ticket.state is TicketState.FINISHED and ticket.finished_at == clock.now
    assert rec.engine.windows[1].current is None
    assert rec.log[-1].type == ev.TICKET_FINISHED and rec.log[-1].staff == "s1"


def test_call_next_while_serving_finishes_the_current_ticket_implicitly() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    first = rec.do("issue", "A01", clock())[0]
    rec.do("issue", "A01", clock())
    rec.do("call_next", 1, clock())
    rec.do("act", "start", first.id, clock(), window=1)
    mark = len(rec.log)
    second = rec.do("call_next", 1, clock(), node="pad-1")
    finished, called = rec.log[mark:]
    assert finished.type == ev.TICKET_FINISHED and finished.data["implicit"] is True
    assert finished.data["ticket"] == first.id and finished.staff == "s1" and finished.node == "pad-1"
    assert called.type == ev.TICKET_CALLED and called.data["ticket"] == second.id
    assert first.state is TicketState.FINISHED and rec.engine.windows[1].current == second.id


def test_call_next_while_still_called_is_refused() -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.issue("A01", clock())
    err = refused("ticket_still_called", engine.call_next, 1, clock())
    assert err.details == {"ticket": ticket.id, "number": ticket.number}
    assert ticket.state is TicketState.CALLED and engine.windows[1].current == ticket.id


def test_calling_a_specific_ticket() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    rec.do("issue", "A01", clock())
    picked = rec.do("issue", "A01", clock())[0]
    assert rec.do("call", picked.id, 1, clock()).id == picked.id
    assert rec.log[-1].data["mode"] == "specific" and rec.log[-1].data["reason"] == "picked"
    assert picked.state is TicketState.CALLED and picked.window == 1 and picked.staff == "s1"


def test_calling_a_ticket_the_window_does_not_serve_is_refused() -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("A01", clock()).outcome.ticket
    engine.sign_in(4, "s4", clock())  # dedicated B window
    refused("not_served_here", engine.call, ticket.id, 4, clock())
    assert ticket.state is TicketState.WAITING


def test_calling_a_ticket_targeted_at_another_window_is_refused() -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("A01", clock()).outcome.ticket
    engine.act("transfer", ticket.id, clock(), to_window=2)
    engine.sign_in(1, "s1", clock())
    refused("not_served_here", engine.call, ticket.id, 1, clock())


def test_calling_a_ticket_that_is_not_waiting_is_invalid() -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.sign_in(2, "s2", clock())
    refused("invalid_state", engine.call, ticket.id, 2, clock())  # never two windows on one ticket
    assert ticket.window == 1 and engine.windows[2].current is None


def test_cancel_a_waiting_ticket_leaves_the_line() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = rec.do("issue", "A01", clock())[0]
    later = rec.do("issue", "A01", clock())[0]
    rec.do("act", "cancel", ticket.id, clock(), node="kiosk-1", reason="left")
    assert ticket.state is TicketState.CANCELLED and ticket.cancel_reason == "left"
    assert ticket.id not in rec.engine.lines[("A01", 1)] and rec.engine.ahead_of(later) == 0
    assert rec.log[-1].node == "kiosk-1" and rec.log[-1].data["number"] == "A001"


def test_cancel_a_called_ticket_frees_the_window() -> None:
    engine, clock = new_engine(), Clock()
    ticket = called_at_window_1(engine, clock)
    engine.act("cancel", ticket.id, clock())
    assert ticket.state is TicketState.CANCELLED and ticket.cancel_reason == "cancelled"
    assert engine.windows[1].current is None


def test_transfer_needs_a_target_and_a_serving_window() -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("A01", clock()).outcome.ticket
    refused("transfer_target_missing", engine.act, "transfer", ticket.id, clock())
    refused("not_served_here", engine.act, "transfer", ticket.id, clock(), to_window=4)  # dedicated B window
    refused("unknown_service", engine.act, "transfer", ticket.id, clock(), to_service="Z99")
    assert ticket.state is TicketState.WAITING and ticket.service == "A01"


def test_unknown_ticket_and_action_are_refused() -> None:
    engine, clock = new_engine(), Clock()
    refused("ticket_not_found", engine.act, "start", "nope", clock())
    ticket = engine.issue("A01", clock()).outcome.ticket
    refused("unknown_action", engine.act, "teleport", ticket.id, clock())
