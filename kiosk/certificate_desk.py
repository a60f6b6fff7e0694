"""Performs the certificate flow's effects: the e-licence library, the A4 render, the CUPS print, the server log.

The node hands every ``FetchDocuments``, ``PrintCertificate``, ``ReportCertificatePrint`` and
``RateCertificatePrint`` effect of kiosk/flows/certificate.py to ``CertificateDesk.perform`` and feeds the
event it returns back into the flow (the report's answer carries the print id the rating needs);
``perform`` never raises for a failure the citizen must hear about (it answers with the failure event).
The server log goes through a ``Reporter`` the node gives (its outbox, which keeps the report when the
server is away); ``http_reporter`` is a plain one for tests and tools. Logs name the document kind, the
job and the fault, never the holder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from devices.certificate.driver import CertificatePrinter
from devices.certificate.render import Certificate, render_pdf
from devices.errors import DeviceDisconnected, DeviceError
from kiosk.elicence.client import Document, ELicenceClient, ELicenceError
from kiosk.flows.effects import FetchDocuments, PrintCertificate, RateCertificatePrint, ReportCertificatePrint
from kiosk.flows.events import (
    CertificateFault,
    CertificatePrinted,
    CertificatePrintFailed,
    DocumentItem,
    DocumentsFetched,
    DocumentsUnavailable,
    Event,
    ServerAnswer,
    ServerUnreachable,
)

log = logging.getLogger(__name__)

__all__ = ["PRINTS_PATH", "CertificateDesk", "Reporter", "fault_of", "http_reporter"]

PRINTS_PATH = "/api/v1/certificates/prints"

#: sends one JSON POST (path, body, Idempotency-Key) to the queue server; answers ServerAnswer / ServerUnreachable
Reporter = Callable[[str, Mapping[str, Any], str], Awaitable[ServerAnswer | ServerUnreachable]]

CertificateEffect = FetchDocuments | PrintCertificate | ReportCertificatePrint | RateCertificatePrint


def fault_of(err: DeviceError) -> CertificateFault:
    """What the citizen must be told about a print that did not complete, from the driver's words."""
    text = str(err).lower()
    if "jam" in text:
        return CertificateFault.JAM
    if "paper out" in text or "out of paper" in text or "media-empty" in text:
        return CertificateFault.PAPER_OUT
    if isinstance(err, DeviceDisconnected) or "not accepting jobs" in text or "unavailable" in text:
        return CertificateFault.OFFLINE
    return CertificateFault.OTHER


def certificate_of(document: Document, holder_masked: str) -> Certificate:
    """The A4 layout of a library document for its holder (masked name; the QR code is the library's check)."""
    return Certificate(title=document.title, department=document.department, holder=holder_masked, holder_id="",
                       serial=document.serial, issued=document.issued, verify_url=document.verify_url,
                       headings=document.headings, rows=document.rows, paragraphs=document.paragraphs)


class CertificateDesk:
    """One kiosk's certificate printing: its library client, its A4 printer and its way to the server.

    ``out_dir``, when given, keeps a copy of every PDF sent to the printer (``servicehall hall --out``).
    """

    def __init__(self, library: ELicenceClient, printer: CertificatePrinter, report: Reporter, *,
                 out_dir: Path | None = None, job_timeout_s: float | None = None) -> None:
        self.library = library
        self.printer = printer
        self.report = report
        self.out_dir = out_dir
        self.job_timeout_s = job_timeout_s

    async def perform(self, effect: CertificateEffect) -> Event:
        """Do one effect and return the event that answers it (the flow's next input)."""
        if isinstance(effect, FetchDocuments):
            return await self.fetch(effect)
        if isinstance(effect, PrintCertificate):
            return await self.print(effect)
        if isinstance(effect, RateCertificatePrint):
            return await self.report(f"{PRINTS_PATH}/{effect.print_id}/rating", effect.body, effect.key)
        return await self.report(PRINTS_PATH, effect.body, effect.key)

    async def fetch(self, effect: FetchDocuments) -> DocumentsFetched | DocumentsUnavailable:
        try:
            documents = await self.library.documents(effect.holder_key)
        except ELicenceError as err:
            log.warning("e-licence library: %s", err)
            return DocumentsUnavailable(effect.key, str(err), unreachable=err.unreachable)
        items = tuple(DocumentItem(d.id, d.kind, d.kind_en, d.issued) for d in documents)
        return DocumentsFetched(effect.key, items)

    async def print(self, effect: PrintCertificate) -> CertificatePrinted | CertificatePrintFailed:
        """Fetch the document in full, render it, print it; success only when CUPS says the job completed."""
        try:
            document = await self.library.document(effect.holder_key, effect.document_id)
        except ELicenceError as err:
            log.warning("e-licence library: %s", err)
            return CertificatePrintFailed(effect.key, CertificateFault.LIBRARY, str(err))
        try:
            pdf = await asyncio.to_thread(render_pdf, certificate_of(document, effect.holder_masked))
            if self.out_dir is not None:
                await asyncio.to_thread(self._keep, document.serial, pdf)
            result = await self.printer.print_certificate(pdf, job_name=f"certificate {document.serial}",
                                                          timeout_s=self.job_timeout_s)
        except DeviceError as err:
            fault = fault_of(err)
            log.warning("certificate %s (%s) not printed (%s): %s", document.serial, document.kind, fault.value, err)
            return CertificatePrintFailed(effect.key, fault, str(err))
        log.info("certificate %s (%s) printed: job %d in %.2f s", document.serial, document.kind, result.job_id,
                 result.elapsed_s)
        return CertificatePrinted(effect.key)

    def _keep(self, serial: str, pdf: bytes) -> None:
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"certificate-{serial}.pdf").write_bytes(pdf)


def http_reporter(session: aiohttp.ClientSession, server_url: str, token: str, *,
                  timeout_s: float = 10.0) -> Reporter:
    """A Reporter that POSTs straight to the server (no outbox): for tests and the technician's tools."""

    async def post(path: str, body: Mapping[str, Any], key: str) -> ServerAnswer | ServerUnreachable:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        try:
            async with asyncio.timeout(timeout_s):
                async with session.post(f"{server_url.rstrip('/')}{path}", json=dict(body), headers=headers) as r:
                    answer = await r.json(content_type=None)
                    return ServerAnswer(key, r.status, answer if isinstance(answer, Mapping) else {})
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            return ServerUnreachable(key, str(err) or type(err).__name__)

    return post
