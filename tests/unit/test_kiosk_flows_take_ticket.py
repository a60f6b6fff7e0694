"""Take-a-ticket flow: every transition, printer fault and server refusal, with no device, screen or server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kiosk.flows import take_ticket as tt
from kiosk.flows.effects import (
    PrintTicket,
    ReadPrinterStatus,
    ReportPrinted,
    ReportPrintFailed,
    RequestTicket,
    Screen,
    Show,
    Speak,
    WipePersonalData,
)
from kiosk.flows.events import (
    Button,
    CardReadFailed,
    IdleTimeout,
    KioskHealth,
    PrintDone,
    PrintFailed,
    ServerUnreachable,
    Touch,
)
from kiosk.flows.holder import holder_key
from kiosk.flows.printing import Phase
from tests.support.kiosk_flows import (
    COVER_OPEN,
    OFFLINE,
    PAPER_NEAR_END,
    PAPER_OK,
    PAPER_OUT,
    PAPER_UNKNOWN,
    SECRET,
    context,
    id_card,
    issued,
    refused,
    ss_card,
)

ELDER = dt.date(1960, 1, 1)  # 66 on the test day


def run(state: tt.TakeTicket, *events: Any) -> tuple[tt.TakeTicket, list[Any]]:
    effects: list[Any] = []
    for event in events:
        state, more = tt.step(state, event)
        effects += more
    return state, effects


def shows(effects: list[Any]) -> list[Show]:
    return [e for e in effects if isinstance(e, Show)]


def of(effects: list[Any], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def start(**options: Any) -> tt.TakeTicket:
    state, effects = tt.initial(context(**options))
    assert shows(effects)[0].screen is Screen.START
    return state


def test_the_start_screen_offers_featured_services_in_one_touch_and_categories() -> None:
    _, effects = tt.initial(context())
    targets = shows(effects)[0].choices
    assert Touch(Button.SERVICE, "A01") in targets and Touch(Button.SERVICE, "C01") in targets
    assert Touch(Button.CATEGORY, "budongchan") in targets


def test_one_touch_on_a_featured_service_checks_the_printer_before_asking_the_server() -> None:
    state, effects = run(start(), Touch(Button.SERVICE, "A01"))
    assert of(effects, ReadPrinterStatus) and not of(effects, RequestTicket)
    state, effects = run(state, PAPER_OK)
    (request,) = of(effects, RequestTicket)
    assert request.body == {"service": "A01", "priority": "normal"}
    assert request.key == "seed-t1"


def test_category_then_service_is_two_touches_and_back_returns() -> None:
    state, effects = run(start(), Touch(Button.CATEGORY, "shebao"))
    assert state.stage is tt.Stage.SERVICES
    assert Touch(Button.SERVICE, "A01") in shows(effects)[0].choices
    back, effects = run(state, Touch(Button.BACK))
    assert back.stage is tt.Stage.START and shows(effects)[0].screen is Screen.START
    state, effects = run(state, Touch(Button.SERVICE, "C01"))
    assert state.stage is tt.Stage.JOB and of(effects, ReadPrinterStatus)


def test_a_service_of_another_category_or_unknown_is_ignored() -> None:
    state, _ = run(start(), Touch(Button.CATEGORY, "budongchan"))
    assert run(state, Touch(Button.SERVICE, "A01")) == (state, [])
    assert run(start(), Touch(Button.SERVICE, "ZZZ"))[1] == []
    assert run(start(), Touch(Button.CATEGORY, "nope"))[1] == []


def test_the_whole_happy_path_prints_reports_and_shows_the_number_large() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    state, effects = run(state, issued("seed-t1"))
    (printing,) = of(effects, PrintTicket)
    assert printing.ticket.number == "A001" and printing.ticket.ticket_id == "t-1"
    assert printing.ticket.estimated_wait_min == 5 and printing.ticket.hall_name == "测试大厅"
    state, effects = run(state, PrintDone("t-1"))
    assert of(effects, ReportPrinted) == [ReportPrinted("t-1", "seed-t1-p1")]
    number = shows(effects)[0]
    assert number.screen is Screen.NUMBER and number.number == "A001"
    assert Touch(Button.REPRINT) in number.choices and of(effects, Speak)
    state, effects = run(state, Touch(Button.DONE))
    assert of(effects, WipePersonalData) and state.stage is tt.Stage.START and state.attempts == 1


def test_reprint_after_printing_checks_the_printer_and_reports_again() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"), PrintDone("t-1"))
    state, effects = run(state, Touch(Button.REPRINT))
    assert of(effects, ReadPrinterStatus) and not of(effects, PrintTicket)
    state, effects = run(state, PAPER_OK)
    (again,) = of(effects, PrintTicket)
    assert again.ticket.reprint and again.ticket.number == "A001"
    _, effects = run(state, PrintDone("t-1"))
    assert of(effects, ReportPrinted) == [ReportPrinted("t-1", "seed-t1-p2")]


@pytest.mark.parametrize("status", [PAPER_OUT, OFFLINE, COVER_OPEN, PAPER_UNKNOWN])
def test_a_printer_that_cannot_print_means_no_ticket_is_asked_and_another_kiosk_is_named(status: Any) -> None:
    state, effects = run(start(), Touch(Button.SERVICE, "A01"), status)
    assert not of(effects, RequestTicket)
    down = shows(effects)[-1]
    assert down.screen is Screen.PRINTER_DOWN and "kiosk-2" in down.words.zh and "kiosk-2" in down.words.en
    if status is PAPER_OUT:
        assert "纸" in down.words.zh and "paper" in down.words.en
    state, effects = run(state, Touch(Button.RETRY), PAPER_OK)
    assert of(effects, RequestTicket)[0].key == "seed-t1"


def test_paper_near_end_still_prints() -> None:
    _, effects = run(start(), Touch(Button.SERVICE, "A01"), PAPER_NEAR_END)
    assert of(effects, RequestTicket)


def test_the_nearest_working_kiosk_skips_the_ones_reported_down() -> None:
    state, _ = run(start(), KioskHealth("kiosk-2", working=False))
    _, effects = run(state, Touch(Button.SERVICE, "A01"), PAPER_OUT)
    assert "kiosk-3" in shows(effects)[-1].words.zh
    state, _ = run(state, KioskHealth("kiosk-3", working=False))
    _, effects = run(state, Touch(Button.SERVICE, "A01"), PAPER_OUT)
    assert "导办台" in shows(effects)[-1].words.zh
    state, _ = run(state, KioskHealth("kiosk-2", working=True))
    _, effects = run(state, Touch(Button.SERVICE, "A01"), PAPER_OUT)
    assert "kiosk-2" in shows(effects)[-1].words.zh


def test_a_failed_print_is_reported_with_its_reason_and_the_number_still_shown() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"))
    state, effects = run(state, PrintFailed("t-1", "paper out; load a new roll"))
    assert of(effects, ReportPrintFailed) == [ReportPrintFailed("t-1", "seed-t1-p1", "paper out; load a new roll")]
    failed = shows(effects)[0]
    assert failed.screen is Screen.PRINT_FAILED and failed.number == "A001" and "kiosk-2" in failed.words.zh
    state, effects = run(state, Touch(Button.REPRINT), PAPER_OK)
    assert of(effects, PrintTicket)[0].ticket.reprint


def test_the_server_unreachable_offers_retry_with_the_same_key() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    state, effects = run(state, ServerUnreachable("seed-t1", "connection refused"))
    assert shows(effects)[0].screen is Screen.UNREACHABLE and not of(effects, PrintTicket)
    state, effects = run(state, Touch(Button.RETRY), PAPER_OK)
    assert of(effects, RequestTicket)[0].key == "seed-t1"
    state, effects = run(state, ServerUnreachable("seed-t1"), Touch(Button.RETRY), PAPER_OK)
    assert of(effects, RequestTicket)[0].key == "seed-t1"
    _, effects = run(state, issued("seed-t1"))
    assert of(effects, PrintTicket)


def test_a_new_attempt_gets_a_new_key() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"), PrintDone("t-1"),
                   Touch(Button.DONE))
    _, effects = run(state, Touch(Button.SERVICE, "C01"), PAPER_OK)
    assert of(effects, RequestTicket)[0].key == "seed-t2"


@pytest.mark.parametrize("code,details,zh_part,en_part", [
    ("lunch_break", {"opens_at": "13:30"}, "13:30", "13:30"),
    ("between_sessions", {"opens_at": "18:00"}, "18:00", "18:00"),
    ("closed", None, "预约", "book"),
    ("closed_for_today", None, "明天", "tomorrow"),
    ("daily_quota_reached", {"quota": 100}, "明天", "tomorrow"),
    ("slot_quota_reached", {"slot": "09:00-10:00", "quota": 5}, "下一个时段", "next time slot"),
    ("not_open_yet", {"opens_at": "09:00"}, "09:00", "09:00"),
    ("something_new", None, "导办台", "information desk"),
])
def test_server_refusals_are_shown_in_both_languages_with_what_to_do(code: str, details: Any, zh_part: str,
                                                                     en_part: str) -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    state, effects = run(state, refused("seed-t1", code, details=details, zh="午间休息", en="lunch break"))
    refusal = shows(effects)[0]
    assert refusal.screen is Screen.REFUSED and not of(effects, PrintTicket)
    assert refusal.words.zh.startswith("午间休息") and zh_part in refusal.words.zh
    assert refusal.words.en.startswith("Lunch break.") and en_part in refusal.words.en
    back, effects = run(state, Touch(Button.BACK))
    assert back.stage is tt.Stage.START and back.job is None


def test_an_id_card_tap_makes_the_holder_key_at_once_and_keeps_only_the_masked_name() -> None:
    card = id_card()
    state, effects = run(start(), card)
    assert state.holder is not None and state.holder.masked == "张**"
    assert state.holder.key == holder_key(card.record.id_number, SECRET) == card.record.holder_key(SECRET)
    assert card.record.id_number not in repr(state) and "张三丰" not in repr(state)
    assert shows(effects)[0].holder_masked == "张**"
    state, effects = run(state, Touch(Button.SERVICE, "A01"), PAPER_OK)
    body = of(effects, RequestTicket)[0].body
    assert state.holder is not None and body["holder_key"] == state.holder.key and body["holder_masked"] == "张**"
    state, effects = run(state, issued("seed-t1"))
    assert of(effects, PrintTicket)[0].ticket.holder_masked == "张**"


def test_a_social_security_card_gives_the_same_holder_key_as_the_id_card() -> None:
    by_id, _ = run(start(), id_card())
    by_ss, _ = run(start(), ss_card())
    assert by_id.holder == by_ss.holder


def test_a_second_tap_with_an_open_ticket_offers_a_reprint() -> None:
    state, _ = run(start(), id_card(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    state, effects = run(state, issued("seed-t1", existing=True))
    offer = shows(effects)[0]
    assert offer.screen is Screen.REPRINT_OFFER and offer.number == "A001" and not of(effects, PrintTicket)
    declined, effects = run(state, Touch(Button.NO_REPRINT))
    assert of(effects, WipePersonalData) and declined.holder is None
    state, effects = run(state, Touch(Button.REPRINT), PAPER_OK)
    assert of(effects, PrintTicket)[0].ticket.reprint
    _, effects = run(state, PrintDone("t-1"))
    assert of(effects, ReportPrinted)


def test_a_real_name_service_without_a_card_asks_for_one_and_says_why() -> None:
    state, effects = run(start(), Touch(Button.CATEGORY, "budongchan"), Touch(Button.SERVICE, "B01"))
    need = shows(effects)[-1]
    assert state.stage is tt.Stage.NEED_CARD and not of(effects, ReadPrinterStatus)
    assert "实名" in need.words.zh and "real-name" in need.words.en
    state, effects = run(state, id_card())
    assert of(effects, ReadPrinterStatus) and state.service == "B01"
    _, effects = run(state, PAPER_OK)
    assert of(effects, RequestTicket)[0].body["holder_key"]


def test_the_servers_real_name_refusal_is_shown_too() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    _, effects = run(state, refused("seed-t1", "real_name_required", status=422))
    assert "身份证" in shows(effects)[0].words.zh


def test_sixty_plus_is_offered_the_green_channel() -> None:
    state, effects = run(start(), id_card(ELDER), Touch(Button.SERVICE, "A01"))
    assert state.stage is tt.Stage.GREEN_OFFER and shows(effects)[-1].screen is Screen.GREEN_OFFER
    _, effects = run(state, Touch(Button.GREEN_YES), PAPER_OK)
    body = of(effects, RequestTicket)[0].body
    assert body["priority"] == "green" and body["green_reason"] == "age_60_plus"
    _, effects = run(state, Touch(Button.GREEN_NO), PAPER_OK)
    assert of(effects, RequestTicket)[0].body["priority"] == "normal"
    assert "green_reason" not in of(effects, RequestTicket)[0].body
    back, _ = run(state, Touch(Button.BACK))
    assert back.stage is tt.Stage.START


def test_sixty_plus_from_a_social_security_card_without_a_birth_date_uses_the_number() -> None:
    state, _ = run(start(), ss_card(None), Touch(Button.SERVICE, "A01"))
    assert state.stage is tt.Stage.GREEN_OFFER


def test_sixty_plus_gets_the_green_channel_automatically_when_the_hall_says_so() -> None:
    state, effects = run(start(elderly_automatic=True), id_card(ELDER), Touch(Button.SERVICE, "A01"), PAPER_OK)
    assert of(effects, RequestTicket)[0].body["green_reason"] == "age_60_plus"
    _, effects = run(state, issued("seed-t1", priority="green"))
    assert of(effects, PrintTicket)[0].ticket.priority_mark == "绿色通道"


def test_no_green_offer_when_the_hall_does_not_let_kiosks_assert_age() -> None:
    _, effects = run(start(kiosk_reasons=()), id_card(ELDER), Touch(Button.SERVICE, "A01"), PAPER_OK)
    assert of(effects, RequestTicket)[0].body["priority"] == "normal"


def test_fifty_nine_is_not_offered_the_green_channel() -> None:
    state, _ = run(start(), id_card(dt.date(1966, 11, 24)), Touch(Button.SERVICE, "A01"))
    assert state.stage is tt.Stage.JOB


@pytest.mark.parametrize("pulled,words", [(True, "不要移动"), (False, "重新放好")])
def test_a_card_pulled_mid_read_says_to_place_it_again(pulled: bool, words: str) -> None:
    state, effects = run(start(), CardReadFailed("card removed", pulled=pulled))
    assert words in shows(effects)[0].words.zh and state.holder is None
    need, _ = run(start(), Touch(Button.CATEGORY, "budongchan"), Touch(Button.SERVICE, "B01"))
    still, effects = run(need, CardReadFailed("card removed", pulled=pulled))
    assert still.stage is tt.Stage.NEED_CARD and shows(effects)[0].screen is Screen.NEED_CARD


def test_idle_reset_wipes_the_holder_and_returns_to_start() -> None:
    state, _ = run(start(), id_card(), Touch(Button.CATEGORY, "shebao"))
    state, effects = run(state, IdleTimeout())
    assert state.holder is None and state.stage is tt.Stage.START and of(effects, WipePersonalData)
    assert run(state, IdleTimeout()) == (state, [])


def test_no_idle_reset_while_the_printer_prints_or_the_server_answers() -> None:
    printing, _ = run(start(), id_card(), Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"))
    assert run(printing, IdleTimeout()) == (printing, [])
    asking, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    assert run(asking, IdleTimeout()) == (asking, [])
    assert printing.job is not None and printing.job.phase is Phase.PRINTING


def test_idle_after_the_number_is_shown_ends_the_session() -> None:
    state, _ = run(start(), id_card(), Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"), PrintDone("t-1"))
    state, effects = run(state, IdleTimeout())
    assert of(effects, WipePersonalData) and state.holder is None


def test_done_at_start_with_a_card_wipes_it() -> None:
    state, effects = run(start(), id_card(), Touch(Button.DONE))
    assert state.holder is None and of(effects, WipePersonalData)


def test_a_new_card_after_the_number_starts_a_new_session() -> None:
    state, _ = run(start(), id_card(), Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"), PrintDone("t-1"))
    state, effects = run(state, id_card(name="李四"))
    assert of(effects, WipePersonalData) and state.holder is not None and state.holder.masked == "李*"
    assert state.job is None and state.stage is tt.Stage.START


def test_a_late_answer_to_an_abandoned_request_is_marked_print_failed() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK, ServerUnreachable("seed-t1"), Touch(Button.DONE))
    _, effects = run(state, issued("seed-t1"))
    assert of(effects, ReportPrintFailed)[0].ticket_id == "t-1" and not of(effects, PrintTicket)
    _, effects = run(state, issued("seed-t1", existing=True))
    assert effects == []


def test_stray_device_events_change_nothing() -> None:
    state = start()
    for event in (PAPER_OK, PrintDone("t-1"), PrintFailed("t-1", "x"), Touch(Button.REPRINT), Touch(Button.RETRY)):
        assert run(state, event) == (state, [])
    printing, _ = run(state, Touch(Button.SERVICE, "A01"), PAPER_OK, issued("seed-t1"))
    assert run(printing, PrintDone("other")) == (printing, [])


def test_an_answer_without_a_number_prints_nothing() -> None:
    state, _ = run(start(), Touch(Button.SERVICE, "A01"), PAPER_OK)
    from kiosk.flows.events import ServerAnswer
    state, effects = run(state, ServerAnswer("seed-t1", 201, {"id": "t-1"}))
    assert not of(effects, PrintTicket) and shows(effects)[0].screen is Screen.REFUSED
