"""An 80 mm ESC/POS printer on a pty or loopback TCP: parses the real byte stream, answers DLE EOT.

``EscPosParser`` knows the length of every command a ticket uses (ESC/FS/GS commands, ``GS ( k`` QR
functions, ``GS v 0`` rasters, ``GS k`` barcodes, ``DLE EOT`` between commands) and turns bytes into
events incrementally; ``PrinterSimulator`` keeps paper and cover state, collects each ticket (from
``ESC @`` to the cut) as text lines, rasters and QR data in ``sim.tickets``, and misbehaves on demand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from devices.faults import Fault
from devices.simulator import Simulator

log = logging.getLogger(__name__)

__all__ = ["EscPosParser", "PrintedLine", "PrintedTicket", "PrinterSimulator", "status_byte"]

ESC, FS, GS, DLE = 0x1B, 0x1C, 0x1D, 0x10
MAX_PAYLOAD = 1 << 20  # rasters or QR data bigger than this are skipped, not stored

# ESC x → number of parameter bytes, for the fixed-length ESC commands
_ESC_FIXED = {
    0x40: 0, 0x32: 0, 0x3C: 0, 0x69: 0, 0x6D: 0, 0x0C: 0,  # ESC @, ESC 2, ESC <, ESC i, ESC m, ESC FF
    0x21: 1, 0x2D: 1, 0x45: 1, 0x47: 1, 0x4D: 1, 0x61: 1, 0x64: 1, 0x4A: 1, 0x74: 1, 0x7B: 1,
    0x56: 1, 0x33: 1, 0x20: 1, 0x52: 1, 0x3D: 1, 0x25: 1, 0x65: 1, 0x72: 1, 0x55: 1, 0x54: 1,
    0x4B: 1, 0x4C: 0, 0x53: 0, 0x3F: 1, 0x63: 2, 0x24: 2, 0x5C: 2, 0x70: 3, 0x57: 8,
}
_FS_FIXED = {0x26: 0, 0x2E: 0, 0x21: 1, 0x2D: 1, 0x57: 1, 0x43: 1, 0x53: 2, 0x70: 2, 0x3F: 2, 0x32: 74}
_GS_FIXED = {
    0x21: 1, 0x42: 1, 0x62: 1, 0x48: 1, 0x66: 1, 0x68: 1, 0x77: 1, 0x61: 1, 0x72: 1, 0x49: 1,
    0x4C: 2, 0x57: 2, 0x50: 2, 0x5C: 2, 0x24: 2, 0x2F: 1, 0x54: 1, 0x45: 1, 0x3A: 0, 0x5E: 3,
}


def status_byte(n: int, *, offline: bool = False, cover_open: bool = False, paper_out: bool = False,
                near_end: bool = False, cutter: bool = False, error: bool = False) -> int:
    """The one-byte DLE EOT n reply of protocols.md 2.6 for a printer in the given condition."""
    value = 0x12
    if n == 1 and offline:
        value |= 0x08
    elif n == 2:
        value |= (0x04 if cover_open else 0) | (0x20 if paper_out else 0) | (0x40 if error else 0)
    elif n == 3 and cutter:
        value |= 0x08
    elif n == 4:
        value |= (0x0C if near_end else 0) | (0x60 if paper_out else 0)
    return value


@dataclass
class PrintedLine:
    """One printed text line with the attributes it was printed with."""

    text: str
    align: int = 0
    width: int = 1
    height: int = 1
    bold: bool = False
    reverse: bool = False


@dataclass
class PrintedTicket:
    """What came out of the printer between ``ESC @`` and the cut: text, rasters, QR codes."""

    items: list[Any] = field(default_factory=list)  # PrintedLine | Image.Image | ("qr", str)
    cut: bool = False
    interrupted: str | None = None  # why printing stopped part-way (paper out, cover open …)

    @property
    def lines(self) -> list[PrintedLine]:
        return [item for item in self.items if isinstance(item, PrintedLine)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def qr_data(self) -> list[str]:
        return [item[1] for item in self.items if isinstance(item, tuple) and item[0] == "qr"]

    @property
    def rasters(self) -> list[Image.Image]:
        return [item for item in self.items if isinstance(item, Image.Image)]


class EscPosParser:
    """Incremental ESC/POS parser: ``feed(bytes)`` returns events; incomplete commands wait for more."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0
        self.reset()

    def reset(self) -> None:
        """ESC @: back to power-on modes (Chinese mode on, as Chinese-market printers start)."""
        self.chinese = True
        self.align = 0
        self.width = self.height = 1
        self.bold = self.reverse = False
        self._qr_store = b""
        self._line = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        events: list[tuple[Any, ...]] = []
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buf += data
        pos = 0
        while pos < len(self._buf):
            used = self._one(pos, events)
            if used == 0:
                break
            pos += used
        del self._buf[:pos]
        return events

    def _one(self, pos: int, events: list[tuple[Any, ...]]) -> int:
        """Parse one command or character at ``pos``; return bytes used, 0 when more are needed."""
        b = self._buf
        c = b[pos]
        avail = len(b) - pos
        if c in (0x0A, 0x0D, 0x0C):
            if c != 0x0D:
                self._flush(events)
            return 1
        if c == DLE:
            if avail < 3:
                return 0
            if b[pos + 1] == 0x04:
                events.append(("status", b[pos + 2]))
                return 3
            if b[pos + 1] == 0x14:  # DLE DC4 fn m t
                return 5 if avail >= 5 else 0
            return 3 if b[pos + 1] == 0x05 else 1
        if c in (ESC, FS, GS):
            if avail < 2:
                return 0
            return self._command(c, b[pos + 1], pos, avail, events)
        if c < 0x20:
            return 1  # other control bytes are ignored, as printers do
        if self.chinese and 0x81 <= c <= 0xFE:
            if avail < 2:
                return 0
            trail = b[pos + 1]
            if not (0x30 <= trail <= 0x39 or (0x40 <= trail <= 0xFE and trail != 0x7F)):
                self._line += b"?"  # a lead byte without a valid trail byte prints as a blank box
                return 1
            size = 4 if 0x30 <= trail <= 0x39 else 2
            if avail < size:
                return 0
            self._line += b[pos:pos + size]
            return size
        self._line.append(c)
        return 1

    def _need(self, avail: int, total: int) -> int:
        return total if avail >= total else 0

    def _command(self, lead: int, cmd: int, pos: int, avail: int, events: list[tuple[Any, ...]]) -> int:
        b = self._buf
        table = {ESC: _ESC_FIXED, FS: _FS_FIXED, GS: _GS_FIXED}[lead]
        if lead == GS and cmd == 0x28:  # GS ( X pL pH …
            if avail < 5:
                return 0
            n = b[pos + 3] | b[pos + 4] << 8
            if n > MAX_PAYLOAD:
                self._skip_from(pos, 5 + n)
                return avail
            total = 5 + n
            if avail < total:
                return 0
            if b[pos + 2] == 0x6B:
                self._qr(bytes(b[pos + 5:pos + total]), events)
            return total
        if lead == GS and cmd == 0x76:  # GS v 0 m xL xH yL yH d…
            if avail < 8:
                return 0
            wbytes, rows = b[pos + 4] | b[pos + 5] << 8, b[pos + 6] | b[pos + 7] << 8
            total = 8 + wbytes * rows
            if wbytes * rows > MAX_PAYLOAD:
                self._skip_from(pos, total)
                return avail
            if avail < total:
                return 0
            if wbytes and rows:
                self._flush(events, only_if_text=True)
                image = Image.frombytes("1", (wbytes * 8, rows), bytes(b[pos + 8:pos + total]))
                events.append(("raster", Image.eval(image.convert("L"), lambda v: 255 - v).convert("1")))
            return total
        if lead == GS and cmd == 0x6B:  # GS k m …
            if avail < 3:
                return 0
            m = b[pos + 2]
            if m <= 6:
                end = b.find(0, pos + 3)
                return end - pos + 1 if end >= 0 else 0
            return self._need(avail, 4 + b[pos + 3]) if avail >= 4 else 0
        if lead == GS and cmd == 0x56:  # GS V m [n]
            if avail < 3:
                return 0
            size = 4 if b[pos + 2] in (0x41, 0x42, 0x61, 0x62, 0x67, 0x68) else 3
            if avail < size:
                return 0
            self._flush(events, only_if_text=True)
            events.append(("cut", b[pos + 2]))
            return size
        if lead == ESC and cmd == 0x2A:  # ESC * m nL nH d…
            if avail < 5:
                return 0
            k = (b[pos + 3] | b[pos + 4] << 8) * (1 if b[pos + 2] in (0, 1) else 3)
            return self._need(avail, 5 + k)
        if lead == ESC and cmd in (0x44, 0x42):  # ESC D / ESC B: list ends with NUL
            end = b.find(0, pos + 2)
            return end - pos + 1 if end >= 0 else 0
        params = table.get(cmd)
        if params is None:
            events.append(("unknown", bytes((lead, cmd))))
            return 2
        total = 2 + params
        if avail < total:
            return 0
        self._apply(lead, cmd, bytes(b[pos + 2:pos + total]), events)
        return total

    def _skip_from(self, pos: int, total: int) -> None:
        self._skip = max(0, total - (len(self._buf) - pos))
        log.debug("skipping an oversized ESC/POS payload of %d bytes", total)

    def _apply(self, lead: int, cmd: int, p: bytes, events: list[tuple[Any, ...]]) -> None:
        if lead == ESC:
            if cmd == 0x40:
                self._flush(events, only_if_text=True)
                self.reset()
                events.append(("init",))
            elif cmd == 0x61:
                self.align = p[0] & 0x03 if p[0] < 0x30 else (p[0] - 0x30) & 0x03
            elif cmd == 0x45:
                self.bold = bool(p[0] & 1)
            elif cmd == 0x21:
                self.bold = bool(p[0] & 0x08)
                self.width = 2 if p[0] & 0x20 else 1
                self.height = 2 if p[0] & 0x10 else 1
            elif cmd in (0x64, 0x4A):
                self._flush(events, only_if_text=True)
        elif lead == FS:
            if cmd == 0x26:
                self.chinese = True
            elif cmd == 0x2E:
                self.chinese = False
        elif lead == GS:
            if cmd == 0x21:
                self.width, self.height = (p[0] >> 4) + 1, (p[0] & 0x0F) + 1
            elif cmd == 0x42:
                self.reverse = bool(p[0] & 1)
            elif cmd == 0x61:
                events.append(("asb", p[0]))

    def _qr(self, body: bytes, events: list[tuple[Any, ...]]) -> None:
        if len(body) < 2 or body[0] != 0x31:
            return
        if body[1] == 0x50 and len(body) >= 3:  # fn 80: store data
            self._qr_store = body[3:]
        elif body[1] == 0x51:  # fn 81: print the stored symbol
            self._flush(events, only_if_text=True)
            events.append(("qr", self._qr_store.decode("utf-8", errors="replace")))

    def _flush(self, events: list[tuple[Any, ...]], only_if_text: bool = False) -> None:
        if only_if_text and not self._line:
            return
        raw = bytes(self._line)
        text = raw.decode("gb18030", errors="replace") if self.chinese else raw.decode("cp437", errors="replace")
        events.append(("line", PrintedLine(text, self.align, self.width, self.height, self.bold, self.reverse)))
        self._line = bytearray()


