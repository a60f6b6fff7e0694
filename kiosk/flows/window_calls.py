"""A window terminal as a pure state machine: call-pad (or console) keys → server actions, and what the window's
LED display, the call pad's line and the rating pad show.

One request is in flight at a time; a key pressed meanwhile is answered "请稍候" and not queued (staff press
again when they mean it). Each press is named by the pad's (session, seq): a frame the bus retried is dropped
here, and the pair is in the Idempotency-Key, so even a request the node resends acts once on the server.
The display and the pad line are views of the state (``display_of``, ``pad_line_of``): after every event the
flow emits a write only for what changed, so calls made through the API (StreamNews) and a press on the pad
show the same way. After a finish the rating pad is lit; its answer is sent through the node's outbox
(channel ``pad``), a timeout sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from config.model import Hall
from devices.bus485.registers import DisplayMode, Key, Led, WindowState
from kiosk.flows.events import ServerAnswer, ServerUnreachable
from kiosk.flows.window_io import (
    InviteRating,
    PadKey,
    RatingGiven,
    Request,
    ShowDisplay,
    ShowPad,
    SignInTyped,
    StreamNews,
    ThankRating,
    WaitingCount,
    WindowEffect,
    WindowEvent,
    WindowSynced,
)
from kiosk.flows.window_words import (
    DISPLAY_NUMBER_BYTES,
    DISPLAY_TEXT_BYTES,
    PAD_LINE_BYTES,
    PAUSE_REASONS,
    fit,
    refusal_line,
)

__all__ = ["SEEN_KEPT", "Stage", "WindowCalls", "WindowContext", "display_of", "pad_line_of", "start", "step"]

SEEN_KEPT = 64  # presses remembered, as many as the bus driver remembers per session
PIN_MAX_DIGITS = 12
SERVICE_TARGET_BASE = 1000  # a transfer arg of 1000 + n means the hall's n-th service (config order)


class Stage(StrEnum):
    SIGNED_OUT = "signed_out"
    PIN = "pin"  # a staff number was given; PIN digits being typed
    IDLE = "idle"  # signed in, nobody at the window
    CALLED = "called"  # a ticket called, its holder not yet here
    SERVING = "serving"


@dataclass(frozen=True)
class WindowContext:
    """One window node: its window, who may sign in there, the services a transfer can name, the key seed."""

    window: int
    node: str
    key_seed: str
    staff: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (staff id, windows allowed; empty = any)
    services: tuple[str, ...] = ()
    rating_timeout_s: int = 30
    serves: tuple[str, ...] = ()  # the services this window calls, for the "citizens waiting" LED

    @classmethod
    def from_hall(cls, hall: Hall, node: str, key_seed: str, rating_timeout_s: int = 30) -> WindowContext:
        found = next((n for n in hall.nodes if n.name == node), None)
        if found is None or found.window is None:
            raise ValueError(f"{node!r} is not a window node of {hall.name}")
        window = hall.window(found.window)
        serves = tuple(ws.service for ws in window.services) if window is not None else ()
        return cls(found.window, node, key_seed, tuple((s.id, s.windows) for s in hall.staff),
                   tuple(s.code for s in hall.services), rating_timeout_s, serves)

    def staff_for(self, number: int) -> str:
        """The staff id whose digits are ``number`` (s001 → 1) and who may sign in here; with number 0 the one
        person assigned to this window. "" when none: the server then judges the number as typed."""
        here = [sid for sid, windows in self.staff if not windows or self.window in windows]
        if number == 0:
            own = [sid for sid, windows in self.staff if self.window in windows]
            return own[0] if len(own) == 1 else ""
        matches = [sid for sid in here if (digits := re.sub(r"\D", "", sid)) and int(digits) == number]
        return matches[0] if len(matches) == 1 else ""

    def transfer_body(self, arg: int) -> dict[str, Any] | None:
        """A transfer's target from the pad's arg: a window 1..999 or 1000 + the service's place in the config."""
        if 1 <= arg < SERVICE_TARGET_BASE and arg != self.window:
            return {"to_window": arg}
        n = arg - SERVICE_TARGET_BASE
        if 1 <= n <= len(self.services):
            return {"to_service": self.services[n - 1]}
        return None


@dataclass(frozen=True)
class Pending:
    """The one request in flight: what it was for, and the ticket it concerns."""

    key: str
    action: str
    ticket: str = ""
    number: str = ""
    reason: str = ""


