"""Simulated card decks: invented people only, with valid check digits, in all four text-block layouts.

A deck is data (a name → list of cards); ``sim+sam+serial://?deck=NAME`` picks one. Every name, address
and number here is made up; the numbers are built with the GB 11643 check digit so drivers accept them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from devices.idcard.record import LONG_TERM, check_digit

__all__ = ["DECKS", "SimCard", "deck", "foreign_2017", "foreign_2023", "hmt_permit", "id_number", "resident"]


@dataclass(frozen=True)
class SimCard:
    """One card the simulated reader can hold: its text block, opaque photo and fingerprint, extra address."""

    label: str  # a non-personal description for logs ("resident, long-term")
    text: bytes
    photo: bytes
    fingerprint: bytes = b""
    extra_address: str | None = None

    def __repr__(self) -> str:
        return f"SimCard({self.label!r})"


def id_number(first17: str) -> str:
    """Complete 17 digits with their check character."""
    return first17 + check_digit(first17)


def _opaque(label: str, size: int) -> bytes:
    """Deterministic filler standing in for WLT photo or fingerprint data (never decodable)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


class _Layout:
    """Write fields into a blank 256-byte block the way the card stores them (UCS-2LE, space padded)."""

    def __init__(self, flag: str = " ") -> None:
        self.block = bytearray(" ".encode("utf-16-le") * 128)
        self.put(248, 2, flag)

    def put(self, offset: int, size: int, text: str) -> _Layout:
        raw = text.encode("utf-16-le")
        if len(raw) > size:
            raise ValueError(f"{len(text)} characters do not fit a {size}-byte field at {offset}")
        self.block[offset:offset + len(raw)] = raw
        return self

    def date(self, offset: int, day: dt.date | None) -> _Layout:
        return self.put(offset, 16, LONG_TERM if day is None else day.strftime("%Y%m%d"))

    def card(self, label: str, fingerprint_bytes: int = 0, extra_address: str | None = None) -> SimCard:
        return SimCard(label, bytes(self.block), _opaque(label + "/photo", 1024),
                       _opaque(label + "/fp", fingerprint_bytes), extra_address)


def resident(label: str, name: str, sex: str, nation: str, birth: dt.date, address: str, region: str,
             sequence: str, authority: str, valid_from: dt.date, valid_to: dt.date | None,
             fingerprint_bytes: int = 0, extra_address: str | None = None) -> SimCard:
    """A resident ID card; the number is region + birth date + 3-digit sequence + check digit."""
    number = id_number(region + birth.strftime("%Y%m%d") + sequence)
    layout = (_Layout().put(0, 30, name).put(30, 2, sex).put(32, 4, nation).date(36, birth).put(52, 70, address)
              .put(122, 36, number).put(158, 30, authority).date(188, valid_from).date(204, valid_to))
    return layout.card(label, fingerprint_bytes, extra_address)


def hmt_permit(label: str, name: str, sex: str, birth: dt.date, address: str, prefix: str, sequence: str,
               authority: str, valid_from: dt.date, valid_to: dt.date, pass_number: str, issue_count: str) -> SimCard:
    """A Hong Kong/Macau/Taiwan residence permit (``J``); ``prefix`` is 810000, 820000 or 830000."""
    number = id_number(prefix + birth.strftime("%Y%m%d") + sequence)
    layout = (_Layout("J").put(0, 30, name).put(30, 2, sex).date(36, birth).put(52, 70, address)
              .put(122, 36, number).put(158, 30, authority).date(188, valid_from).date(204, valid_to)
              .put(220, 18, pass_number).put(238, 4, issue_count))
    return layout.card(label)


def foreign_2017(label: str, english_name: str, sex: str, number: str, nationality: str, chinese_name: str,
                 valid_from: dt.date, valid_to: dt.date, birth: dt.date) -> SimCard:
    """A 2017 foreign permanent residence card (``I``); ``number`` is 3 letters + 12 digits."""
    layout = (_Layout("I").put(0, 120, english_name).put(120, 2, sex).put(122, 30, number)
              .put(152, 6, nationality).put(158, 30, chinese_name).date(188, valid_from).date(204, valid_to)
              .date(220, birth).put(236, 4, "01").put(240, 8, "1100"))
    return layout.card(label)


