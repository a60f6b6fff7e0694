"""Appointment check-in: the 6-digit code or an ID tap → the appointment's priority ticket, printed and confirmed.

Too early: the server's come-back time in words. Too late: the booking is void and a normal ticket of the
same service is offered (never issued without the citizen's touch). Two bookings today: choose the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kiosk.flows import printing
from kiosk.flows.context import KioskContext
from kiosk.flows.effects import Effect, Screen, Show, WipePersonalData
from kiosk.flows.events import (
    Button,
    CardReadFailed,
    Event,
    IdCardRead,
    IdleTimeout,
    KioskHealth,
    ServerAnswer,
    SocialSecurityRead,
    Touch,
)
from kiosk.flows.holder import Holder
from kiosk.flows.printing import BUSY, Job, Phase, Route
from kiosk.flows.take_ticket import card_words, holder_of
from kiosk.flows.words import Words, refusal_words

__all__ = ["CODE_DIGITS", "CheckIn", "Stage", "initial", "step"]

CODE_DIGITS = 6


class Stage(StrEnum):
    ENTRY = "entry"  # keypad for the code, or "tap your ID card"
    CHOOSE = "choose"  # two bookings today: which service
    JOB = "job"


@dataclass(frozen=True)
class CheckIn:
    ctx: KioskContext
    stage: Stage = Stage.ENTRY
    code: str = ""
    holder: Holder | None = None
    job: Job | None = None
    attempts: int = 0
    down: frozenset[str] = frozenset()
    offer_service: str = ""  # checkin_too_late: the service of the normal ticket offered
    services: tuple[str, ...] = ()  # appointment_ambiguous: the holder's services today


def initial(ctx: KioskContext) -> tuple[CheckIn, list[Effect]]:
    state = CheckIn(ctx)
    return state, [_entry(state)]


def step(state: CheckIn, event: Event) -> tuple[CheckIn, list[Effect]]:
    """One event of the check-in flow."""
    if isinstance(event, KioskHealth):
        down = state.down - {event.node} if event.working else state.down | {event.node}
        return replace(state, down=down), []
    if isinstance(event, ServerAnswer) and (state.job is None or event.key != state.job.key):
        return state, printing.orphan_report(event, None)
    busy = state.job is not None and state.job.phase in BUSY
    if isinstance(event, IdleTimeout):
        idle = state.stage is Stage.ENTRY and not state.code and state.holder is None
        return (state, []) if busy or idle else end(state)
    if busy:
        assert state.job is not None
        return _job_step(state, state.job, event)
    if isinstance(event, IdCardRead | SocialSecurityRead):
        fresh, wipe = end(state) if state.holder is not None or state.job is not None else (state, [])
        holder = holder_of(event, state.ctx)
        new, effects = _start(replace(fresh, holder=holder), Route.CHECK_IN, {"holder_key": holder.key})
        return new, [*wipe[:1], *effects]
    if isinstance(event, CardReadFailed):
        return state, [_entry(state, card_words(event))]
    if state.job is not None:
        return _job_step(state, state.job, event)
    if isinstance(event, Touch):
        return _touch(state, event)
    return state, []


def end(state: CheckIn) -> tuple[CheckIn, list[Effect]]:
    """Session over: wiped, back to the keypad; the key serial goes on."""
    fresh = CheckIn(state.ctx, attempts=state.attempts, down=state.down)
    return fresh, [WipePersonalData(), _entry(fresh)]


def _entry(state: CheckIn, words: Words | None = None) -> Show:
    ask = Words("请输入 6 位预约码，或刷身份证签到。", "Enter your 6-digit appointment code, or tap your ID card.")
    keys = tuple(Touch(Button.DIGIT, str(d)) for d in range(10))
    return Show(Screen.CODE_ENTRY, words or ask, number=state.code,
                choices=(*keys, Touch(Button.DELETE), Touch(Button.SUBMIT), Touch(Button.DONE)))


def _touch(state: CheckIn, touch: Touch) -> tuple[CheckIn, list[Effect]]:
    button = touch.button
    if state.stage is Stage.CHOOSE:
        if button is Button.SERVICE and touch.value in state.services and state.holder is not None:
            return _start(state, Route.CHECK_IN, {"holder_key": state.holder.key, "service": touch.value})
        if button in (Button.BACK, Button.DONE):
            return end(state)
        return state, []
    if button is Button.DIGIT and len(touch.value) == 1 and touch.value.isdigit() and len(state.code) < CODE_DIGITS:
        new = replace(state, code=state.code + touch.value)
        return new, [_entry(new)]
    if button is Button.DELETE and state.code:
        new = replace(state, code=state.code[:-1])
        return new, [_entry(new)]
    if button is Button.SUBMIT:
        if len(state.code) != CODE_DIGITS:
            return state, [_entry(state, Words("预约码为 6 位数字。", "The appointment code has 6 digits."))]
        return _start(state, Route.CHECK_IN, {"code": state.code})
    if button is Button.DONE and (state.code or state.holder is not None):
        return end(state)
    return state, []


def _start(state: CheckIn, route: Route, body: Mapping[str, Any]) -> tuple[CheckIn, list[Effect]]:
    attempts = state.attempts + 1
    masked = state.holder.masked if state.holder else ""
    job, effects = printing.start(route, f"{state.ctx.key_seed}-c{attempts}", body, masked)
    return replace(state, stage=Stage.JOB, job=job, attempts=attempts, offer_service="", services=()), effects


def _job_step(state: CheckIn, job: Job, event: Event) -> tuple[CheckIn, list[Effect]]:
    new_job, effects = printing.step(job, event, state.ctx, state.down)
    if new_job.phase is Phase.REFUSED and job.phase is not Phase.REFUSED:
        return _refused(replace(state, job=new_job), new_job.error, effects)
    if effects or not isinstance(event, Touch) or job.phase in BUSY:
        return replace(state, job=new_job), effects
    if event.button is Button.NORMAL_TICKET and state.offer_service:
        body: dict[str, Any] = {"service": state.offer_service, "priority": "normal"}
        if state.holder is not None:
            body |= {"holder_key": state.holder.key, "holder_masked": state.holder.masked}
        return _start(state, Route.TICKET, body)
    if event.button is Button.DONE or (event.button is Button.NO_REPRINT and job.phase is Phase.OFFER_REPRINT):
        return end(state)
    if event.button is Button.BACK and job.phase in (Phase.REFUSED, Phase.PRINTER_DOWN, Phase.UNREACHABLE):
        new = replace(state, stage=Stage.ENTRY, job=None, code="")
        return new, [_entry(new)]
    return state, []


def _refused(state: CheckIn, error: Mapping[str, Any], effects: list[Effect]) -> tuple[CheckIn, list[Effect]]:
    """The server's early/late/ambiguous answers become an offer; the others stay a refusal with words."""
    code = error.get("code")
    details = error.get("details") or {}
    if code == "checkin_too_late" and details.get("offer") == "normal_ticket" and state.ctx.service(
            str(details.get("service", ""))) is not None:
        new = replace(state, offer_service=str(details["service"]))
        return new, [Show(Screen.REFUSED, refusal_words(error),
                          choices=(Touch(Button.NORMAL_TICKET), Touch(Button.DONE)))]
    services = details.get("services")
    if code == "appointment_ambiguous" and state.holder is not None and isinstance(services, list):
        known = tuple(s for s in services if isinstance(s, str) and state.ctx.service(s) is not None)
        if known:
            new = replace(state, stage=Stage.CHOOSE, job=None, services=known)
            return new, [Show(Screen.CHOOSE_APPOINTMENT, refusal_words(error), holder_masked=state.holder.masked,
                              choices=(*(Touch(Button.SERVICE, s) for s in known), Touch(Button.DONE)))]
    return state, effects
