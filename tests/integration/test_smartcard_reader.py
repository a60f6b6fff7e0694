"""The real SmartCardReader through a real pcscd + vpcd, with the project's virtual card on the other side."""

from __future__ import annotations

import asyncio
import threading

import pytest

from devices.errors import DeviceTimeout, NoCard
from devices.faults import Fault
from devices.registry import open_device
from devices.smartcard import pcscd
from devices.smartcard.apdu import (
    AuthenticationRequired,
    CommandApdu,
    FileNotFound,
    VerifyFailed,
    check,
    read_record,
    select_by_name,
)
from devices.smartcard.driver import NO_SERVICE_WORDS, CardRemoved, SmartCardReader
from devices.smartcard.social_security import SSSE_NAME, read_social_security_card
from devices.smartcard.virtual_card import ATR, TestPsam, VirtualCardSimulator
from devices.state import DeviceState


@pytest.fixture(scope="module", autouse=True)
def private_pcscd():
    """One private pcscd for the module (started here, stopped here); simulators reuse it."""
    daemon = pcscd.hold_sync()
    yield daemon
    pcscd.release_sync()


async def _rig(**sim_kwargs):
    sim = VirtualCardSimulator(**sim_kwargs)
    await sim.start()
    reader = SmartCardReader(sim.url + "&timeout=2", name="ss")
    await reader.open()
    return sim, reader


async def _teardown(sim, reader):
    await reader.close()
    await sim.stop()


