"""The wall display (实时数据大屏): draws a ``WallView`` and repaints only the parts that changed.

Layout, in design pixels of a 1920×1080 landscape or 1080×1920 portrait panel and stretched to the
surface (3840×2160 doubles everything): a header (hall, opening state, date, clock, and a red mark in
words when the figures are not current), now calling in per-window columns (the newest call of each
window large and highlighted for 30 s, the last few under it), the hall's figures, people waiting and
the estimated wait per service (paged every 8 s when there are more than fit), per department
办件量 / 办结率 / 满意率, and open alerts in a ticker at the bottom (paged the same way). Type sizes are
in screens/theme.py, chosen for reading at 3 m. Nothing here animates between changes, so an idle wall
repaints the clock once a second and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pygame

from screens import theme
from screens.models import DepartmentRow, ServiceRow, WallView
from screens.widgets import Painter

Box = tuple[int, int, int, int]
PAGE_S = 8  # seconds a page of services or alerts stays up

LANDSCAPE: dict[str, Box] = {
    "header": (0, 0, 1920, 96), "calling": (24, 108, 1140, 690), "hall": (24, 812, 1140, 160),
    "services": (1188, 108, 708, 520), "departments": (1188, 640, 708, 332), "ticker": (0, 988, 1920, 92),
}
PORTRAIT: dict[str, Box] = {
    "header": (0, 0, 1080, 150), "calling": (24, 162, 1032, 760), "hall": (24, 936, 1032, 160),
    "services": (24, 1110, 1032, 420), "departments": (24, 1544, 1032, 270), "ticker": (0, 1828, 1080, 92),
}


@dataclass
class Layout:
    """The regions of one surface size, and how many columns and rows fit in them."""

    boxes: dict[str, pygame.Rect]
    scale: theme.Scale
    portrait: bool
    grid: tuple[int, int]  # calling columns × rows

    @classmethod
    def for_size(cls, width: int, height: int) -> Layout:
        portrait = height > width
        design, base = (PORTRAIT, (1080, 1920)) if portrait else (LANDSCAPE, (1920, 1080))
        sx, sy = width / base[0], height / base[1]
        boxes = {name: pygame.Rect(round(x * sx), round(y * sy), round(w * sx), round(h * sy))
                 for name, (x, y, w, h) in design.items()}
        return cls(boxes, theme.Scale.for_size(width, height), portrait, (4, 2) if portrait else (5, 2))

    @property
    def max_columns(self) -> int:
        return self.grid[0] * self.grid[1]


class WallRenderer:
    """Keeps the last view drawn; ``draw`` repaints the regions whose part of the view changed."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.surface = surface
        self.layout = Layout.for_size(*surface.get_size())
        self.painter = Painter(surface)
        self.last: WallView | None = None
        self.last_tick = -1
        self.placed: dict[str, pygame.Rect] = {}  # "call:<window>:<i>" → where that number was drawn

    def draw(self, view: WallView, tick: int = 0) -> list[pygame.Rect]:
        """Repaint what differs from the last frame; the rectangles to hand to ``display.update``."""
        last = self.last
        self.painter.drawn.clear()
        dirty: list[pygame.Rect] = []
        if last is None:
            self.surface.fill(theme.BACKGROUND)
            dirty.append(self.surface.get_rect())
        parts = {
            "header": last is None or view.header != last.header,
            "calling": last is None or view.columns != last.columns,
            "hall": last is None or view.hall != last.hall,
            "services": last is None or view.services != last.services or self._paged(len(view.services), tick),
            "departments": last is None or view.departments != last.departments,
            "ticker": last is None or view.alerts != last.alerts or self._paged(len(view.alerts), tick),
        }
        for name, changed in parts.items():
            if changed:
                box = self.layout.boxes[name]
                self.painter.fill(box)
                getattr(self, f"_draw_{name}")(view, box, tick)
                dirty.append(box)
        self.last, self.last_tick = view, tick
        return dirty if last is not None else [self.surface.get_rect()]

    def _paged(self, count: int, tick: int) -> bool:
        return count > 0 and tick // PAGE_S != self.last_tick // PAGE_S

    # ------------------------------------------------------------------ regions
    def _draw_header(self, view: WallView, box: pygame.Rect, tick: int) -> None:
        p, px, h = self.painter, self.layout.scale.px, view.header
        p.fill(box, theme.PANEL)
        pad = px(24)
        inner = box.inflate(-2 * pad, 0)
        if self.layout.portrait:
            top, bottom = inner.copy(), inner.copy()
            top.height = bottom.height = inner.height // 2
            bottom.y = top.bottom
            p.text(h.title or "政务服务大厅", px(theme.TITLE), theme.TEXT, top, bold=True)
            p.text(h.clock, px(theme.TITLE), theme.ACCENT, top, bold=True, align="right")
            p.text(f"{h.date_zh}  {h.opening_zh}", px(theme.SMALL), theme.MUTED, bottom)
            state_box = bottom
        else:
            p.text(h.title or "政务服务大厅", px(theme.TITLE), theme.TEXT,
                   pygame.Rect(inner.x, inner.y, inner.width * 0.34, inner.height), bold=True)
            p.text(h.clock, px(theme.TITLE), theme.ACCENT,
                   pygame.Rect(inner.right - px(220), inner.y, px(220), inner.height), bold=True, align="right")
            p.text(h.date_zh, px(theme.SMALL), theme.MUTED,
                   pygame.Rect(inner.right - px(640), inner.y, px(400), inner.height), align="right")
            state_box = pygame.Rect(inner.x + inner.width * 0.36, inner.y, inner.width * 0.3, inner.height)
            p.text(f"{h.opening_zh}  {h.opening_en}", px(theme.SMALL), theme.OK, state_box)
        if h.stale_zh:
            mark = state_box.copy() if self.layout.portrait else state_box.inflate(0, -px(16))
            if self.layout.portrait:
                mark.width, mark.x = inner.width // 2, inner.right - inner.width // 2
                mark = mark.inflate(0, -px(8))
            p.panel(mark, theme.STALE_BG, radius=px(10), edge=None)
            p.text(f"{h.stale_zh}  {h.stale_en}", px(theme.SMALL), theme.TEXT, mark.inflate(-px(16), 0),
                   bold=True, align="center")

    def _draw_calling(self, view: WallView, box: pygame.Rect, tick: int) -> None:
        p, px = self.painter, self.layout.scale.px
        title = pygame.Rect(box.x, box.y, box.width, px(56))
        p.text("正在叫号  Now calling", px(theme.BODY), theme.TEXT, title, bold=True)
        cols, rows = self.layout.grid
        gap = px(12)
        area = pygame.Rect(box.x, title.bottom, box.width, box.bottom - title.bottom)
        cw, ch = (area.width - gap * (cols - 1)) // cols, (area.height - gap * (rows - 1)) // rows
        self.placed = {k: v for k, v in self.placed.items() if not k.startswith("call:")}
        for i, col in enumerate(view.columns[: cols * rows]):
            cell = pygame.Rect(area.x + (i % cols) * (cw + gap), area.y + (i // cols) * (ch + gap), cw, ch)
            p.panel(cell, radius=px(12))
            name = pygame.Rect(cell.x + px(8), cell.y + px(4), cell.width - px(16), px(52))
            p.text(col.name, px(theme.BODY), theme.TEXT, name, bold=True, align="center")
            y = name.bottom + px(4)
            if col.state_en != "open":
                colour = theme.WARN if col.state_en == "paused" else theme.MUTED
                p.text(col.state_zh, px(theme.SMALL), colour, pygame.Rect(cell.x, y, cell.width, px(36)),
                       align="center")
                y += px(36)
            if not col.calls:
                p.text("等候叫号" if col.state_en == "open" else "", px(theme.SMALL), theme.MUTED,
                       pygame.Rect(cell.x, y + px(40), cell.width, px(40)), align="center")
            for j, call in enumerate(col.calls):
                if j == 0:
                    slot = pygame.Rect(cell.x + px(8), y, cell.width - px(16), px(116))
                    if call.highlighted:
                        p.panel(slot, theme.CALL_BG, radius=px(10), edge=theme.ACCENT)
                    color = theme.ACCENT if call.highlighted else theme.TEXT
                    placed = p.text(call.number, px(theme.CALL), color, slot.inflate(-px(12), 0), bold=True,
                                    align="center")
                    y = slot.bottom + px(6)
                else:
                    slot = pygame.Rect(cell.x + px(8), y, cell.width - px(16), px(62))
                    if slot.bottom > cell.bottom - px(4):
                        break
                    placed = p.text(call.number, px(theme.CALL_OLD_SIZE), theme.CALL_OLD, slot, align="center")
                    y = slot.bottom
                self.placed[f"call:{col.number}:{j}"] = placed
        if not view.columns:
            p.text("暂无叫号", px(theme.BODY), theme.MUTED, area, align="center")

    def _draw_hall(self, view: WallView, box: pygame.Rect, tick: int) -> None:
        p, px, h = self.painter, self.layout.scale.px, view.hall
        items = (("当前等候", f"{h.waiting_now}人"), ("平均等候", h.avg_wait), ("平均办理", h.avg_handling),
                 ("今日取号", str(h.issued)), ("今日办结", str(h.finished)))
        gap = px(12)
        w = (box.width - gap * (len(items) - 1)) // len(items)
        for i, (label, value) in enumerate(items):
            cell = pygame.Rect(box.x + i * (w + gap), box.y, w, box.height)
            p.panel(cell, radius=px(12))
            p.text(label, px(theme.SMALL), theme.MUTED, pygame.Rect(cell.x, cell.y + px(10), w, px(44)),
                   align="center")
            p.text(value, px(theme.TITLE), theme.TEXT, pygame.Rect(cell.x + px(8), cell.y + px(60), w - px(16),
                                                                  cell.height - px(70)), bold=True, align="center")

    def _rows(self, box: pygame.Rect, head: str, columns: tuple[tuple[str, float, str], ...],
              rows: Sequence[tuple[str, ...]], tick: int) -> None:
        """A titled table; pages through ``rows`` every PAGE_S seconds when they do not all fit."""
        p, px = self.painter, self.layout.scale.px
        p.panel(box, radius=px(12))
        inner = box.inflate(-px(32), -px(16))
        row_h = px(54)
        fit = max(1, (inner.height - 2 * row_h) // row_h)
        pages = max(1, -(-len(rows) // fit))
        page = (tick // PAGE_S) % pages
        title = head if pages == 1 else f"{head}（{page + 1}/{pages}）"
        p.text(title, px(theme.BODY), theme.TEXT, pygame.Rect(inner.x, inner.y, inner.width, row_h), bold=True)
        y = inner.y + row_h
        for label, start, align in columns:
            x0 = inner.x + round(inner.width * start)
            p.text(label, px(theme.SMALL), theme.MUTED, self._cell(inner, columns, label, x0, y, row_h), align=align)
        y += row_h
        for row in rows[page * fit:(page + 1) * fit]:
            for (label, start, align), value in zip(columns, row, strict=True):
                x0 = inner.x + round(inner.width * start)
                p.text(value, px(theme.BODY), theme.TEXT, self._cell(inner, columns, label, x0, y, row_h),
                       align=align)
            y += row_h

    @staticmethod
    def _cell(inner: pygame.Rect, columns: tuple[tuple[str, float, str], ...], label: str, x0: int, y: int,
              h: int) -> pygame.Rect:
        starts = [c[1] for c in columns] + [1.0]
        i = [c[0] for c in columns].index(label)
        width = round(inner.width * (starts[i + 1] - starts[i])) - 12
        return pygame.Rect(x0, y, width, h)

    def _draw_services(self, view: WallView, box: pygame.Rect, tick: int) -> None:
        rows = [_service_cells(s) for s in view.services]
        columns = (("事项", 0.0, "left"), ("等候人数", 0.5, "right"), ("预计等候", 0.72, "right"))
        self._rows(box, "等候情况  Waiting", columns, rows, tick)

    def _draw_departments(self, view: WallView, box: pygame.Rect, tick: int) -> None:
        rows = [_department_cells(d) for d in view.departments]
        self._rows(box, "今日部门办件", (("部门", 0.0, "left"), ("办件量", 0.34, "right"), ("办结率", 0.56, "right"),
                                      ("满意率", 0.78, "right")), rows, tick)

    def _draw_ticker(self, view: WallView, box: pygame.Rect, tick: int) -> None:
        p, px = self.painter, self.layout.scale.px
        p.fill(box, theme.PANEL)
        inner = box.inflate(-px(48), 0)
        if not view.alerts:
            p.text("欢迎办事  请留意叫号  Please watch for your number", px(theme.SMALL), theme.MUTED, inner)
            return
        per_page = 3
        pages = -(-len(view.alerts) // per_page)
        page = (tick // PAGE_S) % pages
        shown = "　·　".join(view.alerts[page * per_page:(page + 1) * per_page])
        label = pygame.Rect(inner.x, inner.y, px(150), inner.height)
        p.text("提示", px(theme.BODY), theme.WARN, label, bold=True)
        p.text(shown, px(theme.BODY), theme.TEXT, pygame.Rect(label.right, inner.y, inner.width - label.width,
                                                               inner.height))


def _service_cells(s: ServiceRow) -> tuple[str, str, str]:
    return s.name, f"{s.waiting}人", s.wait_zh


def _department_cells(d: DepartmentRow) -> tuple[str, str, str, str]:
    return d.name, str(d.handled), d.completion, d.satisfaction