def foreign_2023(label: str, chinese_name: str, english_name: str, sex: str, birth: dt.date, first17: str,
                 valid_from: dt.date, valid_to: dt.date, country: str) -> SimCard:
    """A 2023 foreign permanent residence card (``Y``); the English name spills into a second field."""
    layout = (_Layout("Y").put(0, 30, chinese_name).put(30, 2, sex).put(32, 4, "00").date(36, birth)
              .put(52, 70, english_name[:35]).put(122, 36, id_number(first17)).date(188, valid_from)
              .date(204, valid_to).put(220, 22, english_name[35:46]).put(242, 6, country))
    return layout.card(label)


_D = dt.date
_RESIDENT = resident("resident, male, 10-year validity", "李测试", "1", "01", _D(1985, 3, 14),
                     "样例省演示市示范区测试路88号", "110101", "123", "演示市公安局示范分局",
                     _D(2016, 5, 1), _D(2026, 5, 1))
_ELDERLY = resident("resident, female, 60+, long-term, 512-byte fingerprint, extra address", "欧阳示范", "2", "11",
                    _D(1950, 11, 2), "样例省演示市模拟县试验镇一号街2号", "110102", "246", "演示市公安局模拟分局",
                    _D(2012, 8, 20), None, 512, "样例省演示市新区测试大道100号")
_RESIDENT_FP = resident("resident, female, 1024-byte fingerprint", "王样例", "2", "05", _D(1999, 12, 31),
                        "样例省演示市示范区样本街7号", "110105", "008", "演示市公安局样本分局",
                        _D(2020, 1, 1), _D(2040, 1, 1), 1024)
_EXPIRED = resident("resident, male, expired on 2019-01-01", "赵过期", "1", "01", _D(1979, 4, 8),
                    "样例省演示市示范区旧城路5号", "110101", "357", "演示市公安局示范分局", _D(2009, 1, 1),
                    _D(2019, 1, 1))
_HMT = hmt_permit("HK/Macau/Taiwan residence permit (J)", "陈演示", "1", _D(1990, 6, 30),
                  "样例省演示市示范区港湾路3号", "810000", "017", "演示市公安局", _D(2021, 9, 1), _D(2026, 9, 1),
                  "H12345678", "01")
_FOREIGN_2017 = foreign_2017("foreign permanent residence card 2017 (I)", "SAMPLE TESTER", "1", "CAN110085061501",
                             "CAN", "样例", _D(2018, 3, 1), _D(2028, 3, 1), _D(1985, 6, 15))
_FOREIGN_2023 = foreign_2023("foreign permanent residence card 2023 (Y)", "演示者",
                             "EXAMPLEPERSON WITH A VERY LONG ABC DEFGHIJ", "2", _D(1978, 1, 9),
                             "93110107801090015", _D(2024, 1, 1), _D(2034, 1, 1), "USA")

#: deck name → cards; the first card is on the reader when a simulator starts (except "empty")
DECKS: dict[str, tuple[SimCard, ...]] = {
    "default": (_RESIDENT, _ELDERLY, _RESIDENT_FP, _HMT, _FOREIGN_2017, _FOREIGN_2023),
    "resident": (_RESIDENT, _ELDERLY, _RESIDENT_FP),
    "elderly": (_ELDERLY,),
    "expired": (_EXPIRED,),
    "foreign": (_FOREIGN_2017, _FOREIGN_2023, _HMT),
    "empty": (),
}


def deck(name: str) -> tuple[SimCard, ...]:
    """Look a deck up by name, with an error listing the known decks."""
    try:
        return DECKS[name]
    except KeyError:
        raise ValueError(f"unknown card deck {name!r}; known decks: {', '.join(DECKS)}") from None
