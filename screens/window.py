"""The counter screens (窗口屏): 800×480 above a counter and the 1280×400 bar, drawn from a ``WindowView``.

The number being served is as large as the height allows (about 40 % of it: 190 px on 480, readable
across a hall); the window's name and its state (open, paused with its reason, closed) sit in a bar
above, the next few waiting below (or at the right of the bar). Same stale rule as the wall: a red
line in words when the figures are not current. Repaints only when the view changed.
"""

from __future__ import annotations

import pygame

from screens import theme
from screens.models import WindowView
from screens.widgets import Painter

STATE_COLOURS = {"open": theme.OK, "paused": theme.WARN, "closed": theme.MUTED}


class WindowRenderer:
    """Draws a counter screen; ``draw`` repaints everything when anything changed (the screen is small)."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.surface = surface
        self.painter = Painter(surface)
        self.last: WindowView | None = None
        self.placed: dict[str, pygame.Rect] = {}

    def draw(self, view: WindowView) -> list[pygame.Rect]:
        if view == self.last:
            return []
        self.painter.drawn.clear()
        self.surface.fill(theme.BACKGROUND)
        w, h = self.surface.get_size()
        (self._bar if w / h > 2.5 else self._panel)(view, w, h)
        self.last = view
        return [self.surface.get_rect()]

    def _state(self, view: WindowView) -> str:
        text = view.state_zh if not view.reason else f"{view.state_zh}：{view.reason}"
        return text

    def _panel(self, view: WindowView, w: int, h: int) -> None:
        """800×480: name and state on top, the served number in the middle, the next ones below."""
        p, u = self.painter, h / 480
        top = pygame.Rect(0, 0, w, round(88 * u))
        p.fill(top, theme.PANEL)
        pad = round(20 * u)
        p.text(view.name, round(52 * u), theme.TEXT, pygame.Rect(pad, 0, w * 0.45, top.height), bold=True)
        p.text(self._state(view), round(36 * u), STATE_COLOURS.get(view.state_en, theme.TEXT),
               pygame.Rect(w * 0.45, 0, w * 0.55 - pad, top.height), bold=True, align="right")
        label = pygame.Rect(0, top.bottom + round(8 * u), w, round(48 * u))
        p.text("正在办理  Now serving", round(34 * u), theme.MUTED, label, align="center")
        number_box = pygame.Rect(pad, label.bottom, w - 2 * pad, round(200 * u))
        if view.serving or view.state_en == "open":
            self.placed["serving"] = p.text(view.serving or "—", round(190 * u), theme.ACCENT, number_box, bold=True,
                                            align="center")
        else:
            p.text(view.state_zh, round(96 * u), theme.MUTED, number_box, bold=True, align="center")
        bottom = pygame.Rect(0, number_box.bottom + round(8 * u), w, h - number_box.bottom - round(8 * u))
        p.fill(bottom, theme.PANEL)
        nxt = "  ".join(view.upcoming) if view.upcoming else "暂无等候"
        p.text(f"下一位：{nxt}", round(40 * u), theme.TEXT, bottom.inflate(-2 * pad, 0))
        if view.header.stale_zh:
            self._stale(view, pygame.Rect(0, top.bottom, w, round(48 * u)), round(30 * u))

    def _bar(self, view: WindowView, w: int, h: int) -> None:
        """1280×400: window on the left, the served number in the middle, state and next on the right."""
        p, u = self.painter, h / 400
        left = pygame.Rect(0, 0, round(w * 0.28), h)
        p.fill(left, theme.PANEL)
        p.text(view.name, round(88 * u), theme.TEXT, pygame.Rect(round(12 * u), round(40 * u),
               left.width - round(24 * u), round(180 * u)), bold=True, align="center")
        p.text(self._state(view), round(36 * u), STATE_COLOURS.get(view.state_en, theme.TEXT),
               pygame.Rect(round(12 * u), round(240 * u), left.width - round(24 * u), round(60 * u)), bold=True,
               align="center")
        mid = pygame.Rect(left.right, 0, round(w * 0.44), h)
        p.text("正在办理", round(36 * u), theme.MUTED, pygame.Rect(mid.x, round(20 * u), mid.width, round(50 * u)),
               align="center")
        shown = view.serving or ("—" if view.state_en == "open" else "")
        if not shown:
            p.text(view.state_zh, round(72 * u), theme.MUTED, pygame.Rect(mid.x, round(80 * u), mid.width,
                                                                          round(260 * u)), bold=True, align="center")
        self.placed["serving"] = p.text(shown, round(200 * u), theme.ACCENT,
                                        pygame.Rect(mid.x, round(80 * u), mid.width, round(260 * u)), bold=True,
                                        align="center")
        right = pygame.Rect(mid.right, 0, w - mid.right, h)
        p.fill(right, theme.PANEL)
        p.text("下一位", round(36 * u), theme.MUTED, pygame.Rect(right.x, round(20 * u), right.width, round(50 * u)),
               align="center")
        for i, number in enumerate(view.upcoming[:4] or ("暂无等候",)):
            p.text(number, round(52 * u), theme.TEXT,
                   pygame.Rect(right.x, round((84 + i * 72) * u), right.width, round(68 * u)), align="center")
        if view.header.stale_zh:
            self._stale(view, pygame.Rect(0, h - round(44 * u), w, round(44 * u)), round(28 * u))

    def _stale(self, view: WindowView, box: pygame.Rect, size: int) -> None:
        self.painter.fill(box, theme.STALE_BG)
        self.painter.text(f"{view.header.stale_zh}  {view.header.stale_en}", size, theme.TEXT, box, bold=True,
                          align="center")