@dataclass(frozen=True)
class WindowCalls:
    ctx: WindowContext
    stage: Stage = Stage.SIGNED_OUT
    staff: str = ""
    paused: bool = False
    pause_reason: str = ""
    ticket: str = ""
    number: str = ""
    flash: int = 0  # calls and recalls shown: a recall blinks the same number anew
    pending: Pending | None = None
    signing_in: str = ""  # the staff id whose PIN is being typed
    pin: str = field(default="", repr=False)
    message: str = ""  # a refusal or a prompt on the pad's line, until the next key
    invited: tuple[str, str] | None = None  # (ticket, number) the rating pad is asking about
    rating_key: str = ""
    seen: tuple[tuple[int, int], ...] = ()
    counter: int = 0
    waiting: int = 0  # citizens waiting for the services of this window
    shown: ShowDisplay | None = None
    shown_pad: tuple[str, Led] | None = None

    @property
    def signed_in(self) -> bool:
        return self.stage in (Stage.IDLE, Stage.CALLED, Stage.SERVING)


Result = tuple[WindowCalls, list[WindowEffect]]


def start(ctx: WindowContext) -> Result:
    """The terminal as it starts: signed out until the node syncs it from the server (WindowSynced) or staff sign in."""
    return _render(WindowCalls(ctx), [], 0)


#: the pad's words for a key dropped while a request is in flight (keys are not queued: a second call-next
#: pressed in a hurry must not call a second citizen later)
BUSY = "请稍候，正在处理"


def step(state: WindowCalls, event: WindowEvent) -> Result:
    """One event; the effects end with the display and pad writes that the new state needs."""
    effects: list[WindowEffect] = []
    beeps = 0
    if isinstance(event, PadKey):
        press = (event.session, event.seq)
        if event.seq and press in state.seen:
            return state, []  # a retried frame: acted on already
        state = replace(state, seen=(*state.seen, press)[-SEEN_KEPT:], message="")
        state, effects, beeps = _key(state, event)
    elif isinstance(event, SignInTyped):
        if state.pending is not None:
            state = replace(state, message=BUSY)  # the PIN is not kept for later
        elif state.signed_in:
            state, beeps = replace(state, message="请先签退"), 2
        else:
            state = replace(state, stage=Stage.PIN, signing_in=event.staff, pin=event.pin, message="")
            state, effects, beeps = _key(state, PadKey(Key.ENTER))
    elif isinstance(event, RatingGiven):
        state, effects = _rated(state, event)
    elif isinstance(event, StreamNews):
        state, effects = _news(state, event)
    elif isinstance(event, WaitingCount):
        state = replace(state, waiting=max(0, event.waiting))
    elif isinstance(event, WindowSynced):
        staff = str(event.view.get("staff") or "")
        state = _adopt_window(replace(state, stage=Stage.IDLE, staff=staff), event.view) if staff else (
            state if state.stage is Stage.PIN else _signed_out(state))
    elif state.pending is not None and event.key == state.pending.key:
        state, effects, beeps = _answered(state, state.pending, event)
    elif state.rating_key and event.key == state.rating_key:
        state = replace(state, rating_key="")
        if isinstance(event, ServerAnswer) and not event.ok and event.error.get("code") != "already_rated":
            state = replace(state, message=refusal_line(event.error))
    else:
        return state, []
    return _render(state, effects, beeps)


# ---------------------------------------------------------------------------------------------- keys
def _key(state: WindowCalls, ev: PadKey) -> tuple[WindowCalls, list[WindowEffect], int]:
    if state.pending is not None:
        return replace(state, message=BUSY), [], 0
    if state.stage in (Stage.SIGNED_OUT, Stage.PIN) and ev.key is Key.SIGN_IN:
        staff = state.ctx.staff_for(ev.arg) or (str(ev.arg) if ev.arg else "")
        if not staff:
            return replace(state, message="请输入工号后按签到"), [], 2
        return replace(state, stage=Stage.PIN, signing_in=staff, pin=""), [], 0
    if state.stage is Stage.SIGNED_OUT:
        return replace(state, message="请先输入工号并签到"), [], 2
    if state.stage is Stage.PIN:
        return _pin_key(state, ev)
    return _action_key(state, ev)


