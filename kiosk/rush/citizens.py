"""A simulated citizen at a kiosk: looks at the screen the flow shows and touches what a person would.

The citizen drives the real kiosk node through the same doors a person uses: cards go onto the simulated
reader, touches into the node's ``inputs`` queue (where the touch UI puts them), and what it sees is each
``Show`` the flow sends to the node's view. It reads only what a screen offers (its ``choices``), so it follows
the flows as they are, including the entries kiosk/flows/home.py adds (check-in, certificates) when the kiosk
has them. Each kiosk serves one citizen at a time (``KioskDesk.lock``), as a real one does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.idcard.simulator import IdCardSimulator
from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Button, Touch
from kiosk.flows.words import Words
from kiosk.node import NodeRuntime
from kiosk.rush.deck import RushDeck
from kiosk.rush.plan import Citizen, Kind

__all__ = ["KioskDesk", "Outcome", "RushView", "visit"]

log = logging.getLogger(__name__)

SCREEN_WAIT_S = 60.0  # generous: a kiosk cut off from the server retries for a while before it says so
CARD_WATCH_S = 10.0
MAX_TOUCHES = 40  # a citizen who has touched this much is lost and walks away


class RushView:
    """A NodeView that keeps the screens shown and wakes whoever waits for the next one."""

    def __init__(self) -> None:
        self.shown: list[Show] = []
        self.links: list[bool] = []
        self._changed = asyncio.Event()

    def show(self, show: Show) -> None:
        self.shown.append(show)
        self._changed.set()

    def speak(self, words: Words) -> None:
        log.debug("kiosk says: %s", words.en)

    def server_link(self, reachable: bool, words: Words) -> None:
        self.links.append(reachable)

    async def next_after(self, mark: int, timeout_s: float = SCREEN_WAIT_S) -> tuple[int, Show] | None:
        """The first screen shown at index ``mark`` or later (and its index), or None after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.shown) <= mark:
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return None
        return mark, self.shown[mark]


@dataclass
class Outcome:
    """What one visit to a kiosk gave the citizen."""

    number: str = ""
    screens: list[str] = field(default_factory=list)
    refused: str = ""  # the screen that turned them away, if any
    printer_down: bool = False
    print_failed: bool = False
    card_retries: int = 0
    certificate: bool = False


@dataclass
class KioskDesk:
    """One kiosk as the citizens see it: its node, its view, its card reader, one citizen at a time."""

    name: str
    runtime: NodeRuntime
    view: RushView
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def reader(self) -> IdCardSimulator | None:
        device = self.runtime.device("idcard")
        sim = getattr(device, "simulator", None)
        return sim if isinstance(sim, IdCardSimulator) else None

    def touch(self, touch: Touch) -> int:
        mark = len(self.view.shown)
        self.runtime.inputs.put_nowait(touch)
        return mark

    async def tap(self, deck: RushDeck, index: int) -> int:
        """Lift whatever lies on the reader, wait until the kiosk saw it empty, place the citizen's card."""
        reader = self.reader
        if reader is None:
            return len(self.view.shown)
        reader.remove_card()
        watch = getattr(self.runtime.behaviour, "id_watch", None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CARD_WATCH_S
        while watch is not None and not watch.armed and loop.time() < deadline:  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.02)
        mark = len(self.view.shown)
        reader.place_card(deck.card(index))
        return mark


def _choice(show: Show, button: str, value: str | None = None) -> Touch | None:
    """The target on ``show`` with this button (by its value, so entries of newer flows are found too)."""
    for touch in show.choices:
        if touch.button.value == button and (value is None or touch.value == value):
            return touch
    return None


def _way_out(show: Show) -> Touch | None:
    for button in ("no_reprint", "done", "back", "skip"):
        found = _choice(show, button)
        if found is not None:
            return found
    return None


