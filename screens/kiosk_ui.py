"""The kiosk touch UI: draws the flows' ``Show`` effects and turns taps back into the ``Touch`` they offered.

``KioskScreen`` is what the kiosk node drives on its pygame loop:

    screen = KioskScreen(display_surface, Names.from_hall(hall))
    screen.show(effect)             # every Show a flow emits
    for touch in screen.touches():  # pygame's mouse/finger events → the Touch of the target tapped
        ...feed it to the flow...
    screen.pump()                   # draw what changed and hand those rectangles to display.update

A tap counts when the finger goes down and comes up on the same target, and not in the first
``settle_s`` after the screen changed (an elderly double tap must not land on the next screen's button
that happens to sit under the finger). Page turns of a long list stay in the UI; the flow never sees them.
``KioskRenderer`` repaints only the regions whose part of the view changed (a digit typed repaints the
code box; a press repaints one button). Layout and words: screens/kiosk_models.py, kiosk_layout.py.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame

from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Touch
from kiosk.flows.words import Words
from screens import theme
from screens.kiosk_models import DEFAULT_DPI, Box, KioskView, Names, Style, Target, TextBlock, hit, kiosk_view
from screens.qr import qr_surface
from screens.widgets import Painter, measure

__all__ = ["SETTLE_S", "KioskRenderer", "KioskScreen", "balanced", "wrap"]

SETTLE_S = 0.4
CARD_MARK = (150, 170, 200)  # the drawn card's photo and lines
_TOKEN = re.compile(r"[A-Za-z0-9'’%@#&+\-/.,:;!?()…]+\s*|\s+|.")
_NO_LINE_START = set("，。、；：！？）」』”,.;:!?)…")


def wrap(text: str, size: int, width: int, bold: bool = False) -> list[str]:
    """Lines of ``text`` no wider than ``width`` at ``size``: CJK breaks between any two characters, Latin
    between words, and no line starts with a closing mark (，。）)."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        candidate = line + token
        if not line or measure(candidate.rstrip(), size, bold)[0] <= width or token[0] in _NO_LINE_START:
            line = candidate
            continue
        lines.append(line.rstrip())
        line = token.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    return lines


