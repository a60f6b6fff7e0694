"""The real driver against the byte-level simulator, one test body over loopback TCP and over a pty."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from devices.errors import DeviceDisconnected
from devices.faults import Fault
from devices.registry import open_device
from devices.state import DeviceState
from devices.ticket_printer.driver import PrintNotConfirmed, PrintRefused, TicketPrinter
from devices.ticket_printer.simulator import PrinterSimulator
from devices.ticket_printer.ticket import TicketLayout

URL = "https://hall.example/t/7f3a9c"
LAYOUT = TicketLayout("新野县政务服务中心", "社保业务", "A012", 5, 15, dt.datetime(2024, 5, 1, 9, 30), URL,
                      holder_masked="张*三")


@pytest.fixture(params=["tcp", "pty"])
async def rig(request):
    """A started simulator and the real driver opened on its real-device URL, with a short timeout."""
    sim = PrinterSimulator(request.param, realtime=False)
    await sim.start()
    printer = TicketPrinter(f"{sim.url}?timeout=0.25", name="ticket")
    try:
        await printer.open()
        yield sim, printer
    finally:
        await printer.close()
        await sim.stop()


async def test_good_print(rig):
    sim, printer = rig
    received = sim.bytes_received
    result = await printer.print_ticket(LAYOUT)
    assert result.before.state is DeviceState.READY and result.after.state is DeviceState.READY
    [ticket] = sim.tickets
    assert ticket.cut and ticket.qr_data == [URL]
    assert "A012" in ticket.text and "社保业务" in ticket.text and "张*三" in ticket.text
    assert result.bytes_sent == sim.bytes_received - received - 2 * 12  # the ticket plus two rounds of 4 DLE EOT


@pytest.mark.parametrize(("fault", "paper", "words"), [
    (Fault.PAPER_OUT, "out", "paper out"),
    (Fault.COVER_OPEN, "ok", "cover open"),
    (Fault.CUTTER_ERROR, "ok", "cutter"),
    (Fault.OFFLINE, "ok", "offline"),
    (Fault.SILENT, "unknown", "no answer"),
    (Fault.GARBLED, "unknown", "garbage"),
])
async def test_faults_refuse_the_print_before_sending(rig, fault, paper, words):
    sim, printer = rig
    sim.inject(fault)
    status = await printer.status()
    assert status.state is DeviceState.FAULT
    assert status.details["paper"] == paper
    assert words in status.reason
    received = sim.bytes_received
    with pytest.raises(PrintRefused, match=words):
        await printer.print_ticket(LAYOUT)
    assert sim.bytes_received - received == 12  # only the status queries went out
    assert sim.tickets == []
    sim.clear()
    assert (await printer.status()).state is DeviceState.READY


async def test_paper_near_end_degrades_but_prints(rig):
    sim, printer = rig
    sim.inject(Fault.PAPER_NEAR_END)
    result = await printer.print_ticket(LAYOUT)
    assert result.after.state is DeviceState.DEGRADED and result.after.details["paper"] == "near_end"
    assert "change the roll" in result.after.reason
    assert len(sim.tickets) == 1


async def test_slow_printer_is_still_ready(rig):
    sim, printer = rig
    sim.slow_delay_s = 0.1
    sim.inject(Fault.SLOW)
    assert (await printer.status()).state is DeviceState.READY


async def test_paper_running_out_mid_ticket_raises_after_print(rig):
    sim, printer = rig
    sim.paper_lines = 3
    with pytest.raises(PrintNotConfirmed, match=r"paper out.*printed\? unknown") as caught:
        await printer.print_ticket(LAYOUT)
    assert caught.value.bytes_sent > 0 and caught.value.status.details["paper"] == "out"
    [ticket] = sim.tickets
    assert not ticket.cut and ticket.interrupted == "paper out"
    assert len(ticket.lines) == 3 and "您前面还有" not in ticket.text and not ticket.qr_data


@pytest.mark.parametrize("fault", [Fault.SILENT, Fault.UNPLUG])
async def test_printer_dying_right_after_the_job_is_never_silent(rig, fault):
    """python-escpos issue #253: a powered-off printer must not swallow a ticket without an error."""
    sim, printer = rig
    sim.arm(fault)
    with pytest.raises(PrintNotConfirmed, match="may not have printed"):
        await printer.print_ticket(LAYOUT)
    assert len(sim.tickets) == 1


async def test_unplug_and_replug_reconnects(rig):
    sim, printer = rig
    await sim.unplug()
    status = await printer.status()
    assert status.state is DeviceState.DISCONNECTED and status.details["paper"] == "unknown"
    with pytest.raises(DeviceDisconnected):
        await printer.print_ticket(LAYOUT)
    await sim.replug()
    for _ in range(100):  # the base class backs off from 0.1 s; a bounded wait for it
        if (await printer.status()).state is DeviceState.READY:
            break
        await asyncio.sleep(0.05)
    assert printer.last_status.state is DeviceState.READY
    await printer.print_ticket(LAYOUT)
    assert [t.cut for t in sim.tickets] == [True]


@pytest.mark.parametrize("scheme", ["sim+escpos+tcp", "sim+escpos+serial"])
async def test_sim_url_runs_the_real_driver(scheme):
    async with open_device(f"{scheme}://?fault=paper_near_end&realtime=0", name="ticket") as printer:
        assert isinstance(printer, TicketPrinter)
        result = await printer.print_test()
        assert result.after.details["paper"] == "near_end"
        assert "打印机自检" in printer.simulator.tickets[0].text


async def test_injected_unplug_fault_drops_the_link_and_it_comes_back(rig):
    sim, printer = rig
    sim.inject(Fault.UNPLUG, times=1)
    assert (await printer.status()).state is DeviceState.DISCONNECTED
    await sim.replug()
    for _ in range(100):
        if (await printer.status()).state is DeviceState.READY:
            break
        await asyncio.sleep(0.05)
    assert printer.last_status.state is DeviceState.READY
