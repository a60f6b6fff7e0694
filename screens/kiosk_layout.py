"""The kiosk's rectangles for one panel size: header, message, number, QR code, the target grid, the nav bar.

Portrait (1080×1920) stacks them top to bottom; landscape (1920×1080) puts the words and the number on the
left and the targets on the right. The nav bar (返回 at the left, 结束 / 跳过 at the right, page turns in the
middle) is always at the bottom, where a hand rests. A grid whose rows would come out under COMFORT_MM is
paged rather than squeezed; rows are never taller than a finger needs (so five choices do not become
five walls). Pure arithmetic on ints: no pygame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.flows.events import Touch
from kiosk.flows.words import Words
from screens import theme

__all__ = ["COMFORT_MM", "DEFAULT_DPI", "MIN_TARGET_MM", "Box", "Layout", "Placed", "Regions", "min_target_px"]

DEFAULT_DPI = 102.5  # a 21.5-inch 1920×1080 panel (see screens/kiosk_models.py)
MIN_TARGET_MM = 15.0
COMFORT_MM = 20.0  # below this a long list is paged rather than squeezed
Box = tuple[int, int, int, int]  # x, y, width, height

Placed = tuple[Box, Touch | None, int]  # where, what it gives back (None: a page turn), the page step


def min_target_px(dpi: float = DEFAULT_DPI, mm: float = MIN_TARGET_MM) -> int:
    """``mm`` millimetres in pixels at ``dpi``, rounded up."""
    return math.ceil(mm * dpi / 25.4)


@dataclass(frozen=True)
class Regions:
    message: Box
    number: Box | None
    picture: Box | None  # a QR code, or the card pictogram
    grid: Box | None


class Layout:
    """The fixed regions of a ``size`` panel at ``dpi``, and the placement of a screen's targets."""

    def __init__(self, size: tuple[int, int], dpi: float) -> None:
        w, h = size
        self.size = size
        self.portrait = h > w
        self.scale = theme.Scale.for_size(w, h)
        s = self.scale.px
        self.min_px = min_target_px(dpi)
        self.comfort_px = min_target_px(dpi, COMFORT_MM)
        self.pad, self.gap = s(32), s(20)
        header_h = s(150) if self.portrait else s(120)
        self.header: Box = (0, 0, w, header_h)
        split = round(w * 0.6)
        self.header_text: Box = (self.pad, 0, split - self.pad, header_h)
        self.holder: Box = (split, 0, w - split - self.pad, header_h)
        nav_h = max(self.comfort_px, s(140))
        self.nav: Box = (self.pad, h - self.pad - nav_h, w - 2 * self.pad, nav_h)
        self.top = header_h + self.gap
        self.bottom = self.nav[1] - self.gap  # the content's lower edge

    def regions(self, *, has_number: bool, has_picture: bool, has_grid: bool, words: tuple[str, str] = ("", ""),
                sizes: tuple[int, int] = (56, 36), has_nav: bool = True) -> Regions:
        """The content regions of a screen with these parts; ``words`` at ``sizes`` (design pixels) size the
        portrait message box (estimated, the renderer measures and shrinks if it must). Without nav targets
        the content takes the nav bar's room too."""
        self.bottom = self.nav[1] - self.gap if has_nav else self.size[1] - self.pad
        return self._portrait(has_number, has_picture, has_grid, words, sizes) if self.portrait else \
            self._landscape(has_number, has_picture, has_grid)

    def message_height(self, width: int, words: tuple[str, str], sizes: tuple[int, int]) -> int:
        """About how tall ``words`` wrap in ``width``: a CJK character is one em wide, a Latin one about half."""
        s = self.scale.px
        zh_lines = math.ceil(len(words[0]) * s(sizes[0]) / width) if words[0] else 0
        en_lines = math.ceil(len(words[1]) * s(sizes[1]) * 0.5 / width) if words[1] else 0
        return round(1.3 * (zh_lines * s(sizes[0]) + en_lines * s(sizes[1])) + s(sizes[1]))

    def _portrait(self, has_number: bool, has_picture: bool, has_grid: bool, words: tuple[str, str],
                  sizes: tuple[int, int]) -> Regions:
        s, w = self.scale.px, self.size[0]
        inner = w - 2 * self.pad
        rest = has_number or has_picture or has_grid
        needed = max(s(180), self.message_height(inner, words, sizes))
        message_h = min(needed, s(300) if has_grid else s(420)) if rest else self.bottom - self.top
        message = (self.pad, self.top, inner, message_h)
        y = self.top + message_h + self.gap
        number = None
        if has_number:
            number_h = s(440)
            number = (self.pad, y, inner, number_h)
            y += number_h + self.gap
        picture = None
        if has_picture:
            side = min(s(600), self.bottom - y, inner)
            picture = ((w - side) // 2, y, side, side)
            y += side + self.gap
        grid = (self.pad, y, inner, self.bottom - y) if has_grid else None
        return Regions(message, number, picture, grid)

    def _landscape(self, has_number: bool, has_picture: bool, has_grid: bool) -> Regions:
        s, w = self.scale.px, self.size[0]
        height = self.bottom - self.top
        inner = w - 2 * self.pad
        # a line much longer than 1400 px is hard to follow back to its start: words alone stay narrower
        left_w = round(w * 0.42) - self.pad if (has_grid or has_picture) else min(inner, s(1400))
        number_h = min(s(380), height // 2) if has_number else 0
        message = (self.pad, self.top, left_w, height - (number_h + self.gap if has_number else 0))
        number = (self.pad, self.top + message[3] + self.gap, left_w, number_h) if has_number else None
        right_x = self.pad + left_w + self.gap * 2
        right: Box = (right_x, self.top, w - self.pad - right_x, height)
        picture = None
        if has_picture:
            side = min(right[2], right[3], s(640))
            picture = (right[0] + (right[2] - side) // 2, right[1], side, side)
        return Regions(message, number, picture, right if has_grid else None)

    # ------------------------------------------------------------------ targets
    def place(self, grid: Box | None, groups: Sequence[tuple[Words | None, Sequence[Touch], int]], *, page: int,
              nav: Sequence[Touch]) -> tuple[list[Placed], list[tuple[Box, Words]], int]:
        """Targets of the grid (paged when they do not fit) and of the nav bar; headings; the page count."""
        placed: list[Placed] = []
        headings: list[tuple[Box, Words]] = []
        pages = 1
        if grid is not None and groups:
            pages, page = self._grid(grid, groups, page, placed, headings)
        placed += self._nav(nav, page, pages)
        return placed, headings, pages

    def _grid(self, grid: Box, groups: Sequence[tuple[Words | None, Sequence[Touch], int]], page: int,
              placed: list[Placed], headings: list[tuple[Box, Words]]) -> tuple[int, int]:
        s, gap = self.scale.px, self.gap
        x, y, width, height = grid
        heading_h = s(72)
        rows = sum(math.ceil(len(items) / cols) for _, items, cols in groups)
        titled = sum(1 for heading, _, _ in groups if heading is not None)
        widest = max(cols for _, _, cols in groups)
        max_row = s(190) if widest == 1 else s(200)
        row_h = (height - titled * heading_h - gap * (rows - 1)) // max(1, rows)
        if row_h >= self.comfort_px:
            row_h = min(row_h, max_row)
            for heading, items, cols in groups:
                if heading is not None:
                    headings.append(((x, y, width, heading_h), heading))
                    y += heading_h
                y = self._rows(x, y, width, row_h, cols, items, placed)
            return 1, 0
        # too many to fit comfortably: one list, paged, at the comfortable height or more
        items = [t for _, group, _ in groups for t in group]
        per_page_rows = max(1, (height + gap) // (self.comfort_px + gap))
        per_page = per_page_rows * widest
        pages = math.ceil(len(items) / per_page)
        page = max(0, min(page, pages - 1))
        if pages == 1:  # all fit once the headings go: spread them over the rows they need
            per_page_rows = math.ceil(len(items) / widest)
        row_h = min(max_row, (height - gap * (per_page_rows - 1)) // per_page_rows)
        self._rows(x, y, width, row_h, widest, items[page * per_page:(page + 1) * per_page], placed)
        return pages, page

    def _rows(self, x: int, y: int, width: int, row_h: int, cols: int, items: Sequence[Touch],
              placed: list[Placed]) -> int:
        col_w = (width - self.gap * (cols - 1)) // cols
        for i, touch in enumerate(items):
            r, c = divmod(i, cols)
            placed.append(((x + c * (col_w + self.gap), y + r * (row_h + self.gap), col_w, row_h), touch, 0))
        used = math.ceil(len(items) / cols)
        return y + used * (row_h + self.gap)

    def _nav(self, nav: Sequence[Touch], page: int, pages: int) -> list[Placed]:
        x, y, width, height = self.nav
        left = [t for t in nav if t.button.value == "back"]
        right = [t for t in nav if t.button.value != "back"]
        turns: list[int] = ([-1] if page > 0 else []) + ([1] if page < pages - 1 else []) if pages > 1 else []
        count = len(left) + len(right) + len(turns)
        if not count:
            return []
        slot = min((width - self.gap * (count - 1)) // count, self.scale.px(440))
        out: list[Placed] = [((x + i * (slot + self.gap), y, slot, height), t, 0) for i, t in enumerate(left)]
        out += [((x + width - (len(right) - i) * slot - (len(right) - 1 - i) * self.gap, y, slot, height), t, 0)
                for i, t in enumerate(right)]
        free_from = x + len(left) * (slot + self.gap)  # the turns are centred between the two groups
        free_to = x + width - len(right) * (slot + self.gap)
        middle = len(turns) * slot + (len(turns) - 1) * self.gap
        mx = free_from + (free_to - free_from - middle) // 2
        out += [((mx + i * (slot + self.gap), y, slot, height), None, step) for i, step in enumerate(turns)]
        return out
