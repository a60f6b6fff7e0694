"""Hypothesis: whatever citizens, devices and the server do, the kiosk flows never print a number the server did
not give, never leave a printed ticket unreported, and wipe personal data whenever a session ends."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.flows import check_in, take_ticket
from kiosk.flows.effects import (
    PrintTicket,
    ReadPrinterStatus,
    ReportPrinted,
    ReportPrintFailed,
    RequestCheckIn,
    RequestTicket,
    Show,
    WipePersonalData,
)
from kiosk.flows.events import (
    Button,
    CardReadFailed,
    IdleTimeout,
    KioskHealth,
    PrintDone,
    PrintFailed,
    ServerAnswer,
    ServerUnreachable,
    Touch,
)
from tests.support.kiosk_flows import (
    COVER_OPEN,
    OFFLINE,
    PAPER_NEAR_END,
    PAPER_OK,
    PAPER_OUT,
    PAPER_UNKNOWN,
    context,
    id_card,
    refused,
    ss_card,
    ticket_body,
)

FLOWS = {"take": take_ticket, "check_in": check_in}
PRINTER = st.sampled_from([PAPER_OK, PAPER_OK, PAPER_NEAR_END, PAPER_OUT, PAPER_UNKNOWN, OFFLINE, COVER_OPEN])
REFUSALS = ["lunch_break", "closed", "daily_quota_reached", "real_name_required", "checkin_too_early",
            "checkin_too_late", "appointment_ambiguous", "appointment_not_found"]
CITIZEN = st.one_of(
    st.builds(Touch, st.sampled_from(list(Button)), st.sampled_from(["", "A01", "B01", "C01", "shebao", "budongchan",
                                                                      "1", "5", "0"])),
    st.sampled_from([id_card(), ss_card(), id_card(name="李四"), CardReadFailed("card removed", pulled=True),
                     IdleTimeout(), KioskHealth("kiosk-2", False), KioskHealth("kiosk-2", True)]),
)
#: a move: ("citizen", event), ("shown", index of a target on the last screen), ("node", outcome draw)
MOVES = st.lists(st.one_of(st.tuples(st.just("citizen"), CITIZEN),
                           st.tuples(st.just("shown"), st.integers(0, 30)),
                           st.tuples(st.just("node"), st.integers(0, 99))), max_size=60)


class Hall:
    """The server and devices as the node reports them: one answer per request, one outcome per print."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer
        self.pending: list[Any] = []
        self.given: dict[str, str] = {}  # ticket id → number the server gave
        self.new: set[str] = set()  # tickets issued fresh (201), which must all be reported
        self.serial = 0

    def answer(self, effect: Any, draw: int) -> Any:
        if isinstance(effect, ReadPrinterStatus):
            return self.printer if draw % 3 else PAPER_OK
        if isinstance(effect, RequestTicket | RequestCheckIn):
            if draw < 15:
                return ServerUnreachable(effect.key)
            if draw < 35:
                code = REFUSALS[draw % len(REFUSALS)]
                details = {"offer": "normal_ticket", "service": "A01", "services": ["A01", "B01"]}
                return refused(effect.key, code, details=details)
            existing = draw >= 85 and bool(self.given)
            if existing:
                ident = sorted(self.given)[draw % len(self.given)]
            else:
                self.serial += 1
                ident = f"t-{self.serial}"
                self.given[ident] = f"A{self.serial:03d}"
                self.new.add(ident)
            return ServerAnswer(effect.key, 200 if existing else 201,
                                ticket_body(self.given[ident], ident, existing=existing))
        if isinstance(effect, PrintTicket):
            tid = effect.ticket.ticket_id
            return PrintDone(tid) if draw % 2 else PrintFailed(tid, "paper out; load a new roll")
        return None