class PrinterSimulator(Simulator):
    """A Chinese 80 mm ESC/POS printer; ``tickets`` holds what it printed, for tests and PNGs."""

    kind = "ticket_printer"
    schemes: ClassVar[dict[str, str]] = {"tcp": "escpos+tcp", "pty": "escpos+serial"}
    slow_delay_s = 0.3

    def __init__(self, transport: str = "tcp", **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self.parser = EscPosParser()
        self.tickets: list[PrintedTicket] = []
        self.current: PrintedTicket | None = None
        self.status_queries = 0
        self.bytes_received = 0
        self.paper_lines: int | None = None  # lines left on the roll; None = endless
        self._armed: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        """Start playing ``fault`` right after the next cut: a printer that dies just after a job."""
        self._armed.append(fault)

    # ---- condition -------------------------------------------------------------------------------
    def stopped_by(self) -> str | None:
        """Why the printer is not printing now, or None when it prints."""
        for fault, why in ((Fault.PAPER_OUT, "paper out"), (Fault.COVER_OPEN, "cover open"),
                           (Fault.OFFLINE, "offline")):
            if self.has(fault):
                return why
        return None

    def status_reply(self, n: int) -> int:
        paper_out, cover, cutter = self.has(Fault.PAPER_OUT), self.has(Fault.COVER_OPEN), self.has(Fault.CUTTER_ERROR)
        return status_byte(n, offline=self.stopped_by() is not None or cutter, cover_open=cover,
                           paper_out=paper_out, near_end=self.has(Fault.PAPER_NEAR_END), cutter=cutter,
                           error=cutter)

    # ---- wire ------------------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self.bytes_received += len(data)
        if self.active(Fault.UNPLUG):
            self._unplug_soon()
            return
        for event in self.parser.feed(data):
            self._event(event)

    def _unplug_soon(self) -> None:
        import asyncio

        task = asyncio.get_running_loop().create_task(self.unplug())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "status":
            self._answer(event[1])
            return
        if kind == "init":
            if self.current is not None and self.current.items:
                self.tickets.append(self.current)  # a ticket never cut: it hangs out of the printer
            self.current = PrintedTicket()
            return
        if kind in ("line", "raster", "qr", "cut"):
            self._print(kind, event[1])

    def _answer(self, n: int) -> None:
        self.status_queries += 1
        if n not in (1, 2, 3, 4) or self.has(Fault.SILENT):
            return
        reply = self.status_reply(n)
        if self.has(Fault.GARBLED):
            reply ^= 0x81  # breaks the fixed bits 0 and 7, as noise on the line would
        if self.has(Fault.SLOW):
            self.later(self.slow_delay_s, bytes((reply,)))
        else:
            self.send(bytes((reply,)))

    def _print(self, kind: str, value: Any) -> None:
        if self.current is None:
            self.current = PrintedTicket()
        why = self.stopped_by()
        if why is not None:
            if self.current.interrupted is None:
                self.current.interrupted = why
                log.info("simulated printer stopped printing: %s", why)
            if kind == "cut":  # what came out before the stop is a torn-off partial ticket
                if self.current.items:
                    self.tickets.append(self.current)
                self.current = None
            return
        if kind in ("line", "raster"):
            self.current.items.append(value)
            if self.paper_lines is not None:
                self.paper_lines -= 1
                if self.paper_lines <= 0:
                    self.inject(Fault.PAPER_OUT)  # the roll ran out: the rest of the ticket is lost
        elif kind == "qr":
            self.current.items.append(("qr", value))
        elif kind == "cut":
            self.current.cut = not self.has(Fault.CUTTER_ERROR)
            self.tickets.append(self.current)
            self.current = None
            for fault in self._armed:
                if fault is Fault.UNPLUG:
                    self._unplug_soon()
                else:
                    self.inject(fault)
            self._armed.clear()
