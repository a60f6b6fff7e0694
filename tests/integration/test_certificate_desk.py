"""Self-service certificate printing end to end: the real server, the e-licence simulator, an isolated cupsd
with the simulated A4 printer, the real CUPS driver, and the pure flow driven by what the desk answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.loader import load_hall
from devices.certificate.driver import CertificatePrinter
from devices.certificate.simulator import CupsSimulator
from devices.faults import Fault
from kiosk.certificate_desk import CertificateDesk, http_reporter
from kiosk.elicence.client import ELicenceClient
from kiosk.elicence.simulator import ELicenceSimulator
from kiosk.flows import certificate as cf
from kiosk.flows.context import KioskContext
from kiosk.flows.effects import (
    FetchDocuments,
    PrintCertificate,
    RateCertificatePrint,
    ReportCertificatePrint,
    Screen,
    Show,
)
from kiosk.flows.events import Button, CertificateFault, Event, ServerAnswer, Touch
from tests.integration.server_support import ALLDAY_HALL, ServerProcess
from tests.support.kiosk_flows import SECRET, id_card

pytestmark = pytest.mark.slow

CARD = id_card(name="张三丰")
RECEIVE_TIMEOUT_S = 20.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


class Kiosk:
    """The flow plus the desk, run as the node would: every effect performed, its answer fed back."""

    def __init__(self, desk: CertificateDesk) -> None:
        hall = load_hall(ALLDAY_HALL)
        self.desk = desk
        self.state, self.effects = cf.initial(KioskContext(hall, "kiosk-1", SECRET, "cert-test"))
        self.answers: list[ServerAnswer] = []
        self.library: ELicenceSimulator | None = None

    async def feed(self, event: Event) -> Show:
        pending: list[Event] = [event]
        while pending:
            self.state, effects = cf.step(self.state, pending.pop(0))
            self.effects += effects
            for effect in effects:
                if isinstance(effect, FetchDocuments | PrintCertificate):
                    pending.append(await self.desk.perform(effect))
                elif isinstance(effect, ReportCertificatePrint | RateCertificatePrint):
                    answer = await self.desk.perform(effect)
                    assert isinstance(answer, ServerAnswer), answer
                    self.answers.append(answer)
                    pending.append(answer)
        return [e for e in self.effects if isinstance(e, Show)][-1]


@pytest.fixture
async def parts(server: ServerProcess) -> AsyncIterator[tuple[Kiosk, CupsSimulator, ServerProcess]]:
    """The kiosk, the printer simulator and the server; the library simulator is ``kiosk.library``."""
    cups = CupsSimulator(queue="CERT")
    library = ELicenceSimulator()
    await cups.start()
    try:
        async with library, ELicenceClient(library.url) as client, aiohttp.ClientSession() as session, \
                CertificatePrinter(cups.url, name="certificate_printer") as printer:
            desk = CertificateDesk(client, printer, http_reporter(session, server.url, "demo-kiosk-1"),
                                   job_timeout_s=3.0)
            kiosk = Kiosk(desk)
            kiosk.library = library
            yield kiosk, cups, server
    finally:
        await cups.stop()


def poppler(pdf: bytes) -> tuple[str, str]:
    def run(*argv: str) -> str:
        return subprocess.run(argv, input=pdf, capture_output=True, check=True, timeout=60).stdout.decode()
    text = run("pdftotext", "-", "-")
    with_file = Path(f"/tmp/servicehall-cert-{id(pdf)}.pdf")
    try:
        with_file.write_bytes(pdf)
        images = subprocess.run(["pdfimages", "-list", str(with_file)], capture_output=True, check=True,
                                timeout=60).stdout.decode()
    finally:
        with_file.unlink(missing_ok=True)
    return text, images


async def certificate_events(server: ServerProcess, token: str) -> list[dict[str, Any]]:
    """Every certificate.printed as ``token``'s role sees it on the event stream (replayed from the start)."""
    return await stream_events(server, token, "certificate.printed")


