"""The window terminal's flow: every key, answer, refusal and stream event, with no pad, display or server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from devices.bus485.registers import DisplayMode, Key, Led, WindowState
from kiosk.flows import window_calls as wc
from kiosk.flows import window_io as wio
from kiosk.flows.events import ServerAnswer, ServerUnreachable
from kiosk.flows.window_words import fit, refusal_line
from tests.support.kiosk_flows import hall

CTX = wc.WindowContext(3, "window-3", "seed", staff=(("s001", (1,)), ("s003", (3,)), ("s010", ())),
                       services=("A01", "B01", "C01"), rating_timeout_s=20)


class Pad:
    """Drives the flow as a pad would: presses numbered 1, 2, 3 … in one session; answers by key."""

    def __init__(self, state: wc.WindowCalls | None = None, session: int = 7) -> None:
        self.state, self.effects = wc.start(CTX) if state is None else (state, [])
        self.session = session
        self.seq = 0

    def press(self, key: Key, arg: int = 0, seq: int | None = None) -> list[wio.WindowEffect]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return self.feed(wio.PadKey(key, arg, seq, self.session))

    def feed(self, event: Any) -> list[wio.WindowEffect]:
        self.state, self.effects = wc.step(self.state, event)
        return self.effects

    def request(self) -> wio.Request:
        requests = [e for e in self.effects if isinstance(e, wio.Request)]
        assert len(requests) == 1, self.effects
        return requests[0]

    def answer(self, status: int = 200, body: dict[str, Any] | None = None) -> list[wio.WindowEffect]:
        assert self.state.pending is not None
        return self.feed(ServerAnswer(self.state.pending.key, status, body or {}))

    def refuse(self, code: str, status: int = 409, zh: str = "拒绝", **details: Any) -> list[wio.WindowEffect]:
        error: dict[str, Any] = {"code": code, "message_zh": zh, "message_en": "refused"}
        if details:
            error["details"] = details
        return self.answer(status, {"error": error})

    @property
    def line(self) -> str:
        return wc.pad_line_of(self.state)[0]

    @property
    def display(self) -> wio.ShowDisplay:
        return wc.display_of(self.state)


def of(effects: Iterable[wio.WindowEffect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def signed_in() -> Pad:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    for digit in "123456":
        pad.press(Key.DIGIT, int(digit))
    pad.press(Key.ENTER)
    pad.answer(200, {"number": 3, "staff": "s003", "paused": False, "current": None})
    return pad


def called(number: str = "A012", ident: str = "t-12") -> Pad:
    pad = signed_in()
    pad.press(Key.CALL_NEXT)
    pad.answer(200, {"id": ident, "number": number, "state": "called"})
    return pad


# ---------------------------------------------------------------------------------------------- start, sign in
def test_a_terminal_starts_signed_out_and_says_so_on_both_devices() -> None:
    state, effects = wc.start(CTX)
    assert of(effects, wio.ShowDisplay) == [wio.ShowDisplay("", "3号窗口 暂停办理", WindowState.CLOSED)]
    assert of(effects, wio.ShowPad) == [wio.ShowPad("请输入工号并签到", Led(0), 0)]
    assert state.stage is wc.Stage.SIGNED_OUT


def test_signing_in_on_the_pad_types_the_pin_digit_by_digit_masked_and_sends_it_once() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    assert pad.state.signing_in == "s003" and pad.line == "s003 密码:"
    for digit in (1, 1, 2):
        pad.press(Key.DIGIT, digit)
    assert pad.line == "s003 密码:***" and "112" not in pad.line
    pad.press(Key.ENTER)
    request = pad.request()
    assert (request.method, request.path, dict(request.body)) == (
        "POST", "/api/v1/windows/3/sign-in", {"staff": "s003", "pin": "112"})
    assert pad.state.pin == "" and "112" not in repr(pad.state) and "112" not in repr(request)
    effects = pad.answer(200, {"number": 3, "staff": "s003", "paused": False, "current": None})
    assert pad.state.stage is wc.Stage.IDLE and pad.state.staff == "s003"
    assert of(effects, wio.ShowDisplay)[0] == wio.ShowDisplay("", "3号窗口 欢迎办理", WindowState.SERVING)
    assert of(effects, wio.ShowPad)[0].beeps == 1 and "签到成功" in pad.line


def test_the_staff_number_zero_means_the_one_person_of_this_window() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 0)
    assert pad.state.signing_in == "s003"


def test_a_staff_number_nobody_has_is_sent_as_typed_for_the_server_to_refuse() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 77)
    pad.press(Key.DIGIT, 1)
    pad.press(Key.ENTER)
    assert pad.request().body["staff"] == "77"
    effects = pad.refuse("wrong_pin", 401, "工号或密码错误")
    assert pad.state.stage is wc.Stage.PIN and pad.state.pin == ""
    assert pad.line == "工号或密码错误" and of(effects, wio.ShowPad)[0].beeps == 2


def test_too_many_wrong_pins_go_back_to_signed_out_with_the_wait_in_words() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    pad.press(Key.DIGIT, 9)
    pad.press(Key.ENTER)
    pad.refuse("too_many_attempts", 429, retry_after_s=60)
    assert pad.state.stage is wc.Stage.SIGNED_OUT and pad.line == "错误过多，60秒后再试"


def test_clear_wipes_the_digits_then_cancels_the_sign_in() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    pad.press(Key.DIGIT, 5)
    pad.press(Key.CLEAR)
    assert pad.state.pin == "" and pad.state.stage is wc.Stage.PIN
    pad.press(Key.CLEAR)
    assert pad.state.stage is wc.Stage.SIGNED_OUT and pad.line == "已取消签到"


def test_enter_without_digits_and_other_keys_while_typing_ask_for_the_pin() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    pad.press(Key.ENTER)
    assert not of(pad.effects, wio.Request) and pad.line == "请输入密码后按确认"
    pad.press(Key.CALL_NEXT)
    assert not of(pad.effects, wio.Request) and pad.line == "请输入密码后按确认"


def test_the_pin_has_a_length_limit() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    for _ in range(wc.PIN_MAX_DIGITS + 1):
        pad.press(Key.DIGIT, 1)
    assert len(pad.state.pin) == wc.PIN_MAX_DIGITS and "已满" in pad.line


def test_signed_out_keys_are_refused_in_words() -> None:
    pad = Pad()
    effects = pad.press(Key.CALL_NEXT)
    assert not of(effects, wio.Request) and pad.line == "请先输入工号并签到" and of(effects, wio.ShowPad)[0].beeps == 2


def test_the_console_signs_in_with_the_id_and_pin_typed_whole() -> None:
    pad = Pad()
    pad.feed(wio.SignInTyped("s003", "123456"))
    assert dict(pad.request().body) == {"staff": "s003", "pin": "123456"}
    assert "123456" not in repr(wio.SignInTyped("s003", "123456"))


def test_sign_in_while_the_server_is_away_keeps_the_staff_typing() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    pad.press(Key.DIGIT, 1)
    pad.press(Key.ENTER)
    assert pad.state.pending is not None
    pad.feed(ServerUnreachable(pad.state.pending.key, "refused"))
    assert pad.state.stage is wc.Stage.PIN and pad.line == "服务器无法连接，请重试"


def test_sign_in_adopts_the_window_as_the_server_has_it() -> None:
    pad = Pad()
    pad.feed(wio.SignInTyped("s003", "1"))
    pad.answer(200, {"paused": True, "pause_reason": "休息", "current": "t-9", "current_number": "B009",
                     "current_state": "serving"})
    assert (pad.state.stage, pad.state.ticket, pad.state.number, pad.state.paused) == (
        wc.Stage.SERVING, "t-9", "B009", True)


def test_a_second_sign_in_while_signed_in_asks_to_sign_out_first() -> None:
    pad = signed_in()
    assert not of(pad.press(Key.SIGN_IN, 1), wio.Request) and "签退" in pad.line
    assert not of(pad.feed(wio.SignInTyped("s001", "1")), wio.Request) and pad.line == "请先签退"


# ---------------------------------------------------------------------------------------------- calling
def test_call_next_shows_the_number_blinking_with_the_sentence_and_beeps() -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT)
    request = pad.request()
    assert (request.path, request.key) == ("/api/v1/windows/3/call-next", "seed-0007-9")  # sign-in took presses 1..8
    effects = pad.answer(200, {"id": "t-12", "number": "A012"})
    assert of(effects, wio.ShowDisplay) == [wio.ShowDisplay("A012", "请A012号到3号窗口办理", WindowState.SERVING,
                                                    DisplayMode.BLINK, 1)]
    assert of(effects, wio.ShowPad) == [wio.ShowPad("已呼叫 A012", Led.GREEN, 1)]
    assert pad.state.stage is wc.Stage.CALLED


def test_a_retried_frame_with_the_same_seq_never_acts_twice() -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT, seq=40)
    pad.answer(200, {"id": "t-12", "number": "A012"})
    assert pad.press(Key.CALL_NEXT, seq=40) == []
    assert pad.state.pending is None


def test_the_same_seq_in_a_new_pad_session_is_a_new_press() -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT, seq=20)
    pad.answer(200, {"id": "t-12", "number": "A012"})
    pad.press(Key.SKIP, seq=21)
    pad.answer()
    pad.session = 8  # the pad restarted: its seqs begin again
    pad.press(Key.CALL_NEXT, seq=20)
    assert pad.request().key == "seed-0008-20"


def test_only_the_last_presses_are_remembered() -> None:
    pad = signed_in()
    for _ in range(wc.SEEN_KEPT + 5):
        pad.press(Key.DIGIT, 1)
    assert len(pad.state.seen) == wc.SEEN_KEPT


def test_a_key_while_a_request_is_in_flight_is_not_queued() -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT)
    first = pad.state.pending
    effects = pad.press(Key.RECALL)
    assert not of(effects, wio.Request) and pad.state.pending == first and pad.line == "请稍候，正在处理"


def test_the_wait_message_of_a_dropped_key_goes_once_the_answer_is_in() -> None:
    """A key dropped while a request was in flight said "请稍候"; the answer must take that back, or the pad
    says "please wait" for ever and staff wait for a request that was never sent (the console test hung so)."""
    pad = signed_in()
    pad.press(Key.PAUSE, 2)
    pad.press(Key.RESUME)
    assert pad.line == "请稍候，正在处理"
    pad.answer(200, {"number": 3, "staff": "s003", "paused": True, "pause_reason": "休息", "current": None})
    assert pad.state.pending is None and "请稍候" not in pad.line and "恢复" in pad.line


def test_an_answer_to_some_other_key_is_ignored() -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT)
    assert pad.feed(ServerAnswer("not-ours", 200, {"id": "x", "number": "Z999"})) == []
    assert pad.state.stage is wc.Stage.IDLE


@pytest.mark.parametrize(("code", "line"), [
    ("queue_empty", "当前没有等候的号"),
    ("ticket_still_called", "A011未到，请过号或开始"),
    ("window_paused", "窗口已暂停，请先恢复"),
])
def test_call_next_refusals_are_shown_in_words(code: str, line: str) -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT)
    effects = pad.refuse(code, number="A011")
    assert pad.line == line and of(effects, wio.ShowPad)[0].beeps == 2
    assert pad.state.stage is wc.Stage.IDLE


def test_not_signed_in_from_the_server_follows_the_server() -> None:
    pad = signed_in()
    pad.press(Key.CALL_NEXT)
    pad.refuse("not_signed_in")
    assert pad.state.stage is wc.Stage.SIGNED_OUT
    assert pad.display.state is WindowState.CLOSED and pad.line == "本窗口尚未签到"


def test_an_unreachable_server_is_said_and_nothing_changes() -> None:
    pad = called()
    pad.press(Key.START)
    assert pad.state.pending is not None
    pad.feed(ServerUnreachable(pad.state.pending.key, "connection refused"))
    assert pad.state.stage is wc.Stage.CALLED and pad.line == "服务器无法连接，请重试"
    assert pad.state.pending is None


def test_recall_blinks_the_same_number_again() -> None:
    pad = called()
    pad.press(Key.RECALL)
    assert pad.request().path == "/api/v1/tickets/t-12/recall"
    effects = pad.answer()
    assert of(effects, wio.ShowDisplay) == [wio.ShowDisplay("A012", "请A012号到3号窗口办理", WindowState.SERVING,
                                                    DisplayMode.BLINK, 2)]


def test_recall_limit_is_refused_in_words() -> None:
    pad = called()
    pad.press(Key.RECALL)
    pad.refuse("recall_limit")
    assert pad.line == "重呼次数已满，请过号"


def test_skip_frees_the_window() -> None:
    pad = called()
    pad.press(Key.SKIP)
    assert pad.request().path == "/api/v1/tickets/t-12/skip"
    effects = pad.answer()
    assert pad.state.stage is wc.Stage.IDLE and pad.line == "A012已过号"
    assert of(effects, wio.ShowDisplay)[0].number == ""


def test_start_then_finish_lights_the_rating_pad() -> None:
    pad = called()
    pad.press(Key.START)
    pad.answer()
    assert pad.state.stage is wc.Stage.SERVING and pad.display == wio.ShowDisplay(
        "A012", "正在办理", WindowState.SERVING, DisplayMode.STATIC, 1)
    pad.press(Key.FINISH)
    assert pad.request().path == "/api/v1/tickets/t-12/finish"
    effects = pad.answer()
    assert of(effects, wio.InviteRating) == [wio.InviteRating("t-12", "A012", "s003", 20)]
    assert pad.state.stage is wc.Stage.IDLE and pad.state.invited == ("t-12", "A012")


def test_keys_that_need_a_called_ticket_say_so() -> None:
    pad = signed_in()
    for key in (Key.RECALL, Key.SKIP, Key.START):
        assert not of(pad.press(key), wio.Request) and pad.line == "没有已呼叫未到的号"
    for key in (Key.FINISH, Key.TRANSFER):
        assert not of(pad.press(key, 2), wio.Request) and pad.line == "当前没有办理中的号"


def test_a_refusal_from_the_wrong_state_is_shown_in_words() -> None:
    pad = called()
    pad.press(Key.SKIP)
    pad.refuse("invalid_state", zh="A012 号当前状态为「已办结」，不能过号", state="已办结")
    assert pad.line == "该号当前不能这样操作"


def test_an_unknown_refusal_shows_the_servers_words_cut_to_the_line() -> None:
    pad = called()
    pad.press(Key.FINISH)
    pad.refuse("something_new", zh="这是一条非常非常非常非常长的服务器拒绝说明文字")
    assert len(pad.line.encode("gb18030")) <= 32 and pad.line.endswith("…") and pad.line.startswith("这是")


def test_call_next_while_serving_finishes_that_matter_and_invites_its_rating() -> None:
    pad = called()
    pad.press(Key.START)
    pad.answer()
    pad.press(Key.CALL_NEXT)
    effects = pad.answer(200, {"id": "t-13", "number": "A013"})
    assert of(effects, wio.InviteRating) == [wio.InviteRating("t-12", "A012", "s003", 20)]
    assert pad.state.number == "A013"


# ---------------------------------------------------------------------------------------------- transfer, pause
@pytest.mark.parametrize(("arg", "body"), [(5, {"to_window": 5}), (1002, {"to_service": "B01"})])
def test_transfer_to_a_window_or_a_service_chosen_on_the_pad(arg: int, body: dict[str, Any]) -> None:
    pad = called()
    pad.press(Key.TRANSFER, arg)
    request = pad.request()
    assert (request.path, dict(request.body)) == ("/api/v1/tickets/t-12/transfer", body)
    pad.answer()
    assert pad.state.stage is wc.Stage.IDLE and pad.line == "A012已转移"


@pytest.mark.parametrize("arg", [0, 3, 1000, 1004, 5000])
def test_transfer_without_a_usable_target_asks_for_one(arg: int) -> None:
    pad = called()
    assert not of(pad.press(Key.TRANSFER, arg), wio.Request) and pad.line == "请输入转往窗口号或业务"


def test_transfer_refused_by_the_target_is_shown() -> None:
    pad = called()
    pad.press(Key.TRANSFER, 9)
    pad.refuse("not_served_here")
    assert pad.line == "目标窗口不办理此业务" and pad.state.stage is wc.Stage.CALLED


@pytest.mark.parametrize(("arg", "reason"), list(wc.PAUSE_REASONS.items()))
def test_pause_with_a_reason_chosen_on_the_pad_and_resume(arg: int, reason: str) -> None:
    pad = signed_in()
    pad.press(Key.PAUSE, arg)
    assert dict(pad.request().body) == {"reason": reason}
    effects = pad.answer()
    assert of(effects, wio.ShowDisplay) == [wio.ShowDisplay("", f"暂停服务：{reason}", WindowState.PAUSED)]
    assert of(effects, wio.ShowPad)[0].leds == Led.RED
    pad.press(Key.RESUME)
    assert pad.request().path == "/api/v1/windows/3/resume"
    pad.answer()
    assert not pad.state.paused and pad.display.state is WindowState.SERVING


def test_pause_without_a_reason_lists_the_reasons() -> None:
    pad = signed_in()
    assert not of(pad.press(Key.PAUSE, 0), wio.Request) and pad.line == "原因:1会议2休息3故障4其他"


def test_resume_when_not_paused_says_so() -> None:
    pad = signed_in()
    assert not of(pad.press(Key.RESUME), wio.Request) and pad.line == "窗口未暂停"


def test_sign_out_closes_the_window() -> None:
    pad = called()
    pad.press(Key.SIGN_OUT)
    assert pad.request().path == "/api/v1/windows/3/sign-out"
    pad.answer()
    assert pad.state.stage is wc.Stage.SIGNED_OUT and pad.display.state is WindowState.CLOSED


def test_digits_while_signed_in_do_nothing() -> None:
    pad = signed_in()
    pad.press(Key.DIGIT, 4)  # clears the sign-in message
    assert pad.press(Key.DIGIT, 4) == [] and pad.state.pending is None


# ---------------------------------------------------------------------------------------------- rating
def finished() -> Pad:
    pad = called()
    pad.press(Key.FINISH)
    pad.answer()
    return pad


def test_a_rating_is_sent_through_the_outbox_on_channel_pad_and_thanked() -> None:
    pad = finished()
    effects = pad.feed(wio.RatingGiven(4, seq=1))
    request = of(effects, wio.Request)[0]
    assert (request.path, dict(request.body), request.outbox) == (
        "/api/v1/tickets/t-12/rating", {"level": 4, "channel": "pad"}, True)
    assert of(effects, wio.ThankRating) and pad.state.invited is None
    assert pad.feed(ServerAnswer(request.key, 201, {})) == [] and pad.state.rating_key == ""


def test_a_timed_out_invitation_sends_nothing() -> None:
    pad = finished()
    assert pad.feed(wio.RatingGiven(None, seq=1)) == []
    assert pad.state.invited is None


def test_a_rating_with_no_invitation_is_ignored() -> None:
    pad = called()
    assert pad.feed(wio.RatingGiven(5)) == []


def test_a_refused_rating_is_said_on_the_pad_but_already_rated_is_not() -> None:
    pad = finished()
    request = of(pad.feed(wio.RatingGiven(1)), wio.Request)[0]
    pad.feed(ServerAnswer(request.key, 409, {"error": {"code": "rating_expired", "message_zh": "过期"}}))
    assert pad.line == "评价已过期"
    pad = finished()
    request = of(pad.feed(wio.RatingGiven(1)), wio.Request)[0]
    pad.feed(ServerAnswer(request.key, 409, {"error": {"code": "already_rated"}}))
    assert pad.line == "已呼叫 A012" or "评价" not in pad.line


def test_calls_go_on_while_the_citizen_rates() -> None:
    pad = finished()
    pad.press(Key.CALL_NEXT)
    pad.answer(200, {"id": "t-13", "number": "A013"})
    effects = pad.feed(wio.RatingGiven(5))
    assert of(effects, wio.Request)[0].path == "/api/v1/tickets/t-12/rating" and pad.state.number == "A013"


# ---------------------------------------------------------------------------------------------- the stream
def test_a_call_made_through_the_api_shows_on_the_display() -> None:
    pad = signed_in()
    effects = pad.feed(wio.StreamNews("ticket.called", "t-20", "B020"))
    assert of(effects, wio.ShowDisplay) == [wio.ShowDisplay("B020", "请B020号到3号窗口办理", WindowState.SERVING,
                                                    DisplayMode.BLINK, 1)]
    effects = pad.feed(wio.StreamNews("ticket.recalled", "t-20", "B020"))
    assert of(effects, wio.ShowDisplay)[0].flash == 2
    pad.feed(wio.StreamNews("ticket.started", "t-20"))
    assert pad.state.stage is wc.Stage.SERVING
    effects = pad.feed(wio.StreamNews("ticket.finished", "t-20", "B020"))
    assert of(effects, wio.InviteRating) == [wio.InviteRating("t-20", "B020", "s003", 20)]


@pytest.mark.parametrize("kind", ["ticket.skipped", "ticket.transferred", "ticket.returned"])
def test_a_ticket_leaving_the_window_elsewhere_frees_it(kind: str) -> None:
    pad = called()
    pad.feed(wio.StreamNews(kind, "t-12"))
    assert pad.state.stage is wc.Stage.IDLE and pad.display.number == ""


def test_news_about_another_ticket_changes_nothing() -> None:
    pad = called()
    assert pad.feed(wio.StreamNews("ticket.finished", "t-99")) == []


def test_window_news_from_a_manager() -> None:
    pad = Pad()
    pad.feed(wio.StreamNews("window.signed_in", staff="s003"))
    assert pad.state.stage is wc.Stage.IDLE and pad.state.staff == "s003"
    pad.feed(wio.StreamNews("window.paused", reason="会议"))
    assert pad.display == wio.ShowDisplay("", "暂停服务：会议", WindowState.PAUSED)
    pad.feed(wio.StreamNews("window.resumed"))
    assert not pad.state.paused
    pad.feed(wio.StreamNews("window.signed_out"))
    assert pad.state.stage is wc.Stage.SIGNED_OUT


def test_nothing_is_written_twice_when_nothing_changed() -> None:
    pad = called()
    assert of(pad.feed(wio.StreamNews("ticket.called", "t-12", "A012")), wio.ShowPad) == []


# ---------------------------------------------------------------------------------------------- context, words
def test_the_context_from_the_hall_config() -> None:
    ctx = wc.WindowContext.from_hall(hall(), "window-1", "k")
    assert (ctx.window, ctx.services) == (1, ("A01", "B01", "C01"))
    with pytest.raises(ValueError, match="not a window node"):
        wc.WindowContext.from_hall(hall(), "kiosk-1", "k")


def test_staff_numbers_match_the_digits_of_the_id_among_those_allowed_here() -> None:
    assert CTX.staff_for(3) == "s003" and CTX.staff_for(10) == "s010"
    assert CTX.staff_for(1) == ""  # s001 may sign in only at window 1


def test_fit_cuts_at_a_character_boundary() -> None:
    assert fit("请A012号到3号窗口办理", 64) == "请A012号到3号窗口办理"
    cut = fit("一二三四五六七八九十一二三四五六七", 32)
    assert len(cut.encode("gb18030")) <= 32 and cut.endswith("…")
    assert fit("A1" * 10, 8) == "A1A1A1…"


def test_refusal_line_fills_the_details() -> None:
    assert refusal_line({"code": "ticket_still_called", "details": {"number": "A001"}}) == "A001未到，请过号或开始"
    assert refusal_line({}) == "操作未被受理"


def test_a_call_heard_twice_answer_then_stream_blinks_once() -> None:
    pad = called()
    assert pad.feed(wio.StreamNews("ticket.called", "t-12", "A012")) == []
    assert pad.state.flash == 1


def test_a_finish_heard_first_on_the_stream_invites_once() -> None:
    pad = called()
    pad.press(Key.FINISH)
    first = pad.feed(wio.StreamNews("ticket.finished", "t-12", "A012"))
    assert len(of(first, wio.InviteRating)) == 1
    assert of(pad.answer(), wio.InviteRating) == []


def test_the_window_synced_from_the_server_at_start() -> None:
    pad = Pad()
    pad.feed(wio.WindowSynced({"staff": "s003", "paused": False, "current": "t-5", "current_number": "A005",
                           "current_state": "called"}))
    assert (pad.state.stage, pad.state.staff, pad.display.number) == (wc.Stage.CALLED, "s003", "A005")
    pad.feed(wio.WindowSynced({"staff": "", "paused": False, "current": None}))
    assert pad.state.stage is wc.Stage.SIGNED_OUT


def test_a_console_sign_in_while_a_request_is_in_flight_keeps_no_pin() -> None:
    pad = Pad()
    pad.press(Key.SIGN_IN, 3)
    pad.press(Key.DIGIT, 1)
    pad.press(Key.ENTER)
    assert not of(pad.feed(wio.SignInTyped("s003", "999999")), wio.Request)
    assert pad.state.pin == "" and pad.line == "请稍候，正在处理"


def test_the_yellow_led_says_citizens_wait_while_signed_in() -> None:
    pad = Pad()
    pad.feed(wio.WaitingCount(4))
    assert not wc.pad_line_of(pad.state)[1] & Led.YELLOW  # signed out: the window calls nobody
    pad = signed_in()
    pad.press(Key.DIGIT, 0)  # clears the sign-in message
    effects = pad.feed(wio.WaitingCount(12))
    assert of(effects, wio.ShowPad) == [wio.ShowPad("s003 等候12人 请叫号", Led.YELLOW, 0)]
    assert pad.feed(wio.WaitingCount(12)) == []
    pad.feed(wio.WaitingCount(0))
    assert wc.pad_line_of(pad.state) == ("s003 请按叫号", Led(0))


def test_the_context_knows_the_services_its_window_calls() -> None:
    ctx = wc.WindowContext.from_hall(hall(), "window-1", "k")
    assert ctx.serves == ()  # the flows' test hall gives window 1 no services