async def _until(predicate, what, timeout_s=5.0):
    for _ in range(int(timeout_s / 0.05)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def test_atr_and_status_with_a_card():
    sim, reader = await _rig()
    try:
        assert await reader.wait_for_card(3) == ATR
        assert await reader.atr() == ATR
        status = await reader.status()
        assert status.state is DeviceState.READY
        assert status.details == {"card": "present", "atr": ATR.hex(" ").upper()}
    finally:
        await _teardown(sim, reader)


async def test_empty_reader_is_ready_with_card_absent_and_transmit_says_insert():
    sim, reader = await _rig(faults=[Fault.NO_CARD])
    try:
        # pcscd polls vpcd slots (~0.4 s), so the previous test's card may still be listed for a moment
        await _until(lambda: _card_state(reader, "absent"), "pcscd to see the empty slot")
        status = await reader.status()
        assert status.state is DeviceState.READY and status.details["card"] == "absent"
        assert status.reason == "reader 'Virtual PCD 00 00' ready, no card"
        with pytest.raises(NoCard, match="no card in the reader; insert the card"):
            await reader.transmit(select_by_name(SSSE_NAME))
    finally:
        await _teardown(sim, reader)


async def test_insert_and_remove_arrive_as_events():
    sim, reader = await _rig(faults=[Fault.NO_CARD])
    try:
        await _until(lambda: _card_state(reader, "absent"), "pcscd to see the empty slot")
        async with reader.watch() as events:
            await sim.insert(0)
            inserted = await asyncio.wait_for(events.get(), 5)
            assert (inserted.kind, inserted.atr) == ("inserted", ATR)
            await sim.remove()
            removed = await asyncio.wait_for(events.get(), 5)
            assert removed.kind == "removed" and removed.reader == reader.reader_name
        assert not [t for t in threading.enumerate() if t.name.endswith("-monitor")]
    finally:
        await _teardown(sim, reader)


async def test_events_iterator_form():
    sim, reader = await _rig(faults=[Fault.NO_CARD])
    try:
        await _until(lambda: _card_state(reader, "absent"), "pcscd to see the empty slot")
        stream = reader.events()
        first = asyncio.ensure_future(stream.__anext__())
        await _until(lambda: _true_after_watch(reader), "the monitor to start")
        await sim.insert(1)
        event = await asyncio.wait_for(first, 5)
        assert event.kind == "inserted"
        await stream.aclose()
    finally:
        await _teardown(sim, reader)


async def _true_after_watch(reader):
    return bool(reader._watchers) and all(w.ready.is_set() for w in reader._watchers)


async def test_social_security_read_selects_and_reads_records():
    sim, reader = await _rig()
    try:
        await reader.wait_for_card(3)
        record = await read_social_security_card(reader)
        card = sim.deck[0]
        clear = record.as_dict(show_personal=True)
        assert (clear["card_number"], clear["ssn"], clear["name"]) == (card.card_number, card.ssn, card.name)
        assert clear["birth_date"] == card.birth_date.isoformat() and record.nation == card.nation
        assert record.sex == card.sex and clear["birth_place"] == card.birth_place
        assert card.name not in repr(record) and card.ssn not in repr(record) and card.ssn not in str(record)
        assert sim.applet is not None and sim.applet.counts["C0"] >= 1  # SELECT went through GET RESPONSE
    finally:
        await _teardown(sim, reader)


async def test_get_response_loops_over_a_chunked_answer():
    sim, reader = await _rig(chunk=8)
    try:
        await reader.wait_for_card(3)
        response = await reader.transmit(select_by_name(SSSE_NAME))
        assert response.ok and response.data[0] == 0x6F and SSSE_NAME in response.data
        assert sim.applet is not None and sim.applet.counts["C0"] == (len(response.data) + 7) // 8
    finally:
        await _teardown(sim, reader)


async def test_6cxx_resends_with_the_length_the_card_names():
    sim, reader = await _rig()
    try:
        await reader.wait_for_card(3)
        await reader.transmit(select_by_name(SSSE_NAME))
        response = await reader.transmit(read_record(7, 256, sfi=5))  # Le=00: the card answers 6C0B
        assert response.ok and response.data[:2] == b"\x07\x09"
        assert sim.applet is not None and sim.applet.counts["B2"] == 2
    finally:
        await _teardown(sim, reader)


async def test_wrong_card_application_gives_file_not_found():
    sim, reader = await _rig()
    try:
        await reader.wait_for_card(3)
        response = await reader.transmit(select_by_name(bytes.fromhex("D15600000509")))
        with pytest.raises(FileNotFound, match=r"6A82 \(file or application not found\)"):
            check(response, "selecting an application this card does not have")
    finally:
        await _teardown(sim, reader)


async def test_auth_required_card_calls_the_psam_hook():
    sim, reader = await _rig()
    try:
        await sim.insert(1)  # the deck's second card wants PSAM authentication
        await reader.wait_for_card(3)
        with pytest.raises(AuthenticationRequired, match=r"needs PSAM authentication.*no PSAM configured"):
            await read_social_security_card(reader)
        psam = TestPsam()
        record = await read_social_security_card(reader, psam)
        assert psam.calls == 1 and record.ssn == sim.deck[1].ssn
        with pytest.raises(VerifyFailed, match="63C2"):
            await read_social_security_card(reader, TestPsam(key=b"wrong key"))
    finally:
        await _teardown(sim, reader)


async def test_auth_required_fault_on_an_open_card():
    sim, reader = await _rig(faults=[Fault.AUTH_REQUIRED])
    try:
        await reader.wait_for_card(3)
        with pytest.raises(AuthenticationRequired):
            await read_social_security_card(reader)
    finally:
        await _teardown(sim, reader)


async def test_card_pulled_mid_read_gives_a_clear_error_then_recovers():
    sim, reader = await _rig()
    try:
        await reader.wait_for_card(3)
        sim.inject(Fault.CARD_PULLED, times=1)
        with pytest.raises(CardRemoved, match="pulled out mid-read; insert it again"):
            await read_social_security_card(reader)
        await _until(lambda: _card_state(reader, "absent"), "the reader to see the card gone")
        with pytest.raises(NoCard, match="insert the card"):
            await read_social_security_card(reader)
        await sim.insert(0)
        await reader.wait_for_card(3)
        assert (await read_social_security_card(reader)).card_number == sim.deck[0].card_number
    finally:
        await _teardown(sim, reader)


async def _card_state(reader, wanted):
    return (await reader.status()).details.get("card") == wanted


async def test_silent_card_times_out_as_a_fault():
    sim = VirtualCardSimulator()
    await sim.start()
    reader = SmartCardReader(sim.url + "&timeout=0.5", name="ss")
    await reader.open()
    try:
        await reader.wait_for_card(3)
        sim.inject(Fault.SILENT)
        with pytest.raises(DeviceTimeout, match=r"no answer in 0\.5 s; take the card out"):
            await reader.transmit(CommandApdu(0x00, 0x84, 0x00, 0x00, le=8))
        assert reader.last_status.state is DeviceState.FAULT
    finally:
        await _teardown(sim, reader)  # the card's socket closes, so the stuck worker returns and ends


async def test_no_pcscd_is_disconnected_in_words_and_comes_back():
    sim, reader = await _rig()
    try:
        await reader.wait_for_card(3)
        await sim.unplug()
        status = await reader.status()
        assert status.state is DeviceState.DISCONNECTED and NO_SERVICE_WORDS in status.reason
        await sim.replug()
        back = await _until(lambda: _ready(reader), "the reader to come back")
        assert back.details["card"] == "present"
    finally:
        await _teardown(sim, reader)


async def _ready(reader):
    status = await reader.status()
    return status if status.state is DeviceState.READY else None


async def test_unplug_fault_at_start_reports_the_missing_service():
    sim = VirtualCardSimulator(faults=[Fault.UNPLUG])
    await sim.start()
    reader = SmartCardReader(sim.url, name="ss")
    try:
        status = await reader.open()
        assert status.state is DeviceState.DISCONNECTED
        assert "PC/SC service not running; start pcscd" in status.reason
    finally:
        await reader.close()
        await sim.stop()


async def test_missing_reader_lists_the_readers_available():
    reader = SmartCardReader("pcsc://?reader=No%20Such%20Reader", name="ss")
    try:
        status = await reader.open()
        assert status.state is DeviceState.DISCONNECTED
        assert "reader 'No Such Reader' not found" in status.reason
        assert "'Virtual PCD 00 00'" in status.reason and "'Virtual PCD 00 01'" in status.reason
    finally:
        await reader.close()


async def test_sim_pcsc_url_runs_the_real_driver_against_the_virtual_card():
    async with open_device("sim+pcsc://?deck=open", name="kiosk-card") as reader:
        assert isinstance(reader, SmartCardReader)
        assert reader.simulator is not None and reader.simulator.url.startswith("pcsc://?reader=Virtual")
        await reader.wait_for_card(3)
        record = await read_social_security_card(reader)
        assert record.card_number == reader.simulator.deck[0].card_number
    assert not [t for t in threading.enumerate() if t.name.startswith("smartcard-kiosk-card")]
