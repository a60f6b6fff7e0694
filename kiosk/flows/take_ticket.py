"""Take a ticket: by service (featured on the start screen, or category → service) or by tapping a card.

One touch reaches a featured (busiest) service, two any other. A card tap turns the card into a Holder at
once; a 60+ holder is offered the green channel (or given it, per ``green.elderly_automatic``); a real-name
service without a card asks for one and says why. The ticket itself comes from the print-then-confirm job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

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
from kiosk.flows.holder import Holder, from_id_card, from_social_security
from kiosk.flows.printing import BUSY, Job, Phase, Route
from kiosk.flows.words import NO_WORDS, Words

__all__ = ["Stage", "TakeTicket", "card_words", "holder_of", "initial", "step"]


class Stage(StrEnum):
    START = "start"  # featured services, categories, "tap your card"
    SERVICES = "services"  # the services of one category
    NEED_CARD = "need_card"  # a real-name service was chosen without a card
    GREEN_OFFER = "green_offer"  # a 60+ holder: green channel or not
    JOB = "job"  # the print-then-confirm job runs


@dataclass(frozen=True)
class TakeTicket:
    ctx: KioskContext
    stage: Stage = Stage.START
    holder: Holder | None = None
    department: str = ""
    service: str = ""
    job: Job | None = None
    attempts: int = 0  # counts every attempt of this node run: the Idempotency-Key's serial
    down: frozenset[str] = frozenset()  # other kiosks known not to work


def initial(ctx: KioskContext) -> tuple[TakeTicket, list[Effect]]:
    state = TakeTicket(ctx)
    return state, [screen(state)]


def holder_of(event: IdCardRead | SocialSecurityRead, ctx: KioskContext) -> Holder:
    """The Holder of a card read; the record itself goes no further than this call."""
    age = ctx.hall.green.elderly_age
    if isinstance(event, IdCardRead):
        return from_id_card(event.record, event.today, ctx.holder_secret, age)
    return from_social_security(event.record, event.today, ctx.holder_secret, age)


def card_words(event: CardReadFailed) -> Words:
    """A failed read in words the citizen acts on."""
    if event.pulled:
        return Words("卡片移开了，读卡未完成。请把卡重新放好，听到提示音前不要移动。",
                     "The card was moved away before it was read. Place it again and hold it still until the beep.")
    return Words("读卡失败，请把卡重新放好；仍不行请到导办台。",
                 "The card could not be read. Place it again; if it still fails, ask at the information desk.")


def step(state: TakeTicket, event: Event) -> tuple[TakeTicket, list[Effect]]:
    """One event; see the module docstring for the flow."""
    if isinstance(event, KioskHealth):
        down = state.down - {event.node} if event.working else state.down | {event.node}
        return replace(state, down=down), []
    if isinstance(event, ServerAnswer) and (state.job is None or event.key != state.job.key):
        return state, printing.orphan_report(event, None)
    busy = state.job is not None and state.job.phase in BUSY
    if isinstance(event, IdleTimeout):
        return (state, []) if busy or (state.stage is Stage.START and state.holder is None) else end(state)
    if isinstance(event, IdCardRead | SocialSecurityRead):
        return (state, []) if busy else _card(state, holder_of(event, state.ctx))
    if isinstance(event, CardReadFailed):
        return (state, []) if busy else (state, [screen(state, card_words(event))])
    if state.job is not None:
        return _in_job(state, state.job, event)
    if isinstance(event, Touch):
        return _touch(state, event)
    return state, []


def end(state: TakeTicket) -> tuple[TakeTicket, list[Effect]]:
    """Session over (done, idle): personal data wiped, back to the start screen; the key serial goes on."""
    fresh = TakeTicket(state.ctx, attempts=state.attempts, down=state.down)
    return fresh, [WipePersonalData(), screen(fresh)]


def screen(state: TakeTicket, words: Words | None = None) -> Show:
    """The screen of a stage outside the job (the job shows its own)."""
    masked = state.holder.masked if state.holder else ""
    ctx = state.ctx
    if state.stage is Stage.SERVICES:
        services = tuple(Touch(Button.SERVICE, c) for c in ctx.services_of(state.department))
        return Show(Screen.SERVICES, words or NO_WORDS, choices=(*services, Touch(Button.BACK)),
                    holder_masked=masked)
    if state.stage is Stage.NEED_CARD:
        service = ctx.service(state.service)
        name = service.name if service else state.service
        name_en = (service.name_en or service.code) if service else state.service
        why = Words(f"「{name}」为实名业务，须核验身份后取号：请刷身份证或社保卡。",
                    f"{name_en} is a real-name service: the ticket is issued to a verified person. "
                    "Please tap your ID card or social-security card.")
        return Show(Screen.NEED_CARD, words or why, choices=(Touch(Button.BACK),))
    if state.stage is Stage.GREEN_OFFER:
        offer = Words("您已年满 60 周岁，可走绿色通道优先办理。是否使用？",
                      "You are 60 or older and may use the green channel (served first). Use it?")
        return Show(Screen.GREEN_OFFER, words or offer, holder_masked=masked,
                    choices=(Touch(Button.GREEN_YES), Touch(Button.GREEN_NO), Touch(Button.BACK)))
    welcome = Words("请选择业务，或刷身份证 / 社保卡取号。",
                    "Choose a service, or tap your ID or social-security card.")
    choices = tuple(Touch(Button.SERVICE, c) for c in ctx.featured) + \
        tuple(Touch(Button.CATEGORY, d) for d in ctx.departments) + ((Touch(Button.DONE),) if state.holder else ())
    return Show(Screen.START, words or welcome, choices=choices, holder_masked=masked)


def _card(state: TakeTicket, holder: Holder) -> tuple[TakeTicket, list[Effect]]:
    wipe: list[Effect] = []
    if state.job is not None or state.holder is not None:  # a new citizen, or the same one again: start over
        state, wipe = end(state)
        wipe = wipe[:1]
    state = replace(state, holder=holder)
    if state.stage is Stage.NEED_CARD:
        new, effects = _choose(state, state.service)
        return new, [*wipe, *effects]
    return state, [*wipe, screen(state)]


def _touch(state: TakeTicket, touch: Touch) -> tuple[TakeTicket, list[Effect]]:
    ctx, button = state.ctx, touch.button
    if button is Button.SERVICE and ctx.service(touch.value) is not None and (
            state.stage is Stage.START or (state.stage is Stage.SERVICES
                                           and touch.value in ctx.services_of(state.department))):
        return _choose(state, touch.value)
    if button is Button.CATEGORY and state.stage is Stage.START and touch.value in ctx.departments:
        new = replace(state, stage=Stage.SERVICES, department=touch.value)
        return new, [screen(new)]
    if button is Button.BACK and state.stage is not Stage.START:
        new = replace(state, stage=Stage.START, department="", service="")
        return new, [screen(new)]
    if button is Button.DONE and state.stage is Stage.START and state.holder is not None:
        return end(state)
    if state.stage is Stage.GREEN_OFFER and button in (Button.GREEN_YES, Button.GREEN_NO):
        return _job(state, green=button is Button.GREEN_YES)
    return state, []


def _choose(state: TakeTicket, code: str) -> tuple[TakeTicket, list[Effect]]:
    service = state.ctx.service(code)
    assert service is not None
    state = replace(state, service=code)
    holder = state.holder
    if service.real_name and holder is None:
        new = replace(state, stage=Stage.NEED_CARD)
        return new, [screen(new)]
    if holder is not None and holder.elderly and state.ctx.green_at_kiosk:
        if state.ctx.hall.green.elderly_automatic:
            return _job(state, green=True)
        new = replace(state, stage=Stage.GREEN_OFFER)
        return new, [screen(new)]
    return _job(state, green=False)


def _job(state: TakeTicket, green: bool) -> tuple[TakeTicket, list[Effect]]:
    """A new attempt: a new Idempotency-Key, kept for every retry of this request."""
    attempts = state.attempts + 1
    body: dict[str, str] = {"service": state.service, "priority": "green" if green else "normal"}
    if green:
        body["green_reason"] = "age_60_plus"
    if state.holder is not None:
        body |= {"holder_key": state.holder.key, "holder_masked": state.holder.masked}
    job, effects = printing.start(Route.TICKET, f"{state.ctx.key_seed}-t{attempts}", body,
                                  state.holder.masked if state.holder else "")
    return replace(state, stage=Stage.JOB, job=job, attempts=attempts), effects


def _in_job(state: TakeTicket, job: Job, event: Event) -> tuple[TakeTicket, list[Effect]]:
    new_job, effects = printing.step(job, event, state.ctx, state.down)
    if effects or not isinstance(event, Touch) or job.phase in BUSY:
        return replace(state, job=new_job), effects
    if event.button is Button.DONE or (event.button is Button.NO_REPRINT and job.phase is Phase.OFFER_REPRINT):
        return end(state)
    if event.button is Button.BACK and job.phase in (Phase.REFUSED, Phase.PRINTER_DOWN, Phase.UNREACHABLE):
        new = replace(state, stage=Stage.START, job=None, department="", service="")
        return new, [screen(new)]
    return state, []
