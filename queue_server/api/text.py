"""Which text the API accepts: whatever a name or a reason needs, nothing a store cannot keep or a screen
would show wrongly.

Refused, wherever text enters (body fields, path segments, query parameters):

- lone surrogates (U+D800–U+DFFF): valid JSON escapes, but no UTF-8 store can keep them;
- control characters, C0, DEL and C1 (NUL, ESC, newline, U+0085 …): every field is one line on a
  screen, a ticket or a log line, and a NUL or an escape sequence does not belong on any of them;
- bidirectional controls (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069): they reorder what the wall
  and the window screens show (U+202E before "1 号窗口" shows it mirrored);
- other invisible format characters (category Cf: zero-width space, BOM, soft hyphen, tag characters),
  except ZWNJ/ZWJ (U+200C/D), which Arabic-script (Uyghur) and Indic names need to be shaped right;
- line and paragraph separators (U+2028/9) and noncharacters (U+FDD0–U+FDEF, U+xFFFE/U+xFFFF).

Accepted: everything else, including 4-byte characters (CJK Extension B and later, e.g. 𬌗 𠀾, common
in names), private-use characters (older ID-card systems map rare name characters there) and code
points this Python's Unicode database does not know yet (new CJK extensions are assigned every year).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_BIDI = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
_JOINERS = frozenset({0x200C, 0x200D})


@dataclass(frozen=True)
class TextProblem:
    """The first character that makes a text unacceptable, in words for both languages."""

    position: int
    code_point: int
    kind_en: str
    kind_zh: str

    @property
    def code_point_label(self) -> str:
        return f"U+{self.code_point:04X}"


def _kind(code: int, char: str) -> tuple[str, str] | None:
    if 0xD800 <= code <= 0xDFFF:
        return "a lone surrogate", "孤立的代理码位"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return "a control character", "控制字符"
    if code in _BIDI:
        return "a bidirectional text control", "文字方向控制符"
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return "a noncharacter", "非字符"
    category = unicodedata.category(char)
    if category == "Cf" and code not in _JOINERS:
        return "an invisible format character", "不可见的格式字符"
    if category in ("Zl", "Zp"):
        return "a line or paragraph separator", "换行符"
    return None


def text_problem(value: str) -> TextProblem | None:
    """Why ``value`` cannot be accepted, or None; printable ASCII is checked without a lookup."""
    if value.isascii() and value.isprintable():
        return None
    for position, char in enumerate(value):
        code = ord(char)
        if 0x20 <= code < 0x7F:
            continue
        kind = _kind(code, char)
        if kind is not None:
            return TextProblem(position, code, *kind)
    return None