def balanced(text: str, size: int, width: int, bold: bool = False) -> list[str]:
    """``wrap``, but two lines of about equal length rather than a full line and an orphan (管理中 / 心)."""
    lines = wrap(text, size, width, bold)
    if len(lines) == 2:
        even = wrap(text, size, measure(text, size, bold)[0] // 2 + size, bold)
        if len(even) == 2:
            return even
    return lines


class KioskRenderer:
    """Keeps the last view drawn; ``draw`` repaints only the regions whose content differs."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.surface = surface
        self.painter = Painter(surface)
        self.last: dict[str, tuple[Box, object]] | None = None
        self.placed: dict[str, pygame.Rect] = {}  # "number" → where the number's glyphs went
        self._label_factor = 1.0
        self.last_view: KioskView | None = None

    def draw(self, view: KioskView) -> list[pygame.Rect]:
        """Paint ``view``; the rectangles that changed (for ``pygame.display.update``)."""
        if view == self.last_view:  # the node pumps every frame; an unchanged screen costs one comparison
            return []
        self.last_view = view
        regions = _regions(view)
        last = self.last
        self.painter.drawn.clear()
        if last is None or {k: v[0] for k, v in last.items()} != {k: v[0] for k, v in regions.items()}:
            self.surface.fill(theme.BACKGROUND)
            changed = list(regions)
            dirty = [self.surface.get_rect()]
        else:
            changed = [k for k, v in regions.items() if last[k] != v]
            dirty = [pygame.Rect(regions[k][0]) for k in changed]
        self._label_factor = self._common_factor(view)
        for name in changed:
            self._draw_region(view, name, regions[name][1])
        self.last = regions
        return dirty

    def _draw_region(self, view: KioskView, name: str, content: object) -> None:
        if name == "band":
            self.painter.fill(pygame.Rect(0, 0, view.size[0], view.header.box[3]), view.header.background)
            self._block(view.header, valign="center")
            if view.holder is not None:
                self._block(view.holder, valign="center")
        elif name == "message":
            self.painter.fill(pygame.Rect(view.message.box), view.message.background)
            self._block(view.message)
        elif name == "number" and view.number is not None:
            n = view.number
            self.painter.panel(pygame.Rect(n.box), n.background, radius=16)
            self._block(n.label, valign="center")
            label_h = n.label.box[3]
            box = pygame.Rect(n.box[0] + 16, n.box[1] + label_h, n.box[2] - 32, n.box[3] - label_h - 8)
            self.placed["number"] = self.painter.text(n.text, n.size, n.colour, box, bold=True, align="center")
        elif name == "qr" and view.qr is not None:
            image = qr_surface(view.qr_text, min(view.qr[2], view.qr[3]))
            box = pygame.Rect(view.qr)
            self.painter.fill(box, theme.BACKGROUND)
            self.placed["qr"] = self.surface.blit(image, image.get_rect(center=box.center))
        elif name == "card" and view.card_hint is not None:
            self._card_hint(view.card_hint)
        elif name.startswith("heading:"):
            block = content
            assert isinstance(block, TextBlock)
            self.painter.fill(pygame.Rect(block.box), block.background)
            self._block(block, valign="center")
        elif name.startswith("target:"):
            assert isinstance(content, Target)
            self._target(content)

    @staticmethod
    def _label_parts(target: Target) -> tuple[pygame.Rect, str]:
        inner = pygame.Rect(target.box).inflate(-24, -12)
        return inner, target.label.en if inner.height >= target.size_zh + target.size_en + 8 else ""

    def _common_factor(self, view: KioskView) -> float:
        """One type size for all the labels of a grid (buttons whose words jump in size look like different
        kinds of button): the largest that fits every one."""
        factors = [self._fit(*self._label_parts(t), t.label.zh, t.size_zh, t.size_en, True, 2)[0]
                   for t in view.targets if t.style is not Style.NAV]
        return min(factors, default=1.0)

    def _target(self, target: Target) -> None:
        background, ink, ink_en = target.colours
        box = pygame.Rect(target.box)
        self.painter.fill(box, theme.BACKGROUND)
        self.painter.panel(box, background, radius=18, edge=theme.PANEL_EDGE if background == theme.PANEL else None)
        inner, en = self._label_parts(target)
        factor = 1.0 if target.style is Style.NAV else self._label_factor
        self._words(inner, target.label.zh, en, target.size_zh, target.size_en, (ink, ink_en), align="center",
                    valign="center", bold=True, max_zh_lines=2, factor=factor)

    def _card_hint(self, hint: TextBlock) -> None:
        """A drawn card (ID-card proportions, 85.6 × 54 mm) over the words saying where it goes."""
        box = pygame.Rect(hint.box)
        self.painter.fill(box, theme.BACKGROUND)
        self.painter.panel(box, hint.background, radius=24)
        card_w = box.width * 6 // 10
        card = pygame.Rect(0, 0, card_w, card_w * 54 // 86)
        card.midtop = (box.centerx, box.y + box.height // 10)
        pygame.draw.rect(self.surface, theme.TEXT, card, border_radius=card.width // 16)
        photo = pygame.Rect(card.right - card.width * 3 // 10, card.y + card.height // 6, card.width // 5,
                            card.height // 2)
        pygame.draw.rect(self.surface, CARD_MARK, photo, border_radius=6)
        for i in range(3):
            line = pygame.Rect(card.x + card.width // 10, card.y + card.height * (2 + i) // 8,
                               card.width // 2, max(4, card.height // 16))
            pygame.draw.rect(self.surface, CARD_MARK, line, border_radius=3)
        words = TextBlock((box.x + 16, card.bottom + 16, box.width - 32, box.bottom - card.bottom - 32), hint.zh,
                          hint.en, hint.size_zh, hint.size_en, hint.colour, hint.background, hint.align,
                          hint.colour_en)
        self._block(words, valign="center")
        self.placed["card"] = card

    def _block(self, block: TextBlock, valign: str = "top") -> None:
        bold = block.size_zh >= 56
        self._words(pygame.Rect(block.box), block.zh, block.en, block.size_zh, block.size_en,
                    (block.colour, block.colour_en), align=block.align, valign=valign, bold=bold)

    @staticmethod
    def _fit(box: pygame.Rect, en: str, zh: str, size_zh: int, size_en: int, bold: bool, max_zh_lines: int,
             start: float = 1.0) -> tuple[float, list[str], list[str]]:
        """The largest factor (from ``start``, down to half) at which the words fit ``box``, and their lines."""
        factor = start
        while True:
            sz, se = max(8, round(size_zh * factor)), max(8, round(size_en * factor))
            zh_lines = balanced(zh, sz, box.width, bold)
            en_lines = wrap(en, se, box.width)
            gap = round(se * 0.4) if zh_lines and en_lines else 0
            height = len(zh_lines) * round(sz * 1.3) + gap + len(en_lines) * round(se * 1.3)
            if (height <= box.height and len(zh_lines) <= max_zh_lines) or factor <= 0.5:
                return factor, zh_lines, en_lines
            factor -= 0.05

    def _words(self, box: pygame.Rect, zh: str, en: str, size_zh: int, size_en: int,
               colours: tuple[theme.RGB, theme.RGB], *,
               align: str, valign: str, bold: bool = False, max_zh_lines: int = 99, factor: float = 1.0) -> None:
        """Chinese lines, then English lines in a softer colour, shrunk together until they fit ``box``."""
        factor, zh_lines, en_lines = self._fit(box, en, zh, size_zh, size_en, bold, max_zh_lines, factor)
        sz, se = max(8, round(size_zh * factor)), max(8, round(size_en * factor))
        lh_zh, lh_en = round(sz * 1.3), round(se * 1.3)
        gap = round(se * 0.4) if zh_lines and en_lines else 0
        height = len(zh_lines) * lh_zh + gap + len(en_lines) * lh_en
        y = box.y if valign == "top" else box.y + max(0, (box.height - height) // 2)
        colour, soft = colours
        for line in zh_lines:
            self.painter.text(line, sz, colour, pygame.Rect(box.x, y, box.width, lh_zh), bold=bold, align=align)
            y += lh_zh
        y += gap
        for line in en_lines:
            self.painter.text(line, se, soft, pygame.Rect(box.x, y, box.width, lh_en), align=align)
            y += lh_en


def _regions(view: KioskView) -> dict[str, tuple[Box, object]]:
    """The view cut into independently repainted regions: name → (rectangle, what is drawn in it)."""
    w = view.size[0]
    out: dict[str, tuple[Box, object]] = {"band": ((0, 0, w, view.header.box[3]), (view.header, view.holder)),
                                          "message": (view.message.box, view.message)}
    if view.number is not None:
        out["number"] = (view.number.box, view.number)
    if view.qr is not None:
        out["qr"] = (view.qr, view.qr_text)
    if view.card_hint is not None:
        out["card"] = (view.card_hint.box, view.card_hint)
    for i, block in enumerate(view.headings):
        out[f"heading:{i}"] = (block.box, block)
    for i, target in enumerate(view.targets):
        out[f"target:{i}"] = (target.box, target)
    return out


class KioskScreen:
    """The kiosk UI for the node: ``show`` each Show, ``touches`` for the taps, ``pump`` to draw."""

    def __init__(self, surface: pygame.Surface, names: Names, *, dpi: float = DEFAULT_DPI,
                 settle_s: float = SETTLE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.surface = surface
        self.names = names
        self.dpi = dpi
        self.settle_s = settle_s
        self._clock = clock
        self.renderer = KioskRenderer(surface)
        self._show = Show(Screen.WORKING)
        self._page = 0
        self._down: Target | None = None
        self._shown_at = clock()
        self._notice: Words | None = None
        self.view = self._build()

    def notice(self, words: Words | None) -> None:
        """The node's own news over every screen's header (None takes it away): the server cannot be reached."""
        if words != self._notice:
            self._notice = words
            self.view = self._build()

    def show(self, effect: Show) -> None:
        """A flow's Show: the next frame draws it (a new screen starts at its first page)."""
        if effect != self._show:
            self._show, self._page, self._down = effect, 0, None
            self._shown_at = self._clock()
            self.view = self._build()

    @property
    def settled(self) -> bool:
        """The screen has been up for ``settle_s``: a tap now counts (one earlier is taken for a double tap)."""
        return self._clock() - self._shown_at >= self.settle_s

    def _build(self) -> KioskView:
        pressed = self._down.touch if self._down is not None else None
        return kiosk_view(self._show, self.names, self.surface.get_size(), dpi=self.dpi, page=self._page,
                          pressed=pressed, notice=self._notice)

    def press(self, pos: tuple[int, int]) -> None:
        """A finger (or mouse) went down at ``pos``: light the target under it."""
        target = hit(self.view, pos)
        self._down = target if self.settled else None
        self.view = self._build()

    def release(self, pos: tuple[int, int]) -> Touch | None:
        """The finger came up at ``pos``: the Touch of the target it went down on, if it is still on it."""
        down, self._down = self._down, None
        target = hit(self.view, pos)
        self.view = self._build()
        if down is None or target is None or target.box != down.box:
            return None
        if target.touch is None:  # a page turn: the UI's own
            self._page = max(0, min(self._page + target.page_step, self.view.pages - 1))
            self.view = self._build()
            return None
        return target.touch

    def handle(self, event: pygame.event.Event) -> Touch | None:
        """One pygame event: finger events (normalised 0–1 positions) and real mouse clicks; the mouse events
        SDL synthesises from a touch (``touch=True``) are ignored so one tap is not taken twice."""
        if event.type in (pygame.FINGERDOWN, pygame.FINGERUP):
            w, h = self.surface.get_size()
            pos = (int(event.x * w), int(event.y * h))
            if event.type == pygame.FINGERDOWN:
                self.press(pos)
                return None
            return self.release(pos)
        if event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP) and getattr(event, "button", 1) == 1 \
                and not getattr(event, "touch", False):
            if event.type == pygame.MOUSEBUTTONDOWN:
                self.press(event.pos)
                return None
            return self.release(event.pos)
        return None

    def touches(self) -> list[Touch]:
        """The taps waiting in pygame's queue, as the Touches they give back."""
        kinds = [pygame.FINGERDOWN, pygame.FINGERUP, pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP]
        found = (self.handle(event) for event in pygame.event.get(kinds))
        return [t for t in found if t is not None]

    def draw(self) -> list[pygame.Rect]:
        """Paint what changed since the last frame (offscreen too); the changed rectangles."""
        return self.renderer.draw(self.view)

    def pump(self) -> None:
        """Draw what changed onto the display and update only those rectangles (one call per frame)."""
        dirty = self.draw()
        if dirty:
            pygame.display.update(dirty)
