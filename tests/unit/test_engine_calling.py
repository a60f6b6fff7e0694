"""call_next order: green and appointments first, weighted round robin, oldest first, transfers, starvation bound."""

from __future__ import annotations

import pytest

from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.state import Ticket, TicketState
from tests.support.appointments import checked_in
from tests.support.engine_kit import Clock, Recorder, new_engine


def serve_next(engine: QueueEngine, window: int, clock: Clock) -> Ticket:
    """Call the next ticket and start it, so the following call_next finishes it implicitly."""
    ticket = engine.call_next(window, clock()).outcome
    engine.act("start", ticket.id, clock(), window=window)
    return ticket


def called_numbers(engine: QueueEngine, window: int, clock: Clock, count: int) -> list[str]:
    return [serve_next(engine, window, clock).number for _ in range(count)]


def test_oldest_ticket_first_within_a_service() -> None:
    engine, clock = new_engine(), Clock()
    for _ in range(3):
        engine.issue("A01", clock())
    engine.sign_in(1, "s1", clock())
    assert called_numbers(engine, 1, clock, 3) == ["A001", "A002", "A003"]


def test_green_channel_goes_first() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("issue", "A01", clock())
    rec.do("issue", "B01", clock())
    green = rec.do("issue", "B01", clock(), priority="green", green_reason="age_60_plus")[0]
    rec.do("sign_in", 1, "s1", clock())
    assert rec.do("call_next", 1, clock()).id == green.id
    assert rec.log[-1].data["reason"] == "priority"


def test_checked_in_appointment_goes_first() -> None:
    engine, clock = new_engine(), Clock()
    engine.issue("A01", clock())
    booked = checked_in(engine, clock)
    engine.sign_in(1, "s1", clock())
    assert engine.call_next(1, clock()).outcome.id == booked.id


def test_green_and_appointment_tickets_share_one_oldest_first_order() -> None:
    engine, clock = new_engine(), Clock()
    green = engine.issue("A01", clock(), priority="green", green_reason="age_60_plus").outcome.ticket
    booked = checked_in(engine, clock)
    engine.sign_in(1, "s1", clock())
    assert [serve_next(engine, 1, clock).id for _ in range(2)] == [green.id, booked.id]


def test_green_is_a_normal_ticket_when_green_first_is_off() -> None:
    engine, clock = new_engine(green_first=False), Clock()
    engine.issue("A01", clock())
    engine.issue("A01", clock(), priority="green", green_reason="age_60_plus")
    engine.sign_in(1, "s1", clock())
    assert called_numbers(engine, 1, clock, 2) == ["A001", "A002"]


def test_weighted_round_robin_gives_a_two_to_one_pattern() -> None:
    engine, clock = new_engine(), Clock()
    for _ in range(8):
        engine.issue("A01", clock())
    for _ in range(4):
        engine.issue("B01", clock())
    engine.sign_in(1, "s1", clock())
    services = [number[0] for number in called_numbers(engine, 1, clock, 12)]
    assert services == list("ABAABAABAABA")
    for start in range(0, 12, 3):  # every three calls: two A, one B
        assert sorted(services[start:start + 3]) == ["A", "A", "B"]


def test_round_robin_serves_the_only_waiting_service_every_time() -> None:
    engine, clock = new_engine(), Clock()
    for _ in range(3):
        engine.issue("B01", clock())
    engine.sign_in(1, "s1", clock())
    assert called_numbers(engine, 1, clock, 3) == ["B001", "B002", "B003"]


def test_a_window_calls_only_its_own_services() -> None:
    engine, clock = new_engine(), Clock()
    engine.issue("A01", clock())
    engine.issue("B01", clock())
    engine.sign_in(4, "s4", clock())  # the dedicated B window
    assert called_numbers(engine, 4, clock, 1) == ["B001"]
    current = engine.windows[4].current
    assert current is not None
    engine.act("finish", current, clock(), window=4)
    with pytest.raises(QueueError) as excinfo:
        engine.call_next(4, clock())
    assert excinfo.value.code == "queue_empty" and excinfo.value.status == 404


def test_transferred_to_a_window_goes_first_there() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    rec.do("sign_in", 2, "s2", clock())
    matter = rec.do("issue", "A01", clock())[0]
    rec.do("call_next", 1, clock())
    rec.do("act", "start", matter.id, clock(), window=1)
    rec.do("issue", "B01", clock(), priority="green", green_reason="age_60_plus")
    rec.do("act", "transfer", matter.id, clock(), window=1, to_window=2, reason="联办")
    assert matter.state is TicketState.WAITING and matter.target_window == 2
    assert rec.do("call_next", 2, clock()).id == matter.id  # ahead of the green ticket
    assert rec.log[-1].data["reason"] == "transferred_here"


