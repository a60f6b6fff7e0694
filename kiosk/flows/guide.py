"""办事指南: each service's required materials from the config, with a QR payload to take the list away;
and a ticket's status by its printed number."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from config.model import Service
from kiosk.flows.context import KioskContext
from kiosk.flows.effects import Effect, FetchTicketStatus, Screen, Show, WipePersonalData
from kiosk.flows.events import Button, Event, IdleTimeout, ServerAnswer, ServerUnreachable, Touch
from kiosk.flows.words import Words, refusal_words

__all__ = ["NUMBER_DIGITS", "QR_MAX_BYTES", "Guide", "Stage", "initial", "materials_qr", "status_words", "step"]

QR_MAX_BYTES = 1200  # UTF-8 bytes: a version-25 QR at level M, still easy for a phone at arm's length
NUMBER_DIGITS = 4  # A001 … A9999


class Stage(StrEnum):
    SERVICES = "services"
    GUIDE = "guide"
    STATUS_ENTRY = "status_entry"
    STATUS_WAIT = "status_wait"
    STATUS = "status"


@dataclass(frozen=True)
class Guide:
    ctx: KioskContext
    stage: Stage = Stage.SERVICES
    service: str = ""
    number: str = ""
    key: str = ""
    attempts: int = 0


def initial(ctx: KioskContext) -> tuple[Guide, list[Effect]]:
    state = Guide(ctx)
    return state, [_services(state)]


def materials_qr(service: Service) -> str:
    """The QR code's text: the service and its materials, numbered, cut to what a QR code holds."""
    title = f"办事指南｜{service.name}" + (f" ({service.name_en})" if service.name_en else "")
    lines = [title, "所需材料 / Materials:"]
    lines += [f"{n}. {item}" for n, item in enumerate(service.materials, start=1)] or ["（无需材料 / none）"]
    text = "\n".join(lines)
    if len(text.encode("utf-8")) <= QR_MAX_BYTES:
        return text
    cut = text.encode("utf-8")[:QR_MAX_BYTES - 3].decode("utf-8", "ignore")
    return cut + "…"


def status_words(body: dict[str, object] | object) -> Words:
    """A ticket's state in words (the public Ticket schema)."""
    if not isinstance(body, dict):
        return Words("无法识别的应答。", "The answer could not be read.")
    number, state, window = body.get("number", "?"), body.get("state"), body.get("window")
    ahead, wait = body.get("ahead", 0), body.get("estimated_wait_s")
    minutes = f"约 {-(-wait // 60)} 分钟" if isinstance(wait, int) else "时间未知"
    minutes_en = f"about {-(-wait // 60)} min" if isinstance(wait, int) else "time unknown"
    table = {
        "waiting": Words(f"{number} 号等候中，前面 {ahead} 人，{minutes}。",
                         f"{number} is waiting; {ahead} ahead, {minutes_en}."),
        "called": Words(f"{number} 号已叫号，请到 {window} 号窗口。", f"{number} has been called to window {window}."),
        "serving": Words(f"{number} 号正在 {window} 号窗口办理。", f"{number} is being served at window {window}."),
        "finished": Words(f"{number} 号已办结。", f"{number} is finished."),
        "skipped": Words(f"{number} 号已过号，请到导办台重新排队。",
                         f"{number} was skipped; ask at the information desk to queue again."),
        "cancelled": Words(f"{number} 号已取消。", f"{number} was cancelled."),
    }
    return table.get(str(state), Words(f"{number} 号状态：{state}。", f"{number}: {state}."))


