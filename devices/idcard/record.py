"""The card's 256-byte text block as a frozen, typed record that never shows a name or ID number in clear.

Four layouts share the block, told apart by the UCS-2 type flag at byte 248 (protocols.md §1.6–1.8):
resident ID card (blank), foreign permanent residence card 2017 (``I``) and 2023 (``Y``), and the
Hong Kong/Macau/Taiwan residence permit (``J``). Photo and fingerprint stay opaque: decoding WLT needs a
licensed vendor library, so this module never pretends to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from devices.errors import ProtocolError

__all__ = ["NATIONS", "SEXES", "CardDataError", "CardKind", "IdCardRecord", "check_digit", "mask_id",
           "mask_name", "parse_text_block", "valid_id_number"]

TEXT_BLOCK_BYTES = 256
LONG_TERM = "长期"


class CardDataError(ProtocolError):
    """The card's text block is not a valid card record (bad check digit, impossible date, unknown layout)."""


class CardKind(StrEnum):
    """Which card was read; the value is the type flag at byte 248 (blank for the resident card)."""

    RESIDENT = "resident"
    FOREIGN_2017 = "I"
    HMT_PERMIT = "J"
    FOREIGN_2023 = "Y"


SEXES = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}

_NATION_TEXT = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 "
    "景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 "
    "裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
)
_NATION_NAMES = _NATION_TEXT.split()
#: GB 3304 nation codes as they appear on the card
NATIONS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_NATION_NAMES, start=1)}
NATIONS |= {"97": "其他", "98": "外国血统中国籍人士"}

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def check_digit(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) for the first 17 digits of an ID number."""
    return _CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def valid_id_number(number: str) -> bool:
    """Is ``number`` 17 digits plus the right check character?"""
    return (len(number) == 18 and number[:17].isascii() and number[:17].isdigit()
            and check_digit(number[:17]) == number[17].upper())


#: two-character surnames, kept whole when masking (欧阳娜娜 → 欧阳**) since half a surname reads oddly
_COMPOUND_TEXT = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 轩辕 端木 独孤 南宫 西门 百里 呼延 "
    "澹台 太史 申屠 公冶 万俟 闻人 赫连 钟离 宗政 濮阳 淳于 单于 太叔 仲孙 鲜于 闾丘 亓官 司空 拓跋"
)
COMPOUND_SURNAMES = frozenset(_COMPOUND_TEXT.split())


def mask_name(name: str) -> str:
    """Keep the surname, star the rest: 张三 → 张*, 欧阳娜娜 → 欧阳**; Latin names keep one letter: JOHN → J*."""
    if not name:
        return ""
    if name[0].isascii():
        return name[0] + "*"
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * (len(name) - keep)


def mask_id(number: str) -> str:
    """Keep the first 4 and last 4 characters: 1101**********001X."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def _mask_text(text: str, keep: int) -> str:
    return text[:keep] + "*" * max(0, len(text) - keep)


