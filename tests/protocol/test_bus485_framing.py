"""Modbus RTU framing as wire bytes: CRC literals, requests, replies, resync, and fuzzing of both parsers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus485 import framing as fr
from devices.errors import ProtocolError


def test_crc16_modbus_check_value_and_wire_order():
    assert fr.crc16(b"123456789") == 0x4B37
    assert fr.with_crc(bytes.fromhex("010300000001")) == bytes.fromhex("010300000001840A")
    assert fr.with_crc(bytes.fromhex("010300850001"))[-2:] == bytes.fromhex("95E3")


@pytest.mark.parametrize(("request_", "wire"), [
    (fr.read_holding(1, 0, 1), "01 03 0000 0001 840A"),
    (fr.read_input(1, 16, 7), "01 04 0010 0007 B00D"),
    (fr.write_single(1, 0, 1), "01 06 0000 0001 480A"),
    (fr.write_single(17, 1, 3), "11 06 0001 0003 9A9B"),
    (fr.write_multiple(1, 16, [1, 2]), "01 10 0010 0002 04 0001 0002 22A2"),
])
def test_requests_encode_to_the_expected_bytes(request_, wire):
    assert request_.encode() == bytes.fromhex(wire)


def test_request_limits_are_errors():
    with pytest.raises(ValueError, match="count"):
        fr.read_input(1, 0, 126)
    with pytest.raises(ValueError, match="address"):
        fr.read_input(248, 0, 1)
    with pytest.raises(ValueError, match="values"):
        fr.write_single(1, 0, 70000)


def test_exception_reply_is_function_or_0x80_and_code():
    assert fr.exception_reply(1, 3, 2) == bytes.fromhex("01 83 02 C0F1")
    request = fr.read_holding(1, 0, 1)
    reply = fr.ReplyParser(request).feed(bytes.fromhex("018302C0F1"))
    assert reply == fr.Reply(1, 3, exception=2)
    with pytest.raises(fr.ModbusException, match="illegal data address") as info:
        reply.raise_for(request, "call pad 'w3'")
    assert info.value.code == 2


# the wire conversation of one poll of a call pad holding one call-next event, and its ack
CONVERSATION = [
    (fr.read_input(1, 16, 7), "01 04 0E 0001 1DFF 0000 0001 0001 0001 0000 CC5D", (1, 0x1DFF, 0, 1, 1, 1, 0)),
    (fr.write_single(1, 0, 1), "01 06 0000 0001 480A", ()),
    (fr.write_multiple(2, 16, [1, 2]), "02 10 0010 0002 403E", ()),
]


@pytest.mark.parametrize(("request_", "answer", "registers"), CONVERSATION)
def test_replies_decode_from_wire_bytes(request_, answer, registers):
    wire = bytes.fromhex(answer)
    assert fr.crc16(wire[:-2]).to_bytes(2, "little") == wire[-2:]
    parser = fr.ReplyParser(request_)
    assert parser.feed(wire) == fr.Reply(request_.address, request_.function, registers)
    assert parser.dropped == 0 and parser.stale == 0


def test_reply_split_byte_by_byte_completes_on_the_last_byte():
    request = fr.read_input(1, 16, 7)
    wire = fr.read_reply(1, 4, [1, 2, 3, 4, 5, 6, 7])
    parser = fr.ReplyParser(request)
    assert [parser.feed(bytes((b,))) for b in wire[:-1]] == [None] * (len(wire) - 1)
    assert parser.feed(wire[-1:]).registers == (1, 2, 3, 4, 5, 6, 7)


def test_leading_turnaround_bytes_are_dropped_one_by_one():
    request = fr.read_input(3, 16, 3)
    parser = fr.ReplyParser(request)
    reply = parser.feed(b"\x00\xff\x00" + fr.read_reply(3, 4, [1, 9, 0]))
    assert reply.registers == (1, 9, 0) and parser.dropped == 3


def test_a_late_reply_from_another_address_is_skipped_whole():
    request = fr.read_input(4, 16, 3)
    stale = fr.read_reply(2, 4, [1, 7, 7])
    parser = fr.ReplyParser(request)
    assert parser.feed(stale + fr.read_reply(4, 4, [1, 8, 8])).registers == (1, 8, 8)
    assert parser.stale == 1 and parser.dropped == 0


def test_a_stale_reply_of_the_same_address_to_another_request_is_skipped():
    request = fr.read_input(1, 16, 7)
    parser = fr.ReplyParser(request)
    late_ack = fr.write_single_reply(1, 0, 5)
    late_identity = fr.read_reply(1, 4, [1, 0x102, 0x100, 8])
    assert parser.feed(late_ack + late_identity + fr.read_reply(1, 4, [1] * 7)).registers == (1,) * 7
    assert parser.stale == 2


def test_a_bad_crc_resyncs_and_finds_the_reply_behind_it():
    request = fr.read_input(1, 16, 3)
    good = fr.read_reply(1, 4, [1, 2, 3])
    broken = good[:-1] + bytes((good[-1] ^ 0xFF,))
    parser = fr.ReplyParser(request)
    assert parser.feed(broken) is None
    assert parser.feed(good).registers == (1, 2, 3)


def test_a_header_claiming_a_long_frame_does_not_stall_a_complete_reply_behind_it():
    request = fr.read_input(1, 16, 3)
    parser = fr.ReplyParser(request)
    # "05 03 F0" announces a 245-byte frame from address 5 that never comes
    assert parser.feed(b"\x05\x03\xf0" + fr.read_reply(1, 4, [1, 2, 3])).registers == (1, 2, 3)


def test_a_write_echo_that_contradicts_the_request_is_a_protocol_error():
    request = fr.write_single(1, 0, 5)
    with pytest.raises(ProtocolError, match="echoed register 0 = 6"):
        fr.ReplyParser(request).feed(fr.write_single_reply(1, 0, 6))


def test_device_side_parser_cuts_requests_and_refuses_unknown_functions():
    parser = fr.RequestParser()
    wire = b"\xff" + fr.read_input(1, 16, 7).encode() + fr.write_multiple(2, 16, [1, 2, 3]).encode() \
        + fr.with_crc(bytes.fromhex("01 2B 0E 01 00 00"))
    out = parser.feed(wire[:5]) + parser.feed(wire[5:])
    assert out == [fr.read_input(1, 16, 7), fr.write_multiple(2, 16, [1, 2, 3]), fr.BadRequest(1, 0x2B, 0x01)]
    assert parser.dropped == 1


# ---- fuzzing ----------------------------------------------------------------------------------------
requests = st.one_of(
    st.builds(fr.read_input, st.integers(1, 247), st.integers(0, 100), st.integers(1, 20)),
    st.builds(fr.read_holding, st.integers(1, 247), st.integers(0, 100), st.integers(1, 20)),
    st.builds(fr.write_single, st.integers(1, 247), st.integers(0, 100), st.integers(0, 0xFFFF)),
    st.builds(lambda a, s, n: fr.write_multiple(a, s, list(range(n))), st.integers(1, 247), st.integers(0, 100),
              st.integers(1, 20)),
)


def _answer(request: fr.Request, registers: list[int]) -> bytes:
    if request.function in (fr.READ_INPUT, fr.READ_HOLDING):
        return fr.read_reply(request.address, request.function, registers[:request.count])
    if request.function == fr.WRITE_SINGLE:
        return fr.write_single_reply(request.address, request.start, request.values[0])
    return fr.write_multiple_reply(request.address, request.start, request.count)


def _feed_chunks(parser: fr.ReplyParser, data: bytes, cuts: list[int]) -> list[fr.Reply]:
    out = []
    edges = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        reply = parser.feed(data[a:b])
        if reply is not None:
            out.append(reply)
    return out


@settings(max_examples=300, deadline=None)
@given(requests, st.binary(max_size=600), st.lists(st.integers(0, 700), max_size=8))
def test_garbage_never_crashes_and_only_yields_crc_valid_replies_of_ours(request_, garbage, cuts):
    parser = fr.ReplyParser(request_)
    try:
        replies = _feed_chunks(parser, garbage, cuts)
    except ProtocolError:
        return  # the driver's own error, in words
    for reply in replies:
        assert reply.address == request_.address and reply.function == request_.function
    assert len(parser._buf) <= 2 * fr.MAX_ADU + 1


@settings(max_examples=300, deadline=None)
@given(requests, st.lists(st.sampled_from([0x00, 0xFF]), max_size=6), st.booleans(),
       st.lists(st.integers(0, 0xFFFF), min_size=20, max_size=20), st.lists(st.integers(0, 200), max_size=6))
def test_reply_found_behind_noise_and_a_stale_frame_in_any_chunking(request_, noise, stale, registers, cuts):
    other = request_.address % 247 + 1
    prefix = bytes(noise) + (fr.read_reply(other, fr.READ_INPUT, registers[:3]) if stale else b"")
    wire = prefix + _answer(request_, registers)
    replies = _feed_chunks(fr.ReplyParser(request_), wire, cuts)
    assert len(replies) == 1
    if request_.function in (fr.READ_INPUT, fr.READ_HOLDING):
        assert replies[0].registers == tuple(registers[:request_.count])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(0, 500), max_size=6))
def test_device_side_parser_survives_garbage(garbage, cuts):
    parser = fr.RequestParser()
    edges = sorted({0, len(garbage), *(c % (len(garbage) + 1) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        for item in parser.feed(garbage[a:b]):
            assert isinstance(item, fr.Request | fr.BadRequest)
    assert len(parser._buf) <= len(garbage)