def _pin_key(state: WindowCalls, ev: PadKey) -> tuple[WindowCalls, list[WindowEffect], int]:
    if ev.key is Key.DIGIT and 0 <= ev.arg <= 9:
        if len(state.pin) >= PIN_MAX_DIGITS:
            return replace(state, message="密码位数已满，请按确认"), [], 2
        return replace(state, pin=state.pin + str(ev.arg)), [], 0
    if ev.key is Key.CLEAR:
        if state.pin:
            return replace(state, pin=""), [], 0
        return replace(state, stage=Stage.SIGNED_OUT, signing_in="", message="已取消签到"), [], 0
    if ev.key is Key.ENTER:
        if not state.pin:
            return replace(state, message="请输入密码后按确认"), [], 2
        state, request = _request(state, ev, "sign_in", "POST", f"/api/v1/windows/{state.ctx.window}/sign-in",
                                  {"staff": state.signing_in, "pin": state.pin})
        return replace(state, pin=""), [request], 0
    return replace(state, message="请输入密码后按确认"), [], 2


def _action_key(state: WindowCalls, ev: PadKey) -> tuple[WindowCalls, list[WindowEffect], int]:
    w, key = state.ctx.window, ev.key
    ticket_path = f"/api/v1/tickets/{state.ticket}/"
    has_ticket = state.stage in (Stage.CALLED, Stage.SERVING)
    if key is Key.CALL_NEXT:
        served = state.ticket if state.stage is Stage.SERVING else ""  # calling next finishes the one served
        state, request = _request(state, ev, "call_next", "POST", f"/api/v1/windows/{w}/call-next", {},
                                  ticket=served)
        return state, [request], 0
    if key in (Key.RECALL, Key.SKIP, Key.START) and state.stage is not Stage.CALLED:
        return replace(state, message="没有已呼叫未到的号"), [], 2
    if key in (Key.FINISH, Key.TRANSFER) and not has_ticket:
        return replace(state, message="当前没有办理中的号"), [], 2
    if key in (Key.RECALL, Key.SKIP, Key.START, Key.FINISH):
        action = key.name.lower()
        state, request = _request(state, ev, action, "POST", ticket_path + action, {}, ticket=state.ticket)
        return state, [request], 0
    if key is Key.TRANSFER:
        body = state.ctx.transfer_body(ev.arg)
        if body is None:
            return replace(state, message="请输入转往窗口号或业务"), [], 2
        state, request = _request(state, ev, "transfer", "POST", ticket_path + "transfer", body, ticket=state.ticket)
        return state, [request], 0
    if key is Key.PAUSE:
        reason = PAUSE_REASONS.get(ev.arg)
        if reason is None:
            return replace(state, message="原因:1会议2休息3故障4其他"), [], 2
        state, request = _request(state, ev, "pause", "POST", f"/api/v1/windows/{w}/pause", {"reason": reason},
                                  reason=reason)
        return state, [request], 0
    if key is Key.RESUME:
        if not state.paused:
            return replace(state, message="窗口未暂停"), [], 2
        state, request = _request(state, ev, "resume", "POST", f"/api/v1/windows/{w}/resume", {})
        return state, [request], 0
    if key is Key.SIGN_OUT:
        state, request = _request(state, ev, "sign_out", "POST", f"/api/v1/windows/{w}/sign-out", {})
        return state, [request], 0
    if key is Key.SIGN_IN:
        return replace(state, message="已签到；换人请先签退"), [], 2
    return state, [], 0  # digits, enter, clear: nothing to do while signed in


def _request(state: WindowCalls, ev: PadKey, action: str, method: str, path: str, body: Mapping[str, Any], *,
             ticket: str = "", reason: str = "") -> tuple[WindowCalls, Request]:
    counter = state.counter + 1
    key = f"{state.ctx.key_seed}-{ev.session:04x}-{ev.seq}" if ev.seq else f"{state.ctx.key_seed}-c{counter}"
    number = state.number if ticket and ticket == state.ticket else ""
    pending = Pending(key, action, ticket, number, reason)
    return replace(state, pending=pending, counter=counter), Request(key, method, path, body)


