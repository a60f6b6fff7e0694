"""A certificate or proof from the e-licence library, laid out on A4 as a PDF with embedded Chinese fonts.

Why fpdf2 with Noto Sans CJK SC face 2: the font is embedded (a CUPS queue that goes through Ghostscript
never substitutes Latin garbage), the glyph shapes are Simplified Chinese (face 0 is the Japanese one), and
a character no font has is refused here, in words, before anything is drawn: fpdf2 itself would draw a blank.

fpdf2 parses a font per FPDF object (about 140 ms for the 19 MB .ttc, the cmap and the advance widths).
``FontBook`` parses each face once per process and gives every new document a clone that shares the
read-only tables, so a warm render costs only the subsetting on output (see BENCHMARKS.md).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import qrcode
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import FontFace, SubsetMap, TTFFont

from devices.errors import DeviceError

log = logging.getLogger(__name__)

__all__ = ["Certificate", "FontBook", "FontFile", "UnprintableText", "mask_id_number", "mask_name",
           "render_pdf"]

_NOTO = Path("/usr/share/fonts/opentype/noto")
_WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


class UnprintableText(DeviceError):
    """The certificate holds a character that no installed font can draw; printing it would leave a blank."""


def mask_name(name: str) -> str:
    """Keep the surname's first character, star the rest, as self-service proofs print it (张三 → 张*)."""
    name = name.strip()
    if len(name) < 2:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(id_number: str) -> str:
    """Keep the region code and the last four characters (110101********123X), hiding the birth date."""
    id_number = id_number.strip()
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


@dataclass(frozen=True)
class Certificate:
    """One proof to print; the holder's name and ID number are stored only masked (use ``for_holder``)."""

    title: str  # 参保证明
    department: str  # the issuing department, printed at the top and beside the date
    holder: str  # masked name, e.g. 张*
    holder_id: str  # masked ID number, e.g. 110101********1234
    serial: str  # the proof's number in the e-licence library, printed and put in the QR code
    issued: dt.date
    verify_url: str  # what the QR code holds: the library's check page for this serial
    headings: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    paragraphs: tuple[str, ...] = ()
    note: str = "本证明由自助终端打印，可扫描二维码或登录电子证照库核验真伪。"

    def __post_init__(self) -> None:
        if len(self.holder) >= 2 and "*" not in self.holder:
            raise ValueError("Certificate.holder must be masked (use Certificate.for_holder or mask_name)")
        if self.holder_id and "*" not in self.holder_id:
            raise ValueError("Certificate.holder_id must be masked (use Certificate.for_holder or mask_id_number)")
        for row in self.rows:
            if self.headings and len(row) != len(self.headings):
                raise ValueError(f"a table row has {len(row)} cells but there are {len(self.headings)} headings")

    @classmethod
    def for_holder(cls, *, name: str, id_number: str, **fields: object) -> Certificate:
        """Build a certificate from the clear name and ID number, keeping only their masked forms."""
        return cls(holder=mask_name(name), holder_id=mask_id_number(id_number), **fields)  # type: ignore[arg-type]

    def texts(self) -> Iterator[tuple[str, str]]:
        """Every (field, text) that ends up on the page, for the glyph check."""
        yield "title", self.title
        yield "department", self.department
        yield "holder", self.holder
        yield "holder_id", self.holder_id
        yield "serial", self.serial
        yield "note", self.note
        for i, heading in enumerate(self.headings):
            yield f"heading {i + 1}", heading
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                yield f"row {r + 1} cell {c + 1}", cell
        for i, paragraph in enumerate(self.paragraphs):
            yield f"paragraph {i + 1}", paragraph


@dataclass(frozen=True)
class FontFile:
    """One face of an installed font file (``index`` picks the face in a .ttc collection)."""

    family: str  # the fpdf2 family name used in the document
    path: Path
    index: int = 0
    style: str = ""  # "" or "B"


