"""The kiosk's home: one pure dispatcher over every flow, so one kiosk offers them all from one start screen.

The home screen is the take-a-ticket flow's start screen (busiest services one touch away, departments, "tap
your card") with the entries into the other flows added: appointment check-in, self-service certificate
printing (only where ``ctx.certificates``), the service guide and ticket status. A card tapped there goes to
take-a-ticket, as it always did. While another flow ("lane") runs, every event goes to it; when it ends
(its session wiped and its state back at its start, or an idle reset) the kiosk is home again. A
``RatingInvited`` at home opens the rating ask (five levels, none chosen, skippable); the certificate flow
asks for its own rating after a delivered print.

Each lane's state is kept between sessions, since it carries the lane's Idempotency-Key serial; a lane left
for home is at its start, personal data gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kiosk.flows import certificate, check_in, guide, rating, take_ticket
from kiosk.flows.context import KioskContext
from kiosk.flows.effects import Effect, Screen, Show, WipePersonalData
from kiosk.flows.events import Button, Event, IdleTimeout, KioskHealth, RatingInvited, Touch
from kiosk.flows.words import NO_WORDS

__all__ = ["ENTRIES", "Home", "Lane", "initial", "step"]


class Lane(StrEnum):
    """Which flow has the screen; TICKET is the home screen itself (take-a-ticket's start)."""

    TICKET = "ticket"
    CHECK_IN = "check_in"
    CERTIFICATES = "certificates"
    GUIDE = "guide"
    RATING = "rating"


#: the home screen's entries, in the order the screen lists them, and the lane each opens
ENTRIES: dict[Button, Lane] = {Button.CHECK_IN: Lane.CHECK_IN, Button.CERTIFICATES: Lane.CERTIFICATES,
                               Button.GUIDE: Lane.GUIDE, Button.STATUS: Lane.GUIDE}
_WAYS_OUT = frozenset({Button.DONE, Button.BACK, Button.SKIP})


@dataclass(frozen=True)
class Home:
    ctx: KioskContext
    ticket: take_ticket.TakeTicket
    check_in: check_in.CheckIn
    certificates: certificate.Certificates
    guide: guide.Guide
    rating: rating.Rating
    lane: Lane = Lane.TICKET


@dataclass(frozen=True)
class _Flow:
    """How the dispatcher drives one lane: its field in Home, its step, its end, and "at its start"."""

    field: str
    step: Callable[[Any, Event], tuple[Any, list[Effect]]]
    end: Callable[[Any], tuple[Any, list[Effect]]]
    at_start: Callable[[Any], bool]


_FLOWS: dict[Lane, _Flow] = {
    Lane.CHECK_IN: _Flow("check_in", check_in.step, check_in.end,
                         lambda s: s.stage is check_in.Stage.ENTRY and not s.code and s.holder is None
                         and s.job is None),
    Lane.CERTIFICATES: _Flow("certificates", certificate.step, certificate.end,
                             lambda s: s.stage is certificate.Stage.CARD and s.holder is None),
    Lane.GUIDE: _Flow("guide", guide.step, guide.end,
                      lambda s: s.stage is guide.Stage.SERVICES and not s.number),
    Lane.RATING: _Flow("rating", rating.step, rating.end, lambda s: s.stage is rating.Stage.IDLE),
}


def initial(ctx: KioskContext) -> tuple[Home, list[Effect]]:
    ticket, effects = take_ticket.initial(ctx)
    cert, _ = certificate.initial(ctx)
    guide_state, _ = guide.initial(ctx)
    check, _ = check_in.initial(ctx)
    home = Home(ctx, ticket, check, cert, guide_state, rating.initial(ctx))
    return home, _decorated(home, effects)


def step(home: Home, event: Event) -> tuple[Home, list[Effect]]:
    """One event: to the lane that has the screen (KioskHealth to every lane that names other kiosks)."""
    if isinstance(event, KioskHealth):
        ticket, _ = take_ticket.step(home.ticket, event)
        check, _ = check_in.step(home.check_in, event)
        return replace(home, ticket=ticket, check_in=check), []
    if home.lane is Lane.TICKET:
        return _at_home(home, event)
    return _in_lane(home, _FLOWS[home.lane], event)


def _home_screen_up(home: Home) -> bool:
    """Take-a-ticket shows its start screen with no job running: the home entries are there to touch."""
    return home.ticket.stage is take_ticket.Stage.START and home.ticket.job is None


def _at_home(home: Home, event: Event) -> tuple[Home, list[Effect]]:
    if _home_screen_up(home):
        if isinstance(event, Touch) and event.button in _entries(home.ctx):
            return _enter(home, ENTRIES[event.button], event)
        if isinstance(event, RatingInvited) and home.ticket.holder is None:
            return _enter(home, Lane.RATING, event)
    ticket, effects = take_ticket.step(home.ticket, event)
    new = replace(home, ticket=ticket)
    return new, _decorated(new, effects)


def _enter(home: Home, lane: Lane, event: Event) -> tuple[Home, list[Effect]]:
    """Open ``lane`` at its start (a holder known at home is wiped first: the new flow asks afresh)."""
    wipe: list[Effect] = []
    ticket = home.ticket
    if ticket.holder is not None:
        ticket, ended = take_ticket.end(ticket)
        wipe = [e for e in ended if isinstance(e, WipePersonalData)]
    flow = _FLOWS[lane]
    sub: Any = getattr(home, flow.field)
    if lane is Lane.RATING:
        effects: list[Effect] = []
    else:
        sub, effects = flow.end(sub)  # the lane's start screen (its end is its start; nothing to wipe)
        effects = [e for e in effects if not isinstance(e, WipePersonalData)]
    if lane is Lane.RATING or (isinstance(event, Touch) and event.button is Button.STATUS):
        sub, effects = flow.step(sub, event if lane is Lane.RATING else Touch(Button.STATUS))
    new = replace(home, ticket=ticket, lane=lane, **{flow.field: sub})
    return new, [*wipe, *_with_way_out(effects)]


def _in_lane(home: Home, flow: _Flow, event: Event) -> tuple[Home, list[Effect]]:
    before: Any = getattr(home, flow.field)
    sub, effects = flow.step(before, event)
    home = replace(home, **{flow.field: sub})
    wiped = any(isinstance(e, WipePersonalData) for e in effects)
    leaving = isinstance(event, Touch) and event.button in _WAYS_OUT and flow.at_start(before)
    if (wiped or leaving or isinstance(event, IdleTimeout)) and flow.at_start(sub):
        kept: list[Effect] = [e for e in effects if not isinstance(e, Show)]
        return _go_home(home, kept if wiped else [*kept, WipePersonalData()])
    return home, _with_way_out(effects)


def _go_home(home: Home, effects: list[Effect]) -> tuple[Home, list[Effect]]:
    new = replace(home, lane=Lane.TICKET)
    return new, [*effects, *_decorated(new, [take_ticket.screen(new.ticket)])]


def _entries(ctx: KioskContext) -> tuple[Button, ...]:
    return tuple(b for b in ENTRIES if b is not Button.CERTIFICATES or ctx.certificates)


def _decorated(home: Home, effects: list[Effect]) -> list[Effect]:
    """Take-a-ticket's start screen becomes the home screen: the other flows' entries added to its targets."""
    entries = tuple(Touch(b) for b in _entries(home.ctx))
    return [_add_choices(e, entries) if isinstance(e, Show) and e.screen is Screen.START else e for e in effects]


def _with_way_out(effects: list[Effect]) -> list[Effect]:
    """Every lane screen offers a way home: a screen with no 返回 / 结束 / 跳过 of its own gets 结束."""
    return [_add_choices(e, (Touch(Button.DONE),)) if isinstance(e, Show) and e.screen is not Screen.WORKING
            and not any(c.button in _WAYS_OUT for c in e.choices) else e for e in effects]


def _add_choices(show: Show, extra: tuple[Touch, ...]) -> Show:
    """``show`` with ``extra`` targets after its own (named by the UI: their labels stay NO_WORDS)."""
    labels = (*show.labels, *(NO_WORDS for _ in extra)) if show.labels else ()
    return replace(show, choices=(*show.choices, *extra), labels=labels)