# ---------------------------------------------------------------------------------------------- answers
def _answered(state: WindowCalls, pending: Pending, event: ServerAnswer | ServerUnreachable,
              ) -> tuple[WindowCalls, list[WindowEffect], int]:
    # A key dropped meanwhile said BUSY; with the answer in, the pad may take keys again, so it says so.
    state = replace(state, pending=None, message="" if state.message == BUSY else state.message)
    if isinstance(event, ServerUnreachable):
        if pending.action == "sign_in":
            state = replace(state, stage=Stage.PIN)
        return replace(state, message="服务器无法连接，请重试"), [], 2
    if not event.ok:
        return _refused(state, pending, event.error)
    body = event.body
    effects: list[WindowEffect] = []
    action = pending.action
    if action == "sign_in":
        state = _adopt_window(replace(state, stage=Stage.IDLE, staff=state.signing_in, signing_in=""), body)
        return replace(state, message=fit(f"{state.staff} 签到成功", PAD_LINE_BYTES)), [], 1
    if action == "call_next":
        if pending.ticket:
            state, effects = _invite(state, pending.ticket, pending.number)
        return _called(state, str(body.get("id", "")), str(body.get("number", ""))), effects, 1
    if action == "recall":
        return replace(state, flash=state.flash + 1), [], 1
    if action == "start":
        return replace(state, stage=Stage.SERVING), [], 0
    if action == "finish":
        state, effects = _invite(state, pending.ticket, pending.number)
        return _released(state), effects, 0
    if action in ("skip", "transfer"):
        said = "已过号" if action == "skip" else "已转移"
        return replace(_released(state), message=fit(f"{pending.number}{said}", PAD_LINE_BYTES)), [], 0
    if action == "pause":
        return replace(state, paused=True, pause_reason=pending.reason), [], 0
    if action == "resume":
        return replace(state, paused=False, pause_reason=""), [], 0
    return _signed_out(state), [], 0  # sign_out


def _refused(state: WindowCalls, pending: Pending, error: Mapping[str, Any]) -> tuple[WindowCalls,
                                                                                       list[WindowEffect], int]:
    code = error.get("code")
    if pending.action == "sign_in":
        state = replace(state, stage=Stage.SIGNED_OUT if code == "too_many_attempts" else Stage.PIN)
    elif code == "not_signed_in":  # signed out elsewhere (a manager, another node): follow the server
        state = _signed_out(state)
    elif code == "window_paused":
        state = replace(state, paused=True)
    return replace(state, message=refusal_line(error)), [], 2


def _adopt_window(state: WindowCalls, view: Mapping[str, Any]) -> WindowCalls:
    """Take the window as the server sees it (a sign-in's answer): paused or not, who is being served."""
    current, number = str(view.get("current") or ""), str(view.get("current_number") or "")
    stage = {"called": Stage.CALLED, "serving": Stage.SERVING}.get(str(view.get("current_state")), Stage.IDLE)
    return replace(state, paused=bool(view.get("paused")), pause_reason=str(view.get("pause_reason") or ""),
                   ticket=current if stage is not Stage.IDLE else "", number=number if stage is not Stage.IDLE else "",
                   stage=stage)


def _called(state: WindowCalls, ticket: str, number: str) -> WindowCalls:
    """``ticket`` called here; the same call heard twice (its answer and its stream event) blinks once."""
    if state.stage is Stage.CALLED and state.ticket == ticket:
        return state
    return replace(state, stage=Stage.CALLED, ticket=ticket, number=number, flash=state.flash + 1)


def _released(state: WindowCalls) -> WindowCalls:
    return replace(state, stage=Stage.IDLE if state.signed_in else state.stage, ticket="", number="")


def _signed_out(state: WindowCalls) -> WindowCalls:
    return replace(state, stage=Stage.SIGNED_OUT, staff="", ticket="", number="", paused=False, pause_reason="")


# ---------------------------------------------------------------------------------------------- rating
def _invite(state: WindowCalls, ticket: str, number: str) -> tuple[WindowCalls, list[WindowEffect]]:
    """Light the rating pad for this matter; a newer finish replaces an invitation nobody answered."""
    if not ticket or (state.invited is not None and state.invited[0] == ticket):
        return state, []  # heard twice (the answer and the stream event): one invitation
    effect = InviteRating(ticket, fit(number, 8), fit(state.staff, 8), state.ctx.rating_timeout_s)
    return replace(state, invited=(ticket, number)), [effect]


def _rated(state: WindowCalls, event: RatingGiven) -> tuple[WindowCalls, list[WindowEffect]]:
    if state.invited is None:
        return state, []
    ticket = state.invited[0]
    state = replace(state, invited=None)
    if event.level is None or not 1 <= event.level <= 5:
        return state, []  # timed out unrated: nothing is sent (no rating is made up)
    key = f"{state.ctx.key_seed}-rating-{ticket}"
    request = Request(key, "POST", f"/api/v1/tickets/{ticket}/rating", {"level": event.level, "channel": "pad"},
                      outbox=True)
    return replace(state, rating_key=key), [request, ThankRating()]


