"""The kiosk touch UI's view models: where each part of a flow's ``Show`` goes, in which words and colours.

Pure (no pygame): ``kiosk_view(show, names, size)`` gives a frozen ``KioskView`` whose rectangles the
renderer fills and whose ``targets`` the hit-test searches, so layout, words and contrast are tested
without a display.

Target size. A touch target must be at least 15 mm each way (elderly fingers, a tremor, a glove). At
``dpi`` pixels per inch a millimetre is dpi / 25.4 pixels. The default is a 21.5-inch 1920×1080 kiosk
panel: its diagonal is sqrt(1920² + 1080²) = 2203 px over 21.5 in = 102.5 px/in, so 15 mm is
15 × 102.5 / 25.4 = 61 px; a 24-inch panel (91.8 px/in) needs 54 px, so sizing for 102.5 is safe on
both. Targets are made far larger when there is room (a service button is about 30 mm tall); when a list
would push them under ``COMFORT_MM`` it is paged instead, with "上一页 / 下一页" targets the UI handles
itself (they never reach the flow).

Type, for a citizen at arm's length (about 50 cm): message text 56 px ≈ 14 mm, button labels 50 px,
English 32–36 px (≈ 8–9 mm), the ticket number 300 px ≈ 74 mm, all on a 1080-pixel short side and
scaled with it (theme.Scale), so a 4K panel keeps the proportions. Colours are the wall's dark theme
with every text/background pair at a contrast ratio of at least 7:1 (WCAG AAA), checked by a test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Button, Touch
from kiosk.flows.words import NO_WORDS, Words
from screens import theme
from screens.kiosk_layout import COMFORT_MM, DEFAULT_DPI, MIN_TARGET_MM, Box, Layout, Placed, Regions, min_target_px

__all__ = ["COMFORT_MM", "DEFAULT_DPI", "MIN_TARGET_MM", "Box", "KioskView", "Names", "NumberBlock", "Style",
           "Target", "TextBlock", "contrast", "hit", "kiosk_view", "masked_only", "min_target_px"]

INK: theme.RGB = (10, 20, 40)  # dark text on the light (primary) buttons
SOFT: theme.RGB = (200, 214, 236)  # the English line: quieter than white, still 7:1 on every dark ground
CHOICE_BG: theme.RGB = (20, 52, 110)
NAV_BG: theme.RGB = (44, 52, 72)
PRESSED_BG: theme.RGB = (240, 244, 250)
ALERT_BG: theme.RGB = (150, 20, 20)  # error screens' header


class Style(StrEnum):
    """How a target looks: one colour pair each (see ``STYLE_COLOURS``)."""

    CHOICE = "choice"  # a service, a department, a rating level (all alike: no level is hinted)
    PRIMARY = "primary"  # the action that moves on (confirm, print again, retry)
    KEY = "key"  # a keypad key
    NAV = "nav"  # back, done, skip, page turns


Colours = tuple[theme.RGB, theme.RGB, theme.RGB]  # background, Chinese text, English text
STYLE_COLOURS: dict[Style, Colours] = {
    Style.CHOICE: (CHOICE_BG, theme.TEXT, SOFT), Style.PRIMARY: (theme.ACCENT, INK, INK),
    Style.KEY: (theme.PANEL, theme.TEXT, SOFT), Style.NAV: (NAV_BG, theme.TEXT, SOFT),
}
PRESSED: Colours = (PRESSED_BG, INK, INK)

_PRIMARY = {Button.SUBMIT, Button.REPRINT, Button.RETRY, Button.GREEN_YES, Button.NORMAL_TICKET}
_NAV = {Button.BACK, Button.DONE, Button.SKIP}
_KEYS = {Button.DIGIT, Button.LETTER, Button.DELETE, Button.SUBMIT}

LABELS: dict[Button, Words] = {
    Button.BACK: Words("返回", "Back"), Button.DONE: Words("结束", "Finish"),
    Button.GREEN_YES: Words("使用绿色通道", "Yes, green channel"),
    Button.GREEN_NO: Words("普通排队", "No, normal queue"),
    Button.REPRINT: Words("补打小票", "Print again"), Button.NO_REPRINT: Words("不用补打", "No, thanks"),
    Button.RETRY: Words("重试", "Try again"), Button.NORMAL_TICKET: Words("改取普通号", "Take a normal ticket"),
    Button.DELETE: Words("删除", "Delete"), Button.SUBMIT: Words("确定", "OK"), Button.SKIP: Words("跳过", "Skip"),
    Button.STATUS: Words("查询我的号码", "Where is my number?"),
    Button.CHECK_IN: Words("预约签到", "Appointment check-in"),
    Button.CERTIFICATES: Words("自助证照打印", "Print my certificates"),
    Button.GUIDE: Words("办事指南", "Service guide"),
}
#: the home screen's entries into the other flows: their own section of the start screen
_ENTRIES = (Button.CHECK_IN, Button.CERTIFICATES, Button.GUIDE, Button.STATUS)
#: 好差评's five levels, as the rating pad and the web page word them
LEVEL_LABELS: dict[str, Words] = {"5": Words("非常满意", "Very satisfied"), "4": Words("满意", "Satisfied"),
                                  "3": Words("基本满意", "Fairly satisfied"), "2": Words("不满意", "Dissatisfied"),
                                  "1": Words("非常不满意", "Very dissatisfied")}
CARD_HINT = Words("请将身份证或社保卡放在读卡区", "Place your ID or social-security card on the reader")
PAGE_PREVIOUS = Words("上一页", "Previous")
PAGE_NEXT = Words("下一页", "More")


@dataclass(frozen=True)
class Plan:
    """One Screen's fixed parts: its title, the words when the flow gives none, the number's label."""

    title: Words
    default: Words = NO_WORDS
    number_label: Words = NO_WORDS
    alert: bool = False  # an error screen: red header, so it reads as "something went wrong" at a glance
    card_hint: bool = False  # a card is asked for: a picture of one, and where it goes


PLANS: dict[Screen, Plan] = {
    Screen.START: Plan(Words("自助取号", "Take a ticket"),
                       Words("请选择业务，或刷身份证 / 社保卡取号。", "Choose a service, or tap your ID card.")),
    Screen.SERVICES: Plan(Words("选择业务", "Choose a service")),
    Screen.NEED_CARD: Plan(Words("请刷身份证", "Please tap your ID card"), card_hint=True),
    Screen.GREEN_OFFER: Plan(Words("绿色通道", "Green channel")),
    Screen.WORKING: Plan(Words("请稍候", "One moment"), Words("请稍候……", "One moment, please…")),
    Screen.PRINTER_DOWN: Plan(Words("本机暂不能取号", "This kiosk cannot print"), number_label=Words(
        "您的号码", "Your number"), alert=True),
    Screen.REFUSED: Plan(Words("未能办理", "Not possible now"), alert=True),
    Screen.UNREACHABLE: Plan(Words("网络暂时中断", "No connection"), alert=True),
    Screen.NUMBER: Plan(Words("取号成功", "Your ticket"), number_label=Words("您的号码", "Your number")),
    Screen.REPRINT_OFFER: Plan(Words("您已取过号", "You already have a ticket"),
                               number_label=Words("您的号码", "Your number")),
    Screen.PRINT_FAILED: Plan(Words("小票打印失败", "The ticket did not print"),
                              number_label=Words("请记下您的号码", "Note your number"), alert=True),
    Screen.CODE_ENTRY: Plan(Words("预约签到", "Appointment check-in"), number_label=Words("预约码", "Code")),
    Screen.CHOOSE_APPOINTMENT: Plan(Words("选择预约业务", "Choose your appointment")),
    Screen.RATING: Plan(Words("服务评价", "Rate our service"),
                        Words("请对本次服务作出评价（可跳过）。", "Please rate this service (you may skip).")),
    Screen.THANKS: Plan(Words("谢谢", "Thank you"), Words("感谢您的评价！", "Thank you for your rating!")),
    Screen.GUIDE_SERVICES: Plan(Words("办事指南", "Service guide"),
                                Words("请选择要查看的业务。", "Choose a service to see what to bring.")),
    Screen.GUIDE: Plan(Words("所需材料", "What to bring")),
    Screen.STATUS_ENTRY: Plan(Words("查询号码", "Find my number"), number_label=Words("号码", "Number")),
    Screen.STATUS: Plan(Words("号码状态", "Ticket status"), number_label=Words("号码", "Number")),
    Screen.CERTIFICATE_CARD: Plan(Words("自助证照打印", "Print my certificates"),
                                  Words("请将身份证放在读卡区，打印您本人的证明。",
                                        "Place your ID card on the reader to print your own certificates."),
                                  card_hint=True),
    Screen.DOCUMENTS: Plan(Words("选择证明", "Choose a certificate"),
                           Words("请选择要打印的证明。", "Choose the certificate to print.")),
    Screen.CERTIFICATE_DONE: Plan(Words("打印完成", "Printed"),
                                  Words("证明已打印，请从下方出纸口取走。",
                                        "Your certificate is printed; please take it.")),
}


@dataclass(frozen=True)
class Names:
    """What the targets are called: services and departments by code, from the hall's config."""

    hall: str = ""
    services: Mapping[str, Words] = field(default_factory=dict)
    departments: Mapping[str, Words] = field(default_factory=dict)

    @classmethod
    def from_hall(cls, hall: Any) -> Names:
        """From a config.model.Hall (read duck-typed: screens do not import config)."""
        services = {s.code: Words(s.name, s.name_en or "") for s in hall.services}
        departments = {}
        for d in hall.departments:
            count = sum(1 for s in hall.services if s.department == d.code)
            departments[d.code] = Words(d.name, f"{count} service{'s' if count != 1 else ''}")
        return cls(hall.name, services, departments)

    def label(self, touch: Touch) -> Words:
        """The words on the target that gives back ``touch``."""
        if touch.button is Button.SERVICE:
            return self.services.get(touch.value, Words(touch.value, ""))
        if touch.button is Button.CATEGORY:
            return self.departments.get(touch.value, Words(touch.value, ""))
        if touch.button is Button.LEVEL:
            return LEVEL_LABELS.get(touch.value, Words(touch.value, ""))
        if touch.button in (Button.DIGIT, Button.LETTER):
            return Words(touch.value, "")
        if touch.button is Button.DOCUMENT:  # a flow names its documents in Show.labels; this is the fallback
            return Words("证明", f"Certificate {touch.value}")
        return LABELS.get(touch.button, Words(touch.button.value, ""))


