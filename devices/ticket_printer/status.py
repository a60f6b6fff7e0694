"""DLE EOT real-time status, sans-I/O: request bytes, one-byte replies, and what they mean in words.

A printer answers ``DLE EOT n`` with one byte whose fixed bits follow ``0xx1xx10`` (bits 1 and 4 on,
bits 0 and 7 off); a byte that does not is not a status (it may be an ASB byte or line noise) and is a
ProtocolError. A query nobody answered leaves its part of the condition unknown: silence is never
"paper ok".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from devices.errors import ProtocolError
from devices.state import DeviceState, DeviceStatus, PaperState

__all__ = [
    "FIXED_MASK",
    "FIXED_VALUE",
    "PrinterCondition",
    "StatusQuery",
    "combine",
    "parse_reply",
    "request",
]

FIXED_MASK = 0x93  # bits 0, 1, 4, 7
FIXED_VALUE = 0x12  # bits 1 and 4 on, 0 and 7 off


class StatusQuery(IntEnum):
    """The four DLE EOT questions: printer, offline cause, error cause, roll paper sensor."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER = 4


ALL_QUERIES: tuple[StatusQuery, ...] = tuple(StatusQuery)


def request(query: StatusQuery | int) -> bytes:
    """The three bytes ``10 04 n`` that ask one real-time status question."""
    n = int(query)
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT n must be 1..4, not {n}")
    return bytes((0x10, 0x04, n))


def parse_reply(query: StatusQuery | int, reply: bytes | int) -> int:
    """Check one reply byte against the fixed-bit pattern; return it, or raise ProtocolError."""
    if isinstance(reply, int):
        value = reply
    elif len(reply) == 1:
        value = reply[0]
    else:
        raise ProtocolError(f"DLE EOT {int(query)} reply must be one byte, got {len(reply)}: {bytes(reply).hex(' ')}")
    if not 0 <= value <= 0xFF:
        raise ProtocolError(f"DLE EOT {int(query)} reply {value} is not a byte")
    if value & FIXED_MASK != FIXED_VALUE:
        raise ProtocolError(f"DLE EOT {int(query)} reply 0x{value:02X} does not match the status pattern "
                            "0xx1xx10 (line noise, wrong baud rate or an ASB byte)")
    return value


@dataclass(frozen=True)
class PrinterCondition:
    """What the printer said (None = that question got no answer), combined into words and a state."""

    online: bool | None = None
    cover_open: bool | None = None
    paper: PaperState = PaperState.UNKNOWN
    paper_end_stop: bool | None = None
    cutter_error: bool | None = None
    unrecoverable: bool | None = None
    auto_recoverable: bool | None = None
    error: bool | None = None
    raw: dict[int, int] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return bool(self.raw)

    @property
    def complete(self) -> bool:
        return all(int(q) in self.raw for q in ALL_QUERIES)

    def problems(self) -> list[str]:
        """Every fault the printer reported, in words a technician acts on."""
        words: list[str] = []
        if self.cover_open:
            words.append("cover open; close the printer cover")
        if self.paper is PaperState.OUT or self.paper_end_stop:
            words.append("paper out; load a new roll")
        if self.cutter_error:
            words.append("auto-cutter error; clear the cutter and switch the printer off and on")
        if self.unrecoverable:
            words.append("unrecoverable error; switch the printer off and on, then call service")
        if self.auto_recoverable:
            words.append("recoverable error (e.g. print head too hot); wait a moment")
        if self.error and not (self.cutter_error or self.unrecoverable or self.auto_recoverable):
            words.append("the printer reports an error; switch it off and on")
        if self.online is False and not words:
            words.append("printer offline; check the panel and the FEED button")
        return words

    def state(self) -> DeviceState:
        if not self.answered:
            return DeviceState.FAULT
        if self.problems():
            return DeviceState.FAULT
        if self.paper is PaperState.NEAR_END:
            return DeviceState.DEGRADED
        if not self.complete or self.paper is PaperState.UNKNOWN:
            return DeviceState.DEGRADED
        return DeviceState.READY

    def words(self) -> str:
        problems = self.problems()
        if not self.answered:
            return "no answer to any status query; check power and cable"
        if problems:
            return "; ".join(problems)
        if self.paper is PaperState.NEAR_END:
            return "paper near end; change the roll soon"
        missing = [str(int(q)) for q in ALL_QUERIES if int(q) not in self.raw]
        if missing:
            return f"ready, but no answer to status query {', '.join(missing)}; paper {self.paper.value}"
        return "ready; paper ok"

    def as_status(self) -> DeviceStatus:
        """The DeviceStatus a node and the probe show; ``details`` carries paper, cover and cutter."""

        def tri(flag: bool | None, yes: str, no: str) -> str:
            return "unknown" if flag is None else (yes if flag else no)

        details = {
            "paper": self.paper.value,
            "cover": tri(self.cover_open, "open", "closed"),
            "cutter": tri(self.cutter_error, "error", "ok"),
            "online": tri(self.online, "online", "offline"),
            "raw": {str(n): f"{v:02X}" for n, v in sorted(self.raw.items())},
        }
        return DeviceStatus(self.state(), self.words(), details=details)


def _paper(value: int) -> PaperState:
    if value & 0x60:
        return PaperState.OUT
    if value & 0x0C:
        return PaperState.NEAR_END
    return PaperState.OK


def combine(replies: dict[int, int]) -> PrinterCondition:
    """Combine validated replies (query number → byte; missing = no answer) into a condition."""
    p = replies.get(1)
    o = replies.get(2)
    e = replies.get(3)
    r = replies.get(4)
    paper = _paper(r) if r is not None else PaperState.UNKNOWN
    if paper is PaperState.UNKNOWN and o is not None and o & 0x20:
        paper = PaperState.OUT  # printing stopped by paper end, even if query 4 was not answered
    return PrinterCondition(
        online=None if p is None else not p & 0x08,
        cover_open=None if o is None else bool(o & 0x04),
        paper=paper,
        paper_end_stop=None if o is None else bool(o & 0x20),
        error=None if o is None else bool(o & 0x40),
        cutter_error=None if e is None else bool(e & 0x08),
        unrecoverable=None if e is None else bool(e & 0x20),
        auto_recoverable=None if e is None else bool(e & 0x40),
        raw=dict(replies),
    )