def step(state: Guide, event: Event) -> tuple[Guide, list[Effect]]:
    """One event of the guide flow."""
    if state.stage is Stage.STATUS_WAIT:
        if isinstance(event, ServerAnswer | ServerUnreachable) and event.key == state.key:
            return _answered(state, event)
        return state, []
    if isinstance(event, IdleTimeout):
        return (state, []) if state.stage is Stage.SERVICES else end(state)
    if not isinstance(event, Touch):
        return state, []
    button, value = event.button, event.value
    if button is Button.SERVICE and state.stage is Stage.SERVICES:
        service = state.ctx.service(value)
        if service is None:
            return state, []
        new = replace(state, stage=Stage.GUIDE, service=value)
        listed = "；".join(service.materials) or "无需材料"
        words = Words(f"「{service.name}」所需材料：{listed}。扫码带走清单。",
                      f"{service.name_en or service.code}: bring {'; '.join(service.materials) or 'nothing'}. "
                      "Scan the code to take the list with you.")
        return new, [Show(Screen.GUIDE, words, qr=materials_qr(service), choices=(Touch(Button.BACK),))]
    if button is Button.STATUS and state.stage is Stage.SERVICES:
        new = replace(state, stage=Stage.STATUS_ENTRY, number="")
        return new, [_entry(new)]
    if state.stage is Stage.STATUS_ENTRY and button in (Button.LETTER, Button.DIGIT, Button.DELETE, Button.SUBMIT):
        return _keypad(state, button, value)
    if button is Button.BACK:
        new = replace(state, stage=Stage.SERVICES, service="", number="")
        return new, [_services(new)]
    if button is Button.DONE:
        return end(state)
    return state, []


def end(state: Guide) -> tuple[Guide, list[Effect]]:
    fresh = Guide(state.ctx, attempts=state.attempts)
    return fresh, [WipePersonalData(), _services(fresh)]


def _services(state: Guide) -> Show:
    choices = (*(Touch(Button.SERVICE, s.code) for s in state.ctx.hall.services), Touch(Button.STATUS))
    return Show(Screen.GUIDE_SERVICES, Words("请选择要查看的业务。", "Choose a service to see what to bring."),
                choices=choices)


def _prefixes(state: Guide) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.prefix for s in state.ctx.hall.services))


def _entry(state: Guide, words: Words | None = None) -> Show:
    ask = Words("请输入小票上的号码，如 A001。", "Enter the number on your ticket, e.g. A001.")
    keys = (*(Touch(Button.LETTER, p) for p in _prefixes(state)), *(Touch(Button.DIGIT, str(d)) for d in range(10)))
    return Show(Screen.STATUS_ENTRY, words or ask, number=state.number,
                choices=(*keys, Touch(Button.DELETE), Touch(Button.SUBMIT), Touch(Button.BACK)))


def _keypad(state: Guide, button: Button, value: str) -> tuple[Guide, list[Effect]]:
    number = state.number
    if button is Button.LETTER and not number and value in _prefixes(state):
        number = value
    elif button is Button.DIGIT and number and len(value) == 1 and value.isdigit() \
            and len(number) < 1 + NUMBER_DIGITS:
        number += value
    elif button is Button.DELETE:
        number = number[:-1]
    elif button is Button.SUBMIT:
        if len(number) < 2:
            return state, [_entry(state, Words("请输入完整号码，如 A001。", "Enter the whole number, e.g. A001."))]
        attempts = state.attempts + 1
        key = f"{state.ctx.key_seed}-g{attempts}"
        new = replace(state, stage=Stage.STATUS_WAIT, key=key, attempts=attempts)
        return new, [FetchTicketStatus(key, number), Show(Screen.WORKING, Words("正在查询……", "Looking it up…"))]
    else:
        return state, []
    new = replace(state, number=number)
    return new, [_entry(new)]


def _answered(state: Guide, event: ServerAnswer | ServerUnreachable) -> tuple[Guide, list[Effect]]:
    if isinstance(event, ServerUnreachable):
        new = replace(state, stage=Stage.STATUS_ENTRY)
        words = Words("暂时无法查询，请稍后再试。", "The queue server cannot be reached; try again soon.")
        return new, [_entry(new, words)]
    if not event.ok:
        new = replace(state, stage=Stage.STATUS_ENTRY)
        return new, [_entry(new, refusal_words(event.error))]
    new = replace(state, stage=Stage.STATUS)
    return new, [Show(Screen.STATUS, status_words(dict(event.body)), number=str(event.body.get("number", "")),
                      choices=(Touch(Button.BACK), Touch(Button.DONE)))]
