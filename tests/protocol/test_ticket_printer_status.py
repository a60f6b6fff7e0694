"""DLE EOT status: request bytes, reply validation, combination into words, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import ProtocolError
from devices.state import DeviceState, PaperState
from devices.ticket_printer import status as dle
from devices.ticket_printer.simulator import status_byte


def test_requests_are_dle_eot_n():
    assert [dle.request(n) for n in range(1, 5)] == [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x03",
                                                      b"\x10\x04\x04"]
    with pytest.raises(ValueError):
        dle.request(5)


@pytest.mark.parametrize(("replies", "state", "paper", "words"), [
    ({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}, DeviceState.READY, PaperState.OK, "ready"),
    ({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E}, DeviceState.DEGRADED, PaperState.NEAR_END, "near end"),
    ({1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72}, DeviceState.FAULT, PaperState.OUT, "paper out"),
    ({1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x7E}, DeviceState.FAULT, PaperState.OUT, "load a new roll"),
    ({1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12}, DeviceState.FAULT, PaperState.OK, "cover open"),
    ({1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12}, DeviceState.FAULT, PaperState.OK, "auto-cutter"),
    ({1: 0x1A, 2: 0x52, 3: 0x32, 4: 0x12}, DeviceState.FAULT, PaperState.OK, "unrecoverable"),
    ({1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12}, DeviceState.FAULT, PaperState.OK, "offline"),
    ({}, DeviceState.FAULT, PaperState.UNKNOWN, "no answer"),
    ({1: 0x12, 2: 0x12}, DeviceState.DEGRADED, PaperState.UNKNOWN, "no answer to status query 3, 4"),
    ({1: 0x12, 2: 0x32}, DeviceState.FAULT, PaperState.OUT, "paper out"),
])
def test_conversations(replies, state, paper, words):
    """Each row is a printer's answers to DLE EOT 1..4 (missing = silence) and what we make of them."""
    checked = {n: dle.parse_reply(n, bytes((v,))) for n, v in replies.items()}
    condition = dle.combine(checked)
    status = condition.as_status()
    assert status.state is state
    assert condition.paper is paper
    assert status.details["paper"] == paper.value
    assert words in status.reason


def test_silence_is_never_paper_ok():
    status = dle.combine({}).as_status()
    assert status.details == {"paper": "unknown", "cover": "unknown", "cutter": "unknown", "online": "unknown",
                              "raw": {}}
    assert status.state is not DeviceState.READY


def test_details_for_a_cover_open_printer():
    details = dle.combine({1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12}).as_status().details
    assert (details["cover"], details["cutter"], details["paper"], details["online"]) == (
        "open", "ok", "ok", "offline")


@pytest.mark.parametrize("bad", [0x00, 0xFF, 0x13, 0x92, 0x02, 0x10, 0x81])
def test_bytes_off_the_fixed_pattern_are_protocol_errors(bad):
    with pytest.raises(ProtocolError, match="0xx1xx10"):
        dle.parse_reply(1, bytes((bad,)))


def test_reply_must_be_one_byte():
    with pytest.raises(ProtocolError, match="one byte"):
        dle.parse_reply(4, b"\x12\x12")
    with pytest.raises(ProtocolError):
        dle.parse_reply(4, b"")


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_simulator_reply_table_matches_protocols_md(n):
    """The simulator's bytes (protocols.md 2.6) parse back to the condition they encode."""
    assert status_byte(n) == 0x12
    out = {k: status_byte(k, offline=True, paper_out=True) for k in (1, 2, 3, 4)}
    assert out == {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72}
    assert status_byte(4, near_end=True, paper_out=True) == 0x7E
    assert status_byte(3, cutter=True) == 0x1A
    assert status_byte(2, cover_open=True) == 0x16


@given(st.dictionaries(st.integers(1, 4), st.integers(0, 255)))
def test_fuzz_any_bytes_parse_or_raise_protocol_error(raw: dict[int, int]) -> None:
    checked: dict[int, int] = {}
    for n, value in raw.items():
        try:
            checked[n] = dle.parse_reply(n, bytes((value,)))
        except ProtocolError:
            assert value & dle.FIXED_MASK != dle.FIXED_VALUE
    condition = dle.combine(checked)
    status = condition.as_status()
    assert status.reason
    if 4 not in checked and not (2 in checked and checked[2] & 0x20):
        assert condition.paper is PaperState.UNKNOWN
    if status.state is DeviceState.READY:
        assert condition.complete and condition.paper is PaperState.OK


@given(st.binary(max_size=4))
def test_fuzz_reply_lengths(data):
    try:
        value = dle.parse_reply(2, data)
    except ProtocolError:
        return
    assert len(data) == 1 and value == data[0]
