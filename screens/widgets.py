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
_sizes: dict[tuple[str, int, bool], tuple[int, int]] = {}  # measuring is freetype's slow part: once per string
SIZES_KEPT = 20_000
_images: dict[tuple[str, int, bool, tuple[int, int, int]], pygame.Surface] = {}  # rasterised once, then blitted
IMAGES_KEPT = 4_000


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


def measure(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    """Width and height of ``text`` drawn at ``size`` (cached; a wall draws the same strings all day)."""
    key = (text, size, bold)
    found = _sizes.get(key)
    if found is None:
        if len(_sizes) >= SIZES_KEPT:
            _sizes.clear()
        rect = font(size, bold).get_rect(text)
        found = _sizes[key] = (rect.width, rect.height)
    return found


def _image(text: str, size: int, bold: bool, color: theme.RGB) -> pygame.Surface:
    key = (text, size, bold, color)
    image = _images.get(key)
    if image is None:
        if len(_images) >= IMAGES_KEPT:
            _images.clear()
        image, _ = font(size, bold).render(text, color)
        _images[key] = image  # type: ignore[index]
    return image


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
        width, height = measure(text, size, bold)
        if width > box.width and width > 0:  # shrink once to fit; below 60 % cut with an ellipsis
            shrunk = max(8, int(size * box.width / width))
            if shrunk >= size * 0.6:
                size = shrunk
            else:
                size = max(8, int(size * 0.6))
                while len(text) > 1 and measure(text + "…", size, bold)[0] > box.width:
                    text = text[:-1]
                text += "…"
            width, height = measure(text, size, bold)
        x = {"left": box.x, "center": box.centerx - width // 2, "right": box.right - width}[align]
        y = {"top": box.y, "center": box.centery - height // 2, "bottom": box.bottom - height}[valign]
        image = _image(text, size, bold, color)
        drawn = self.surface.blit(image, (x, y))
        self.drawn.append((text, drawn))
        return drawn

    def panel(self, box: pygame.Rect, color: theme.RGB = theme.PANEL, radius: int = 12,
              edge: theme.RGB | None = theme.PANEL_EDGE) -> None:
        pygame.draw.rect(self.surface, color, box, border_radius=radius)
        if edge is not None:
            pygame.draw.rect(self.surface, edge, box, width=max(1, radius // 6), border_radius=radius)

    def fill(self, box: pygame.Rect, color: theme.RGB = theme.BACKGROUND) -> None:
        self.surface.fill(color, box)
