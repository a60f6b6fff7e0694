"""APDU building, status words, T=0 rules and social-security TLV fields, without any reader."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import DeviceError, DeviceStatusError, ProtocolError
from devices.smartcard.apdu import (
    ApduError,
    AuthenticationRequired,
    CardStatusError,
    CommandApdu,
    FileNotFound,
    ResponseApdu,
    T0Exchange,
    WrongLength,
    bcd_digits,
    check,
    describe_sw,
    gbk_text,
    iter_tlv,
    parse_tlv,
    read_record,
    select_by_name,
    select_file,
)
from devices.smartcard.social_security import SSSE_NAME, mask_name, mask_number
from devices.smartcard.virtual_card import CardApplet, make_deck


# ---- command APDUs: the four ISO 7816-3 cases ----------------------------------------------------------
def test_case_1_is_header_only():
    apdu = CommandApdu(0x00, 0xA4, 0x00, 0x0C)
    assert apdu.case == 1 and apdu.to_bytes() == bytes.fromhex("00A4000C")


def test_case_2_has_le_only_and_le_256_encodes_as_00():
    assert CommandApdu(0x00, 0x84, 0, 0, le=8).to_bytes() == bytes.fromhex("0084000008")
    assert CommandApdu(0x00, 0xB2, 1, 4, le=256).to_bytes() == bytes.fromhex("00B2010400")
    assert CommandApdu(0x00, 0x84, 0, 0, le=8).case == 2


def test_case_3_and_4_carry_lc():
    three = select_file(0xEF06)
    assert three.case == 3 and three.to_bytes() == bytes.fromhex("00A4020002EF06")
    four = CommandApdu(0x00, 0xA4, 0x04, 0x00, b"\x01\x02", le=0)
    assert four.case == 4 and four.to_bytes() == bytes.fromhex("00A40400020102") + b"\x00"


def test_select_ssse_matches_the_documented_bytes():
    # protocols.md §3.3: 00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF
    assert select_by_name(SSSE_NAME).to_bytes() == bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")


def test_read_record_by_sfi_and_current_ef_match_deployed_readers():
    assert read_record(7, 0x0B, sfi=5).to_bytes() == bytes.fromhex("00B2072C0B")  # card number in EF05
    assert read_record(8, 0x14).to_bytes() == bytes.fromhex("00B2080014")  # 社会保障号码 in EF06


@pytest.mark.parametrize("raw", ["00A4", "00A4040005010203", "00A40400FF01"])
def test_malformed_commands_are_rejected(raw):
    with pytest.raises(ApduError):
        CommandApdu.parse(bytes.fromhex(raw))


def test_command_parse_roundtrip():
    for apdu in (select_file(0xEF05), read_record(9, 0x20), CommandApdu(0, 0x84, 0, 0, le=8),
                 CommandApdu(0, 0xA4, 4, 0, b"abc", le=256)):
        assert CommandApdu.parse(apdu.to_bytes()).to_bytes() == apdu.to_bytes()


def test_out_of_range_fields_are_apdu_errors():
    with pytest.raises(ApduError):
        CommandApdu(0x100, 0, 0, 0)
    with pytest.raises(ApduError):
        CommandApdu(0, 0xA4, 0, 0, bytes(256))


# ---- responses and status words ------------------------------------------------------------------------
def test_response_splits_data_and_status_word():
    response = ResponseApdu.parse(bytes.fromhex("0102039000"))
    assert response.data == b"\x01\x02\x03" and response.sw == 0x9000 and response.ok
    assert "3 bytes" in repr(response) and "010203" not in repr(response)


@pytest.mark.parametrize(("sw", "cls", "words"), [
    (0x6A82, FileNotFound, "file or application not found"),
    (0x6982, AuthenticationRequired, "card needs PSAM authentication"),
    (0x6700, WrongLength, "wrong length"),
    (0x6A86, CardStatusError, "incorrect parameters P1-P2"),
    (0x6D00, CardStatusError, "instruction code not supported"),
    (0x6E00, CardStatusError, "class not supported"),
    (0x6B00, CardStatusError, "wrong parameters"),
    (0x63C2, CardStatusError, "2 tries left"),
    (0x6283, CardStatusError, "invalidated"),
])
def test_status_words_map_to_words_and_errors(sw, cls, words):
    with pytest.raises(cls) as info:
        check(ResponseApdu(b"", sw >> 8, sw & 0xFF), "reader 'x': SELECT")
    assert words in str(info.value) and f"{sw:04X}" in str(info.value)
    assert info.value.code == sw and isinstance(info.value, DeviceStatusError)


def test_unknown_status_word_still_has_words():
    assert describe_sw(0x6999) == "command not allowed"
    assert describe_sw(0x1234) == "unknown status"


def test_response_without_status_word_is_a_protocol_error():
    for raw in (b"", b"\x90"):
        with pytest.raises(ApduError) as info:
            ResponseApdu.parse(raw)
        assert isinstance(info.value, ProtocolError)


# ---- T=0 rules -----------------------------------------------------------------------------------------
def test_61xx_sends_get_response_and_loops_collecting_data():
    exchange = T0Exchange(select_by_name(SSSE_NAME))
    step = exchange.feed(bytes.fromhex("6120"))
    assert step is not None and step.to_bytes() == bytes.fromhex("00C0000020")
    step = exchange.feed(b"A" * 16 + bytes.fromhex("6108"))
    assert step is not None and step.to_bytes() == bytes.fromhex("00C0000008")
    assert exchange.feed(b"B" * 8 + bytes.fromhex("9000")) is None
    assert exchange.result == ResponseApdu(b"A" * 16 + b"B" * 8, 0x90, 0x00)


def test_6cxx_resends_the_same_command_with_the_right_le_once():
    exchange = T0Exchange(read_record(7, 0, sfi=5))
    step = exchange.feed(bytes.fromhex("6C0B"))
    assert step is not None and step.to_bytes() == bytes.fromhex("00B2072C0B")
    assert exchange.feed(bytes.fromhex("6C0B")) is None  # a card repeating 6C is reported, not looped
    assert exchange.result is not None and exchange.result.sw == 0x6C0B


def test_endless_61xx_is_cut_off():
    exchange = T0Exchange(select_by_name(SSSE_NAME))
    with pytest.raises(ApduError, match="kept asking"):
        for _ in range(100):
            exchange.feed(bytes.fromhex("6101") + b"")


# ---- TLV, BCD and GBK ----------------------------------------------------------------------------------
def test_tlv_walk_stops_at_padding_and_rejects_overruns():
    assert [t.tag for t in iter_tlv(bytes.fromhex("0702AABB0801CC0000"))] == [7, 8]
    with pytest.raises(ApduError):
        list(iter_tlv(bytes.fromhex("0705AABB")))
    with pytest.raises(ApduError, match="expected 08"):
        parse_tlv(bytes.fromhex("0701AA"), 0x08)


def test_bcd_is_right_padded_with_f_and_rejects_other_nibbles():
    assert bcd_digits(bytes.fromhex("19690119")) == "19690119"
    assert bcd_digits(bytes.fromhex("01FF")) == "01"
    with pytest.raises(ApduError):
        bcd_digits(bytes.fromhex("1A"))


def test_gbk_text_drops_zero_padding():
    assert gbk_text("张三".encode("gbk") + bytes(26)) == "张三"
    with pytest.raises(ApduError):
        gbk_text(b"\x81\x00\xff")


def test_masks_keep_first_character_and_four_plus_four_digits():
    assert mask_name("欧阳测试") == "欧***"
    assert mask_number("992471196901194048") == "9924**********4048"
    assert mask_number("1234") == "****"


# ---- the virtual card's applet, byte for byte ------------------------------------------------------------
def test_applet_plays_t0_select_and_6c_on_wrong_le():
    applet = CardApplet(make_deck()[0], chunk=8)
    answer = applet.process(select_by_name(SSSE_NAME).to_bytes())
    assert answer[0] == 0x61
    first = applet.process(bytes.fromhex("00C00000") + answer[1:2])
    assert first[:8].startswith(b"\x6f") and first[-2] == 0x61  # chunked: more to come
    assert applet.process(read_record(7, 0, sfi=5).to_bytes()) == bytes.fromhex("6C0B")
    assert applet.process(bytes.fromhex("80CA000000")) == bytes.fromhex("6E00")
    assert applet.process(bytes.fromhex("00EE000000")) == bytes.fromhex("6D00")


# ---- fuzz: garbage never crashes, it raises our own error ----------------------------------------------
@given(st.binary(max_size=300))
def test_fuzz_responses_go_through_t0_or_raise_device_errors(raw):
    exchange = T0Exchange(read_record(8, 0x14))
    try:
        step = exchange.feed(raw)
    except DeviceError:
        return
    if step is None:
        assert exchange.result is not None
        with contextlib.suppress(DeviceError):
            parse_tlv(check(exchange.result, "fuzz"), 0x08)


@given(st.binary(max_size=300))
def test_fuzz_command_parse_and_applet(raw):
    with contextlib.suppress(ApduError):
        CommandApdu.parse(raw)
    answer = CardApplet(make_deck()[1]).process(raw)
    assert len(answer) >= 2


@given(st.binary(max_size=64))
def test_fuzz_field_decoders(raw):
    for decode in (bcd_digits, gbk_text, lambda b: list(iter_tlv(b))):
        with contextlib.suppress(ApduError):
            decode(raw)