def _default_faces() -> tuple[list[FontFile], list[FontFile]]:
    # Each embedded face costs about 0.2 s of subsetting per document, so two: body and a Song-style title.
    main = [FontFile("sans", _NOTO / "NotoSansCJK-Regular.ttc", 2),
            FontFile("serif", _NOTO / "NotoSerifCJK-Bold.ttc", 2, "B")]
    fallback = [FontFile("wqy", _WQY, 0)]
    return main, fallback


class FontBook:
    """Installed faces parsed once per process, with a cmap check and cheap per-document clones."""

    def __init__(self, faces: Sequence[FontFile] | None = None, fallbacks: Sequence[FontFile] | None = None) -> None:
        default_main, default_fallback = _default_faces()
        self.faces = list(faces if faces is not None else default_main)
        self.fallbacks = list(fallbacks if fallbacks is not None else default_fallback)
        self._protos: dict[FontFile, TTFFont] = {}
        self._names: dict[FontFile, str] = {}
        self._lock = threading.Lock()

    def _proto(self, face: FontFile) -> TTFFont:
        with self._lock:
            cached = self._protos.get(face)
            if cached is not None:
                return cached
            if not face.path.is_file():
                raise UnprintableText(f"font file {face.path} is missing; install fonts-noto-cjk and "
                                      "fonts-wqy-zenhei (bash .ci/setup)")
            scratch = FPDF()
            scratch.add_font(face.family, face.style, str(face.path), collection_font_number=face.index)
            proto = scratch.fonts[face.family + face.style]
            assert isinstance(proto, TTFFont)  # a font added from a file is always a TrueType one
            self._names[face] = proto.ttfont["name"].getBestFullName()  # "Noto Sans CJK SC", for messages
            proto.ttfont.close()  # every document opens its own handle; the tables we keep are parsed
            self._protos[face] = proto
            log.debug("parsed font %s face %d (%s)", face.path, face.index, proto.name)
            return proto

    def font_name(self, face: FontFile) -> str:
        self._proto(face)
        return self._names[face]

    def has(self, face: FontFile, char: str) -> bool:
        return ord(char) in self._proto(face).cmap

    def check(self, texts: Iterator[tuple[str, str]], *, what: str = "certificate") -> set[FontFile]:
        """Raise UnprintableText naming every character no face can draw; return the fallbacks needed."""
        missing: list[str] = []
        needed: set[FontFile] = set()
        regular = [f for f in self.faces if f.family == self.faces[0].family and f.style == ""] or self.faces[:1]
        for name, text in texts:
            for char in dict.fromkeys(text):
                if char in "\n\r\t" or any(self.has(f, char) for f in regular):
                    continue
                extra = next((f for f in self.fallbacks if self.has(f, char)), None)
                if extra is None:
                    missing.append(f"{name} has {char!r} (U+{ord(char):04X})")
                else:
                    needed.add(extra)
        if missing:
            tried = ", ".join(dict.fromkeys(self.font_name(f) for f in [*regular, *self.fallbacks]))
            raise UnprintableText(f"{what} cannot be printed: {'; '.join(missing)}, which no installed font "
                                  f"has (tried {tried}); it would print as a blank, so issue it at a window")
        return needed

    def install(self, pdf: FPDF, face: FontFile) -> None:
        """Give ``pdf`` this face without re-parsing it: share the read-only tables, fresh subset state."""
        proto = self._proto(face)
        font = copy.copy(proto)
        font.i = len(pdf.fonts) + 1
        font.ttfont = ttLib.TTFont(str(face.path), recalcTimestamp=False, fontNumber=face.index, lazy=True)
        font.cw = proto.cw.copy()  # a defaultdict: its copy keeps the default width
        font.glyph_ids = dict(proto.glyph_ids)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.subset = SubsetMap(font)
        pdf.fonts[face.family + face.style] = font
        if font.is_cff and font.is_cid_keyed:
            pdf._set_min_pdf_version("1.6")


_BOOK: FontBook | None = None
_BOOK_LOCK = threading.Lock()


