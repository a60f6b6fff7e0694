"""What a call says: token sequences for typical calls, number reading, and validation with words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.speaker.tts import (
    CHIME,
    PAUSE,
    TOKENS,
    Call,
    announcement_tokens,
    number_tokens,
    spoken_text,
    ticket_tokens,
)

DIGITS = "零一二三四五六七八九"


def test_a012_to_window_3() -> None:
    call = Call("A012", 3)
    assert call.tokens == ["请", "A", "零", "一", "二", "号", "到", "三", "号窗口", "办理"]
    assert spoken_text(call.tokens) == "请A零一二号到三号窗口办理"
    assert call.display == "请 A012 号到 3 号窗口办理"


def test_said_twice_after_a_chime() -> None:
    tokens = announcement_tokens(Call("A012", 3))
    sentence = Call("A012", 3).tokens
    assert tokens == [CHIME, *sentence, PAUSE, *sentence]
    assert announcement_tokens(Call("A012", 3), repeat=1) == [CHIME, *sentence]
    assert announcement_tokens(Call("A012", 3), repeat=1, chime=False) == sentence
    with pytest.raises(ValueError, match="repeat"):
        announcement_tokens(Call("A012", 3), repeat=0)


def test_green_channel_and_recall() -> None:
    green = Call("G005", 1, green=True)
    assert green.tokens == ["请", "G", "零", "零", "五", "号", "到", "绿色通道", "一", "号窗口", "办理"]
    assert green.display == "请 G005 号到 绿色通道 1 号窗口办理"
    recall = Call("B100", 12, recall=True)
    assert recall.tokens[:2] == ["请注意", "请"]
    assert spoken_text(recall.tokens) == "请注意请B一零零号到十二号窗口办理"


def test_letters_one_by_one_and_lower_case_accepted() -> None:
    assert ticket_tokens("ab7") == ["A", "B", "七"]
    assert ticket_tokens("Z9") == ["Z", "九"]
    assert ticket_tokens("0007") == ["零", "零", "零", "七"]
    assert Call(" w12 ", 2).ticket == "W12"


@pytest.mark.parametrize(("window", "said"), [
    (1, "一"), (3, "三"), (10, "十"), (11, "十一"), (12, "十二"), (20, "二十"), (21, "二十一"),
    (99, "九十九"), (100, "一百"), (101, "一百零一"), (110, "一百一十"), (115, "一百一十五"),
    (150, "一百五十"), (999, "九百九十九"), (1000, "一零零零"), (0, "零"),
])
def test_window_read_as_a_number(window: int, said: str) -> None:
    assert "".join(number_tokens(window)) == said


@pytest.mark.parametrize("bad", ["", "A", "A-12", "ABCD1", "A1234567", "甲12", "12A"])
def test_bad_ticket_numbers_are_refused_with_words(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot announce ticket"):
        Call(bad, 3)


@pytest.mark.parametrize("bad", [-1, True, 2.5, "3"])
def test_bad_window_numbers_are_refused_with_words(bad: object) -> None:
    with pytest.raises(ValueError, match="cannot announce window"):
        Call("A001", bad)  # type: ignore[arg-type]


def _read_chinese_number(tokens: list[str]) -> int:
    """An independent reader of the cardinal numbers 0..999 (and digit strings), to check number_tokens."""
    if all(t in DIGITS for t in tokens):
        return int("".join(str(DIGITS.index(t)) for t in tokens))
    value, pending = 0, None
    for t in tokens:
        if t == "百":
            value += (pending or 1) * 100
            pending = None
        elif t == "十":
            value += (pending or 1) * 10
            pending = None
        elif t == "零":
            pending = None
        else:
            pending = DIGITS.index(t)
    return value + (pending or 0)


@given(st.integers(min_value=0, max_value=99999))
def test_every_window_number_reads_back(window: int) -> None:
    tokens = number_tokens(window)
    assert all(t in TOKENS for t in tokens)
    assert _read_chinese_number(tokens) == window


@given(st.from_regex(r"[A-Za-z]{0,3}[0-9]{1,6}", fullmatch=True), st.integers(0, 2000), st.booleans(),
       st.booleans(), st.integers(1, 3))
def test_every_call_uses_only_library_tokens(ticket: str, window: int, green: bool, recall: bool,
                                             repeat: int) -> None:
    call = Call(ticket, window, green=green, recall=recall)
    tokens = announcement_tokens(call, repeat)
    assert all(t in TOKENS for t in tokens)
    assert tokens.count(CHIME) == 1 and tokens.count(PAUSE) == repeat - 1
    said = ticket_tokens(ticket)
    assert "".join(t if t.isascii() else str(DIGITS.index(t)) for t in said) == ticket.upper()