async def stream_events(server: ServerProcess, token: str, type_: str) -> list[dict[str, Any]]:
    """Every event of ``type_`` as ``token``'s role sees it on the event stream (replayed from the start)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/health") as reply:
            last = (await reply.json())["last_event_id"]
        headers = {"Authorization": f"Bearer {token}"}
        seen: list[dict[str, Any]] = []
        async with session.ws_connect(f"{server.ws_url}?after=0", headers=headers) as ws:
            while not seen or seen[-1]["id"] < last:
                seen.append(json.loads(await ws.receive_str(timeout=RECEIVE_TIMEOUT_S)))
    return [e for e in seen if e["type"] == type_]


async def test_a_holder_prints_a_social_insurance_proof_and_the_print_is_on_the_server(parts) -> None:
    kiosk, cups, server = parts
    shown = await kiosk.feed(CARD)
    assert shown.screen is Screen.DOCUMENTS and shown.holder_masked == "张**"
    proof = next(c for c in shown.choices if c.button is Button.DOCUMENT)
    assert kiosk.state.documents[0].kind == "参保证明"
    shown = await kiosk.feed(proof)
    assert shown.screen is Screen.CERTIFICATE_DONE, shown
    assert [a.status for a in kiosk.answers] == [201]

    assert len(cups.spool) == 1
    text, images = await asyncio.to_thread(poppler, cups.spool[0])
    assert "参保证明" in text and "张**" in text and "张三丰" not in text and CARD.record.id_number not in text
    assert len([line for line in images.splitlines()[2:] if line.strip()]) >= 1  # the verification QR code

    (staff,) = await certificate_events(server, "demo-manager")
    assert staff["data"]["document_kind"] == "参保证明" and staff["data"]["outcome"] == "printed"
    assert staff["data"]["holder_masked"] == "张**" and staff["node"] == "kiosk-1"
    (public,) = await certificate_events(server, "demo-display")
    assert public["data"] == {"document_kind": "参保证明", "outcome": "printed"}
    log = server.log_text()
    assert "张三丰" not in log and CARD.record.id_number not in log

    shown = await kiosk.feed(Touch(Button.DONE))  # then the rating ask, sent to the print's own route
    assert shown.screen is Screen.RATING
    shown = await kiosk.feed(Touch(Button.LEVEL, "2"))
    assert shown.screen is Screen.THANKS and kiosk.answers[-1].status == 201
    shown = await kiosk.feed(Touch(Button.DONE))
    assert shown.screen is Screen.CERTIFICATE_CARD and kiosk.state.holder is None
    rated = await stream_events(server, "demo-manager", "certificate.rated")
    assert [(e["data"]["print"], e["data"]["level"]) for e in rated] == [(staff["data"]["print"], 2)]
    (followup,) = await stream_events(server, "demo-manager", "case.opened")
    assert followup["data"]["kind"] == "followup" and followup["data"]["holder_masked"] == "张**"


@pytest.mark.parametrize(("fault", "expected"), [(Fault.JAM, CertificateFault.JAM),
                                                 (Fault.PAPER_OUT, CertificateFault.PAPER_OUT)])
async def test_a_jammed_or_empty_printer_is_not_delivered_and_a_retry_prints(parts, fault, expected) -> None:
    kiosk, cups, server = parts
    shown = await kiosk.feed(CARD)
    cups.inject(fault)
    await cups.settled()
    shown = await kiosk.feed(next(c for c in shown.choices if c.button is Button.DOCUMENT))
    assert shown.screen is Screen.PRINT_FAILED and kiosk.state.fault is expected
    assert shown.words == cf.FAULT_WORDS[expected] and Touch(Button.RETRY) in shown.choices
    assert cups.spool == []

    cups.clear()
    await cups.settled()
    shown = await kiosk.feed(Touch(Button.RETRY))
    assert shown.screen is Screen.CERTIFICATE_DONE and len(cups.spool) == 1
    outcomes = [(e["data"]["outcome"], e["data"]["reason"]) for e in await certificate_events(server, "demo-manager")]
    assert outcomes == [("failed", expected.value), ("printed", "")]


async def test_a_jam_in_the_middle_of_the_job_is_a_failure_and_the_job_is_cancelled(parts) -> None:
    kiosk, cups, server = parts
    shown = await kiosk.feed(CARD)
    cups.link.jam()  # the printer takes the job and never finishes it
    shown = await kiosk.feed(next(c for c in shown.choices if c.button is Button.DOCUMENT))
    assert shown.screen is Screen.PRINT_FAILED and kiosk.state.fault is CertificateFault.JAM
    (event,) = await certificate_events(server, "demo-manager")
    assert (event["data"]["outcome"], event["data"]["reason"]) == ("failed", "jam")


async def test_the_library_down_offers_a_retry_that_finds_the_documents(parts) -> None:
    kiosk, _, _ = parts
    assert kiosk.library is not None
    await kiosk.library.unplug()
    shown = await kiosk.feed(CARD)
    assert shown.screen is Screen.UNREACHABLE and Touch(Button.RETRY) in shown.choices
    await kiosk.library.replug()
    shown = await kiosk.feed(Touch(Button.RETRY))
    assert shown.screen is Screen.DOCUMENTS and kiosk.state.documents