# ---------------------------------------------------------------------------------------------- stream
def _news(state: WindowCalls, news: StreamNews) -> tuple[WindowCalls, list[WindowEffect]]:
    """What another node (a manager, the API) did at this window, so the display shows it too."""
    kind, ours = news.type, bool(news.ticket) and news.ticket == state.ticket
    if kind == "window.signed_in":
        return (state if state.signed_in else replace(state, stage=Stage.IDLE, staff=news.staff)), []
    if kind == "window.signed_out":
        return _signed_out(state), []
    if kind == "window.paused":
        return replace(state, paused=True, pause_reason=news.reason), []
    if kind == "window.resumed":
        return replace(state, paused=False, pause_reason=""), []
    if kind == "ticket.called":
        return _called(state, news.ticket, news.number), []
    if not ours:
        return state, []
    if kind == "ticket.recalled":
        return replace(state, flash=state.flash + 1), []
    if kind == "ticket.started":
        return replace(state, stage=Stage.SERVING), []
    if kind == "ticket.finished":
        state, effects = _invite(state, news.ticket, news.number or state.number)
        return _released(state), effects
    if kind in ("ticket.skipped", "ticket.transferred", "ticket.returned"):
        return _released(state), []
    return state, []


# ---------------------------------------------------------------------------------------------- views
def display_of(state: WindowCalls) -> ShowDisplay:
    """What the window's LED display shows in this state."""
    w = state.ctx.window
    number = fit(state.number, DISPLAY_NUMBER_BYTES)
    if not state.signed_in:
        return ShowDisplay("", fit(f"{w}号窗口 暂停办理", DISPLAY_TEXT_BYTES), WindowState.CLOSED)
    if state.paused:
        reason = f"：{state.pause_reason}" if state.pause_reason else ""
        return ShowDisplay(number, fit(f"暂停服务{reason}", DISPLAY_TEXT_BYTES), WindowState.PAUSED, flash=state.flash)
    if state.stage is Stage.CALLED:
        return ShowDisplay(number, fit(f"请{state.number}号到{w}号窗口办理", DISPLAY_TEXT_BYTES), WindowState.SERVING,
                           DisplayMode.BLINK, state.flash)
    if state.stage is Stage.SERVING:
        return ShowDisplay(number, "正在办理", WindowState.SERVING, flash=state.flash)
    return ShowDisplay("", fit(f"{w}号窗口 欢迎办理", DISPLAY_TEXT_BYTES), WindowState.SERVING, flash=state.flash)


def pad_line_of(state: WindowCalls) -> tuple[str, Led]:
    """The call pad's line and LEDs in this state (a pending message first)."""
    leds = Led(0)
    if state.stage in (Stage.CALLED, Stage.SERVING):
        leds |= Led.GREEN
    if state.paused:
        leds |= Led.RED
    if state.signed_in and state.waiting:
        leds |= Led.YELLOW
    if state.message:
        return fit(state.message, PAD_LINE_BYTES), leds
    if state.stage is Stage.SIGNED_OUT:
        line = "请输入工号并签到"
    elif state.stage is Stage.PIN:
        line = f"{state.signing_in} 密码:{'*' * len(state.pin)}"
    elif state.paused:
        line = f"暂停中({state.pause_reason}) 按恢复"
    elif state.stage is Stage.CALLED:
        line = f"已呼叫 {state.number}"
    elif state.stage is Stage.SERVING:
        line = f"正在办理 {state.number}"
    elif state.waiting:
        line = f"{state.staff} 等候{state.waiting}人 请叫号"
    else:
        line = f"{state.staff} 请按叫号"
    return fit(line, PAD_LINE_BYTES), leds


def _render(state: WindowCalls, effects: list[WindowEffect], beeps: int) -> Result:
    display = display_of(state)
    if display != state.shown:
        effects.append(display)
        state = replace(state, shown=display)
    pad = pad_line_of(state)
    if pad != state.shown_pad or beeps:
        effects.append(ShowPad(pad[0], pad[1], beeps))
        state = replace(state, shown_pad=pad)
    return state, effects
