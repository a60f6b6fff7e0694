"""A small async IPP client for one CUPS queue: IPP over HTTP POST with aiohttp, no pycups, no blocking.

Every failure comes back as a DeviceError in words: connection refused means cupsd is not running,
silence is a timeout, an HTTP error or a malformed body is a protocol error.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import aiohttp

from devices.certificate.ipp import Attr, IppRequest, IppResponse, Op, Tag, decode_response
from devices.errors import DeviceDisconnected, DeviceStatusError, DeviceTimeout, ProtocolError

log = logging.getLogger(__name__)

__all__ = ["PRINTER_ATTRIBUTES", "CupsClient"]

PRINTER_ATTRIBUTES = ("printer-state", "printer-state-message", "printer-state-reasons",
                      "printer-is-accepting-jobs", "queued-job-count", "printer-make-and-model")
JOB_ATTRIBUTES = ("job-id", "job-state", "job-state-reasons", "job-state-message",
                  "job-printer-state-message", "job-impressions-completed", "job-k-octets")
_MAX_RESPONSE_BYTES = 1 << 20


class CupsClient:
    """Talks IPP to ``queue`` on the CUPS server ``host:port``; open() before use, close() after."""

    def __init__(self, server: str, queue: str, *, timeout_s: float = 2.0, user: str = "kiosk") -> None:
        self.server = server
        self.queue = queue
        self.timeout_s = timeout_s
        self.user = user
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    @property
    def printer_uri(self) -> str:
        return f"ipp://{self.server}/printers/{self.queue}"

    @property
    def http_url(self) -> str:
        return f"http://{self.server}/printers/{self.queue}"

    async def open(self) -> None:
        if self._session is None:
            # one connection at a time is plenty for one queue; force_close avoids stale keep-alives
            connector = aiohttp.TCPConnector(limit=1, force_close=True)
            self._session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def call(self, op: Op, attributes: list[Attr] | None = None, *, job_attributes: list[Attr] | None = None,
                   document: bytes = b"", timeout_s: float | None = None) -> IppResponse:
        """Send one request and decode the answer; IPP errors are returned, transport errors raised."""
        if self._session is None:
            raise DeviceDisconnected(f"IPP client for {self.http_url} is closed")
        request = IppRequest(op, next(self._ids), self.printer_uri,
                             [Attr.of("requesting-user-name", Tag.NAME, self.user), *(attributes or [])],
                             list(job_attributes or []), document)
        timeout = timeout_s or self.timeout_s
        try:
            async with asyncio.timeout(timeout):
                async with self._session.post(self.http_url, data=request.encode(),
                                              headers={"Content-Type": "application/ipp"}) as reply:
                    body = await reply.content.read(_MAX_RESPONSE_BYTES)
                    http_status = reply.status
        except TimeoutError as err:
            raise DeviceTimeout(f"CUPS at {self.server} gave no answer to {op.name} within {timeout:g} s; "
                                "check that cupsd is not hung (lpstat -r)") from err
        except aiohttp.ClientConnectorError as err:
            raise DeviceDisconnected(f"CUPS not running at {self.server} ({err.os_error.strerror or err}); "
                                     "start cupsd") from err
        except (aiohttp.ClientError, OSError) as err:
            raise DeviceDisconnected(f"CUPS at {self.server} dropped the connection during {op.name} "
                                     f"({err}); check cupsd") from err
        if http_status == 401:
            raise DeviceStatusError(f"CUPS at {self.server} wants authentication for {op.name}; "
                                    "allow it in the cupsd.conf policy", code=http_status)
        if http_status != 200:
            raise ProtocolError(f"CUPS at {self.server} answered HTTP {http_status} to {op.name}")
        response = decode_response(body)
        if response.request_id != request.request_id:
            raise ProtocolError(f"CUPS at {self.server} answered request {response.request_id}, "
                                f"expected {request.request_id}")
        log.debug("IPP %s → %s", op.name, response.words)
        return response

    # ---- operations ----------------------------------------------------------------------------
    async def printer_attributes(self) -> IppResponse:
        return await self.call(Op.GET_PRINTER_ATTRIBUTES,
                               [Attr("requested-attributes", Tag.KEYWORD, PRINTER_ATTRIBUTES)])

    async def print_job(self, document: bytes, *, job_name: str, timeout_s: float | None = None) -> IppResponse:
        return await self.call(Op.PRINT_JOB, [Attr.of("job-name", Tag.NAME, job_name),
                                              Attr.of("document-format", Tag.MIME_TYPE, "application/pdf")],
                               job_attributes=[Attr.of("media", Tag.KEYWORD, "iso_a4_210x297mm")],
                               document=document, timeout_s=timeout_s)

    async def job_attributes(self, job_id: int) -> IppResponse:
        return await self.call(Op.GET_JOB_ATTRIBUTES, [Attr.of("job-id", Tag.INTEGER, job_id),
                                                       Attr("requested-attributes", Tag.KEYWORD, JOB_ATTRIBUTES)])

    async def cancel_job(self, job_id: int) -> IppResponse:
        return await self.call(Op.CANCEL_JOB, [Attr.of("job-id", Tag.INTEGER, job_id)])

    async def admin(self, op: Op, message: str | None = None) -> IppResponse:
        """Pause/resume/reject/accept: needs a policy that allows it (the simulator's cupsd does)."""
        attrs: list[Any] = [] if message is None else [Attr.of("printer-state-message", Tag.TEXT, message)]
        return await self.call(op, attrs)
