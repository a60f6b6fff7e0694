"""Every Show the real kiosk flows emit, got by driving them through scripted sessions (no device, no server).

Each script is a list of events; an entry may be a function of the last request's Idempotency-Key, for the
server answers. ``every_show()`` runs them all and returns (name, Show) in order, so a test can render
each screen of each flow and check that every Screen member was reached.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from kiosk.flows import certificate, check_in, guide, home, rating, take_ticket
from kiosk.flows.effects import (
    FetchDocuments,
    FetchTicketStatus,
    PrintCertificate,
    RateCertificatePrint,
    ReportCertificatePrint,
    RequestCheckIn,
    RequestTicket,
    Show,
    SubmitRating,
)
from kiosk.flows.events import (
    Button,
    CardReadFailed,
    CertificateFault,
    CertificatePrinted,
    CertificatePrintFailed,
    DocumentItem,
    DocumentsFetched,
    Event,
    PrintDone,
    PrintFailed,
    RatingInvited,
    ServerAnswer,
    ServerUnreachable,
    Touch,
)
from tests.support.kiosk_flows import PAPER_OK, PAPER_OUT, context, id_card, issued, refused, ticket_body

Step = Event | Callable[[str], Event]
ELDER = dt.date(1950, 3, 1)
KEYED = (RequestTicket, RequestCheckIn, FetchTicketStatus, SubmitRating, FetchDocuments, PrintCertificate,
         ReportCertificatePrint, RateCertificatePrint)
DOCUMENTS = (DocumentItem("sb-1", "参保证明", "Social insurance certificate", dt.date(2026, 11, 20)),
             DocumentItem("ws-1", "完税证明", "Tax payment certificate", dt.date(2026, 11, 2)),
             DocumentItem("bdc-1", "不动产登记信息", "", dt.date(2025, 4, 30)))


def _t(button: Button, value: str = "") -> Touch:
    return Touch(button, value)


def _run(name: str, step: Callable[[Any, Event], tuple[Any, list[Any]]], state: Any, first: Sequence[Any],
         script: Sequence[Step]) -> list[tuple[str, Show]]:
    out: list[tuple[str, Show]] = []
    key = ""

    def take(effects: Sequence[Any]) -> None:
        nonlocal key
        for effect in effects:
            if isinstance(effect, KEYED):
                key = effect.key
            if isinstance(effect, Show):
                out.append((f"{name}-{len(out):02d}-{effect.screen.value}", effect))

    take(first)
    for entry in script:
        event = entry(key) if callable(entry) else entry
        state, effects = step(state, event)
        take(effects)
    return out


def take_ticket_shows() -> list[tuple[str, Show]]:
    ctx = context()
    out: list[tuple[str, Show]] = []
    state, first = take_ticket.initial(ctx)
    out += _run("ticket", take_ticket.step, state, first, [
        _t(Button.CATEGORY, "shebao"), _t(Button.BACK), _t(Button.SERVICE, "B01"),  # real name: card asked for
        id_card(birth=ELDER), _t(Button.GREEN_NO), PAPER_OUT, _t(Button.RETRY), PAPER_OK,  # offer, then the job
    ])
    state, first = take_ticket.initial(ctx)
    out += _run("elder", take_ticket.step, state, first, [
        id_card(birth=ELDER), _t(Button.SERVICE, "A01"), _t(Button.GREEN_YES), PAPER_OK,
        lambda key: ServerUnreachable(key, "connection refused"), _t(Button.RETRY), PAPER_OK,
        lambda key: issued(key, number="A012", priority="green"), PrintDone("t-1"), _t(Button.REPRINT), PAPER_OK,
        PrintFailed("t-1", "paper ran out"),
    ])
    state, first = take_ticket.initial(ctx)
    out += _run("again", take_ticket.step, state, first, [
        CardReadFailed("card pulled", pulled=True), id_card(), _t(Button.SERVICE, "C01"), PAPER_OK,
        lambda key: issued(key, number="C003", existing=True), _t(Button.NO_REPRINT), _t(Button.SERVICE, "A01"),
        PAPER_OK, lambda key: refused(key, "lunch_break", details={"opens_at": "13:30"}, zh="午休时间暂停取号",
                                      en="tickets are not issued during the lunch break"),
    ])
    return out


def check_in_shows() -> list[tuple[str, Show]]:
    ctx = context()
    out: list[tuple[str, Show]] = []
    state, first = check_in.initial(ctx)
    digits: list[Step] = [_t(Button.DIGIT, d) for d in "123456"]
    out += _run("checkin", check_in.step, state, first, [
        *digits[:3], _t(Button.DELETE), *digits[2:], _t(Button.SUBMIT), PAPER_OK,
        lambda key: refused(key, "checkin_too_late", details={"offer": "normal_ticket", "service": "A01"},
                            zh="已超过预约时段", en="the appointment time has passed"),
    ])
    state, first = check_in.initial(ctx)
    out += _run("twobooked", check_in.step, state, first, [
        id_card(), PAPER_OK,
        lambda key: refused(key, "appointment_ambiguous", details={"services": ["A01", "C01"]},
                            zh="您今天有两个预约", en="you have two appointments today"),
    ])
    return out


def rating_shows() -> list[tuple[str, Show]]:
    state = rating.initial(context())
    return _run("rating", rating.step, state, [], [
        RatingInvited("t-1"), _t(Button.LEVEL, "4"), lambda key: ServerAnswer(key, 201, {"level": 4}),
        _t(Button.DONE),
    ])


def guide_shows() -> list[tuple[str, Show]]:
    state, first = guide.initial(context())
    body = ticket_body(number="A001") | {"state": "called", "window": 3}
    return _run("guide", guide.step, state, first, [
        _t(Button.SERVICE, "B01"), _t(Button.BACK), _t(Button.STATUS), _t(Button.LETTER, "A"),
        *(_t(Button.DIGIT, d) for d in "001"), _t(Button.SUBMIT), lambda key: ServerAnswer(key, 200, body),
    ])


def certificate_shows() -> list[tuple[str, Show]]:
    ctx = context()
    out: list[tuple[str, Show]] = []
    state, first = certificate.initial(ctx)
    out += _run("certificate", certificate.step, state, first, [
        CardReadFailed("card pulled", pulled=True), id_card(), lambda key: DocumentsFetched(key, DOCUMENTS),
        _t(Button.DOCUMENT, "sb-1"), lambda key: CertificatePrintFailed(key, CertificateFault.JAM, "jam"),
        _t(Button.RETRY), lambda key: CertificatePrinted(key),
        lambda key: ServerAnswer(key, 201, {"print": "p-1", "outcome": "printed"}), _t(Button.DONE),
        _t(Button.LEVEL, "5"), lambda key: ServerAnswer(key, 201, {"level": 5}),
    ])
    state, first = certificate.initial(ctx)
    out += _run("nodocuments", certificate.step, state, first, [
        id_card(), lambda key: DocumentsFetched(key, ()),
    ])
    return out


def home_shows() -> list[tuple[str, Show]]:
    """The home screen with every entry (certificates on), and the way back from a flow."""
    state, first = home.initial(dataclasses.replace(context(), certificates=True))
    return _run("home", home.step, state, first, [
        id_card(), _t(Button.CERTIFICATES), _t(Button.DONE), _t(Button.GUIDE), _t(Button.DONE),
    ])


def every_show() -> list[tuple[str, Show]]:
    """Every Show of every scripted session of every flow, named ``<session>-<nn>-<screen>``."""
    return [*take_ticket_shows(), *check_in_shows(), *rating_shows(), *guide_shows(), *certificate_shows(),
            *home_shows()]