def default_font_book() -> FontBook:
    """The process-wide font book, so a kiosk parses its fonts once, not once per certificate."""
    global _BOOK
    with _BOOK_LOCK:
        if _BOOK is None:
            _BOOK = FontBook()
        return _BOOK


@dataclass
class _Layout:
    margin_mm: float = 20.0
    body_pt: float = 11.0
    small_pt: float = 9.0
    title_pt: float = 24.0
    qr_mm: float = 32.0


def render_pdf(cert: Certificate, *, book: FontBook | None = None) -> bytes:
    """Lay ``cert`` out on one A4 page (more if the table is long); blocking, so call it in a worker thread."""
    book = book or default_font_book()
    fallbacks = book.check(cert.texts(), what=f"certificate {cert.serial}")
    lay = _Layout()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(cert.title)
    pdf.set_creator("servicehall")
    pdf.set_margins(lay.margin_mm, lay.margin_mm, lay.margin_mm)
    pdf.set_auto_page_break(True, margin=lay.margin_mm + lay.qr_mm)
    for face in [*book.faces, *fallbacks]:
        book.install(pdf, face)
    if fallbacks:
        pdf.set_fallback_fonts(sorted({f.family for f in fallbacks}), exact_match=False)
    title_family = "serif" if any(f.family == "serif" for f in book.faces) else book.faces[0].family
    title_style = "B" if any(f.family == title_family and f.style == "B" for f in book.faces) else ""
    body = book.faces[0].family
    bold = "B" if any(f.family == body and f.style == "B" for f in book.faces) else ""

    pdf.add_page()
    width = pdf.epw
    pdf.set_font(body, "", lay.small_pt)
    pdf.cell(width / 2, 6, cert.department)
    pdf.cell(width / 2, 6, f"编号：{cert.serial}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(title_family, title_style, lay.title_pt)
    pdf.cell(width, 14, cert.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(body, "", lay.body_pt)
    pdf.cell(width * 0.4, 8, f"姓名：{cert.holder}")
    pdf.cell(width * 0.6, 8, f"公民身份号码：{cert.holder_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if cert.rows:
        heading_style = FontFace(emphasis="B" if bold else "", fill_color=(235, 235, 235))
        with pdf.table(headings_style=heading_style, first_row_as_headings=bool(cert.headings),
                       line_height=7, text_align="CENTER") as table:
            for row in ([cert.headings] if cert.headings else []) + list(cert.rows):
                cells = table.row()
                for cell in row:
                    cells.cell(cell)
        pdf.ln(4)
    for paragraph in cert.paragraphs:
        pdf.multi_cell(width, 7, "\u3000\u3000" + paragraph, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    # The footer block sits at the bottom of the last page: QR code left, department and date right.
    pdf.set_auto_page_break(False)  # the footer is placed inside the bottom margin on purpose
    top = pdf.h - lay.margin_mm - lay.qr_mm
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1, box_size=8)
    qr.add_data(cert.verify_url)
    qr.make(fit=True)
    pdf.image(qr.make_image().get_image(), x=lay.margin_mm, y=top, w=lay.qr_mm, h=lay.qr_mm)
    pdf.set_font(body, "", lay.small_pt)
    pdf.set_xy(lay.margin_mm, top + lay.qr_mm)
    pdf.cell(lay.qr_mm, 5, "扫码核验", align="C")
    pdf.set_font(body, "", lay.body_pt)
    pdf.set_xy(lay.margin_mm + width / 2, top + 6)
    pdf.cell(width / 2, 8, cert.department, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(lay.margin_mm + width / 2)
    pdf.cell(width / 2, 8, f"出具日期：{cert.issued.year}年{cert.issued.month:02d}月{cert.issued.day:02d}日",
             align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(body, "", lay.small_pt)
    pdf.set_xy(lay.margin_mm + lay.qr_mm + 4, top + lay.qr_mm - 2)
    pdf.cell(width - lay.qr_mm - 4, 5, cert.note, align="R")
    return bytes(pdf.output())