def test_a_window_targeted_ticket_is_not_called_elsewhere() -> None:
    engine, clock = new_engine(), Clock()
    engine.sign_in(1, "s1", clock())
    engine.sign_in(3, "s3", clock())
    matter = engine.issue("A01", clock()).outcome.ticket
    engine.act("transfer", matter.id, clock(), to_window=2)
    later = engine.issue("A01", clock()).outcome.ticket
    assert engine.call_next(1, clock()).outcome.id == later.id
    assert matter.state is TicketState.WAITING


def test_transferred_ticket_keeps_its_queue_time() -> None:
    engine, clock = new_engine(), Clock()
    matter = engine.issue("A01", clock()).outcome.ticket
    queued_at = matter.queue_time
    for _ in range(3):
        engine.issue("B01", clock())
    engine.sign_in(1, "s1", clock())
    engine.sign_in(4, "s4", clock())
    engine.call_next(1, clock())
    engine.act("start", matter.id, clock(), window=1)
    engine.act("transfer", matter.id, clock(), window=1, to_service="B01")
    assert matter.service == "B01" and matter.queue_time == queued_at and matter.number == "A001"
    assert engine.ahead_of(matter) == 0  # ahead of B001, which came later
    assert engine.call_next(4, clock()).outcome.id == matter.id


def test_starvation_bound_calls_an_overtaken_head_next() -> None:
    rec, clock = Recorder(new_engine(max_bypass=2)), Clock()
    old = rec.do("issue", "B01", clock())[0]
    for _ in range(5):
        rec.do("issue", "A01", clock(), priority="green", green_reason="age_60_plus")
    rec.do("sign_in", 1, "s1", clock())
    first, second = serve_next(rec.engine, 1, clock), serve_next(rec.engine, 1, clock)
    assert [first.number, second.number] == ["A001", "A002"] and old.bypassed == 2
    assert serve_next(rec.engine, 1, clock).id == old.id  # overtaken twice: called before the green tickets
    assert old.bypassed == 0
    assert serve_next(rec.engine, 1, clock).number == "A003"


def test_starvation_bound_reason_is_recorded() -> None:
    rec, clock = Recorder(new_engine(max_bypass=1)), Clock()
    rec.do("issue", "B01", clock())
    rec.do("issue", "A01", clock(), priority="green", green_reason="age_60_plus")
    rec.do("issue", "A01", clock(), priority="green", green_reason="age_60_plus")
    rec.do("sign_in", 1, "s1", clock())
    first = rec.do("call_next", 1, clock())
    assert first.number == "A001" and rec.log[-1].data["reason"] == "priority"
    rec.do("act", "start", first.id, clock(), window=1)
    second = rec.do("call_next", 1, clock())
    assert second.number == "B001" and rec.log[-1].data["reason"] == "starvation_bound"


def test_overtakes_count_only_at_windows_that_serve_the_ticket() -> None:
    engine, clock = new_engine(max_bypass=1), Clock()
    waiting_a = engine.issue("A01", clock()).outcome.ticket
    engine.issue("B01", clock())
    engine.issue("B01", clock())
    engine.sign_in(4, "s4", clock())  # the B-only window overtakes A001 without serving it
    serve_next(engine, 4, clock)
    serve_next(engine, 4, clock)
    assert waiting_a.bypassed == 0


def test_overtakes_by_an_older_ticket_do_not_count() -> None:
    engine, clock = new_engine(max_bypass=1), Clock()
    engine.issue("A01", clock())
    older_b = engine.issue("B01", clock()).outcome.ticket
    later_a = engine.issue("A01", clock()).outcome.ticket
    engine.sign_in(1, "s1", clock())
    assert serve_next(engine, 1, clock).number == "A001"  # older than B001: no overtake
    assert older_b.bypassed == 0
    assert serve_next(engine, 1, clock).id == older_b.id  # round robin turns to B; B001 is older than A002
    assert later_a.bypassed == 0


def test_tickets_issued_at_the_same_instant_keep_their_issue_order_across_services() -> None:
    engine, clock = new_engine(max_bypass=1), Clock()
    engine.sign_in(1, "s1", clock())
    engine.sign_in(2, "s2", clock())
    same_instant = clock()
    older_b = engine.issue("B01", same_instant).outcome.ticket
    engine.issue("A01", same_instant)
    engine.issue("A01", same_instant)
    assert engine.call_next(1, clock()).outcome.number == "A001"  # round robin: A weighs 2; B001 is overtaken once
    assert older_b.bypassed == 1
    assert engine.call_next(2, clock()).outcome.id == older_b.id  # the bound (1) is reached: B001 before A002
