"""The self-service A4 certificate printer (自助证照打印), driven through a CUPS queue over IPP.

``cups://QUEUE[?server=HOST:PORT]`` (default server localhost:631); ``sim+cups://`` starts an isolated cupsd
with a simulated printer behind it. CUPS accepts a job even when the printer is out of paper or gone (``lp``
exits 0 either way), so success means one thing here: the job reached ``completed``. Anything else within the
timeout (printer stopped with a message, queue rejecting jobs, printer unavailable, job aborted) is a
DeviceError in words, and the job is cancelled so that a citizen's proof does not print later, unattended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from devices.base import Device, TransitionListener
from devices.certificate.cups import CupsClient
from devices.certificate.ipp import JOB_STATES, PRINTER_STATES, IppResponse, Tag
from devices.certificate.render import Certificate, render_pdf
from devices.errors import DeviceDisconnected, DeviceError, DeviceStatusError, DeviceTimeout
from devices.faults import Fault
from devices.simulator import Simulator
from devices.state import DeviceState, DeviceStatus, PaperState
from devices.url import DeviceAddress

log = logging.getLogger(__name__)

__all__ = ["CertificatePrinter", "JobResult", "printer_status"]

DEFAULT_SERVER = "localhost:631"
_UNAVAILABLE = ("unavailable", "may not exist", "host is down", "connection refused", "unable to connect")
_PAPER_OUT = ("paper out", "out of paper", "media empty", "缺纸")


@dataclass(frozen=True)
class JobResult:
    """A job that CUPS reports completed: the printer took the whole document."""

    job_id: int
    queue: str
    size_bytes: int
    elapsed_s: float
    pages: int | None = None
    state: str = "completed"
    details: dict[str, Any] = field(default_factory=dict)


def _paper(reasons: list[str], message: str) -> PaperState:
    text = message.lower()
    if any(r.startswith(("media-empty", "media-needed")) for r in reasons) or any(w in text for w in _PAPER_OUT):
        return PaperState.OUT
    if any(r.startswith("media-low") for r in reasons):
        return PaperState.NEAR_END
    return PaperState.UNKNOWN  # CUPS reports paper only when the printer says something; silence is not "ok"


def printer_status(printer: dict[str, list[Any]], queue: str) -> DeviceStatus:
    """Map Get-Printer-Attributes to a DeviceStatus with words and the remedy (pure, for tests)."""
    state = int((printer.get("printer-state") or [0])[0] or 0)
    message = str((printer.get("printer-state-message") or [""])[0] or "")
    reasons = [str(r) for r in printer.get("printer-state-reasons", []) if r and r != "none"]
    accepting = bool((printer.get("printer-is-accepting-jobs") or [True])[0])
    state_words = PRINTER_STATES.get(state, f"unknown ({state})")
    details = {"printer_state": state_words, "reasons": reasons,
               "message": message, "accepting_jobs": accepting, "paper": _paper(reasons, message).value}
    said = message or ", ".join(reasons) or "no reason given"
    if state == 5:
        return DeviceStatus(DeviceState.FAULT, f"printer stopped: {said}; fix the printer, then resume the "
                            f"queue (cupsenable {queue})", details=details)
    if not accepting:
        return DeviceStatus(DeviceState.FAULT, f"queue {queue} is not accepting jobs: {said}; fix the printer, "
                            f"then cupsaccept {queue}", details=details)
    if state == 4 and any(w in message.lower() for w in _UNAVAILABLE):
        return DeviceStatus(DeviceState.DISCONNECTED, f"printer unavailable: {message}; check the printer's "
                            "power and network cable", details=details)
    errors = [r for r in reasons if r.endswith("-error")]
    if errors:
        return DeviceStatus(DeviceState.FAULT, f"printer reports {', '.join(errors)}: {said}", details=details)
    if state in (3, 4):
        return DeviceStatus(DeviceState.READY, state_words, details=details)
    return DeviceStatus(DeviceState.FAULT, f"CUPS reports an unknown printer-state {state}", details=details)


class CertificatePrinter(Device):
    """An A4 printer behind CUPS; ``print_certificate`` returns only when the job completed."""

    kind = "certificate_printer"
    default_timeout_s = 5.0  # one IPP request; the whole job has its own, longer timeout

    def __init__(self, address: DeviceAddress | str, *, name: str | None = None,
                 listener: TransitionListener | None = None, job_timeout_s: float = 60.0,
                 cancel_on_fault: bool = True) -> None:
        super().__init__(address, name=name, listener=listener)
        self.job_timeout_s = job_timeout_s
        self.cancel_on_fault = cancel_on_fault
        self._client: CupsClient | None = None

    # ---- Device primitives -------------------------------------------------------------------------
    async def _connect(self, target: DeviceAddress) -> None:
        server = str(target.option("server", DEFAULT_SERVER))
        queue = target.path or "CERT"
        client = CupsClient(server, queue, timeout_s=self.timeout_s)
        await client.open()
        try:
            reply = await client.printer_attributes()
            if not reply.ok:
                raise DeviceStatusError(f"CUPS at {server} has no usable queue {queue!r} ({reply.words}); "
                                        f"create it with lpadmin -p {queue}", code=reply.status)
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _read_status(self) -> DeviceStatus:
        reply = await self._cups.printer_attributes()
        if not reply.ok:
            return DeviceStatus(DeviceState.FAULT, f"CUPS cannot report queue {self._cups.queue}: {reply.words}")
        return printer_status(reply.group(Tag.PRINTER), self._cups.queue)

    def _make_simulator(self, faults: list[Fault]) -> Simulator:
        from devices.certificate.simulator import CupsSimulator

        return CupsSimulator(faults=faults, queue=self.address.path or "CERT")

    @property
    def _cups(self) -> CupsClient:
        if self._client is None:
            raise DeviceDisconnected(f"{self.describe()} is not connected")
        return self._client

    # ---- printing --------------------------------------------------------------------------------
    async def print_certificate(self, document: Certificate | bytes, *, job_name: str | None = None,
                                timeout_s: float | None = None) -> JobResult:
        """Render (in a worker thread) and print; raise DeviceError in words unless the job completed."""
        started = time.monotonic()
        if isinstance(document, Certificate):
            job_name = job_name or f"certificate {document.serial}"
            pdf = await asyncio.to_thread(render_pdf, document)
        else:
            pdf = bytes(document)
        if not pdf.startswith(b"%PDF-"):
            raise DeviceError(f"{self.describe()}: the document is not a PDF (starts {pdf[:8]!r})")
        job_name = job_name or "certificate"
        deadline = started + (timeout_s or self.job_timeout_s)
        before = await self.status()
        if before.state is DeviceState.DISCONNECTED:
            raise DeviceDisconnected(f"{self.describe()} cannot print: {before.reason}")
        if before.state is DeviceState.FAULT:
            raise DeviceStatusError(f"{self.describe()} cannot print: {before.reason}")
        reply: IppResponse = await self._run(lambda: self._cups.print_job(
            pdf, job_name=job_name, timeout_s=max(self.timeout_s, 30.0)))
        if not reply.ok:
            status = DeviceStatus(DeviceState.FAULT, f"queue {self._cups.queue} refused the job: {reply.words}")
            self._report(status)
            raise DeviceStatusError(f"{self.describe()} cannot print: {status.reason}", code=reply.status)
        job_id = int(reply.first(Tag.JOB, "job-id", 0))
        log.info("%s: job %d submitted (%d bytes)", self.describe(), job_id, len(pdf))
        return await self._wait_for(job_id, len(pdf), started, deadline)

    async def _wait_for(self, job_id: int, size: int, started: float, deadline: float) -> JobResult:
        """Poll the job and the printer until the job completes, fails, or the deadline passes."""
        delay_s = 0.02
        while True:
            job = (await self._run(lambda: self._cups.job_attributes(job_id))).group(Tag.JOB)
            state = int((job.get("job-state") or [0])[0] or 0)
            if state == 9:
                pages = (job.get("job-impressions-completed") or [None])[0]
                elapsed = time.monotonic() - started
                log.info("%s: job %d completed in %.2f s", self.describe(), job_id, elapsed)
                await self.status()
                return JobResult(job_id, self._cups.queue, size, elapsed, pages)
            said = self._job_words(job)
            if state in (7, 8):
                raise DeviceStatusError(f"{self.describe()}: job {job_id} was {JOB_STATES[state]} ({said}); "
                                        "print the certificate again or issue it at a window", code=state)
            printer = await self.status()
            if printer.state in (DeviceState.FAULT, DeviceState.DISCONNECTED):
                await self._give_up(job_id)
                error = DeviceDisconnected if printer.state is DeviceState.DISCONNECTED else DeviceStatusError
                raise error(f"{self.describe()}: job {job_id} did not print: {printer.reason}"
                            f"{self._cancelled_words()}")
            if time.monotonic() > deadline:
                await self._give_up(job_id)
                reason = (f"job {job_id} still {JOB_STATES.get(state, state)} after "
                          f"{deadline - started:.0f} s ({said}); check the printer for a paper jam")
                self._report(DeviceStatus(DeviceState.FAULT, reason))
                raise DeviceTimeout(f"{self.describe()}: {reason}{self._cancelled_words()}")
            await asyncio.sleep(delay_s)
            delay_s = min(0.5, delay_s * 1.5)

    @staticmethod
    def _job_words(job: dict[str, list[Any]]) -> str:
        message = (job.get("job-printer-state-message") or job.get("job-state-message") or [""])[0]
        reasons = [r for r in job.get("job-state-reasons", []) if r and r != "none"]
        return str(message or ", ".join(reasons) or "no message")

    def _cancelled_words(self) -> str:
        return "; the job was cancelled so it cannot print later unattended" if self.cancel_on_fault else ""

    async def _give_up(self, job_id: int) -> None:
        """Cancel a job that will not complete now; a failure to cancel is logged, not raised."""
        if not self.cancel_on_fault:
            return
        try:
            reply = await self._run(lambda: self._cups.cancel_job(job_id))
        except DeviceError as err:
            log.warning("%s: could not cancel job %d: %s", self.describe(), job_id, err)
            return
        if not reply.ok:
            log.warning("%s: CUPS would not cancel job %d: %s", self.describe(), job_id, reply.words)

    async def _run(self, operation: Any) -> Any:
        """``run`` with the device named in the error, so a kiosk can show the message as it is."""
        try:
            return await self.run(operation)
        except DeviceError as err:
            if self.describe() in str(err):
                raise
            raise type(err)(f"{self.describe()}: {err}") from err
