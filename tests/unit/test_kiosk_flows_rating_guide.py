"""Rating and service-guide flows: every transition, refusals and an unreachable server."""

from __future__ import annotations

from typing import Any

from kiosk.flows import guide, rating
from kiosk.flows.effects import FetchTicketStatus, Screen, Show, SubmitRating, WipePersonalData
from kiosk.flows.events import Button, IdleTimeout, RatingInvited, ServerAnswer, ServerUnreachable, Touch
from tests.support.kiosk_flows import context, hall, refused, ticket_body


def run(step: Any, state: Any, *events: Any) -> tuple[Any, list[Any]]:
    effects: list[Any] = []
    for event in events:
        state, more = step(state, event)
        effects += more
    return state, effects


def shows(effects: list[Any]) -> list[Show]:
    return [e for e in effects if isinstance(e, Show)]


def asked() -> tuple[rating.Rating, list[Any]]:
    return run(rating.step, rating.initial(context()), RatingInvited("t-1"))


def test_the_rating_offers_five_levels_and_skip_with_none_chosen() -> None:
    state, effects = asked()
    (screen,) = shows(effects)
    assert screen.screen is Screen.RATING
    assert [t.value for t in screen.choices if t.button is Button.LEVEL] == ["5", "4", "3", "2", "1"]
    assert Touch(Button.SKIP) in screen.choices and state.stage is rating.Stage.ASK
    assert not [e for e in effects if isinstance(e, SubmitRating)]


def test_a_level_is_sent_once_with_its_key_and_thanks_then_reset() -> None:
    state, effects = run(rating.step, asked()[0], Touch(Button.LEVEL, "4"))
    assert [e for e in effects if isinstance(e, SubmitRating)] == [
        SubmitRating("t-1", "seed-r1", {"level": 4, "channel": "kiosk"})]
    assert run(rating.step, state, Touch(Button.LEVEL, "1")) == (state, [])
    assert run(rating.step, state, IdleTimeout()) == (state, [])
    state, effects = run(rating.step, state, ServerAnswer("seed-r1", 201, {"ticket": "t-1", "level": 4}))
    assert shows(effects)[0].screen is Screen.THANKS
    state, effects = run(rating.step, state, IdleTimeout())
    assert state.stage is rating.Stage.IDLE and shows(effects)[0].screen is Screen.START


def test_skip_and_idle_end_without_a_rating() -> None:
    for event in (Touch(Button.SKIP), IdleTimeout()):
        state, effects = run(rating.step, asked()[0], event)
        assert state.stage is rating.Stage.IDLE and not [e for e in effects if isinstance(e, SubmitRating)]
        assert any(isinstance(e, WipePersonalData) for e in effects)


def test_a_bad_level_or_nothing_to_rate_does_nothing() -> None:
    state = asked()[0]
    assert run(rating.step, state, Touch(Button.LEVEL, "6")) == (state, [])
    assert run(rating.step, state, Touch(Button.LEVEL, "")) == (state, [])
    idle = rating.initial(context())
    assert run(rating.step, idle, Touch(Button.LEVEL, "5")) == (idle, [])


def test_rating_refusals_and_an_unreachable_server() -> None:
    sending = run(rating.step, asked()[0], Touch(Button.LEVEL, "2"))[0]
    _, effects = run(rating.step, sending, refused("seed-r1", "already_rated"))
    assert shows(effects)[0].screen is Screen.THANKS
    _, effects = run(rating.step, sending, refused("seed-r1", "rating_expired", zh="评价期已过", en="too late"))
    assert shows(effects)[0].screen is Screen.REFUSED and "评价期已过" in shows(effects)[0].words.zh
    _, effects = run(rating.step, sending, ServerUnreachable("seed-r1"))
    assert "网络恢复" in shows(effects)[0].words.zh
    assert run(rating.step, sending, ServerUnreachable("other")) == (sending, [])


def test_the_guide_lists_the_materials_from_the_config_with_a_qr_payload() -> None:
    state, effects = guide.initial(context())
    assert Touch(Button.SERVICE, "B01") in shows(effects)[0].choices
    state, effects = run(guide.step, state, Touch(Button.SERVICE, "B01"))
    shown = shows(effects)[0]
    assert shown.screen is Screen.GUIDE and "不动产权证书" in shown.words.zh
    assert shown.qr.splitlines()[2:] == ["1. 身份证原件", "2. 不动产权证书", "3. 购房合同"]
    state, effects = run(guide.step, state, Touch(Button.BACK))
    assert state.stage is guide.Stage.SERVICES


def test_the_qr_payload_is_cut_to_what_a_qr_code_holds() -> None:
    import dataclasses

    service = dataclasses.replace(hall().services[0], materials=tuple(f"材料{n}" * 20 for n in range(50)))
    text = guide.materials_qr(service)
    assert len(text.encode("utf-8")) <= guide.QR_MAX_BYTES and text.endswith("…")
    assert "none" in guide.materials_qr(dataclasses.replace(service, materials=()))


def test_ticket_status_by_number() -> None:
    state, _ = guide.initial(context())
    state, _ = run(guide.step, state, Touch(Button.STATUS), Touch(Button.DIGIT, "1"))
    assert state.number == ""  # a number starts with its letter
    state, _ = run(guide.step, state, Touch(Button.LETTER, "Z"), Touch(Button.LETTER, "A"),
                   *(Touch(Button.DIGIT, d) for d in "0012"), Touch(Button.DELETE))
    assert state.number == "A001"
    state, effects = run(guide.step, state, Touch(Button.SUBMIT))
    assert [e for e in effects if isinstance(e, FetchTicketStatus)] == [FetchTicketStatus("seed-g1", "A001")]
    waiting, effects = run(guide.step, state, ServerAnswer("seed-g1", 200, ticket_body()))
    assert "前面 2 人" in shows(effects)[0].words.zh and "2 ahead" in shows(effects)[0].words.en
    called = dict(ticket_body(), state="called", window=7)
    _, effects = run(guide.step, state, ServerAnswer("seed-g1", 200, called))
    assert "7 号窗口" in shows(effects)[0].words.zh
    missing, effects = run(guide.step, state, refused("seed-g1", "ticket_not_found", status=404))
    assert missing.stage is guide.Stage.STATUS_ENTRY and "当天" in shows(effects)[0].words.zh
    _, effects = run(guide.step, state, ServerUnreachable("seed-g1"))
    assert "稍后" in shows(effects)[0].words.zh
    assert run(guide.step, state, IdleTimeout()) == (state, [])
    done, effects = run(guide.step, waiting, IdleTimeout())
    assert done.stage is guide.Stage.SERVICES and any(isinstance(e, WipePersonalData) for e in effects)


def test_a_short_number_is_not_looked_up() -> None:
    state, _ = guide.initial(context())
    state, effects = run(guide.step, state, Touch(Button.STATUS), Touch(Button.LETTER, "A"), Touch(Button.SUBMIT))
    assert not [e for e in effects if isinstance(e, FetchTicketStatus)] and state.stage is guide.Stage.STATUS_ENTRY