@dataclass(frozen=True)
class TextBlock:
    """Words in a box: ``zh`` first and large, ``en`` under it; the box's colour is ``background``."""

    box: Box
    zh: str
    en: str
    size_zh: int
    size_en: int
    colour: theme.RGB = theme.TEXT
    background: theme.RGB = theme.BACKGROUND
    align: str = "left"
    colour_en: theme.RGB = SOFT


@dataclass(frozen=True)
class NumberBlock:
    """The ticket number (or the code being typed) drawn as large as its box allows, with a label above."""

    box: Box
    text: str
    label: TextBlock
    size: int
    colour: theme.RGB = theme.ACCENT
    background: theme.RGB = theme.PANEL


@dataclass(frozen=True)
class Target:
    """A touch target: ``touch`` is what the flow gets back; None with ``page_step`` turns the UI's page."""

    box: Box
    touch: Touch | None
    label: Words
    style: Style
    size_zh: int
    size_en: int
    page_step: int = 0
    pressed: bool = False

    @property
    def colours(self) -> Colours:
        return PRESSED if self.pressed else STYLE_COLOURS[self.style]


@dataclass(frozen=True)
class KioskView:
    """Everything one frame of the kiosk shows."""

    size: tuple[int, int]
    screen: Screen
    header: TextBlock
    holder: TextBlock | None
    message: TextBlock
    number: NumberBlock | None
    qr: Box | None
    qr_text: str
    headings: tuple[TextBlock, ...]
    targets: tuple[Target, ...]
    page: int = 0
    pages: int = 1
    card_hint: TextBlock | None = None  # the card pictogram's box and its words

    def blocks(self) -> tuple[TextBlock, ...]:
        """Every text block drawn (for the contrast check)."""
        label = (self.number.label,) if self.number else ()
        optional = tuple(b for b in (self.holder, self.card_hint) if b is not None)
        return (self.header, *optional, self.message, *label, *self.headings)


