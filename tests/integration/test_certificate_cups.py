"""The real driver printing through a real, isolated cupsd into the simulated printer, with faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess

import pytest

from devices.certificate.driver import CertificatePrinter
from devices.certificate.render import Certificate
from devices.certificate.simulator import CupsSimulator, leftover_processes
from devices.errors import DeviceDisconnected, DeviceStatusError, DeviceTimeout
from devices.faults import Fault
from devices.state import DeviceState

pytestmark = pytest.mark.slow


def proof() -> Certificate:
    return Certificate.for_holder(
        name="李小龙", id_number="440301199001011234", title="不动产登记信息查询结果",
        department="某市不动产登记中心", serial="BDC-2025-7781", issued=dt.date(2025, 6, 1),
        verify_url="https://e-licence.example/verify/BDC-2025-7781",
        headings=("不动产单元号", "坐落", "面积（㎡）"), rows=(("440301001001GB00001F0001", "某区某路1号", "89.5"),),
        paragraphs=("经查询，截至出具日期，上述权利人名下登记信息如上。",))


def poppler(pdf: bytes) -> tuple[str, str]:
    """pdftotext and pdffonts of a PDF (blocking; run in a thread)."""
    def run(*argv: str) -> str:
        return subprocess.run(argv, input=pdf, capture_output=True, check=True, timeout=30).stdout.decode()
    return run("pdftotext", "-", "-"), run("pdffonts", "-")


@pytest.fixture
async def sim():
    simulator = CupsSimulator(queue="CERT")
    await simulator.start()
    root = str(simulator.root)
    try:
        yield simulator
    finally:
        await simulator.stop()
        assert not leftover_processes(root), leftover_processes(root)


async def test_certificate_arrives_at_the_printer_as_a_pdf_with_its_text(sim: CupsSimulator) -> None:
    async with CertificatePrinter(sim.url, name="cert") as printer:
        assert (await printer.status()).state is DeviceState.READY
        result = await printer.print_certificate(proof())
    assert result.state == "completed" and result.job_id >= 1 and result.size_bytes > 1000
    assert len(sim.spool) == 1
    arrived = sim.spool[0]
    assert arrived.startswith(b"%PDF-") and arrived.rstrip().endswith(b"%%EOF")
    assert any(command.startswith("@PJL JOB NAME") for command in sim.pjl[0])  # the PPD's PJL wrapper
    text, fonts = await asyncio.to_thread(poppler, arrived)
    assert "不动产登记信息查询结果" in text and "李**" in text and "李小龙" not in text
    assert "NotoSansCJKSC" in fonts and "JP" not in fonts


async def test_sim_url_runs_the_same_driver_and_prints_bytes() -> None:
    async with CertificatePrinter("sim+cups://KIOSK1", name="cert") as printer:
        assert printer.simulator is not None and "cups://KIOSK1?server=127.0.0.1:" in printer.simulator.url
        from devices.certificate.render import render_pdf

        result = await printer.print_certificate(render_pdf(proof()))
        assert result.state == "completed"
        assert len(printer.simulator.spool) == 1  # type: ignore[attr-defined]


async def test_paper_out_is_a_fault_in_words_and_nothing_is_queued(sim: CupsSimulator) -> None:
    async with CertificatePrinter(sim.url, name="cert") as printer:
        sim.inject(Fault.PAPER_OUT)
        await sim.settled()
        status = await printer.status()
        assert status.state is DeviceState.FAULT
        assert "paper out" in status.reason and status.details["paper"] == "out"
        with pytest.raises(DeviceStatusError, match="paper out") as caught:
            await printer.print_certificate(proof())
        assert "certificate_printer 'cert'" in str(caught.value)
        sim.clear()
        await sim.settled()
        assert (await printer.status()).state is DeviceState.READY
        await printer.print_certificate(proof())
    assert len(sim.spool) == 1


async def test_queue_rejecting_jobs_is_refused_with_0506(sim: CupsSimulator) -> None:
    async with CertificatePrinter(sim.url, name="cert") as printer:
        sim.inject(Fault.OFFLINE)
        await sim.settled()
        assert (await printer.status()).state is DeviceState.FAULT
        with pytest.raises(DeviceStatusError, match="not accepting jobs"):
            await printer.print_certificate(proof())
    assert sim.spool == []


async def test_jam_stops_the_printer_mid_job_and_the_job_is_cancelled(sim: CupsSimulator) -> None:
    async with CertificatePrinter(sim.url, name="cert") as printer:
        sim.link.jam()  # the printer takes the job and never finishes it
        with pytest.raises(DeviceTimeout, match="paper jam") as caught:
            await printer.print_certificate(proof(), timeout_s=1.5)
        assert "cancelled" in str(caught.value)
        assert printer.last_status.state is DeviceState.FAULT
        sim.inject(Fault.JAM)  # now the printer also says so: the queue stops with the reason
        await sim.settled()
        status = await printer.status()
        assert status.state is DeviceState.FAULT and "jammed" in status.reason
    assert sim.spool == []


async def test_printer_unplugged_is_disconnected_in_words(sim: CupsSimulator) -> None:
    async with CertificatePrinter(sim.url, name="cert") as printer:
        sim.inject(Fault.UNPLUG)
        await sim.settled()
        with pytest.raises(DeviceDisconnected, match=r"printer unavailable.*power and network cable"):
            await printer.print_certificate(proof(), timeout_s=10)
        assert printer.last_status.state is DeviceState.DISCONNECTED
    assert sim.spool == []


async def test_cupsd_gone_is_disconnected_with_the_remedy(sim: CupsSimulator) -> None:
    async with CertificatePrinter(sim.url, name="cert") as printer:
        await sim.stop_cupsd()
        status = await printer.status()
        assert status.state is DeviceState.DISCONNECTED
        assert "CUPS not running" in status.reason and "start cupsd" in status.reason
        with pytest.raises(DeviceDisconnected, match="CUPS not running"):
            await printer.print_certificate(b"%PDF-1.4\n")


async def test_open_without_cupsd_reports_disconnected(sim: CupsSimulator) -> None:
    url = sim.url
    await sim.stop_cupsd()
    printer = CertificatePrinter(url, name="cert")
    status = await printer.open()
    try:
        assert status.state is DeviceState.DISCONNECTED and "start cupsd" in status.reason
    finally:
        await printer.close()
