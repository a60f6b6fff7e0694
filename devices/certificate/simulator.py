"""An A4 printer behind a real, isolated cupsd: the driver speaks IPP to CUPS, CUPS speaks to our socket.

Two processes play the device: a throwaway ``cupsd`` (its own ServerRoot, port and socket in a temp
directory, so the system CUPS is untouched) with one queue whose device is
``socket://127.0.0.1:PORT/?snmp=false``, and a loopback listener that plays the printer (AppSocket/JetDirect:
one connection per job, the document, then the backend waits for the printer to close). Every document that
arrives is kept in ``spool``.

Why the base is extended: a CUPS printer is two links, not one. ``link`` is the printer's socket (a Link
whose unit is a whole job and which can hold a job open as a jammed printer does); ``start``/``stop``
also run cupsd, and ``url`` is the CUPS queue, not the socket. Faults are what a CUPS client sees:
PAPER_OUT and JAM stop the queue with a message (``cupsdisable -r``), JAM also holds the job's connection
open, OFFLINE rejects new jobs (IPP 0x0506), UNPLUG closes the socket (connection refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any

from devices.errors import DeviceError
from devices.faults import Fault
from devices.simulator import Simulator
from devices.transport.link import Link, Receiver

log = logging.getLogger(__name__)

__all__ = ["CupsSimulator", "PrinterPort", "leftover_processes"]

CUPSD = "/usr/sbin/cupsd"
PDF_PPD = Path("/usr/share/ppd/cupsfilters/Generic-PDF_Printer-PDF.ppd")
_REASONS = {Fault.PAPER_OUT: "paper out", Fault.JAM: "paper jammed", Fault.OFFLINE: "printer switched offline"}


class PrinterPort(Link):
    """A 9100-style listener whose unit is a job: bytes until the sender shuts down, then close (or jam)."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(receiver)
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._unjam = asyncio.Event()
        self._unjam.set()

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def jammed(self) -> bool:
        return not self._unjam.is_set()

    def jam(self) -> None:
        """From now on, jobs are read but their connection is never closed (the backend waits forever)."""
        self._unjam.clear()

    def release(self) -> None:
        """Clear the jam: held jobs finish and are delivered."""
        self._unjam.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        job = bytearray()
        try:
            while chunk := await reader.read(65536):
                job += chunk
            await self._unjam.wait()
            if job:
                self._receiver(bytes(job))
        except (OSError, asyncio.CancelledError):
            log.debug("printer port: a job connection ended early (%d bytes)", len(job))
        finally:
            self._writers.discard(writer)
            writer.close()

    def send(self, data: bytes) -> None:
        """An AppSocket printer sends nothing back that CUPS needs; kept for the Link interface."""

    async def unplug(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def replug(self) -> None:
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        self._unjam.set()
        await self.unplug()


_UEL = b"\x1b%-12345X"


def unwrap_pjl(job: bytes) -> tuple[list[str], bytes]:
    """Split a PJL-wrapped job (UEL, ``@PJL`` lines, data, UEL) into its PJL commands and the document."""
    if not job.startswith(_UEL):
        return [], job
    commands: list[str] = []
    document = bytearray()
    for part in job.split(_UEL)[1:]:
        body = part
        while body.startswith(b"@PJL"):
            line, _, body = body.partition(b"\n")
            commands.append(line.decode("latin-1").strip())
        if body.strip():
            document += body
    return commands, bytes(document)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def leftover_processes(marker: str) -> list[str]:
    """Processes whose command line mentions ``marker`` (a simulator's directory): none after stop."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if marker in cmdline:
                found.append(f"{pid}: {cmdline.strip()}")
    return found


class CupsSimulator(Simulator):
    """An isolated cupsd with one PDF queue printing to a loopback socket that keeps every job in ``spool``."""

    kind = "certificate_printer"
    schemes = {"tcp": "cups"}  # noqa: RUF012 (the base declares it a ClassVar)

    def __init__(self, transport: str = "tcp", *, faults: Iterable[Fault] = (), port: int = 0,
                 realtime: bool = True, queue: str = "CERT") -> None:
        super().__init__(transport, faults=faults, port=port, realtime=realtime)
        self.link: PrinterPort = PrinterPort(self._receive, port=port)
        self.queue = queue
        self.spool: list[bytes] = []  # the documents as the printer's PDF interpreter gets them
        self.received: list[bytes] = []  # the raw bytes of each job, PJL and all
        self.pjl: list[list[str]] = []  # each job's PJL commands
        self.root: Path | None = None
        self.cups_port = 0
        self._cupsd: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"cups://{self.queue}?server=127.0.0.1:{self.cups_port}"

    @property
    def socket_path(self) -> str:
        assert self.root is not None
        return str(self.root / "run" / "cups.sock")

    def on_bytes(self, data: bytes) -> None:
        """One whole job from CUPS: the Generic PDF PPD wraps the PDF in PJL, as a PDF printer expects."""
        self.received.append(data)
        pjl, pdf = unwrap_pjl(data)
        self.pjl.append(pjl)
        self.spool.append(pdf)
        log.info("certificate printer simulator: job %d received, %d bytes of PDF", len(self.spool), len(pdf))

    # ---- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> str:
        """Start the printer's socket, then cupsd, then create the queue; returns the ``cups://`` URL."""
        await super().start()
        try:
            self.root = Path(tempfile.mkdtemp(prefix="servicehall-cups-"))
            ppd = self._write_config(self.root)
            await self.start_cupsd()
            await self.admin("lpadmin", "-p", self.queue, "-E", "-v",
                             f"socket://{self.link.address}/?snmp=false", *ppd)
            for fault in list(self._forever):
                await self._apply(fault)
        except BaseException:
            await self.stop()
            raise
        return self.url

    def _write_config(self, root: Path) -> list[str]:
        """Write cupsd's two files; returns lpadmin's driver arguments (the Generic PDF PPD, else raw)."""
        os.chmod(root, 0o755)  # filters and backends run as user lp and must traverse it
        for sub in ("etc/ppd", "etc/ssl", "spool/tmp", "run", "cache", "log"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("etc", "etc/ppd", "spool", "spool/tmp", "run", "cache", "log"):
            os.chmod(root / sub, 0o755)
        self.cups_port = _free_port()
        # An explicit ServerRoot: without it cupsd takes the config file's directory and chowns it.
        (root / "etc/cups-files.conf").write_text(
            f"ServerRoot {root}/etc\nRequestRoot {root}/spool\nTempDir {root}/spool/tmp\nStateDir {root}/run\n"
            f"CacheDir {root}/cache\nAccessLog {root}/log/access_log\nErrorLog {root}/log/error_log\n"
            f"PageLog {root}/log/page_log\nFileDevice Yes\nSystemGroup root\n")
        (root / "etc/cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.cups_port}\nListen {root}/run/cups.sock\nLogLevel info\nMaxLogSize 0\n"
            "Browsing No\nWebInterface No\n<Location />\n  Order allow,deny\n  Allow 127.0.0.1\n  Allow @LOCAL\n"
            "</Location>\n<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n")
        return ["-P", str(PDF_PPD), "-o", "PageSize=A4"] if PDF_PPD.is_file() else ["-m", "raw"]

    async def start_cupsd(self, timeout_s: float = 10.0) -> None:
        """Run cupsd in the foreground as our child, and wait until it accepts connections."""
        assert self.root is not None
        self._cupsd = await asyncio.create_subprocess_exec(
            CUPSD, "-f", "-c", str(self.root / "etc/cupsd.conf"), "-s", str(self.root / "etc/cups-files.conf"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self._cupsd.returncode is not None:
                raise DeviceError(f"isolated cupsd exited with {self._cupsd.returncode}: {self.error_log(5)}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.cups_port)
                writer.close()
                await writer.wait_closed()
                return
            if loop.time() > deadline:
                raise DeviceError(f"isolated cupsd did not listen on 127.0.0.1:{self.cups_port} within "
                                  f"{timeout_s:g} s: {self.error_log(5)}")
            await asyncio.sleep(0.02)

    async def stop_cupsd(self) -> None:
        """SIGTERM cupsd and wait for it (about 2 s); SIGKILL if it will not go. Plays 'CUPS not running'."""
        proc, self._cupsd = self._cupsd, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10.0)
        except TimeoutError:
            log.warning("isolated cupsd ignored SIGTERM for 10 s; killing it")
            proc.kill()
            await proc.wait()

    async def stop(self) -> None:
        """Stop cupsd, close the printer's socket and remove the directory; nothing is left running."""
        self.link.release()
        try:
            await self.stop_cupsd()
        finally:
            await super().stop()
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)

    def error_log(self, lines: int = 20) -> str:
        """The tail of cupsd's error_log, for messages when something in CUPS goes wrong."""
        if self.root is None:
            return "(no log)"
        try:
            text = (self.root / "log/error_log").read_text(errors="replace")
        except OSError:
            return "(no error_log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    async def admin(self, tool: str, *args: str) -> str:
        """Run a CUPS admin tool (lpadmin, cupsdisable …) against our cupsd over its local socket."""
        proc = await asyncio.create_subprocess_exec(
            tool, "-h", self.socket_path, *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 15.0)
        text = (out + err).decode(errors="replace").strip()
        # lpadmin warns that drivers/raw queues are deprecated; only the exit code says it failed
        if proc.returncode != 0:
            raise DeviceError(f"{tool} {' '.join(args)} failed ({proc.returncode}): {text}")
        return text

    # ---- faults ----------------------------------------------------------------------------------
    def inject(self, fault: Fault, times: int | None = None) -> None:
        """Play ``fault`` in CUPS and on the socket; ``await settled()`` before looking at the effect."""
        super().inject(fault, times)
        self._background(self._apply(fault))

    def clear(self, fault: Fault | None = None) -> None:
        """Undo one fault or all: enable and accept the queue, release a jam, plug the socket back."""
        faults = [fault] if fault is not None else [*self._forever, *self._faults]
        super().clear(fault)
        for each in faults:
            self._background(self._undo(each))

    async def settled(self) -> None:
        """Wait until the CUPS admin commands behind inject()/clear() have run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, fault: Fault) -> None:
        if self._cupsd is None:
            return
        if fault is Fault.JAM:
            self.link.jam()
        if fault in (Fault.PAPER_OUT, Fault.JAM):
            await self.admin("cupsdisable", "-r", _REASONS[fault], self.queue)
        elif fault is Fault.OFFLINE:
            await self.admin("cupsreject", "-r", _REASONS[fault], self.queue)
        elif fault is Fault.UNPLUG:
            await self.link.unplug()
        else:
            log.warning("certificate printer simulator cannot play fault %s", fault.value)

    async def _undo(self, fault: Fault) -> None:
        if fault is Fault.JAM:
            self.link.release()
        if fault is Fault.UNPLUG:
            await self.link.replug()
        if self._cupsd is None:
            return
        if fault in (Fault.PAPER_OUT, Fault.JAM):
            await self.admin("cupsenable", self.queue)
        elif fault is Fault.OFFLINE:
            await self.admin("cupsaccept", self.queue)
