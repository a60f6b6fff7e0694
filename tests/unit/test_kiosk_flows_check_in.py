"""Appointment check-in flow: code and card, early/late/ambiguous answers, printing, without devices or server."""

from __future__ import annotations

from typing import Any

from kiosk.flows import check_in as ci
from kiosk.flows.effects import (
    PrintTicket,
    ReadPrinterStatus,
    ReportPrinted,
    RequestCheckIn,
    RequestTicket,
    Screen,
    Show,
    WipePersonalData,
)
from kiosk.flows.events import Button, CardReadFailed, IdleTimeout, PrintDone, Touch
from tests.support.kiosk_flows import PAPER_OK, PAPER_OUT, context, id_card, issued, of, refused, run_flow


def run(state: ci.CheckIn, *events: Any) -> tuple[ci.CheckIn, list[Any]]:
    return run_flow(ci.step, state, *events)


def typed(code: str) -> list[Touch]:
    return [Touch(Button.DIGIT, d) for d in code]


def start() -> ci.CheckIn:
    state, effects = ci.initial(context())
    assert of(effects, Show)[0].screen is Screen.CODE_ENTRY
    return state


def test_the_six_digit_code_checks_the_printer_then_checks_in_and_prints_the_priority_ticket() -> None:
    state, effects = run(start(), *typed("123456"))
    assert state.code == "123456" and of(effects, Show)[-1].number == "123456"
    state, effects = run(state, Touch(Button.DIGIT, "7"))
    assert state.code == "123456" and effects == []
    state, effects = run(state, Touch(Button.SUBMIT))
    assert of(effects, ReadPrinterStatus) and not of(effects, RequestCheckIn)
    state, effects = run(state, PAPER_OK)
    assert of(effects, RequestCheckIn) == [RequestCheckIn("seed-c1", {"code": "123456"})]
    state, effects = run(state, issued("seed-c1", priority="appointment"))
    assert of(effects, PrintTicket)[0].ticket.priority_mark == "预约"
    state, effects = run(state, PrintDone("t-1"), Touch(Button.DONE))
    assert of(effects, ReportPrinted) and of(effects, WipePersonalData) and state.stage is ci.Stage.ENTRY


def test_a_short_code_is_not_sent_and_delete_works() -> None:
    state, effects = run(start(), *typed("123"), Touch(Button.SUBMIT))
    assert not of(effects, ReadPrinterStatus) and "6" in of(effects, Show)[-1].words.zh
    state, _ = run(state, Touch(Button.DELETE))
    assert state.code == "12"
    assert run(start(), Touch(Button.DIGIT, "x"))[1] == []


def test_an_id_tap_checks_in_by_holder_key() -> None:
    state, _ = run(start(), id_card(), PAPER_OK)
    (request,) = [e for e in run(start(), id_card(), PAPER_OK)[1] if isinstance(e, RequestCheckIn)]
    assert set(request.body) == {"holder_key"} and len(request.body["holder_key"]) == 64
    assert state.holder is not None and state.holder.masked == "张**"


def test_too_early_says_when_to_come_back() -> None:
    state, _ = run(start(), *typed("123456"), Touch(Button.SUBMIT), PAPER_OK)
    state, effects = run(state, refused("seed-c1", "checkin_too_early", details={"come_back_at": "14:30"},
                                        zh="签到时间未到", en="too early to check in"))
    shown = of(effects, Show)[0]
    assert shown.screen is Screen.REFUSED and "14:30" in shown.words.zh and "14:30" in shown.words.en
    assert not of(effects, PrintTicket)


def test_too_late_offers_a_normal_ticket_of_the_same_service_only_on_a_touch() -> None:
    state, _ = run(start(), id_card(), PAPER_OK)
    state, effects = run(state, refused("seed-c1", "checkin_too_late",
                                        details={"offer": "normal_ticket", "service": "B01"}))
    shown = of(effects, Show)[0]
    assert Touch(Button.NORMAL_TICKET) in shown.choices and "普通号" in shown.words.zh
    assert not of(effects, RequestTicket)
    state, effects = run(state, Touch(Button.NORMAL_TICKET), PAPER_OK)
    (request,) = of(effects, RequestTicket)
    assert request.key == "seed-c2" and request.body["service"] == "B01" and request.body["holder_key"]


def test_two_bookings_today_ask_which_service() -> None:
    state, _ = run(start(), id_card(), PAPER_OK)
    state, effects = run(state, refused("seed-c1", "appointment_ambiguous", details={"services": ["A01", "B01"]}))
    assert state.stage is ci.Stage.CHOOSE and of(effects, Show)[0].screen is Screen.CHOOSE_APPOINTMENT
    state, effects = run(state, Touch(Button.SERVICE, "B01"), PAPER_OK)
    assert of(effects, RequestCheckIn)[0].body["service"] == "B01"


def test_other_refusals_are_words_and_back_returns_to_the_keypad() -> None:
    state, _ = run(start(), *typed("000000"), Touch(Button.SUBMIT), PAPER_OK)
    state, effects = run(state, refused("seed-c1", "appointment_not_found", status=404))
    assert "6 位" in of(effects, Show)[0].words.zh
    state, effects = run(state, Touch(Button.BACK))
    assert state.stage is ci.Stage.ENTRY and state.code == ""


def test_paper_out_asks_nothing_and_names_another_kiosk() -> None:
    _, effects = run(start(), *typed("123456"), Touch(Button.SUBMIT), PAPER_OUT)
    assert not of(effects, RequestCheckIn) and "kiosk-2" in of(effects, Show)[-1].words.zh


def test_idle_and_card_errors() -> None:
    state, effects = run(start(), CardReadFailed("pulled", pulled=True))
    assert "不要移动" in of(effects, Show)[0].words.zh
    state, effects = run(start(), *typed("12"), IdleTimeout())
    assert state.code == "" and of(effects, WipePersonalData)
    assert run(start(), IdleTimeout())[1] == []
    asking, _ = run(start(), id_card(), PAPER_OK)
    assert run(asking, IdleTimeout()) == (asking, [])
