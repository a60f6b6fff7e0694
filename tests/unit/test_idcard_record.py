"""The 256-byte text block: four card layouts, check digits, dates, masking that never leaks, fuzzing."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import DeviceError
from devices.idcard import cards
from devices.idcard.record import (
    NATIONS,
    CardDataError,
    CardKind,
    check_digit,
    mask_id,
    mask_name,
    parse_text_block,
    valid_id_number,
)

D = dt.date


def _block(**fields: tuple[int, int, str]) -> bytes:
    """A resident block from the deck's first card with some fields overwritten (offset, size, text)."""
    block = bytearray(cards.DECKS["default"][0].text)
    for offset, size, text in fields.values():
        block[offset:offset + size] = text.ljust(size // 2).encode("utf-16-le")
    return bytes(block)


def test_check_digit_follows_gb11643_worked_examples():
    # the standard's own example number and a number whose check character is X
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"
    assert valid_id_number("11010519491231002X")
    assert valid_id_number("11010519491231002x")
    assert not valid_id_number("110105194912310021")
    assert not valid_id_number("1101051949123100")
    assert not valid_id_number("11010519491231002Ｘ")


def test_resident_card_fields():
    record = parse_text_block(cards.DECKS["default"][0].text)
    assert record.kind is CardKind.RESIDENT
    assert record.name == "李测试"
    assert (record.sex, record.sex_text) == ("1", "男")
    assert (record.nation, record.nation_text) == ("01", "汉")
    assert record.birth_date == D(1985, 3, 14)
    assert record.address == "样例省演示市示范区测试路88号"
    assert record.id_number == "110101" + "19850314" + "123" + check_digit("11010119850314123")
    assert record.authority == "演示市公安局示范分局"
    assert (record.valid_from, record.valid_to) == (D(2016, 5, 1), D(2026, 5, 1))
    assert not record.long_term
    assert record.expired_on(D(2026, 5, 2)) and not record.expired_on(D(2026, 5, 1))


def test_long_term_validity_and_age_for_green_channel():
    record = parse_text_block(cards.DECKS["elderly"][0].text)
    assert record.valid_to is None and record.long_term
    assert record.as_dict(show_personal=True)["valid_to"] == "长期"
    assert record.nation_text == "满"
    assert record.age_on(D(2010, 11, 1)) == 59
    assert record.age_on(D(2010, 11, 2)) == 60
    assert not record.expired_on(D(2099, 1, 1))


def test_hk_macau_taiwan_permit():
    record = parse_text_block(cards.DECKS["foreign"][2].text)
    assert record.kind is CardKind.HMT_PERMIT
    assert record.name == "陈演示"
    assert record.nation is None
    assert record.id_number.startswith("810000") and valid_id_number(record.id_number)
    assert (record.pass_number, record.issue_count) == ("H12345678", "01")
    assert record.birth_date == D(1990, 6, 30)


def test_foreign_permanent_residence_card_2017():
    record = parse_text_block(cards.DECKS["foreign"][0].text)
    assert record.kind is CardKind.FOREIGN_2017
    assert (record.english_name, record.name) == ("SAMPLE TESTER", "样例")
    assert (record.id_number, record.nationality) == ("CAN110085061501", "CAN")
    assert record.birth_date == D(1985, 6, 15)
    assert (record.card_version, record.authority_code) == ("01", "1100")


def test_foreign_permanent_residence_card_2023_joins_the_split_english_name():
    record = parse_text_block(cards.DECKS["foreign"][1].text)
    assert record.kind is CardKind.FOREIGN_2023
    assert record.name == "演示者"
    # 35 characters in the first field (the 35th a space), the rest in the second: the seam's space survives
    assert record.english_name == "EXAMPLEPERSON WITH A VERY LONG ABC DEFGHIJ"
    assert record.id_number[0] == "9" and valid_id_number(record.id_number)
    assert record.nationality == "USA"


def test_every_deck_card_parses():
    kinds = {parse_text_block(card.text).kind for card in cards.DECKS["default"]}
    assert kinds == set(CardKind)


@pytest.mark.parametrize(("fields", "words"), [
    ({"id": (122, 36, "110101198503141230")}, "check digit"),
    ({"id": (122, 36, "11010119850315123" + check_digit("11010119850315123"))}, "birth date"),
    ({"birth": (36, 16, "19850230")}, "birth date is not a valid YYYYMMDD"),
    ({"birth": (36, 16, "1985031")}, "birth date"),
    ({"from": (188, 16, "20161301")}, "valid-from"),
    ({"to": (204, 16, "20060501")}, "ends before it starts"),
    ({"sex": (30, 2, "5")}, "sex code"),
    ({"nation": (32, 4, "57")}, "nation code"),
    ({"flag": (248, 2, "Z")}, "card type flag"),
])
def test_invalid_blocks_raise_card_data_error_without_the_number(fields, words):
    with pytest.raises(CardDataError, match=words) as caught:
        parse_text_block(_block(**fields))
    assert "11010119850314" not in str(caught.value)
    assert "李测试" not in str(caught.value)


def test_wrong_block_size_and_bad_ucs2():
    with pytest.raises(CardDataError, match="255 bytes"):
        parse_text_block(bytes(255))
    block = bytearray(cards.DECKS["default"][0].text)
    block[0:2] = b"\x00\xd8"  # a lone high surrogate is not UCS-2
    with pytest.raises(CardDataError, match="name field is not valid UCS-2"):
        parse_text_block(bytes(block))


def test_nation_table_is_complete():
    assert len(NATIONS) == 58
    assert (NATIONS["01"], NATIONS["56"], NATIONS["98"]) == ("汉", "基诺", "外国血统中国籍人士")


def test_masking_rules():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("欧阳") == "欧*"
    assert mask_name("李测试") == "李**"
    assert mask_name("JOHN SMITH") == "J*"
    assert mask_id("11010519491231002X") == "1101**********002X"
    assert mask_id("CAN110085061501") == "CAN1*******1501"


def test_str_repr_masked_and_as_dict_never_show_name_or_number(caplog):
    logger = logging.getLogger("test.idcard")
    for card in cards.DECKS["default"]:
        record = parse_text_block(card.text)
        secrets = [record.name, record.id_number, record.address or "\x00never"]
        if record.english_name:
            secrets.append(record.english_name)
        with caplog.at_level(logging.DEBUG):
            logger.info("read %s", record)
            logger.info("read %r", record)
            logger.info("fields %s", record.masked())
            logger.info("dict %s", record.as_dict(show_personal=False))
        text = caplog.text + str(record) + repr(record) + str(record.masked())
        for secret in secrets:
            assert secret not in text
        assert mask_id(record.id_number) in text
        clear = record.as_dict(show_personal=True)
        assert clear["name"] == record.name and clear["id_number"] == record.id_number
        caplog.clear()


def test_holder_key_is_hmac_of_the_number():
    record = parse_text_block(cards.DECKS["default"][0].text)
    key = record.holder_key(b"hall-secret")
    assert key == hmac.new(b"hall-secret", record.id_number.encode(), hashlib.sha256).hexdigest()
    assert record.id_number not in key
    assert key != record.holder_key(b"other-secret")
    assert key == parse_text_block(cards.DECKS["resident"][0].text).holder_key(b"hall-secret")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_fuzz_random_bytes_give_a_record_or_our_error(data):
    try:
        record = parse_text_block(data)
    except DeviceError as err:
        assert isinstance(err, CardDataError)
    else:
        assert isinstance(record.kind, CardKind)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(cards.DECKS["default"]) - 1), st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)),
                                                                  min_size=1, max_size=6))
def test_fuzz_corrupted_cards_give_a_record_or_our_error(index, flips):
    block = bytearray(cards.DECKS["default"][index].text)
    for pos, value in flips:
        block[pos] = value
    try:
        record = parse_text_block(bytes(block))
    except CardDataError as err:
        assert "place the card again" in str(err) or "by hand" in str(err) or "not supported" in str(err)
    else:
        assert valid_id_number(record.id_number) or record.kind is CardKind.FOREIGN_2017