async def visit(desk: KioskDesk, citizen: Citizen, deck: RushDeck, department_of: Callable[[str], str],
                code: str = "", reprint: bool = False, pause_s: float = 0.0) -> Outcome:
    """One citizen's session at ``desk``: from the start screen to a number (or a refusal), then away.

    ``reprint``: the citizen's ticket failed to print at another kiosk, so a reprint offer is taken."""
    outcome = Outcome()
    view = desk.view
    if not view.shown or view.shown[-1].screen is not Screen.START:
        await view.next_after(len(view.shown))  # the last citizen's session is still ending
    show = view.shown[-1] if view.shown else Show(Screen.START)
    carded = citizen.card is not None
    chosen = False
    if citizen.kind is Kind.APPOINTMENT and code and _choice(show, "check_in"):
        mark, chosen = desk.touch(Touch(Button("check_in"))), True
    elif citizen.kind is Kind.CERTIFICATE and _choice(show, "certificates"):
        mark, chosen = desk.touch(Touch(Button("certificates"))), True
    elif citizen.card is not None:
        mark = await desk.tap(deck, citizen.card)
    else:
        mark, chosen = _pick_service(desk, show, citizen, department_of), True
    typed = 0
    for _ in range(MAX_TOUCHES):
        if pause_s:
            await asyncio.sleep(pause_s)
        found = await view.next_after(mark)
        if found is None:
            outcome.refused = outcome.refused or "no answer on the screen"
            break
        mark, show = found[0] + 1, found[1]
        outcome.screens.append(show.screen.value)
        screen = show.screen
        if screen is Screen.WORKING:
            continue
        if screen is Screen.START:
            if outcome.number or outcome.refused or outcome.certificate:
                break  # back home after the session: done
            if citizen.card is not None and show.words.en.startswith("The card") and outcome.card_retries < 3:
                outcome.card_retries += 1  # the card was pulled mid-read (or misread): place it again
                mark = await desk.tap(deck, citizen.card)
            elif not chosen and (show.holder_masked or not carded):
                mark, chosen = _pick_service(desk, show, citizen, department_of), True
            elif chosen:
                break  # home again without a number (the session ended)
            continue
        if screen is Screen.SERVICES:
            mark = desk.touch(_choice(show, "service", citizen.service) or Touch(Button.BACK))
        elif screen is Screen.NEED_CARD:
            if citizen.card is not None:
                mark = await desk.tap(deck, citizen.card)
            else:
                outcome.refused = screen.value
                mark = desk.touch(Touch(Button.BACK))
        elif screen is Screen.GREEN_OFFER:
            mark = desk.touch(Touch(Button.GREEN_YES))
        elif screen is Screen.NUMBER:
            outcome.number = show.number
            mark = desk.touch(_way_out(show) or Touch(Button.DONE))
        elif screen is Screen.REPRINT_OFFER:
            outcome.number = show.number
            mark = desk.touch(Touch(Button.REPRINT if reprint else Button.NO_REPRINT))
        elif screen is Screen.CODE_ENTRY:
            if typed < len(code):
                mark = desk.touch(Touch(Button.DIGIT, code[typed]))
                typed += 1
            else:
                mark = desk.touch(_choice(show, "submit") or Touch(Button.DONE))
        elif screen is Screen.CERTIFICATE_CARD and citizen.card is not None:
            mark = await desk.tap(deck, citizen.card)
        elif screen is Screen.DOCUMENTS:
            first = _choice(show, "document")
            mark = desk.touch(first or _way_out(show) or Touch(Button.DONE))
        elif screen is Screen.CERTIFICATE_DONE:
            outcome.certificate = True
            mark = desk.touch(_way_out(show) or Touch(Button.DONE))
        elif screen is Screen.RATING:
            level = citizen.rating or 5
            mark = desk.touch(_choice(show, "level", str(level)) or Touch(Button.SKIP))
        elif screen is Screen.PRINTER_DOWN:
            outcome.printer_down = True
            outcome.refused = screen.value
            mark = desk.touch(_way_out(show) or Touch(Button.BACK))
        elif screen is Screen.PRINT_FAILED:
            outcome.print_failed = True
            outcome.refused = screen.value
            mark = desk.touch(_way_out(show) or Touch(Button.DONE))
        elif screen is Screen.UNREACHABLE:
            retry = _choice(show, "retry")
            if retry is not None and outcome.screens.count(screen.value) < 5:
                await asyncio.sleep(1.0)
                mark = desk.touch(retry)
            else:
                outcome.refused = screen.value
                mark = desk.touch(_way_out(show) or Touch(Button.DONE))
        else:  # refused, thanks, choose_appointment … : leave
            if screen is Screen.REFUSED:
                outcome.refused = outcome.refused or (show.words.en[:80] or screen.value)
            way = _choice(show, "normal_ticket") if screen is Screen.REFUSED and citizen.kind is Kind.APPOINTMENT \
                else None
            mark = desk.touch(way or _way_out(show) or Touch(Button.DONE))
    reader = desk.reader
    if reader is not None and carded:
        reader.remove_card()  # the citizen takes the card along
    return outcome


def _pick_service(desk: KioskDesk, show: Show, citizen: Citizen, department_of: Callable[[str], str]) -> int:
    direct = _choice(show, "service", citizen.service)
    if direct is not None:
        return desk.touch(direct)
    return desk.touch(_choice(show, "category", department_of(citizen.service)) or Touch(Button.DONE))