def masked_only(text: str) -> str:
    """A holder's name as the screen may show it: already masked (张*), or masked here if it came in clear."""
    text = text.strip()
    if not text or "*" in text:
        return text
    return text[0] + "*" * max(1, len(text) - 1)


def contrast(a: theme.RGB, b: theme.RGB) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (1 … 21)."""
    def lum(c: theme.RGB) -> float:
        lin = [v / 255 / 12.92 if v <= 10 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def hit(view: KioskView, pos: tuple[int, int]) -> Target | None:
    """The target under ``pos`` (targets never overlap, so at most one)."""
    x, y = pos
    return next((t for t in view.targets if t.box[0] <= x < t.box[0] + t.box[2]
                 and t.box[1] <= y < t.box[1] + t.box[3]), None)


def kiosk_view(show: Show, names: Names, size: tuple[int, int], *, dpi: float = DEFAULT_DPI, page: int = 0,
               pressed: Touch | None = None, notice: Words | None = None) -> KioskView:
    """The frame for ``show`` on a ``size`` panel; ``page`` pages a long list, ``pressed`` lights a target;
    ``notice`` (the node's own news, e.g. "the server cannot be reached") takes the whole header band, in red."""
    plan = PLANS[show.screen]
    layout = Layout(size, dpi)
    s = layout.scale.px
    header_bg = ALERT_BG if plan.alert or notice else theme.PANEL
    header_en = theme.TEXT if plan.alert or notice else SOFT
    header = TextBlock(layout.header_text, plan.title.zh, plan.title.en, s(60), s(34), theme.TEXT, header_bg,
                       colour_en=header_en)
    masked = masked_only(show.holder_masked) if notice is None else ""
    if notice is not None:
        band = (layout.header_text[0], 0, size[0] - 2 * layout.header_text[0], layout.header_text[3])
        header = TextBlock(band, notice.zh, notice.en, s(44), s(28), theme.TEXT, header_bg, colour_en=header_en)
    holder = TextBlock(layout.holder, f"{masked} 您好", f"Hello, {masked}", s(44), s(30), theme.TEXT, header_bg,
                       align="right", colour_en=header_en) if masked else None
    words = show.words if show.words != NO_WORDS else plan.default
    nav = [t for t in show.choices if t.button in _NAV]
    keys = [t for t in show.choices if t.button in _KEYS]
    grid = [t for t in show.choices if t.button not in _NAV and t.button not in _KEYS]
    groups = _groups(show.screen, grid, keys, names)

    def arrange(has_nav: bool) -> tuple[Regions, list[Placed], list[tuple[Box, Words]], int]:
        regions = layout.regions(has_number=plan.number_label != NO_WORDS,
                                 has_picture=bool(show.qr) or plan.card_hint, has_grid=bool(grid or keys),
                                 words=(words.zh, words.en), sizes=(56, 36), has_nav=has_nav)
        return regions, *layout.place(regions.grid, groups, page=page, nav=nav)

    regions, placed, headings, pages = arrange(bool(nav))
    if pages > 1 and not nav:  # the page turns need the nav bar after all
        regions, placed, headings, pages = arrange(True)
    message = TextBlock(regions.message, words.zh, words.en, s(56), s(36))
    number = None
    if regions.number is not None:
        nb = regions.number
        label_box = (nb[0], nb[1] + s(8), nb[2], s(100))
        label = TextBlock(label_box, plan.number_label.zh, plan.number_label.en, s(44), s(30), SOFT,
                          theme.PANEL, align="center")
        text = show.number or "—"
        number = NumberBlock(nb, text, label, s(300) if not keys else s(160),
                             theme.ACCENT if show.number else SOFT)
    targets = tuple(_target(box, touch, step, show, names, keys, s, pressed) for box, touch, step in placed)
    heading_blocks = tuple(TextBlock(box, w.zh, w.en, s(42), s(28), SOFT) for box, w in headings)
    qr = regions.picture if show.qr else None
    hint = TextBlock(regions.picture, CARD_HINT.zh, CARD_HINT.en, s(44), s(30), theme.TEXT, theme.PANEL,
                     align="center") if plan.card_hint and regions.picture else None
    return KioskView(size, show.screen, header, holder, message, number, qr, show.qr, heading_blocks,
                     targets, min(page, pages - 1), pages, hint)


def _groups(screen: Screen, grid: Sequence[Touch], keys: Sequence[Touch],
            names: Names) -> list[tuple[Words | None, list[Touch], int]]:
    """The grid's sections: (heading, targets, columns)."""
    if keys:
        letters = [t for t in keys if t.button is Button.LETTER]
        digits = {t.value: t for t in keys if t.button is Button.DIGIT}
        pad = [digits[d] for d in "123456789" if d in digits]
        last = [t for t in keys if t.button is Button.DELETE] + ([digits["0"]] if "0" in digits else []) + \
            [t for t in keys if t.button is Button.SUBMIT]
        out: list[tuple[Words | None, list[Touch], int]] = []
        if letters:
            out.append((None, letters, min(6, len(letters))))
        out.append((None, pad + last, 3))
        return out
    if screen is Screen.START:
        featured = [t for t in grid if t.button is Button.SERVICE]
        entries = [t for t in grid if t.button in _ENTRIES]
        categories = [t for t in grid if t.button is not Button.SERVICE and t.button not in _ENTRIES]
        out = []
        if featured:
            out.append((Words("常办业务", "Frequent services"), featured, 2))
        if categories:
            out.append((Words("按部门查找", "By department"), categories, 3 if len(categories) > 4 else 2))
        if entries:
            out.append((Words("自助服务", "Self-service"), entries, 2))
        return out
    if not grid:
        return []
    one_column = screen in (Screen.RATING, Screen.GREEN_OFFER, Screen.REPRINT_OFFER, Screen.DOCUMENTS) \
        or len(grid) <= 3
    return [(None, list(grid), 1 if one_column else 2)]


def _target(box: Box, touch: Touch | None, step: int, show: Show, names: Names, keys: Sequence[Touch],
            s: Any, pressed: Touch | None) -> Target:
    if touch is None:
        label = PAGE_NEXT if step > 0 else PAGE_PREVIOUS
        return Target(box, None, label, Style.NAV, s(44), s(28), page_step=step)
    if touch.button in _NAV:
        style = Style.NAV
    elif touch.button in _PRIMARY:
        style = Style.PRIMARY
    elif touch in keys:
        style = Style.KEY
    else:
        style = Style.CHOICE
    big = touch.button in (Button.DIGIT, Button.LETTER)
    label = show.label_of(touch)
    return Target(box, touch, label if label != NO_WORDS else names.label(touch), style,
                  s(72) if big else s(50), s(30),
                  pressed=pressed == touch)
