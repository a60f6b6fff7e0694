"""The kiosk's home dispatcher: every entry, every way back home, idle resets that wipe, the rating ask."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

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
    CertificatePrinted,
    DocumentItem,
    DocumentsFetched,
    IdleTimeout,
    KioskHealth,
    PrintDone,
    RatingInvited,
    ServerAnswer,
    Touch,
)
from tests.support.kiosk_flows import PAPER_OK, context, id_card, issued, of, run_flow, shown, ticket_body

PROOF = DocumentItem("sb-1", "参保证明", "Social insurance certificate", dt.date(2026, 11, 20))
ENTRY_BUTTONS = {Button.CHECK_IN, Button.CERTIFICATES, Button.GUIDE, Button.STATUS}


def start(certificates: bool = True) -> hf.Home:
    ctx = dataclasses.replace(context(), certificates=certificates)
    state, effects = hf.initial(ctx)
    assert shown(effects).screen is Screen.START
    return state


def run(state: hf.Home, *events: Any) -> tuple[hf.Home, list[Any]]:
    return run_flow(hf.step, state, *events)


def entries(show: Show) -> set[Button]:
    return {c.button for c in show.choices if c.button in ENTRY_BUTTONS}


def home_again(effects: list[Any]) -> bool:
    last = shown(effects)
    return last.screen is Screen.START and entries(last) >= {Button.CHECK_IN, Button.GUIDE, Button.STATUS}


def key_of(effects: list[Any], kind: type) -> str:
    found = of(effects, kind)
    assert found, f"no {kind.__name__} in {effects}"
    return str(found[-1].key)


def test_the_home_screen_offers_the_busiest_services_departments_and_every_flow() -> None:
    _, effects = hf.initial(dataclasses.replace(context(), certificates=True))
    show = shown(effects)
    assert [c for c in show.choices if c.button is Button.SERVICE] == [Touch(Button.SERVICE, "A01"),
                                                                       Touch(Button.SERVICE, "C01")]
    assert {c.value for c in show.choices if c.button is Button.CATEGORY} == {"shebao", "budongchan"}
    assert entries(show) == ENTRY_BUTTONS


def test_certificate_printing_is_offered_only_where_the_kiosk_can_print_certificates() -> None:
    state, effects = hf.initial(context())
    assert entries(shown(effects)) == ENTRY_BUTTONS - {Button.CERTIFICATES}
    after, effects = run(state, Touch(Button.CERTIFICATES))
    assert after.lane is hf.Lane.TICKET and not of(effects, Show)


def test_a_featured_service_is_one_touch_from_home_and_a_card_goes_to_take_a_ticket() -> None:
    state, effects = run(start(), Touch(Button.SERVICE, "A01"))
    assert of(effects, ReadPrinterStatus) and state.lane is hf.Lane.TICKET
    state, effects = run(start(), id_card())
    assert shown(effects).screen is Screen.START and shown(effects).holder_masked == "张**"
    assert entries(shown(effects))  # still the home screen, now with the holder
    state, effects = run(state, Touch(Button.SERVICE, "A01"), PAPER_OK)
    assert of(effects, RequestTicket)[0].body["holder_key"] == state.ticket.holder.key  # type: ignore[union-attr]


def test_check_in_with_a_code_prints_the_priority_ticket_and_finish_returns_home() -> None:
    state, effects = run(start(), Touch(Button.CHECK_IN))
    assert shown(effects).screen is Screen.CODE_ENTRY and state.lane is hf.Lane.CHECK_IN
    state, effects = run(state, *(Touch(Button.DIGIT, d) for d in "123456"), Touch(Button.SUBMIT), PAPER_OK)
    request = of(effects, RequestCheckIn)[0]
    assert request.body == {"code": "123456"}
    state, effects = run(state, issued(request.key, number="C007", priority="appointment", service="C01"))
    assert of(effects, PrintTicket)[0].ticket.priority_mark == "预约"
    state, effects = run(state, PrintDone("t-1"))
    assert shown(effects).screen is Screen.NUMBER and shown(effects).number == "C007"
    state, effects = run(state, Touch(Button.DONE))
    assert home_again(effects) and of(effects, WipePersonalData) and state.lane is hf.Lane.TICKET
    assert state.check_in.code == "" and state.check_in.job is None


def test_finish_on_an_untouched_flow_goes_home_and_a_second_session_gets_new_keys() -> None:
    state, effects = run(start(), Touch(Button.CHECK_IN), Touch(Button.DONE))
    assert home_again(effects) and state.lane is hf.Lane.TICKET
    keys = []
    for _ in range(2):
        state, effects = run(state, Touch(Button.CHECK_IN), *(Touch(Button.DIGIT, d) for d in "654321"),
                             Touch(Button.SUBMIT), PAPER_OK)
        keys.append(key_of(effects, RequestCheckIn))
        state, effects = run(state, ServerAnswer(keys[-1], 404, {"error": {"code": "appointment_not_found"}}),
                             Touch(Button.DONE))
        assert home_again(effects)
    assert keys[0] != keys[1]


def test_idle_reset_in_a_flow_goes_home_and_wipes_what_was_typed_or_read() -> None:
    state, _ = run(start(), Touch(Button.CHECK_IN), Touch(Button.DIGIT, "1"))
    state, effects = run(state, IdleTimeout())
    assert home_again(effects) and of(effects, WipePersonalData) and state.check_in.code == ""
    state, _ = run(state, Touch(Button.CERTIFICATES), id_card())
    state, effects = run(state, DocumentsFetched(state.certificates.key, (PROOF,)), IdleTimeout())
    assert home_again(effects) and of(effects, WipePersonalData)
    assert state.certificates.holder is None and state.certificates.documents == ()
    state, effects = run(state, Touch(Button.GUIDE), IdleTimeout())  # an untouched flow too
    assert home_again(effects) and state.lane is hf.Lane.TICKET


def test_idle_while_the_node_is_busy_waits_for_the_answer() -> None:
    state, _ = run(start(), Touch(Button.CERTIFICATES), id_card())
    state, effects = run(state, DocumentsFetched(state.certificates.key, (PROOF,)), Touch(Button.DOCUMENT, "sb-1"))
    assert of(effects, PrintCertificate)
    state, effects = run(state, IdleTimeout())
    assert effects == [] and state.lane is hf.Lane.CERTIFICATES


def test_a_certificate_print_then_the_rating_then_home() -> None:
    state, effects = run(start(), Touch(Button.CERTIFICATES))
    assert shown(effects).screen is Screen.CERTIFICATE_CARD
    assert Touch(Button.DONE) in shown(effects).choices  # a way home before any card is tapped
    state, effects = run(state, CardReadFailed("pulled", pulled=True))
    assert shown(effects).screen is Screen.CERTIFICATE_CARD and state.lane is hf.Lane.CERTIFICATES
    state, effects = run(state, id_card())
    fetch = of(effects, FetchDocuments)[0]
    state, effects = run(state, DocumentsFetched(fetch.key, (PROOF,)), Touch(Button.DOCUMENT, "sb-1"))
    state, effects = run(state, CertificatePrinted(key_of(effects, PrintCertificate)))
    report = of(effects, ReportCertificatePrint)[0]
    assert shown(effects).screen is Screen.CERTIFICATE_DONE
    state, effects = run(state, ServerAnswer(report.key, 201, {"print": "p-9", "outcome": "printed"}),
                         Touch(Button.DONE))
    rating = shown(effects)
    assert rating.screen is Screen.RATING and [c.value for c in rating.choices if c.button is Button.LEVEL] == \
        ["5", "4", "3", "2", "1"] and Touch(Button.SKIP) in rating.choices
    state, effects = run(state, Touch(Button.LEVEL, "4"))
    rate = of(effects, RateCertificatePrint)[0]
    assert (rate.print_id, rate.body["level"]) == ("p-9", 4)
    state, effects = run(state, ServerAnswer(rate.key, 201, {"level": 4}), Touch(Button.DONE))
    assert home_again(effects) and of(effects, WipePersonalData) and state.certificates.holder is None


def test_the_rating_ask_can_be_skipped_and_no_level_is_chosen_for_the_citizen() -> None:
    state, effects = run(start(), RatingInvited("t-5"))
    assert shown(effects).screen is Screen.RATING and state.lane is hf.Lane.RATING
    state, effects = run(state, Touch(Button.SKIP))
    assert home_again(effects) and not of(effects, SubmitRating)
    state, effects = run(state, RatingInvited("t-6"), Touch(Button.LEVEL, "2"))
    sent = of(effects, SubmitRating)[0]
    assert (sent.ticket_id, sent.body) == ("t-6", {"level": 2, "channel": "kiosk"})
    state, effects = run(state, ServerAnswer(sent.key, 201, {}))
    assert shown(effects).screen is Screen.THANKS
    state, effects = run(state, IdleTimeout())
    assert home_again(effects)


def test_ticket_status_by_number_from_home() -> None:
    state, effects = run(start(), Touch(Button.STATUS))
    assert shown(effects).screen is Screen.STATUS_ENTRY
    state, effects = run(state, Touch(Button.LETTER, "A"), *(Touch(Button.DIGIT, d) for d in "001"),
                         Touch(Button.SUBMIT))
    fetch = of(effects, FetchTicketStatus)[0]
    assert fetch.number == "A001"
    body = ticket_body(number="A001") | {"state": "waiting"}
    state, effects = run(state, ServerAnswer(fetch.key, 200, body))
    assert shown(effects).screen is Screen.STATUS and "A001" in shown(effects).words.zh
    state, effects = run(state, Touch(Button.DONE))
    assert home_again(effects)


def test_the_guide_lists_services_with_a_way_home() -> None:
    state, effects = run(start(), Touch(Button.GUIDE))
    assert shown(effects).screen is Screen.GUIDE_SERVICES and Touch(Button.DONE) in shown(effects).choices
    state, effects = run(state, Touch(Button.SERVICE, "B01"))
    assert shown(effects).screen is Screen.GUIDE and shown(effects).qr
    state, effects = run(state, Touch(Button.BACK))
    assert shown(effects).screen is Screen.GUIDE_SERVICES and state.lane is hf.Lane.GUIDE
    state, effects = run(state, Touch(Button.DONE))
    assert home_again(effects)


def test_a_holder_at_home_is_wiped_before_another_flow_opens() -> None:
    state, _ = run(start(), id_card())
    state, effects = run(state, Touch(Button.CHECK_IN))
    assert of(effects, WipePersonalData) and state.ticket.holder is None
    assert shown(effects).screen is Screen.CODE_ENTRY and not shown(effects).holder_masked


def test_other_kiosks_health_reaches_every_flow_that_names_a_neighbour() -> None:
    state, effects = run(start(), KioskHealth("kiosk-2", working=False))
    assert effects == [] and state.ticket.down == state.check_in.down == frozenset({"kiosk-2"})
    state, _ = run(state, Touch(Button.CHECK_IN), KioskHealth("kiosk-2", working=True))
    assert state.ticket.down == state.check_in.down == frozenset()


def test_the_entries_do_nothing_while_a_ticket_is_being_issued() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"))
    state, effects = run(state, Touch(Button.CHECK_IN))
    assert state.lane is hf.Lane.TICKET and effects == []
    state, effects = run(state, PAPER_OK)
    assert of(effects, RequestTicket)
