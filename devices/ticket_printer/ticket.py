"""A queue ticket's layout, turned into ESC/POS bytes for an 80 mm Chinese thermal printer.

python-escpos (its ``Dummy`` printer) generates the commands it gets right: alignment, sizes, the native
QR code, rasters and the cut. Text is encoded to GB18030 by this module and sent raw between ``FS &`` and
``FS .``, because python-escpos' magic encoder sends hanzi without selecting Chinese mode, turns
full-width punctuation on its own into ``?`` and emits 4-byte GB18030 that 2-byte printers print as
garbage. A line holding a character outside the 2-byte GB18030 areas (a rare name character, an emoji)
is drawn with Pillow and a CJK font and sent as a raster image; a glyph the font lacks becomes □.

The QR code is native (``GS ( k``): about 60 bytes instead of several kilobytes of raster, sharp modules at
any size, and the status URL stays readable in the byte stream, so the simulator and tests can check it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import unicodedata
from dataclasses import dataclass, field

from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_PROFILE", "TicketLayout", "build_test_ticket", "build_ticket", "cjk_font", "encode_line",
           "printable_2byte"]

DEFAULT_PROFILE = "TM-T20II"  # 576 dots (72 mm) at 203 dpi, as on 80 mm paper
CHINESE_ON = b"\x1c\x26"  # FS &
CHINESE_OFF = b"\x1c\x2e"  # FS .
NUMBER_SIZE = 3  # the ticket number is printed 3×3 (GS ! 22h): readable at arm's length by the elderly
SUBSTITUTE = "□"

FONT_FILES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2 = Noto Sans CJK SC
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)


@dataclass(frozen=True)
class TicketLayout:
    """What one ticket says; ``holder_masked`` must already be masked (张*三), never a name in clear."""

    hall_name: str
    service_name: str
    number: str
    people_ahead: int
    estimated_wait_min: int | None
    issued_at: dt.datetime  # local time of the hall
    status_url: str
    holder_masked: str | None = None
    window_hint: str | None = None
    footer: tuple[str, ...] = ()
    priority_mark: str | None = None  # e.g. "绿色通道" for the green channel, "预约" for appointments
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        name = self.holder_masked
        if name and len(name) > 1 and "*" not in name and "＊" not in name:
            raise ValueError("holder_masked must be a masked name such as 张*三, never the name in clear")


def printable_2byte(ch: str) -> bool:
    """Can a 2-byte-GB18030 printer print ``ch`` from its own font (ASCII or a 2-byte GB18030 code)?"""
    if ch == " " or (0x21 <= ord(ch) <= 0x7E):
        return True
    try:
        encoded = ch.encode("gb18030")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2


def _clean(text: str) -> str:
    """Drop control characters so that no text can smuggle a printer command into the stream."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


def encode_line(text: str) -> bytes | None:
    """GB18030 bytes of ``text`` when every character prints from the printer's font, else None."""
    text = _clean(text)
    if all(printable_2byte(ch) for ch in text):
        return text.encode("gb18030")
    return None


@functools.lru_cache(maxsize=8)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """A CJK font at ``size`` pixels (Noto Sans CJK SC, else WenQuanYi Zen Hei)."""
    for path, index in FONT_FILES:
        try:
            return ImageFont.truetype(path, size, index=index)
        except OSError:
            continue
    raise RuntimeError("no CJK font found; install fonts-noto-cjk or fonts-wqy-zenhei")


@functools.lru_cache(maxsize=8)
def _missing_mask(size: int) -> tuple[tuple[int, int], bytes]:
    mask = cjk_font(size).getmask("\U0010fffd")
    return mask.size, bytes(mask)


def _has_glyph(ch: str, size: int) -> bool:
    if ch.isspace():
        return True
    mask = cjk_font(size).getmask(ch)
    return (mask.size, bytes(mask)) != _missing_mask(size)


