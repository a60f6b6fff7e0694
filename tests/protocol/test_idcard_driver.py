"""The real driver against the SAM simulator: one test body per case, run over a pty and over loopback TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from devices.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from devices.faults import Fault
from devices.idcard import cards
from devices.idcard.driver import IdCardReader
from devices.idcard.protocol import (
    CardPulled,
    FrameError,
    NoCardOnReader,
    SamFault,
    SamNotAuthorised,
    build_frame,
    build_response,
)
from devices.idcard.record import CardKind, parse_text_block
from devices.idcard.simulator import IdCardSimulator
from devices.registry import open_device
from devices.state import DeviceState

TRANSPORTS = ["sim+sam+serial", "sim+sam+tcp"]


@pytest.fixture(params=TRANSPORTS)
def scheme(request):
    return request.param


@contextlib.asynccontextmanager
async def reader_for(scheme: str, options: str = "", timeout_s: float = 0.4):
    """The driver behind a fast (non-realtime) simulator; short timeouts keep fault tests quick."""
    device = open_device(f"{scheme}://?realtime=0&timeout={timeout_s}{options}")
    assert isinstance(device, IdCardReader)
    device.poll_interval_s = 0.02
    async with device:
        assert device.simulator is not None
        yield device, device.simulator


async def test_good_read_of_every_deck_card(scheme):
    async with reader_for(scheme) as (reader, sim):
        assert reader.last_status.state is DeviceState.READY
        assert sim.url.startswith(scheme.removeprefix("sim+"))
        kinds = set()
        for card in sim.deck:
            sim.place_card(card)
            record = await reader.read(timeout_s=1.0, fingerprint=True, extra_address=True)
            expected = parse_text_block(card.text)
            assert record.id_number == expected.id_number and record.name == expected.name
            assert (record.photo, record.fingerprint) == (card.photo, card.fingerprint)
            assert record.extra_address == card.extra_address
            kinds.add(record.kind)
        assert kinds == set(CardKind)
        assert {len(card.fingerprint) for card in sim.deck} == {0, 512, 1024}
        assert await reader.sam_id() == "05.01-20240101-0001234567-0089012345"


async def test_read_with_and_without_find_after_read(scheme):
    async with reader_for(scheme) as (reader, sim):
        first = await reader.read(timeout_s=1.0)
        assert (await reader.read(timeout_s=1.0)).id_number == first.id_number  # the card stays: 9F again
        sim.find_after_read = False
        sim.place_card(0)
        await reader.read(timeout_s=1.0)
        # A deadline of a few exchanges (not 0.2 s: on a loaded machine the first answer may come later, and a
        # deadline that fires before any answer is a timeout, not "no card").
        with pytest.raises(NoCardOnReader, match=r"no card was read within 1\.5 s"):
            await reader.read(timeout_s=1.5)  # this reader answers 80 until the card is lifted
        sim.place_card(1)
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.RESIDENT


async def test_no_card(scheme):
    async with reader_for(scheme) as (reader, sim):
        sim.remove_card()
        with pytest.raises(NoCardOnReader, match="place the card flat on the reader"):
            await reader.find_card()
        sim.place_card(0)
        sim.inject(Fault.NO_CARD)
        with pytest.raises(NoCardOnReader):
            await reader.read(timeout_s=1.5)
        sim.clear()
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.RESIDENT
        assert reader.last_status.state is DeviceState.READY  # no card is not a device fault


@pytest.mark.parametrize("style", ["truncate", "status"])
async def test_card_pulled(scheme, style):
    async with reader_for(scheme) as (reader, sim):
        sim.pull_reply = style
        sim.inject(Fault.CARD_PULLED, times=1)
        await reader.find_card()
        await reader.select_card()
        with pytest.raises(CardPulled, match="hold the card still") as caught:
            await reader.read_card()
        assert caught.value.code == 0x41
        sim.inject(Fault.CARD_PULLED, times=1)
        record = await reader.read(timeout_s=2.0)  # the citizen puts it back: the loop reads it
        assert record.kind is CardKind.RESIDENT
        sim.inject(Fault.CARD_PULLED)
        with pytest.raises(CardPulled):
            await reader.read(timeout_s=1.5)


@pytest.mark.parametrize(("fault", "error", "words"), [
    (Fault.SAM_FAILURE, SamFault, "failed its self-test"),
    (Fault.NOT_AUTHORISED, SamNotAuthorised, "not authorised"),
])
async def test_sam_faults_in_status_and_reads(scheme, fault, error, words):
    async with reader_for(scheme) as (reader, sim):
        sim.inject(fault)
        status = await reader.status()
        assert status.state is DeviceState.FAULT and words in status.reason
        with pytest.raises(error, match=words):
            await reader.read(timeout_s=1.5)
        sim.clear()
        assert (await reader.status()).state is DeviceState.READY


@pytest.mark.parametrize("fault", [Fault.BAD_CHECKSUM, Fault.GARBLED, Fault.TRUNCATED, Fault.LEADING_GARBAGE,
                                   Fault.SLOW])
async def test_line_faults_are_ridden_out(scheme, fault):
    async with reader_for(scheme, timeout_s=1.0) as (reader, sim):  # SLOW answers 0.4 s late
        sim.inject(fault, times=2)
        assert await reader.find_card() == bytes(4)
        sim.inject(fault, times=1)
        await reader.select_card()
        if fault is not Fault.TRUNCATED:  # a cut read answer means card pulled: see the next test
            sim.inject(fault, times=1)
        assert (await reader.read_card()).kind is CardKind.RESIDENT
        assert reader.last_status.state is DeviceState.READY


async def test_truncated_read_reports_card_pulled(scheme):
    async with reader_for(scheme) as (reader, sim):
        await reader.find_card()
        await reader.select_card()
        sim.inject(Fault.TRUNCATED, times=1)
        with pytest.raises(CardPulled, match="the answer stopped after"):
            await reader.read_card()


@pytest.mark.parametrize("fault", [Fault.BAD_CHECKSUM, Fault.GARBLED])
async def test_persistent_line_fault_gives_words(scheme, fault):
    async with reader_for(scheme) as (reader, sim):
        sim.inject(fault)
        with pytest.raises(FrameError, match=r"3 garbled answers to find card .* check the cable"):
            await reader.find_card()


async def test_silent_reader_is_a_fault_with_words(scheme):
    async with reader_for(scheme, "&fault=silent") as (reader, sim):
        status = reader.last_status
        assert status.state is DeviceState.FAULT
        assert "no answer to the SAM status query" in status.reason and "baud rate" in status.reason
        with pytest.raises(DeviceTimeout, match="no answer to find card"):
            await reader.find_card()
        sim.clear()
        assert (await reader.status()).state is DeviceState.READY


async def test_unplug_then_replug_reconnects(scheme):
    async with reader_for(scheme) as (reader, sim):
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.RESIDENT
        sim.inject(Fault.UNPLUG, times=1)
        with pytest.raises((DeviceDisconnected, DeviceTimeout)):
            await reader.find_card()
        await asyncio.sleep(0.05)
        with pytest.raises(DeviceError):
            await reader.find_card()
        assert (await reader.status()).state is DeviceState.DISCONNECTED
        await sim.replug()
        for _ in range(60):  # the backoff decides when the next dial happens
            if (await reader.status()).state is DeviceState.READY:
                break
            await asyncio.sleep(0.05)
        assert reader.last_status.state is DeviceState.READY
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.RESIDENT


async def test_close_releases_everything(scheme):
    reader = open_device(f"{scheme}://?realtime=0")
    await reader.open()
    sim = reader.simulator
    await reader.close()
    await reader.close()
    assert reader.simulator is None and not sim._started
    assert reader.last_status.state is DeviceState.DISCONNECTED


async def test_deck_option_and_unknown_deck(scheme):
    async with reader_for(scheme, "&deck=foreign") as (reader, _sim):
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.FOREIGN_2017
    with pytest.raises(DeviceError, match="unknown card deck 'nope'; known decks: default"):
        await open_device(f"{scheme}://?deck=nope").open()


async def test_nothing_personal_is_logged(scheme, caplog):
    with caplog.at_level(logging.DEBUG):
        async with reader_for(scheme) as (reader, sim):
            for card in sim.deck:
                sim.place_card(card)
                await reader.read(timeout_s=1.0, extra_address=True)
    for card in cards.DECKS["default"]:
        record = parse_text_block(card.text)
        assert record.id_number not in caplog.text and record.name not in caplog.text
    assert "read a card: IdCardRecord(resident, name='李**'" in caplog.text


# ---- the simulator's own framing rules, spoken to with raw bytes ------------------------------------
async def test_simulator_answers_framing_errors_and_state_errors():
    async with IdCardSimulator("tcp", realtime=False) as sim:
        host, port = sim.link.address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            async def ask(frame: bytes) -> bytes:
                writer.write(frame)
                await writer.drain()
                head = await asyncio.wait_for(reader.readexactly(7), 1.0)
                return head + await asyncio.wait_for(reader.readexactly(int.from_bytes(head[5:7], "big")), 1.0)

            find = bytes.fromhex("AA AA AA 96 69 00 03 20 01 22")
            assert await ask(find[:-1] + b"\x00") == build_response(0x10)
            assert await ask(bytes.fromhex("AA AA AA 96 69 00 01 20 01")) == build_response(0x11)
            assert await ask(build_frame(b"\x77\x01")) == build_response(0x21)
            assert await ask(bytes.fromhex("AA AA AA 96 69 00 03 20 02 21")) == build_response(0x81)
            assert await ask(bytes.fromhex("AA AA AA 96 69 00 03 30 01 32")) == build_response(0x41)
            assert await ask(find) == bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
            assert await ask(bytes.fromhex("AA AA AA 96 69 00 03 30 01 32")) == build_response(0x41)
            sim.inject(Fault.SAM_FAILURE, times=1)
            assert await ask(find) == bytes.fromhex("AA AA AA 96 69 00 04 00 00 60 64")
        finally:
            writer.close()
            await writer.wait_closed()


async def test_simulator_realtime_pacing_follows_the_baud_rate():
    sim = IdCardSimulator("tcp", realtime=True, baudrate=9600)
    assert sim.wire_time_s(1295, 115200) == pytest.approx(0.1124, abs=1e-3)
    assert sim.wire_time_s(1295, sim.baudrate) == pytest.approx(1.349, abs=1e-3)


async def test_set_baudrate_switches_both_ends(scheme, caplog):
    async with reader_for(scheme) as (reader, sim):
        await reader.set_baudrate(38400)
        assert (reader.baudrate, sim.baudrate) == (38400, 38400)
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.RESIDENT
        if scheme == "sim+sam+tcp":
            assert "set the serial server's rate to 38400 baud too" in caplog.text
        with pytest.raises(DeviceError, match="not 12345"):
            await reader.set_baudrate(12345)


# ---- the read's deadline covers every exchange inside it -------------------------------------------
#: a correctness bound, not a performance figure: the read must end at its deadline, give or take this
DEADLINE_SLACK_S = 0.5


async def test_read_of_a_silent_reader_ends_at_its_deadline(scheme):
    async with reader_for(scheme, timeout_s=3.0) as (reader, sim):  # each exchange may take 3 s
        sim.inject(Fault.SILENT)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeviceTimeout, match=r"no card was read within 1 s: .*find card"):
            await reader.read(timeout_s=1.0)
        assert loop.time() - started <= 1.0 + DEADLINE_SLACK_S
        sim.clear()
        assert (await reader.read(timeout_s=1.0)).kind is CardKind.RESIDENT  # the link survives the cut


async def test_read_of_a_slow_reader_ends_at_its_deadline(scheme):
    async with reader_for(scheme, timeout_s=3.0) as (reader, sim):
        sim.inject(Fault.SLOW)  # find, select and read each answer 0.4 s late: no record before 1.2 s
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeviceTimeout, match=r"no card was read within 1 s: .*read card"):
            await reader.read(timeout_s=1.0)
        assert loop.time() - started <= 1.0 + DEADLINE_SLACK_S
        assert reader.last_status.state is DeviceState.READY  # a read cut by its deadline is no device fault


async def test_a_deadline_that_cuts_a_poll_after_no_card_answers_says_no_card(scheme):
    """The reader kept answering "no card"; the deadline then fell while the next poll was on the wire. That is
    no card within the time (the citizen's cue), not a silent reader (the technician's): seen in CI under load."""
    async with reader_for(scheme, timeout_s=1.0) as (reader, sim):  # SLOW answers 0.4 s late
        sim.remove_card()
        sim.inject(Fault.SLOW)
        with pytest.raises(NoCardOnReader, match="place the card flat"):
            await reader.read(timeout_s=1.0)
        assert reader.last_status.state is DeviceState.READY
