"""Ticket layout → ESC/POS bytes: Chinese mode, our own GB18030, big number, native QR, cut, rasters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from devices.ticket_printer.ticket import TicketLayout, build_test_ticket, build_ticket, encode_line, printable_2byte

URL = "https://hall.example/t/7f3a9c"


def layout(**changes: Any) -> TicketLayout:
    base: dict[str, Any] = dict(hall_name="新野县政务服务中心", service_name="社保业务", number="A012", people_ahead=5,
                estimated_wait_min=15, issued_at=dt.datetime(2024, 5, 1, 9, 30), status_url=URL,
                holder_masked="张*三", window_hint="3、5 号窗口", footer=("请妥善保管本票",))
    base.update(changes)
    return TicketLayout(**base)


def test_ticket_bytes_hold_every_required_command():
    data = build_ticket(layout())
    assert data.startswith(b"\x1b\x40\x1c\x26")  # ESC @ then FS & (Chinese mode on)
    assert "新野县政务服务中心".encode("gb18030") in data
    assert "社保业务".encode("gb18030") in data
    assert "您前面还有 5 人等候".encode("gb18030") in data
    assert "张*三".encode("gb18030") in data
    number = data.index(b"A012")
    assert b"\x1d\x21\x22" in data[number - 20:number]  # GS ! 3×3 right before the number
    store = b"\x1d\x28\x6b" + bytes((len(URL) + 3, 0)) + b"\x31\x50\x30" + URL.encode()
    assert store in data  # GS ( k fn 80 with pL pH = len + 3
    assert b"\x1d\x28\x6b\x03\x00\x31\x51\x30" in data  # print the symbol
    assert b"\x1c\x2e" in data  # FS . before the cut
    assert data.endswith(b"\x1d\x56\x00")  # full cut
    assert b"\x1b\x74" not in data  # python-escpos' code-page switch never sneaks in


def test_no_magic_encode_question_marks_for_fullwidth_punctuation():
    data = build_ticket(layout(footer=("：，（）",)))
    assert "：，（）".encode("gb18030") in data


def test_priority_mark_is_printed_reversed():
    data = build_ticket(layout(priority_mark="绿色通道"))
    mark = data.index("绿色通道".encode("gb18030"))
    assert b"\x1d\x42\x01" in data[mark - 30:mark]


def test_rare_name_character_becomes_a_raster_not_garbage():
    plain = build_ticket(layout())
    rare = build_ticket(layout(holder_masked="*𠮷"))
    assert "𠮷".encode("gb18030") not in rare  # a 4-byte GB18030 sequence prints garbage
    assert b"\x1d\x76\x30" not in plain
    assert b"\x1d\x76\x30" in rare  # GS v 0 raster line


def test_emoji_and_control_characters_never_reach_the_printer_as_bytes():
    data = build_ticket(layout(footer=("祝您办事顺利😀", "bad\x1b\x40text")))
    assert "😀".encode("gb18030") not in data
    assert "😀".encode() not in data
    assert b"bad\x1b" not in data and b"bad @text" in data


def test_printable_2byte():
    assert printable_2byte("张") and printable_2byte("A") and printable_2byte("：")
    assert not printable_2byte("𠮷") and not printable_2byte("😀") and not printable_2byte("\x1b")
    assert encode_line("请 A012 号到 3 号窗口办理") == bytes.fromhex(
        "C7EB2041303132 20BAC5B5BD 2033 20BAC5B4B0BFDAB0ECC0ED".replace(" ", ""))


def test_holder_name_in_clear_is_refused():
    with pytest.raises(ValueError, match="masked"):
        layout(holder_masked="张三丰")


def test_test_page_has_chinese_raster_and_qr():
    data = build_test_ticket()
    assert "打印机自检".encode("gb18030") in data and b"\x1d\x76\x30" in data and b"\x1d\x28\x6b" in data
