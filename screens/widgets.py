"""Drawing helpers for CJK screens: Noto Sans CJK SC through pygame.freetype, text fitted into boxes, panels.

``pygame.font`` (SDL_ttf) loads face 0 of a .ttc, the Japanese one, so 门/直/骨 would take Japanese shapes;
freetype with ``font_index=2`` gives the Simplified Chinese face. Every string drawn goes through one
``Painter``, which records it, so a test can check each for missing glyphs (tofu) with ``missing_glyphs``.
"""

from __future__ import annotations

import pygame
import pygame.freetype

from screens import theme

_fonts: dict[tuple[bool, int], pygame.freetype.Font] = {}


def font(size: int, bold: bool = False) -> pygame.freetype.Font:
    """The SC face at ``size`` pixels, loaded once per size."""
    key = (bold, size)
    if key not in _fonts:
        if not pygame.freetype.get_init():
            pygame.freetype.init()
        f = pygame.freetype.Font(str(theme.FONT_BOLD if bold else theme.FONT_REGULAR), size, font_index=theme.FACE_SC)
        f.pad = False
        _fonts[key] = f
    return _fonts[key]


def missing_glyphs(text: str, bold: bool = False) -> list[str]:
    """The characters of ``text`` the SC face has no glyph for (drawn as tofu boxes)."""
    metrics = font(24, bold).get_metrics(text)
    return [ch for ch, m in zip(text, metrics, strict=False) if m is None and not ch.isspace()]


class Painter:
    """Draws text and panels on one surface and remembers every string and where it went."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.surface = surface
        self.drawn: list[tuple[str, pygame.Rect]] = []

    def text(self, text: str, size: int, color: theme.RGB, box: pygame.Rect, *, bold: bool = False,
             align: str = "left", valign: str = "center") -> pygame.Rect:
        """Draw ``text`` inside ``box`` (shrunk to fit its width, never overflowing); the rect it covers."""
        if not text:
            return pygame.Rect(box.x, box.y, 0, 0)
        f = font(size, bold)
        rect = f.get_rect(text)
        if rect.width > box.width and rect.width > 0:  # shrink once to fit; below 60 % cut with an ellipsis
            shrunk = max(8, int(size * box.width / rect.width))
            if shrunk >= size * 0.6:
                f = font(shrunk, bold)
            else:
                f = font(max(8, int(size * 0.6)), bold)
                while len(text) > 1 and f.get_rect(text + "…").width > box.width:
                    text = text[:-1]
                text += "…"
            rect = f.get_rect(text)
        x = {"left": box.x, "center": box.centerx - rect.width // 2, "right": box.right - rect.width}[align]
        y = {"top": box.y, "center": box.centery - rect.height // 2, "bottom": box.bottom - rect.height}[valign]
        drawn = f.render_to(self.surface, (x, y), text, color)
        drawn = pygame.Rect(x, y, drawn.width, drawn.height)
        self.drawn.append((text, drawn))
        return drawn

    def panel(self, box: pygame.Rect, color: theme.RGB = theme.PANEL, radius: int = 12,
              edge: theme.RGB | None = theme.PANEL_EDGE) -> None:
        pygame.draw.rect(self.surface, color, box, border_radius=radius)
        if edge is not None:
            pygame.draw.rect(self.surface, edge, box, width=max(1, radius // 6), border_radius=radius)

    def fill(self, box: pygame.Rect, color: theme.RGB = theme.BACKGROUND) -> None:
        self.surface.fill(color, box)
