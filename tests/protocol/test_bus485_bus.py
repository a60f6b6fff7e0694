"""The real poller and drivers against the simulated line, one test body over a pty and over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from devices.bus485 import framing as fr
from devices.bus485 import poller
from devices.bus485 import registers as rg
from devices.bus485.callpad import CallPad, KeyEvent
from devices.bus485.driver import bus_device
from devices.bus485.rating_pad import Rating, RatingPad
from devices.bus485.simulator import BusSimulator
from devices.bus485.window_display import WindowDisplay
from devices.faults import Fault
from devices.state import DeviceState


async def until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Wait for ``predicate`` (bounded, so a broken driver fails instead of hanging)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Line:
    """A simulated line with a call pad (1), a window display (2) and a rating pad (3) opened on it."""

    def __init__(self, sim: BusSimulator) -> None:
        self.sim = sim
        self.states: dict[int, list[DeviceState]] = {1: [], 2: [], 3: []}
        self.devices: list = []

    def open(self, address: int, device: str, **kwargs):
        url = f"{self.sim.url}?address={address}&device={device}&poll=0.02"
        dev = bus_device(url, name=f"w{address}", down_poll_s=0.1,
                         listener=lambda d, s: self.states.setdefault(address, []).append(s.state), **kwargs)
        self.devices.append(dev)
        return dev


@pytest.fixture(params=["pty", "tcp"])
async def line(request):
    sim = BusSimulator(request.param)
    await sim.start()
    bus = Line(sim)
    bus.pad, bus.display, bus.rating = bus.open(1, "callpad"), bus.open(2, "window_display"), bus.open(3, "rating_pad")
    try:
        for dev in bus.devices:
            assert (await dev.open()).state is DeviceState.READY
        for states in bus.states.values():
            states.clear()
        yield bus
    finally:
        for dev in bus.devices:
            await dev.close()
        await sim.stop()
    assert not poller._POLLERS, "a line was left open"


async def test_devices_share_one_line_and_identify(line):
    assert isinstance(line.pad, CallPad) and isinstance(line.display, WindowDisplay)
    assert isinstance(line.rating, RatingPad)
    assert len(poller._POLLERS) == 1
    status = await line.pad.status()
    assert status.state is DeviceState.READY and status.details == {"address": 1, "firmware": "1.2"}


async def test_call_next_press_arrives_once(line):
    seq = line.sim.press(1, rg.Key.CALL_NEXT)
    assert await line.pad.next_event(3) == KeyEvent(rg.Key.CALL_NEXT, 0, seq)
    await until(lambda: not line.sim.devices[1].fifo)  # acknowledged
    line.sim.press(1, rg.Key.TRANSFER, 1003)
    assert await line.pad.next_event(3) == KeyEvent(rg.Key.TRANSFER, 1003, seq + 1)
    with pytest.raises(TimeoutError):
        await line.pad.next_event(0.2)


async def test_a_duplicated_seq_is_not_a_second_action(line):
    line.sim.inject(Fault.DUPLICATE_EVENT, times=1, address=1)
    seq = line.sim.press(1, "call_next")
    assert (await line.pad.next_event(3)).seq == seq
    await until(lambda: line.pad.duplicates_dropped >= 1 and not line.sim.devices[1].fifo)
    with pytest.raises(TimeoutError):
        await line.pad.next_event(0.2)


async def test_a_lost_ack_makes_the_pad_resend_without_a_second_action(line):
    line.sim.inject(Fault.SILENT, times=1, address=1, function=fr.WRITE_SINGLE)  # the ack frame is lost
    seq = line.sim.press(1, "finish")
    assert (await line.pad.next_event(3)).key is rg.Key.FINISH
    await until(lambda: not line.sim.devices[1].fifo)
    assert line.sim.devices[1].reported[seq] >= 2  # the pad showed the event again …
    assert line.pad.duplicates_dropped >= 1  # … and the node dropped it
    with pytest.raises(TimeoutError):
        await line.pad.next_event(0.2)


async def test_a_quick_double_press_counts_once(line):
    line.sim.press(1, "call_next")
    line.sim.press(1, "call_next")  # a new seq, pressed within the debounce window
    line.sim.press(1, "recall")
    events = [await line.pad.next_event(3), await line.pad.next_event(3)]
    assert [e.key for e in events] == [rg.Key.CALL_NEXT, rg.Key.RECALL]
    assert line.pad.debounced == 1


async def test_display_text_round_trip_in_chinese(line):
    await line.display.show("A012", "请 A012 号到 3 号窗口办理", rg.WindowState.SERVING, mode=rg.DisplayMode.SCROLL,
                            brightness=60)
    view = line.sim.display(2)
    assert (view.number, view.text, view.state, view.mode, view.brightness) == (
        "A012", "请 A012 号到 3 号窗口办理", rg.WindowState.SERVING, rg.DisplayMode.SCROLL, 60)
    await line.display.show("", "暂停服务", rg.WindowState.PAUSED)
    assert line.sim.display(2).text == "暂停服务" and line.sim.display(2).state is rg.WindowState.PAUSED
    with pytest.raises(ValueError, match="holds 64"):
        await line.display.show("A012", "一二三四五六七八九十" * 4)


async def test_a_retried_display_write_is_applied_once(line):
    line.sim.inject(Fault.TRUNCATED, times=1, address=2, function=fr.WRITE_MULTIPLE)  # applied, answer cut
    await line.display.show("B007", "请到2号窗口")
    assert line.sim.display(2).number == "B007"
    assert line.sim.devices[2].writes_applied == 1


async def test_a_restarted_display_gets_its_text_back(line):
    await line.display.show("C101", "综合窗口")
    line.sim.devices[2].reboot()
    await until(lambda: line.sim.display(2).text == "综合窗口")
    assert line.sim.display(2).number == "C101"


async def test_call_pad_line_and_leds(line):
    await line.pad.show("A012 张**", leds=rg.Led.GREEN, beeps=1)
    await line.pad.set_leds(rg.Led.RED)
    pad = line.sim.devices[1]
    assert (pad.line, pad.leds, pad.beeps_played) == ("A012 张**", rg.Led.RED, 1)


async def test_rating_flow_with_the_lamp(line):
    pad = line.sim.devices[3]
    await line.rating.invite("A012", "S0042", timeout_s=30)
    assert (pad.mode, pad.lamp, pad.invitation) == (rg.RatingMode.INVITING, rg.Lamp.BLINK, ("A012", "S0042", 30))
    assert line.sim.rate(3, 5) is not None
    rating = await line.rating.next_event(3)
    assert (rating.level, rating.words, rating.bad) == (5, "非常满意", False)
    assert (pad.mode, pad.lamp) == (rg.RatingMode.IDLE, rg.Lamp.OFF)
    assert line.sim.rate(3, 1) is None  # one rating per matter
    await line.rating.thank()
    assert pad.mode is rg.RatingMode.THANK_YOU
    await line.rating.invite("A013", "S0042", timeout_s=30)
    pad.expire()  # the citizen walked away
    assert await line.rating.next_event(3) == Rating(None, rating.seq + 1)
    with pytest.raises(TimeoutError):
        await line.rating.next_event(0.2)


async def test_silent_device_is_disconnected_once_and_back_once(line):
    line.sim.inject(Fault.SILENT, address=1)
    await until(lambda: line.pad.last_status.state is DeviceState.DISCONNECTED)
    await asyncio.sleep(0.3)  # several more silent polls: no more reports
    assert "gave no answer to 3 polls" in line.pad.last_status.reason
    line.sim.clear(Fault.SILENT)
    await until(lambda: line.pad.last_status.state is DeviceState.READY)
    assert line.states[1] == [DeviceState.DISCONNECTED, DeviceState.READY]
    assert line.states[2] == [] and line.states[3] == []  # its neighbours never noticed
    seq = line.sim.press(1, "call_next")
    assert (await line.pad.next_event(3)).seq == seq


async def test_stray_leading_bytes_are_tolerated(line):
    line.sim.inject(Fault.LEADING_GARBAGE, address=1)
    line.sim.press(1, "skip")
    assert (await line.pad.next_event(3)).key is rg.Key.SKIP
    await line.pad.show("过号")
    assert line.sim.devices[1].line == "过号" and line.states[1] == []


async def test_a_late_reply_from_another_address_does_not_poison_the_next_poll(line):
    line.sim.inject(Fault.WRONG_ADDRESS, address=1)  # a neighbour's late reply arrives before every answer
    line.sim.inject(Fault.SLOW, times=1, address=3)  # and one real late reply lands in someone else's poll
    line.sim.press(1, "call_next")
    assert (await line.pad.next_event(3)).key is rg.Key.CALL_NEXT
    await line.display.show("A001", "迟到的回答")
    await asyncio.sleep(0.5)
    assert line.sim.display(2).text == "迟到的回答"
    assert line.states == {1: [], 2: [], 3: []}


async def test_bad_crc_and_truncated_answers_are_retried(line):
    line.sim.inject(Fault.BAD_CHECKSUM, times=1, address=1)
    line.sim.inject(Fault.TRUNCATED, times=1, address=1)
    line.sim.press(1, "pause", 2)
    assert await line.pad.next_event(3) == KeyEvent(rg.Key.PAUSE, 2, 1)
    assert line.states[1] == []


async def test_exception_replies_become_errors_in_words(line):
    line.sim.inject(Fault.EXCEPTION_REPLY, times=1, address=2, function=fr.WRITE_MULTIPLE)
    with pytest.raises(fr.ModbusException, match="exception 03") as info:
        await line.display.show("A002", "")
    assert info.value.code == 3
    line.sim.inject(Fault.EXCEPTION_REPLY, times=1, address=2, function=fr.READ_INPUT)
    await until(lambda: line.states[2] == [DeviceState.FAULT, DeviceState.READY])


async def test_unplug_and_replug(line):
    await line.sim.unplug()
    await until(lambda: all(d.last_status.state is DeviceState.DISCONNECTED for d in line.devices))
    await line.sim.replug()
    await until(lambda: all(d.last_status.state is DeviceState.READY for d in line.devices))
    assert all(states == [DeviceState.DISCONNECTED, DeviceState.READY] for states in line.states.values())
    line.sim.press(1, "resume")
    assert (await line.pad.next_event(3)).key is rg.Key.RESUME


async def test_an_absent_address_stays_silent(line):
    ghost = line.open(9, "callpad")
    await ghost.open()
    await until(lambda: ghost.last_status.state is DeviceState.DISCONNECTED)
    assert line.sim.requests[9] >= 3
    assert "check its power, its address switch" in ghost.last_status.reason


async def test_a_device_of_another_kind_at_the_address_is_a_fault(line):
    wrong = line.open(1, "rating_pad")
    line.devices.remove(line.pad)
    await line.pad.close()
    status = await wrong.open()
    assert status.state is DeviceState.FAULT and "says it is call pad" in status.reason


async def test_sim_urls_of_one_name_share_one_simulated_line():
    pad = bus_device("sim+modbus+serial://hall?address=4&poll=0.02")
    display = bus_device("sim+modbus+serial://hall?address=5&device=window_display")
    other = bus_device("sim+modbus+serial://?address=4")
    try:
        for dev in (pad, display, other):
            assert (await dev.open()).state is DeviceState.READY
        assert pad.simulator is display.simulator and other.simulator is not pad.simulator
        assert sorted(pad.simulator.devices) == [4, 5]
        await display.show("A123", "共享总线")
        assert pad.simulator.display(5).text == "共享总线"
        pad.simulator.press(4, "start")
        assert (await pad.next_event(3)).key is rg.Key.START
    finally:
        for dev in (pad, display, other):
            await dev.close()
    assert not poller._POLLERS


async def test_a_second_url_for_the_same_port_reuses_the_open_line(line):
    extra = line.open(7, "callpad")
    line.sim.add(7, "callpad")
    assert (await extra.open()).state is DeviceState.READY
    assert len(poller._POLLERS) == 1