@dataclass(frozen=True, repr=False)
class IdCardRecord:
    """One card as read; ``str``/``repr`` are masked, ``as_dict(show_personal=True)`` is the only clear view."""

    kind: CardKind
    name: str  # Chinese name; for a 2017 foreign card without one, the English name
    sex: str  # code, see SEXES
    birth_date: dt.date
    id_number: str  # citizen ID number, permit number, or permanent residence card number
    valid_from: dt.date
    valid_to: dt.date | None  # None = 长期 (long-term)
    nation: str | None = None  # code, resident card only
    address: str = ""
    authority: str = ""
    english_name: str = ""
    nationality: str = ""  # country/region code on foreign cards
    pass_number: str = ""  # J: the HK/Macau/Taiwan travel permit number
    issue_count: str = ""  # J: 签发次数; Y: 换证次数
    card_version: str = ""  # I
    authority_code: str = ""  # I
    previous_number: str = ""  # Y: link to the 2017 card
    photo: bytes = b""  # WLT-compressed, opaque
    fingerprint: bytes = b""  # opaque feature data, 0/512/1024 bytes
    extra_address: str | None = None

    @property
    def sex_text(self) -> str:
        return SEXES.get(self.sex, self.sex)

    @property
    def nation_text(self) -> str | None:
        return None if self.nation is None else NATIONS.get(self.nation, self.nation)

    @property
    def long_term(self) -> bool:
        return self.valid_to is None

    def age_on(self, day: dt.date) -> int:
        """Completed years on ``day`` (the green channel opens at 60)."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday

    def expired_on(self, day: dt.date) -> bool:
        return self.valid_to is not None and day > self.valid_to

    def holder_key(self, secret: bytes) -> str:
        """HMAC-SHA256 of the number: lets the server match "one open ticket per person" without the number."""
        return hmac.new(secret, self.id_number.encode("ascii", "replace"), hashlib.sha256).hexdigest()

    def with_extra_address(self, address: str | None) -> IdCardRecord:
        return _replace(self, extra_address=address)

    def with_images(self, photo: bytes, fingerprint: bytes) -> IdCardRecord:
        return _replace(self, photo=photo, fingerprint=fingerprint)

    def as_dict(self, show_personal: bool = False) -> dict[str, Any]:
        """JSON-ready fields; names, numbers and addresses are masked unless ``show_personal``."""
        if not show_personal:
            return self.masked()
        return {
            **self._common(),
            "name": self.name, "english_name": self.english_name, "id_number": self.id_number,
            "address": self.address, "extra_address": self.extra_address, "pass_number": self.pass_number,
            "previous_number": self.previous_number,
            "birth_date": self.birth_date.isoformat(),
        }

    def masked(self) -> dict[str, Any]:
        """What a log, a screen or a ticket may show: masked name and number, birth year, 3 address characters."""
        return {
            **self._common(),
            "name": mask_name(self.name), "english_name": mask_name(self.english_name),
            "id_number": mask_id(self.id_number),
            "address": _mask_text(self.address, 3), "extra_address": (
                None if self.extra_address is None else _mask_text(self.extra_address, 3)),
            "pass_number": mask_id(self.pass_number), "previous_number": "*" * len(self.previous_number),
            "birth_date": f"{self.birth_date.year:04d}",
        }

    def _common(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "sex": self.sex_text, "nation": self.nation_text, "authority": self.authority,
            "nationality": self.nationality, "issue_count": self.issue_count, "card_version": self.card_version,
            "authority_code": self.authority_code,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": LONG_TERM if self.valid_to is None else self.valid_to.isoformat(),
            "photo_bytes": len(self.photo), "fingerprint_bytes": len(self.fingerprint),
        }

    def __repr__(self) -> str:
        return (f"IdCardRecord({self.kind.value}, name={mask_name(self.name)!r}, "
                f"id_number={mask_id(self.id_number)!r}, valid_to={self.valid_to})")

    __str__ = __repr__


def _replace(record: IdCardRecord, **changes: Any) -> IdCardRecord:
    import dataclasses

    return dataclasses.replace(record, **changes)


# ---- parsing ---------------------------------------------------------------------------------------
class _Block:
    """Field access on the UCS-2LE block with errors that name the field, never its content."""

    def __init__(self, data: bytes) -> None:
        if len(data) != TEXT_BLOCK_BYTES:
            raise CardDataError(f"the card's text block has {len(data)} bytes, expected {TEXT_BLOCK_BYTES}; "
                                "ask the citizen to place the card again")
        self.data = data

    def text(self, offset: int, size: int, field: str, strip: bool = True) -> str:
        try:
            value = self.data[offset:offset + size].decode("utf-16-le")
        except UnicodeDecodeError as err:
            raise CardDataError(f"the card's {field} field is not valid UCS-2 text; "
                                "ask the citizen to place the card again") from err
        return value.rstrip(" \x00") if strip else value

    def date(self, offset: int, field: str, *, long_term_ok: bool = False) -> dt.date | None:
        value = self.text(offset, 16, field)
        if long_term_ok and value.startswith(LONG_TERM):
            return None
        try:
            if len(value) != 8 or not value.isascii() or not value.isdigit():
                raise ValueError(value)
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError as err:
            raise CardDataError(f"the card's {field} is not a valid YYYYMMDD date; "
                                "ask the citizen to place the card again") from err

    def code(self, offset: int, size: int, field: str, table: dict[str, str]) -> str:
        value = self.text(offset, size, field)
        if value not in table:
            raise CardDataError(f"the card's {field} code is not a known one; ask the citizen to place the card again")
        return value


def _check_id(number: str, birth: dt.date | None, what: str) -> None:
    if not valid_id_number(number):
        raise CardDataError(f"the {what} on the card fails the GB 11643 check digit; ask the citizen to place "
                            "the card again, and check the card by hand if it repeats")
    if birth is not None and number[6:14] != birth.strftime("%Y%m%d"):
        raise CardDataError(f"the {what} on the card does not match its birth date; check the card by hand")


def _check_validity(valid_from: dt.date, valid_to: dt.date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise CardDataError("the card's validity ends before it starts; check the card by hand")


def parse_text_block(data: bytes) -> IdCardRecord:
    """Parse the 256-byte text block into a record, by the type flag at byte 248; CardDataError if invalid."""
    block = _Block(data)
    flag = data[248:250]
    if flag in (b"\x20\x00", b"\x00\x00"):
        return _resident(block)
    parsers = {b"I\x00": _foreign_2017, b"J\x00": _hmt_permit, b"Y\x00": _foreign_2023}
    parser = parsers.get(flag)
    if parser is None:
        raise CardDataError(f"unknown card type flag {flag.hex(' ')} at byte 248; this card type is not supported")
    return parser(block)


def _dates(block: _Block) -> tuple[dt.date, dt.date | None]:
    valid_from = block.date(188, "valid-from date")
    valid_to = block.date(204, "valid-to date", long_term_ok=True)
    assert valid_from is not None
    _check_validity(valid_from, valid_to)
    return valid_from, valid_to


def _birth(block: _Block, offset: int) -> dt.date:
    birth = block.date(offset, "birth date")
    assert birth is not None
    return birth


def _resident(block: _Block) -> IdCardRecord:
    birth = _birth(block, 36)
    number = block.text(122, 36, "ID number")
    _check_id(number, birth, "ID number")
    valid_from, valid_to = _dates(block)
    return IdCardRecord(
        kind=CardKind.RESIDENT, name=block.text(0, 30, "name"), sex=block.code(30, 2, "sex", SEXES),
        nation=block.code(32, 4, "nation", NATIONS), birth_date=birth, address=block.text(52, 70, "address"),
        id_number=number, authority=block.text(158, 30, "issuing authority"),
        valid_from=valid_from, valid_to=valid_to)


def _hmt_permit(block: _Block) -> IdCardRecord:
    birth = _birth(block, 36)
    number = block.text(122, 36, "permit number")
    _check_id(number, birth, "permit number")
    if number[:6] not in ("810000", "820000", "830000"):
        raise CardDataError("the residence permit number does not start with 810000, 820000 or 830000; "
                            "check the card by hand")
    valid_from, valid_to = _dates(block)
    return IdCardRecord(
        kind=CardKind.HMT_PERMIT, name=block.text(0, 30, "name"), sex=block.code(30, 2, "sex", SEXES),
        birth_date=birth, address=block.text(52, 70, "address"), id_number=number,
        authority=block.text(158, 30, "issuing authority"), valid_from=valid_from, valid_to=valid_to,
        pass_number=block.text(220, 18, "pass number"), issue_count=block.text(238, 4, "issue count"))


def _foreign_2017(block: _Block) -> IdCardRecord:
    english = block.text(0, 120, "English name")
    number = block.text(122, 30, "card number")
    if not (len(number) == 15 and number[:3].isascii() and number[:3].isalpha() and number[3:].isascii()
            and number[3:].isdigit()):
        raise CardDataError("the permanent residence card number is not 3 letters and 12 digits; "
                            "check the card by hand")
    chinese = block.text(158, 30, "Chinese name")
    valid_from, valid_to = _dates(block)
    return IdCardRecord(
        kind=CardKind.FOREIGN_2017, name=chinese or english, english_name=english,
        sex=block.code(120, 2, "sex", SEXES), id_number=number, nationality=block.text(152, 6, "nationality"),
        valid_from=valid_from, valid_to=valid_to, birth_date=_birth(block, 220),
        card_version=block.text(236, 4, "card version"), authority_code=block.text(240, 8, "authority code"))


def _foreign_2023(block: _Block) -> IdCardRecord:
    birth = _birth(block, 36)
    number = block.text(122, 36, "card number")
    _check_id(number, None, "card number")
    if number[0] != "9":
        raise CardDataError("the 2023 permanent residence card number does not start with 9; check the card by hand")
    english = (block.text(52, 70, "English name", strip=False) + block.text(220, 22, "English name")).rstrip(" \x00")
    valid_from, valid_to = _dates(block)
    return IdCardRecord(
        kind=CardKind.FOREIGN_2023, name=block.text(0, 30, "Chinese name") or english, english_name=english,
        sex=block.code(30, 2, "sex", SEXES), issue_count=block.text(32, 4, "renewal count"), birth_date=birth,
        id_number=number, valid_from=valid_from, valid_to=valid_to,
        nationality=block.text(242, 6, "country code"), previous_number=block.text(250, 6, "previous card link"))
