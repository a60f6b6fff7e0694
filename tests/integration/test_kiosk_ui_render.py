"""The kiosk touch UI drawn under SDL's dummy driver: a PNG of every screen of every flow in both orientations
for people to look at, region and glyph checks on each, partial repaints, and taps posted through pygame."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pygame
import pytest

from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Button, Touch
from screens import theme
from screens.kiosk_models import KioskView, Names, kiosk_view
from screens.kiosk_ui import KioskRenderer, KioskScreen, wrap
from screens.snapshot import save
from screens.widgets import missing_glyphs
from tests.support.kiosk_flows import hall
from tests.support.kiosk_shows import every_show

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
SIZES = [(1080, 1920), (1920, 1080)]
NAMES = Names.from_hall(hall())


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kiosk-screens")
    print(f"\nkiosk screen snapshots for people to look at: {out}")
    return out


def rect(box: tuple[int, int, int, int]) -> pygame.Rect:
    return pygame.Rect(box)


def regions(view: KioskView) -> list[pygame.Rect]:
    """Every box text may be drawn in."""
    boxes = [pygame.Rect(0, 0, view.size[0], view.header.box[3]), rect(view.message.box)]
    boxes += [rect(b.box) for b in view.headings] + [rect(t.box) for t in view.targets]
    if view.card_hint is not None:
        boxes.append(rect(view.card_hint.box))
    if view.number is not None:
        boxes.append(rect(view.number.box))
    return boxes


def accent_pixels(surface: pygame.Surface, area: pygame.Rect) -> int:
    return sum(1 for x in range(area.left, area.right, 3) for y in range(area.top, area.bottom, 3)
               if surface.get_at((x, y))[:3] == theme.ACCENT)


@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
def test_every_screen_of_every_flow_is_drawn_in_its_regions_without_tofu(size: tuple[int, int],
                                                                         shots: Path) -> None:
    seen: set[Screen] = set()
    for name, show in every_show():
        surface = pygame.Surface(size)
        renderer = KioskRenderer(surface)
        view = kiosk_view(show, NAMES, size)
        assert renderer.draw(view) == [surface.get_rect()]
        path = save(surface, shots / f"{name}-{size[0]}x{size[1]}.png")
        assert path.stat().st_size > 5_000
        seen.add(show.screen)
        allowed = regions(view)
        drawn = renderer.painter.drawn
        assert drawn, name
        for text, where in drawn:
            assert missing_glyphs(text) == [] and missing_glyphs(text, bold=True) == [], (name, text)
            assert any(box.contains(where) for box in allowed), (name, text, where)
        for target in view.targets:  # each target's label is drawn inside it
            box = rect(target.box)
            assert any(text in (target.label.zh, target.label.zh + "…") or target.label.zh.startswith(text)
                       for text, where in drawn if box.contains(where)), (name, target.label)
        if view.number is not None and show.number:
            placed = renderer.placed["number"]
            assert rect(view.number.box).contains(placed) and placed.height > 0, name
            assert (show.number, placed) in drawn
            if view.number.colour == theme.ACCENT:
                assert accent_pixels(surface, placed) > 20, name
            typed = show.screen in (Screen.CODE_ENTRY, Screen.STATUS_ENTRY)  # the code typed, under a keypad
            assert placed.height >= min(size) // (10 if typed else 6), "the number dominates its screen"
        if view.qr is not None:
            assert rect(view.qr).contains(renderer.placed["qr"])
        texts = "".join(text for text, _ in drawn)
        assert "张三丰" not in texts  # the card's name in clear is never drawn
    assert seen == set(Screen)


def test_words_wrap_to_the_width_and_no_line_starts_with_a_closing_mark() -> None:
    text = "本机小票纸已用完，暂不能取号。请到 kiosk-2 取号。This kiosk is out of ticket paper."
    lines = wrap(text, 56, 500)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    from screens.widgets import measure
    assert all(measure(line, 56)[0] <= 500 + 56 for line in lines)  # a closing mark may hang over
    assert not any(line[0] in "，。）." for line in lines)


def test_typing_a_digit_repaints_only_the_code_box_and_a_press_only_its_key() -> None:
    shows = [s for _, s in every_show() if s.screen is Screen.CODE_ENTRY]
    first, second = shows[0], next(s for s in shows if s.number == "1")
    surface = pygame.Surface((1080, 1920))
    renderer = KioskRenderer(surface)
    renderer.draw(kiosk_view(first, NAMES, (1080, 1920)))
    assert renderer.draw(kiosk_view(first, NAMES, (1080, 1920))) == []  # nothing changed: nothing drawn
    view = kiosk_view(second, NAMES, (1080, 1920))
    assert view.number is not None
    assert renderer.draw(view) == [rect(view.number.box)]
    pressed = kiosk_view(second, NAMES, (1080, 1920), pressed=Touch(Button.DIGIT, "5"))
    five = next(t for t in pressed.targets if t.touch == Touch(Button.DIGIT, "5"))
    assert renderer.draw(pressed) == [rect(five.box)]
    assert surface.get_at(rect(five.box).move(10, 30).topleft)[:3] == five.colours[0]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def post(kind: int, pos: tuple[int, int], size: tuple[int, int]) -> None:
    if kind in (pygame.FINGERDOWN, pygame.FINGERUP):
        pygame.event.post(pygame.event.Event(kind, x=pos[0] / size[0], y=pos[1] / size[1], touch_id=1,
                                             finger_id=0, dx=0.0, dy=0.0, pressure=1.0))
    else:
        pygame.event.post(pygame.event.Event(kind, pos=pos, button=1, touch=False))


@pytest.fixture
def display() -> Iterator[pygame.Surface]:
    pygame.display.init()
    surface = pygame.display.set_mode((1080, 1920))
    pygame.event.clear()
    yield surface
    pygame.display.quit()


def centre_of(screen: KioskScreen, touch: Touch) -> tuple[int, int]:
    target = next(t for t in screen.view.targets if t.touch == touch)
    return pygame.Rect(target.box).center


def test_taps_posted_through_pygame_come_back_as_the_touch_of_their_target(display: pygame.Surface) -> None:
    clock = Clock()
    screen = KioskScreen(display, NAMES, clock=clock)
    start = next(s for _, s in every_show() if s.screen is Screen.START and len(s.choices) == 4)
    screen.show(start)
    screen.pump()
    clock.now += 1
    where = centre_of(screen, Touch(Button.SERVICE, "A01"))
    post(pygame.MOUSEBUTTONDOWN, where, display.get_size())
    post(pygame.MOUSEBUTTONUP, where, display.get_size())
    assert screen.touches() == [Touch(Button.SERVICE, "A01")]
    # a finger: normalised coordinates; the mouse events SDL makes from the same touch are ignored
    where = centre_of(screen, Touch(Button.CATEGORY, "budongchan"))
    post(pygame.FINGERDOWN, where, display.get_size())
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=where, button=1, touch=True))
    post(pygame.FINGERUP, where, display.get_size())
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=where, button=1, touch=True))
    assert screen.touches() == [Touch(Button.CATEGORY, "budongchan")]
    # down on one target, up on another (a slide): nothing
    post(pygame.MOUSEBUTTONDOWN, centre_of(screen, Touch(Button.SERVICE, "A01")), display.get_size())
    post(pygame.MOUSEBUTTONUP, centre_of(screen, Touch(Button.SERVICE, "C01")), display.get_size())
    assert screen.touches() == []
    # between targets: nothing
    post(pygame.MOUSEBUTTONDOWN, (2, 1900), display.get_size())
    post(pygame.MOUSEBUTTONUP, (2, 1900), display.get_size())
    assert screen.touches() == []


def test_a_double_tap_does_not_land_on_the_next_screen(display: pygame.Surface) -> None:
    clock = Clock()
    screen = KioskScreen(display, NAMES, clock=clock, settle_s=0.4)
    shows = {s.screen: s for _, s in every_show()}
    screen.show(shows[Screen.REPRINT_OFFER])
    clock.now += 2
    where = centre_of(screen, Touch(Button.REPRINT))
    screen.press(where)
    assert screen.release(where) == Touch(Button.REPRINT)
    screen.show(shows[Screen.NUMBER])  # the flow answered at once; the finger comes down again
    clock.now += 0.1
    screen.press(where)
    assert screen.release(where) is None
    clock.now += 1
    screen.press(centre_of(screen, Touch(Button.REPRINT)))
    assert screen.release(centre_of(screen, Touch(Button.REPRINT))) == Touch(Button.REPRINT)


def test_page_turns_stay_in_the_ui(display: pygame.Surface) -> None:
    clock = Clock()
    screen = KioskScreen(display, NAMES, clock=clock)
    services = tuple(Touch(Button.SERVICE, f"S{n:02d}") for n in range(40))
    screen.show(Show(Screen.GUIDE_SERVICES, choices=(*services, Touch(Button.STATUS), Touch(Button.DONE))))
    clock.now += 1
    assert screen.view.pages > 1
    seen = {t.touch for t in screen.view.targets if t.touch is not None}
    while screen.view.page < screen.view.pages - 1:
        more = next(t for t in screen.view.targets if t.touch is None and t.page_step == 1)
        screen.press(pygame.Rect(more.box).center)
        assert screen.release(pygame.Rect(more.box).center) is None  # the flow never hears of it
        seen |= {t.touch for t in screen.view.targets if t.touch is not None}
    assert seen == {*services, Touch(Button.STATUS), Touch(Button.DONE)}
    screen.pump()


def test_a_citizen_takes_a_ticket_by_tapping_through_the_real_flow(display: pygame.Surface) -> None:
    """The node's loop in small: the flow's Shows go to the screen, the screen's taps go to the flow."""
    from kiosk.flows import take_ticket
    from kiosk.flows.effects import PrintTicket, RequestTicket
    from kiosk.flows.events import PrintDone
    from tests.support.kiosk_flows import PAPER_OK, context, issued

    clock = Clock()
    screen = KioskScreen(display, NAMES, clock=clock)
    state, effects = take_ticket.initial(context())

    def perform(effects: Sequence[object]) -> None:
        for effect in effects:
            if isinstance(effect, Show):
                screen.show(effect)
        screen.pump()
        clock.now += 1  # the citizen reads before touching again

    def tap(touch: Touch) -> Touch:
        where = centre_of(screen, touch)
        post(pygame.FINGERDOWN, where, display.get_size())
        post(pygame.FINGERUP, where, display.get_size())
        got = screen.touches()
        assert got == [touch]
        return got[0]

    perform(effects)
    state, effects = take_ticket.step(state, tap(Touch(Button.SERVICE, "A01")))  # one touch to a featured service
    perform(effects)
    assert screen.view.screen is Screen.WORKING and not screen.view.targets
    state, effects = take_ticket.step(state, PAPER_OK)
    request = next(e for e in effects if isinstance(e, RequestTicket))
    state, effects = take_ticket.step(state, issued(request.key, number="A007"))
    printed = next(e for e in effects if isinstance(e, PrintTicket))
    state, effects = take_ticket.step(state, PrintDone(printed.ticket.ticket_id))
    perform(effects)
    assert screen.view.screen is Screen.NUMBER
    assert ("A007", screen.renderer.placed["number"]) in screen.renderer.painter.drawn
    assert screen.draw() == []  # an idle frame repaints nothing
    state, effects = take_ticket.step(state, tap(Touch(Button.DONE)))
    perform(effects)
    assert screen.view.screen is Screen.START