class Audit:
    """Checks every step's effects as they come."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.prints: Counter[str] = Counter()
        self.reports: Counter[str] = Counter()
        self.reported: set[str] = set()

    def check(self, before: Any, after: Any, effects: list[Any]) -> None:
        for effect in effects:
            if isinstance(effect, PrintTicket):
                ticket = effect.ticket
                assert self.hall.given.get(ticket.ticket_id) == ticket.number, "printed a number nobody gave"
                self.prints[ticket.ticket_id] += 1
            if isinstance(effect, ReportPrinted | ReportPrintFailed):
                if not effect.key.endswith("-orphan"):  # the report of one print
                    self.reports[effect.ticket_id] += 1
                self.reported.add(effect.ticket_id)
        if before.holder is not None and after.holder is None:
            assert any(isinstance(e, WipePersonalData) for e in effects), "a session ended without a wipe"


def play(flow: Any, printer: Any, moves: list[tuple[str, Any]]) -> None:
    hall = Hall(printer)
    audit = Audit(hall)
    state, _ = flow.initial(context())
    last_show: Show | None = None

    def feed(event: Any) -> None:
        nonlocal state, last_show
        new, effects = flow.step(state, event)
        audit.check(state, new, effects)
        state = new
        for effect in effects:
            if isinstance(effect, Show):
                last_show = effect
            elif isinstance(effect, ReadPrinterStatus | RequestTicket | RequestCheckIn | PrintTicket):
                hall.pending.append(effect)

    for kind, value in moves:
        if kind == "citizen":
            feed(value)
        elif kind == "shown" and last_show is not None and last_show.choices:
            feed(last_show.choices[value % len(last_show.choices)])
        elif kind == "node" and hall.pending:
            feed(hall.answer(hall.pending.pop(0), value))
    for _ in range(20):  # the node answers everything still asked of it, then the citizen leaves
        while hall.pending:
            feed(hall.answer(hall.pending.pop(0), 50 + len(audit.prints) % 2))
        feed(Touch(Button.DONE))
        feed(IdleTimeout())
    assert not hall.pending and state.holder is None and state.job is None
    for ticket_id, count in audit.prints.items():
        assert audit.reports[ticket_id] == count, f"the prints of {ticket_id} were not each reported once"
    assert hall.new <= audit.reported, "an issued ticket was left neither printed nor marked print_failed"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FLOWS)), PRINTER, MOVES)
def test_random_sessions_keep_the_printing_promises(name: str, printer: Any, moves: list[tuple[str, Any]]) -> None:
    play(FLOWS[name], printer, moves)


ANY_EVENT = st.one_of(CITIZEN, PRINTER, st.builds(PrintDone, st.sampled_from(["t-1", "t-2"])),
                      st.builds(PrintFailed, st.sampled_from(["t-1", "t-2"]), st.just("jam")),
                      st.builds(ServerAnswer, st.sampled_from(["seed-t1", "seed-t2", "seed-c1", "x"]),
                                st.sampled_from([200, 201, 409]),
                                st.fixed_dictionaries({"id": st.sampled_from(["t-1", "t-2"]),
                                                       "number": st.sampled_from(["A001", "B002"]),
                                                       "existing": st.booleans()})),
                      st.builds(ServerUnreachable, st.sampled_from(["seed-t1", "seed-c1"])))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(FLOWS)), st.lists(ANY_EVENT, max_size=50))
def test_any_event_order_prints_only_what_a_server_answer_gave(name: str, events: list[Any]) -> None:
    flow = FLOWS[name]
    state, _ = flow.initial(context())
    given: set[tuple[str, str]] = set()
    for event in events:
        if isinstance(event, ServerAnswer) and event.ok:
            given.add((str(event.body["id"]), str(event.body["number"])))
        new, effects = flow.step(state, event)
        for effect in effects:
            if isinstance(effect, PrintTicket):
                assert (effect.ticket.ticket_id, effect.ticket.number) in given
        if state.holder is not None and new.holder is None:
            assert any(isinstance(e, WipePersonalData) for e in effects)
        state = new
