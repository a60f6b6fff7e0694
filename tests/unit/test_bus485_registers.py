"""Register maps, text packing, the device factory, and the simulated device's exactly-once rules."""

from __future__ import annotations

import pytest

from devices.bus485 import registers as rg
from devices.bus485.callpad import CallPad
from devices.bus485.driver import bus_device
from devices.bus485.rating_pad import Rating, RatingPad
from devices.bus485.simulator import SimCallPad, SimWindowDisplay
from devices.bus485.window_display import WindowDisplay
from devices.url import UrlError


def test_gb18030_text_packs_two_bytes_per_register_high_byte_first():
    fld = rg.CallPadBlock.LINE
    regs = rg.encode_text("A叫", fld)
    assert regs[0] == 3  # "A" + two bytes for 叫
    assert regs[1:3] == [0x41BD, 0xD000]  # 叫 = BD D0 in GB18030
    assert len(regs) == 1 + fld.registers
    assert rg.decode_text(regs, fld) == "A叫"


def test_text_that_does_not_fit_is_refused_not_cut():
    with pytest.raises(ValueError, match="holds 8"):
        rg.encode_text("A0123456789", rg.DisplayBlock.NUMBER)


def test_sequence_numbers_wrap_past_zero():
    assert rg.next_seq(0) == 1 and rg.next_seq(0xFFFF) == 1 and rg.next_seq(41) == 42


@pytest.mark.parametrize(("option", "cls"), [("", CallPad), ("&device=callpad", CallPad),
                                             ("&device=window_display", WindowDisplay),
                                             ("&device=rating_pad", RatingPad)])
def test_factory_chooses_the_class_by_device_option(option, cls):
    dev = bus_device(f"modbus+serial:///dev/ttyUSB1?address=3{option}")
    assert type(dev) is cls and dev.bus_address == 3 and dev.poll_interval_s == 0.1


def test_factory_rejects_unknown_kinds_in_words():
    with pytest.raises(UrlError, match="device='printer' is not a bus device"):
        bus_device("modbus+tcp://127.0.0.1?address=3&device=printer")


def test_sim_pad_drops_events_up_to_the_acked_seq_and_ignores_unknown_acks():
    pad = SimCallPad(1)
    seqs = [pad.push(rg.Key.CALL_NEXT), pad.push(rg.Key.RECALL), pad.push(rg.Key.FINISH)]
    pad.write(rg.ACK_SEQ, (seqs[1],))
    assert [e[0] for e in pad.fifo] == [seqs[2]]
    pad.write(rg.ACK_SEQ, (seqs[0],))  # a late, repeated ack changes nothing
    assert [e[0] for e in pad.fifo] == [seqs[2]]


def test_sim_device_applies_a_command_block_once_per_write_seq():
    display = SimWindowDisplay(2)
    block = [7, 0, 50, 1, *rg.encode_text("A1", rg.DisplayBlock.NUMBER), *rg.encode_text("", rg.DisplayBlock.TEXT)]
    assert display.write(rg.COMMAND_BLOCK, tuple(block)) is None
    assert display.write(rg.COMMAND_BLOCK, tuple(block)) is None
    assert display.writes_applied == 1 and display.last_write_seq == 7
    bad = list(block)
    bad[0], bad[rg.DisplayBlock.MODE] = 8, 9
    assert display.write(rg.COMMAND_BLOCK, tuple(bad)) == 0x03  # mode 9 is an illegal value
    assert display.write(40, (1,)) == 0x02  # outside the map


def test_rating_words_and_bad_ratings():
    assert [Rating(level).words for level in (5, 4, 3, 2, 1, None)] == [
        "非常满意", "满意", "基本满意", "不满意", "非常不满意", "未评价"]
    assert [Rating(level).bad for level in (3, 2, 1, None)] == [False, True, True, False]
