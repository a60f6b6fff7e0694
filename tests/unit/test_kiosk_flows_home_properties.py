"""Hypothesis on the home dispatcher: whatever is touched, tapped and answered, every screen offers a way on
(and every screen outside home a way back), a holder never disappears without a wipe, and an idle kiosk is
home again with nobody's data kept."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.flows import home as hf
from kiosk.flows.effects import (
    FetchDocuments,
    FetchTicketStatus,
    PrintCertificate,
    PrintTicket,
    RateCertificatePrint,
    ReadPrinterStatus,
    ReportCertificatePrint,
    RequestCheckIn,
    RequestTicket,
    Screen,
    Show,
    SubmitRating,
    WipePersonalData,
)
from kiosk.flows.events import (
    Button,
    CardReadFailed,
    CertificateFault,
    CertificatePrinted,
    CertificatePrintFailed,
    DocumentItem,
    DocumentsFetched,
    DocumentsUnavailable,
    IdleTimeout,
    PrintDone,
    PrintFailed,
    RatingInvited,
    ServerAnswer,
    ServerUnreachable,
    Touch,
)
from tests.support.kiosk_flows import PAPER_OK, PAPER_OUT, context, id_card, refused, ss_card, ticket_body

ASKED = (ReadPrinterStatus, RequestTicket, RequestCheckIn, PrintTicket, FetchDocuments, PrintCertificate,
         ReportCertificatePrint, RateCertificatePrint, FetchTicketStatus, SubmitRating)
WAYS_OUT = {Button.DONE, Button.BACK, Button.SKIP}
DOCS = (DocumentItem("sb-1", "参保证明", "Social insurance certificate", dt.date(2026, 11, 20)),)
OUTSIDE = st.sampled_from([id_card(), ss_card(), id_card(name="李四"), CardReadFailed("removed", pulled=True),
                           IdleTimeout(), RatingInvited("t-9")])
MOVES = st.lists(st.one_of(st.tuples(st.just("outside"), OUTSIDE),
                           st.tuples(st.just("shown"), st.integers(0, 40)),
                           st.tuples(st.just("node"), st.integers(0, 99))), max_size=80)


def answer(effect: Any, draw: int) -> Any:
    """What the node's devices, the library and the server say to ``effect`` (``draw`` picks the outcome)."""
    if isinstance(effect, ReadPrinterStatus):
        return PAPER_OUT if draw < 10 else PAPER_OK
    if isinstance(effect, PrintTicket):
        tid = effect.ticket.ticket_id
        return PrintFailed(tid, "paper out") if draw < 15 else PrintDone(tid)
    if isinstance(effect, FetchDocuments):
        return DocumentsUnavailable(effect.key, "down") if draw < 10 else DocumentsFetched(effect.key, DOCS)
    if isinstance(effect, PrintCertificate):
        return CertificatePrintFailed(effect.key, CertificateFault.JAM) if draw < 20 else CertificatePrinted(effect.key)
    if draw < 10:
        return ServerUnreachable(effect.key)
    if isinstance(effect, RequestTicket | RequestCheckIn):
        if draw < 30:
            return refused(effect.key, "checkin_too_late", details={"offer": "normal_ticket", "service": "A01"})
        return ServerAnswer(effect.key, 201, ticket_body(f"A{draw:03d}", f"t-{draw}"))
    if isinstance(effect, ReportCertificatePrint):
        return ServerAnswer(effect.key, 201, {"print": f"p-{draw}", "outcome": effect.body["outcome"]})
    if isinstance(effect, FetchTicketStatus):
        return ServerAnswer(effect.key, 200, ticket_body(effect.number) | {"state": "waiting"})
    return ServerAnswer(effect.key, 201, {})


def holders(state: hf.Home) -> list[Any]:
    return [state.ticket.holder, state.check_in.holder, state.certificates.holder]


@settings(max_examples=300, deadline=None)
@given(st.booleans(), MOVES)
def test_random_sessions_always_have_a_way_home_and_wipe_what_they_read(certificates: bool,
                                                                        moves: list[tuple[str, Any]]) -> None:
    state, effects = hf.initial(dataclasses.replace(context(), certificates=certificates))
    pending: list[Any] = []
    last: Show = [e for e in effects if isinstance(e, Show)][-1]

    def feed(event: Any) -> None:
        nonlocal state, last
        new, effects = hf.step(state, event)
        gone = [b for b, a in zip(holders(state), holders(new), strict=True) if b is not None and a is None]
        assert not gone or any(isinstance(e, WipePersonalData) for e in effects), "a holder dropped unwiped"
        for effect in effects:
            if isinstance(effect, Show):
                last = effect
                assert effect.screen is Screen.WORKING or effect.choices, f"{effect.screen} offers nothing"
                if effect.screen not in (Screen.WORKING, Screen.START):
                    assert any(c.button in WAYS_OUT for c in effect.choices), f"{effect.screen}: no way back"
                if not certificates:
                    assert Touch(Button.CERTIFICATES) not in effect.choices
            elif isinstance(effect, ASKED):
                pending.append(effect)
        state = new

    for kind, value in moves:
        if kind == "outside":
            feed(value)
        elif kind == "shown" and last.choices:
            feed(last.choices[value % len(last.choices)])
        elif kind == "node" and pending:
            feed(answer(pending.pop(0), value))
    for _ in range(10):  # the node answers what it was asked, then nobody touches the kiosk any more
        while pending:
            feed(answer(pending.pop(0), 50))
        feed(IdleTimeout())
    assert state.lane is hf.Lane.TICKET and last.screen is Screen.START
    assert holders(state) == [None, None, None] and state.check_in.code == ""
