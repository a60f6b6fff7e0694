"""好差评 after a self-service transaction: five levels, none chosen for the citizen, skippable; then idle reset."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.flows.context import KioskContext
from kiosk.flows.effects import Effect, Screen, Show, SubmitRating, WipePersonalData
from kiosk.flows.events import Button, Event, IdleTimeout, RatingInvited, ServerAnswer, ServerUnreachable, Touch
from kiosk.flows.words import Words, refusal_words

__all__ = ["LEVELS", "Rating", "Stage", "initial", "step"]

#: the five levels, best first as the screen lists them (5 非常满意 … 1 非常不满意)
LEVELS: dict[int, Words] = {5: Words("非常满意", "Very satisfied"), 4: Words("满意", "Satisfied"),
                            3: Words("基本满意", "Fairly satisfied"), 2: Words("不满意", "Dissatisfied"),
                            1: Words("非常不满意", "Very dissatisfied")}


class Stage(StrEnum):
    IDLE = "idle"  # nothing to rate
    ASK = "ask"  # the five levels and "skip"; nothing preselected
    SENDING = "sending"
    THANKS = "thanks"
    REFUSED = "refused"


@dataclass(frozen=True)
class Rating:
    ctx: KioskContext
    stage: Stage = Stage.IDLE
    ticket_id: str = ""
    key: str = ""
    attempts: int = 0


def initial(ctx: KioskContext) -> Rating:
    return Rating(ctx)


def step(state: Rating, event: Event) -> tuple[Rating, list[Effect]]:
    """One event of the rating flow."""
    if isinstance(event, RatingInvited) and state.stage is not Stage.SENDING and event.ticket_id:
        new = replace(state, stage=Stage.ASK, ticket_id=event.ticket_id, key="")
        ask = Words("请对本次服务作出评价（可跳过）。", "Please rate this service (you may skip).")
        choices = (*(Touch(Button.LEVEL, str(level)) for level in LEVELS), Touch(Button.SKIP))
        return new, [Show(Screen.RATING, ask, choices=choices)]
    if state.stage is Stage.SENDING:
        if isinstance(event, ServerAnswer | ServerUnreachable) and event.key == state.key:
            return _answered(state, event)
        return state, []
    if state.stage is Stage.IDLE:
        return state, []
    if isinstance(event, IdleTimeout):
        return end(state)
    if not isinstance(event, Touch):
        return state, []
    if state.stage is Stage.ASK and event.button is Button.LEVEL and event.value in {str(n) for n in LEVELS}:
        attempts = state.attempts + 1
        key = f"{state.ctx.key_seed}-r{attempts}"
        new = replace(state, stage=Stage.SENDING, key=key, attempts=attempts)
        return new, [SubmitRating(state.ticket_id, key, {"level": int(event.value), "channel": "kiosk"}),
                     Show(Screen.WORKING, Words("正在提交……", "Sending…"))]
    if event.button is Button.SKIP or event.button is Button.DONE:
        return end(state)
    return state, []


def end(state: Rating) -> tuple[Rating, list[Effect]]:
    """Back to the start screen; the flow keeps no trace of the ticket."""
    return Rating(state.ctx, attempts=state.attempts), [WipePersonalData(), Show(Screen.START)]


def _answered(state: Rating, event: ServerAnswer | ServerUnreachable) -> tuple[Rating, list[Effect]]:
    done = (Touch(Button.DONE),)
    if isinstance(event, ServerUnreachable):
        words = Words("感谢您的评价！网络恢复后将自动提交。",
                      "Thank you! Your rating will be sent once the network is back.")
        return replace(state, stage=Stage.THANKS), [Show(Screen.THANKS, words, choices=done)]
    if event.ok or event.error.get("code") == "already_rated":
        return replace(state, stage=Stage.THANKS), [
            Show(Screen.THANKS, Words("感谢您的评价！", "Thank you for your rating!"), choices=done)]
    return replace(state, stage=Stage.REFUSED), [Show(Screen.REFUSED, refusal_words(event.error), choices=done)]
