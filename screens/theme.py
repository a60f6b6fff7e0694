"""Colours, faces and type sizes of the hall's screens, one place, scaled from a 1080-pixel design.

Type is sized for reading at 3 m. Legible CJK wants a character at least 1/200 of the reading distance
tall (15 mm at 3 m) and comfortable reading about 1/100 (30 mm). On a 55-inch 1080p panel one pixel is
0.63 mm, so the wall's smallest text (SMALL, 30 px ≈ 19 mm) is above the minimum, body text (BODY,
40 px ≈ 25 mm) near comfortable, and the called numbers (CALL, 96 px ≈ 60 mm) readable from the back of a
hall. Sizes are given for 1080 pixels on the short side and multiplied by ``scale`` (2.0 at 3840×2160), so a
4K or portrait panel keeps the same physical proportions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FONT_REGULAR = FONT_DIR / "NotoSansCJK-Regular.ttc"
FONT_BOLD = FONT_DIR / "NotoSansCJK-Bold.ttc"
FACE_SC = 2  # face index of Simplified Chinese in the Noto CJK collections (0 is Japanese)

RGB = tuple[int, int, int]
BACKGROUND: RGB = (10, 28, 56)
PANEL: RGB = (18, 44, 84)
PANEL_EDGE: RGB = (44, 84, 140)
TEXT: RGB = (240, 244, 250)
MUTED: RGB = (160, 182, 214)
ACCENT: RGB = (255, 196, 0)  # the newest call
CALL_BG: RGB = (120, 24, 24)
CALL_OLD: RGB = (200, 210, 228)
OK: RGB = (96, 210, 120)
WARN: RGB = (255, 150, 60)
STALE_BG: RGB = (190, 30, 30)

# type sizes in pixels on a 1080-pixel short side
TITLE = 52
BODY = 40
SMALL = 30
CALL = 96
CALL_OLD_SIZE = 56
WINDOW_NUMBER = 150
SERVING = 200


@dataclass(frozen=True)
class Scale:
    """Pixel sizes for one surface: ``px(n)`` is ``n`` design pixels on it."""

    factor: float

    @classmethod
    def for_size(cls, width: int, height: int) -> Scale:
        return cls(min(width, height) / 1080)

    def px(self, n: float) -> int:
        return max(1, round(n * self.factor))
