"""SAM framing against the literals in protocols.md §1, and the driver read as the wire conversation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import DeviceError, ProtocolError
from devices.idcard import cards
from devices.idcard.driver import IdCardReader
from devices.idcard.protocol import (
    BAUD_COMMANDS,
    COMMANDS,
    SW3_TABLE,
    CardPulled,
    ChecksumError,
    FrameError,
    FrameParser,
    LengthError,
    NoCardOnReader,
    Response,
    ResponseParser,
    SamFault,
    SamNotAuthorised,
    build_response,
    split_read_data,
)
from devices.idcard.record import IdCardRecord
from devices.state import DeviceState

H = bytes.fromhex

# host frames, verbatim from protocols.md §1.3
FRAMES = {
    "reset": "AA AA AA 96 69 00 03 10 FF EC",
    "status": "AA AA AA 96 69 00 03 11 FF ED",
    "sam_id": "AA AA AA 96 69 00 03 12 FF EE",
    "find": "AA AA AA 96 69 00 03 20 01 22",
    "select": "AA AA AA 96 69 00 03 20 02 21",
    "read": "AA AA AA 96 69 00 03 30 01 32",
    "extra_address": "AA AA AA 96 69 00 03 30 03 30",
    "read_fp": "AA AA AA 96 69 00 03 30 10 23",
}
BAUD_FRAMES = {
    115200: "AA AA AA 96 69 00 03 60 00 63", 57600: "AA AA AA 96 69 00 03 60 01 62",
    38400: "AA AA AA 96 69 00 03 60 02 61", 19200: "AA AA AA 96 69 00 03 60 03 60",
    9600: "AA AA AA 96 69 00 03 60 04 67",
}
OK = H("AA AA AA 96 69 00 04 00 00 90 94")
FOUND = H("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
SELECTED = H("AA AA AA 96 69 00 0C 00 00 90") + bytes(8) + H("9C")
READ_HEAD = H("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
# the 11-byte error frames of §1.4, SW3 → full frame
ERROR_FRAMES = {
    0x10: "14", 0x11: "15", 0x21: "25", 0x23: "27", 0x24: "20", 0x31: "35", 0x32: "36", 0x33: "37", 0x40: "44",
    0x41: "45", 0x47: "43", 0x60: "64", 0x66: "62", 0x80: "84", 0x81: "85", 0x91: "95",
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_command_frames_match_the_literals(name):
    assert COMMANDS[name].frame == H(FRAMES[name])


@pytest.mark.parametrize("rate", list(BAUD_FRAMES))
def test_baud_frames_match_the_literals(rate):
    assert BAUD_COMMANDS[rate].frame == H(BAUD_FRAMES[rate])


def test_response_literals():
    assert build_response(0x90) == OK
    assert build_response(0x9F, bytes(4)) == FOUND
    assert build_response(0x90, bytes(8)) == SELECTED
    read = build_response(0x90, H("01 00 04 00") + bytes(1280))
    assert read[:14] == READ_HEAD and len(read) == 1295
    for sw3, chk in ERROR_FRAMES.items():
        assert build_response(sw3) == H(f"AA AA AA 96 69 00 04 00 00 {sw3:02X} {chk}")


def test_every_documented_error_sw3_has_words_and_a_class():
    assert set(SW3_TABLE) == set(ERROR_FRAMES)
    for cls, words in SW3_TABLE.values():
        assert issubclass(cls, DeviceError) and ";" in words
    assert "place the card flat on the reader" in SW3_TABLE[0x80][1]


def test_parser_need_more_then_frame_then_leftover():
    parser = ResponseParser()
    stream = FOUND + OK
    for byte in stream[:len(FOUND) - 1]:
        assert parser.feed_response(bytes([byte])) is None
    assert parser.in_frame
    response = parser.feed_response(stream[len(FOUND) - 1:])
    assert (response.sw3, response.data) == (0x9F, bytes(4))
    assert parser.feed_response(b"").sw3 == 0x90
    assert parser.feed_response(b"") is None and not parser.in_frame


def test_parser_resynchronises_on_garbage_and_split_preambles():
    parser = ResponseParser()
    assert parser.feed_response(H("00 FF AA AA 96 55 AA")) is None
    assert parser.feed_response(H("AA AA")) is None  # "AA AA AA" kept across chunks
    response = parser.feed_response(OK[3:])
    assert response is not None and response.sw3 == 0x90
    assert parser.discarded == 6


def test_parser_reports_bad_checksum_and_length_and_recovers():
    parser = ResponseParser()
    with pytest.raises(ChecksumError):
        parser.feed_response(OK[:-1] + b"\x00")
    with pytest.raises(LengthError):
        parser.feed_response(H("AA AA AA 96 69 00 02 00 00"))
    with pytest.raises(LengthError):
        parser.feed_response(H("AA AA AA 96 69 FF FF"))
    parser.clear()
    assert parser.feed_response(OK).sw3 == 0x90


def test_split_read_data_checks_the_announced_sizes():
    card = cards.DECKS["resident"][2]
    data = H("01 00 04 00 04 00") + card.text + card.photo + card.fingerprint
    assert split_read_data(data, True) == (card.text, card.photo, card.fingerprint)
    with pytest.raises(LengthError):
        split_read_data(data[:-1], True)
    with pytest.raises(LengthError):
        split_read_data(H("01 00 03 00") + bytes(1024), False)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_fuzz_parser_only_raises_frame_errors(chunks):
    parser = FrameParser()
    for chunk in chunks:
        data = chunk
        for _ in range(len(chunk) + 2):  # every call consumes input, so this bound is never the limit
            try:
                body = parser.feed(data)
            except FrameError:
                body = b""
            data = b""
            if body is None:
                break
    assert parser.buffered <= sum(map(len, chunks))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 0x9F), st.binary(max_size=40))
def test_fuzz_a_good_frame_behind_garbage_is_found(garbage, sw3, data):
    frame = build_response(sw3, data)
    parser = ResponseParser()
    found = []
    pending = garbage + frame
    for _ in range(len(pending) + 2):
        try:
            response = parser.feed_response(pending)
        except FrameError:
            response = None
            pending = b""
            continue
        pending = b""
        if response is None:
            break
        found.append(response)
    assert any(r.sw3 == sw3 and r.data == data for r in found) or any(
        garbage[i:].startswith(b"\xaa\xaa\xaa\x96\x69") for i in range(len(garbage)))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1400), st.booleans())
def test_fuzz_read_answers_give_a_record_or_our_error(data, fingerprint):
    from devices.idcard.driver import _record

    try:
        record = _record(Response(0, 0, 0x90, data), fingerprint)
    except ProtocolError:
        return
    assert isinstance(record, IdCardRecord)


# ---- the driver as the wire conversation --------------------------------------------------------------
class ScriptedPeer:
    """A loopback TCP peer that expects exactly the scripted host frames and answers each; leftovers fail."""

    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
        self.script = list(script)
        self.problems: list[str] = []
        self.extra = b""
        self._server: asyncio.Server | None = None
        self._done = asyncio.Event()
        self.port = 0

    async def __aenter__(self) -> ScriptedPeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while self.script:
                sent, answer = self.script[0]
                got = await reader.readexactly(len(sent))
                if got != sent:
                    self.problems.append(f"expected {sent.hex(' ')}, got {got.hex(' ')}")
                    return
                self.script.pop(0)
                writer.write(answer)
                await writer.drain()
            self.extra = await asyncio.wait_for(reader.read(), 2.0)  # until the driver hangs up
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as err:
            self.problems.append(f"connection ended: {err!r}")
        finally:
            writer.close()
            self._done.set()

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), 2.5)
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        assert not self.problems, self.problems
        assert not self.script, f"{len(self.script)} exchanges never happened"
        assert not self.extra, f"leftover bytes {self.extra.hex(' ')}"


@contextlib.asynccontextmanager
async def talking(script: list[tuple[bytes, bytes]]):
    """A scripted peer and a driver connected to it over loopback TCP."""
    async with ScriptedPeer(script) as peer, IdCardReader(f"sam+tcp://127.0.0.1:{peer.port}?timeout=0.5") as reader:
        yield peer, reader


def _read_answer(card: cards.SimCard) -> bytes:
    return build_response(0x90, H("01 00 04 00") + card.text + card.photo)


async def test_conversation_open_and_read_a_card():
    card = cards.DECKS["default"][0]
    script = [(H(FRAMES["status"]), OK), (H(FRAMES["find"]), FOUND), (H(FRAMES["select"]), SELECTED),
              (H(FRAMES["read"]), _read_answer(card)), (H(FRAMES["extra_address"]), build_response(0x91))]
    async with talking(script) as (_peer, reader):
        assert reader.last_status.state is DeviceState.READY
        record = await reader.read(timeout_s=1.0, extra_address=True)
    assert record.name == "李测试" and record.photo == card.photo and record.extra_address is None


async def test_conversation_polls_until_a_card_is_placed():
    card = cards.DECKS["default"][0]
    no_card = H("AA AA AA 96 69 00 04 00 00 80 84")
    script = [(H(FRAMES["status"]), OK), (H(FRAMES["find"]), no_card), (H(FRAMES["find"]), no_card),
              (H(FRAMES["find"]), FOUND), (H(FRAMES["select"]), H("AA AA AA 96 69 00 04 00 00 81 85")),
              (H(FRAMES["find"]), FOUND), (H(FRAMES["select"]), SELECTED), (H(FRAMES["read"]), _read_answer(card))]
    async with talking(script) as (_peer, reader):
        reader.poll_interval_s = 0.01
        record = await reader.read(timeout_s=2.0)
    assert record.birth_date.year == 1985


async def test_conversation_no_card_has_words():
    script = [(H(FRAMES["status"]), OK), (H(FRAMES["find"]), H("AA AA AA 96 69 00 04 00 00 80 84"))]
    async with talking(script) as (peer, reader):
        with pytest.raises(NoCardOnReader, match="place the card flat on the reader") as caught:
            await reader.find_card()
    assert caught.value.code == 0x80 and f"127.0.0.1:{peer.port}" in str(caught.value)


async def test_conversation_bad_checksum_is_asked_again():
    bad = FOUND[:-1] + b"\x00"
    script = [(H(FRAMES["status"]), OK), (H(FRAMES["find"]), bad), (H(FRAMES["find"]), b"\x00\xff" + FOUND)]
    async with talking(script) as (_peer, reader):
        assert await reader.find_card() == bytes(4)


async def test_conversation_sam_id_reset_extra_address_and_baud():
    sam_id = bytes.fromhex("0500 0100 e5d63401 87d61200 79384e05")  # u16 u16 u32 u32 u32, little-endian
    address = "样例省演示市新区".ljust(35).encode("utf-16-le")
    script = [(H(FRAMES["status"]), OK), (H(FRAMES["sam_id"]), build_response(0x90, sam_id)),
              (H(FRAMES["reset"]), OK), (H(FRAMES["extra_address"]), build_response(0x90, address)),
              (H(BAUD_FRAMES[57600]), OK)]
    async with talking(script) as (_peer, reader):
        assert await reader.sam_id() == "05.01-20240101-0001234567-0089012345"
        await reader.reset_sam()
        assert await reader.read_extra_address() == "样例省演示市新区"
        await reader.set_baudrate(57600)
        assert reader.baudrate == 57600


@pytest.mark.parametrize(("sw3", "error"), [(0x60, SamFault), (0x66, SamNotAuthorised)])
async def test_conversation_status_fault_in_words(sw3, error):
    script = [(H(FRAMES["status"]), build_response(sw3)), (H(FRAMES["find"]), build_response(sw3))]
    async with talking(script) as (_peer, reader):
        assert reader.last_status.state is DeviceState.FAULT
        assert "security module" in reader.last_status.reason
        with pytest.raises(error):
            await reader.find_card()


async def test_conversation_read_cut_short_is_card_pulled():
    card = cards.DECKS["default"][0]
    script = [(H(FRAMES["status"]), OK), (H(FRAMES["find"]), FOUND), (H(FRAMES["select"]), SELECTED),
              (H(FRAMES["read"]), _read_answer(card)[:600])]
    async with talking(script) as (_peer, reader):
        await reader.find_card()
        await reader.select_card()
        with pytest.raises(CardPulled, match="hold the card still"):
            await reader.read_card()


class _NullWriter:
    """Enough of a StreamWriter for ByteStream: accepts writes, never closes."""

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _drive(answer: bytes, command_name: str) -> object:
    """Run the driver's own answer path (framing, SW3, read data, text block) on ``answer`` then EOF."""
    from devices.idcard.driver import _record
    from devices.transport.streams import ByteStream

    async def go() -> object:
        loop_reader = asyncio.StreamReader()
        loop_reader.feed_data(answer)
        loop_reader.feed_eof()
        stream = ByteStream(loop_reader, _NullWriter(), "fuzz")  # type: ignore[arg-type]
        reader = IdCardReader("sam+tcp://127.0.0.1:1?timeout=0.2")
        reader._stream = stream
        reader.retries = 0
        response = await reader._transact(COMMANDS[command_name])
        if command_name.startswith("read"):
            return _record(response, command_name == "read_fp")
        return response

    return asyncio.run(go())


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.builds(lambda sw3, data, cut: build_response(sw3, data)[:cut], st.integers(0, 255),
              st.binary(max_size=1400), st.integers(0, 1500)),
    st.builds(lambda pre, data: pre + build_response(0x90, H("01 00 04 00") + data), st.binary(max_size=20),
              st.binary(min_size=1280, max_size=1280)),
), st.sampled_from(["find", "select", "read", "read_fp", "sam_id"]))
def test_fuzz_the_driver_answer_path_raises_only_device_errors(answer, command_name):
    try:
        result = _drive(answer, command_name)
    except DeviceError:
        return
    assert isinstance(result, IdCardRecord | Response)