def render_line(text: str, width_px: int, size: int = 24, align: str = "center") -> Image.Image:
    """Draw one line as a 1-bit image ``width_px`` wide; glyphs the font lacks become □."""
    text = "".join(ch if _has_glyph(ch, size) else SUBSTITUTE for ch in _clean(text))
    font = cjk_font(size)
    left, _top, right, _bottom = font.getbbox(text or " ")
    ascent, descent = font.getmetrics()
    height = ascent + descent + 4
    image = Image.new("1", (width_px, height), 1)
    text_w = right - left
    x = {"left": 0, "right": width_px - text_w}.get(align, (width_px - text_w) // 2)
    ImageDraw.Draw(image).text((max(0, x) - left, 2), text, font=font, fill=0)
    return image


class _Ticket:
    """Accumulates one ticket's bytes through a python-escpos Dummy printer."""

    def __init__(self, profile: str) -> None:
        self.p = Dummy(profile=profile)
        width = self.p.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
        self.width_px = int(width) if isinstance(width, int) else 576

    def raw(self, data: bytes) -> None:
        self.p._raw(data)

    def line(self, text: str, *, align: str = "center", bold: bool = False, size: int = 1,
             reverse: bool = False) -> None:
        """One text line at ``size``× (GS !); rendered as a raster when the printer's font cannot."""
        self.p.set(align=align, bold=bold, custom_size=size > 1, width=size, height=size, invert=reverse)
        if size == 1:
            self.p.set(normal_textsize=True)
        encoded = encode_line(text)
        if encoded is not None:
            self.raw(encoded + b"\n")
        else:
            log.debug("line with characters outside 2-byte GB18030 printed as an image")
            self.raw(CHINESE_OFF)
            self.p.image(render_line(text, self.width_px, 24 * size, align), center=False)
            self.raw(CHINESE_ON)
        self.p.set(bold=False, invert=False, normal_textsize=True)

    def finish(self) -> bytes:
        self.raw(CHINESE_OFF)
        self.p.set(align="left")
        self.p.cut()
        return bytes(self.p.output)


def build_ticket(layout: TicketLayout, profile: str = DEFAULT_PROFILE) -> bytes:
    """The whole ticket: ESC @, Chinese mode, header, big number, queue facts, QR to the status page, cut."""
    t = _Ticket(profile)
    t.raw(b"\x1b\x40" + CHINESE_ON)
    t.line(layout.hall_name, bold=True, size=2 if len(layout.hall_name) <= 12 else 1)
    t.line(layout.service_name, bold=True)
    if layout.priority_mark:
        t.line(f" {layout.priority_mark} ", reverse=True, bold=True)
    t.line(layout.number, bold=True, size=NUMBER_SIZE)
    t.line(f"您前面还有 {layout.people_ahead} 人等候")
    if layout.estimated_wait_min is not None:
        t.line(f"预计等待约 {layout.estimated_wait_min} 分钟")
    if layout.window_hint:
        t.line(f"请留意 {layout.window_hint} 叫号")
    if layout.holder_masked:
        t.line(f"取号人：{layout.holder_masked}")
    t.line(f"取号时间：{layout.issued_at:%Y-%m-%d %H:%M}")
    t.p.set(align="center")
    t.p.qr(layout.status_url, native=True, size=6, ec=1)  # ec=1: level M, survives a smudge
    t.line("扫码查看排队进度")
    for text in layout.footer:
        t.line(text, align="left" if len(text) > 24 else "center")
    return t.finish()


def zone_name(moment: dt.datetime) -> str:
    """The zone of a printed time: its IANA name (Asia/Shanghai) or abbreviation; "" for a naive time."""
    key = getattr(moment.tzinfo, "key", None)
    return str(key) if key else (moment.tzname() or "")


def build_test_ticket(profile: str = DEFAULT_PROFILE, when: dt.datetime | None = None) -> bytes:
    """A self-test page for the technician: Chinese text, big digits, a raster line and a QR code."""
    t = _Ticket(profile)
    t.raw(b"\x1b\x40" + CHINESE_ON)
    t.line("打印机自检 PRINT TEST", bold=True, size=2)
    stamp = when or dt.datetime.now().astimezone()  # aware: the page says which zone its time is in
    t.line(f"{stamp:%Y-%m-%d %H:%M:%S} {zone_name(stamp)}")
    t.line("中文：请 A012 号到 3 号窗口办理")
    t.line("0123456789", size=NUMBER_SIZE)
    t.line("图像行：𠮷 𫖯 (生僻字)")
    t.p.set(align="center")
    t.p.qr("servicehall print test", native=True, size=6, ec=1)
    return t.finish()
