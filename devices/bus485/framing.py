"""Modbus RTU framing, sans-I/O: CRC, request builders, and incremental parsers that survive line noise.

Own framing rather than pymodbus (ENVIRONMENT.md §11): on a multi-drop line the master must find its
reply behind a stray 0x00/0xFF turnaround byte, skip a late reply from another address, and cost a
silent device exactly one timeout. Frames are cut by function code, expected length and CRC; there
are no 3.5-character gaps on a pty or TCP, so a bad CRC drops one byte and the scan goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.errors import DeviceStatusError, ProtocolError

__all__ = [
    "EXCEPTION_WORDS",
    "READ_HOLDING",
    "READ_INPUT",
    "WRITE_MULTIPLE",
    "WRITE_SINGLE",
    "BadRequest",
    "ModbusException",
    "Reply",
    "ReplyParser",
    "Request",
    "RequestParser",
    "crc16",
    "exception_reply",
    "read_holding",
    "read_input",
    "read_reply",
    "with_crc",
    "write_multiple",
    "write_multiple_reply",
    "write_single",
    "write_single_reply",
]

READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10
FUNCTIONS = (READ_HOLDING, READ_INPUT, WRITE_SINGLE, WRITE_MULTIPLE)
MAX_ADU = 256
MAX_READ = 125
MAX_WRITE = 123

EXCEPTION_WORDS = {
    0x01: "illegal function (the device does not know this request)",
    0x02: "illegal data address (no such register on this device kind)",
    0x03: "illegal data value (a value out of range)",
    0x04: "device failure",
    0x06: "device busy",
}


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); on the wire low byte first."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def with_crc(body: bytes) -> bytes:
    """Append the CRC, low byte first, as RTU puts it on the wire."""
    return body + crc16(body).to_bytes(2, "little")


class ModbusException(DeviceStatusError):
    """The device answered with an exception reply (function | 0x80, code)."""


@dataclass(frozen=True)
class Request:
    """One master request; ``encode`` gives the ADU, ``reply_length`` what a normal reply measures."""

    address: int
    function: int
    start: int
    count: int = 1
    values: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 247:
            raise ValueError(f"Modbus address {self.address} is outside 0..247")
        if not 0 <= self.start <= 0xFFFF:
            raise ValueError(f"register {self.start} is outside 0..65535")
        limit = MAX_WRITE if self.function == WRITE_MULTIPLE else MAX_READ
        if not 1 <= self.count <= limit:
            raise ValueError(f"register count {self.count} is outside 1..{limit}")
        if any(not 0 <= v <= 0xFFFF for v in self.values):
            raise ValueError("register values must be 0..65535")

    def encode(self) -> bytes:
        head = bytes((self.address, self.function)) + self.start.to_bytes(2, "big")
        if self.function in (READ_HOLDING, READ_INPUT):
            return with_crc(head + self.count.to_bytes(2, "big"))
        if self.function == WRITE_SINGLE:
            return with_crc(head + self.values[0].to_bytes(2, "big"))
        data = b"".join(v.to_bytes(2, "big") for v in self.values)
        return with_crc(head + self.count.to_bytes(2, "big") + bytes((len(data),)) + data)

    @property
    def reply_length(self) -> int:
        if self.function in (READ_HOLDING, READ_INPUT):
            return 5 + 2 * self.count
        return 8

    def describe(self) -> str:
        what = {READ_HOLDING: "read holding", READ_INPUT: "read input", WRITE_SINGLE: "write",
                WRITE_MULTIPLE: "write"}.get(self.function, f"function {self.function:#04x}")
        last = self.start + self.count - 1
        regs = f"register {self.start}" if self.count == 1 else f"registers {self.start}..{last}"
        return f"{what} {regs}"


def read_holding(address: int, start: int, count: int) -> Request:
    """Function 03: read ``count`` holding registers."""
    return Request(address, READ_HOLDING, start, count)


def read_input(address: int, start: int, count: int) -> Request:
    """Function 04: read ``count`` input registers."""
    return Request(address, READ_INPUT, start, count)


def write_single(address: int, register: int, value: int) -> Request:
    """Function 06: write one holding register (the device echoes the request)."""
    return Request(address, WRITE_SINGLE, register, 1, (value,))


def write_multiple(address: int, start: int, values: list[int] | tuple[int, ...]) -> Request:
    """Function 16: write a block in one frame, so a command block is applied whole or not at all."""
    return Request(address, WRITE_MULTIPLE, start, len(values), tuple(values))


@dataclass(frozen=True)
class Reply:
    """A CRC-checked reply to our request: registers for reads, or an exception code."""

    address: int
    function: int
    registers: tuple[int, ...] = ()
    exception: int | None = None

    def raise_for(self, request: Request, who: str) -> Reply:
        """Turn an exception reply into ModbusException with words; otherwise return self."""
        if self.exception is None:
            return self
        words = EXCEPTION_WORDS.get(self.exception, "unknown exception")
        raise ModbusException(
            f"{who} answered {request.describe()} with exception {self.exception:02X}: {words}; "
            "check the device kind and firmware", self.exception)


def read_reply(address: int, function: int, registers: list[int] | tuple[int, ...]) -> bytes:
    """A device's answer to 03/04."""
    data = b"".join(v.to_bytes(2, "big") for v in registers)
    return with_crc(bytes((address, function, len(data))) + data)


def write_single_reply(address: int, register: int, value: int) -> bytes:
    """A device's answer to 06: the request echoed."""
    return with_crc(bytes((address, WRITE_SINGLE)) + register.to_bytes(2, "big") + value.to_bytes(2, "big"))


def write_multiple_reply(address: int, start: int, count: int) -> bytes:
    """A device's answer to 16: start and count echoed."""
    return with_crc(bytes((address, WRITE_MULTIPLE)) + start.to_bytes(2, "big") + count.to_bytes(2, "big"))


def exception_reply(address: int, function: int, code: int) -> bytes:
    """A device's exception answer: function | 0x80 and the code."""
    return with_crc(bytes((address, function | 0x80, code)))


def _reply_length(buf: bytearray | bytes, offset: int = 0) -> int | None:
    """Length of a reply frame starting at ``offset`` judged from its header, 0 if implausible, None if short."""
    if len(buf) - offset < 2:
        return None
    address, function = buf[offset], buf[offset + 1]
    if not 1 <= address <= 247:
        return 0
    if function & 0x80 and function & 0x7F in FUNCTIONS:
        return 5
    if function in (WRITE_SINGLE, WRITE_MULTIPLE):
        return 8
    if function in (READ_HOLDING, READ_INPUT):
        if len(buf) - offset < 3:
            return None
        count = buf[offset + 2]
        if count == 0 or count % 2 or count > 2 * MAX_READ:
            return 0
        return 5 + count
    return 0


def _crc_ok(frame: bytes | bytearray | memoryview) -> bool:
    return crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


class ReplyParser:
    """Feed bytes as they arrive; ``feed`` returns our Reply once complete, else None.

    Resynchronises by dropping one byte on garbage or a CRC failure; skips a whole CRC-valid frame from
    another address or for another request (a late reply to an earlier poll); a well-formed echo that
    contradicts our write raises ProtocolError.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.expected = request.reply_length
        self._buf = bytearray()
        self.dropped = 0  # garbage bytes thrown away
        self.stale = 0  # whole foreign frames skipped

    def _ours(self, frame: bytes | bytearray) -> bool:
        req = self.request
        if frame[0] != req.address:
            return False
        if frame[1] == req.function | 0x80:
            return len(frame) == 5
        if frame[1] != req.function or len(frame) != self.expected:
            return False
        if req.function in (READ_HOLDING, READ_INPUT):
            return frame[2] == 2 * req.count
        return True

    def _find_ours(self, start: int) -> int | None:
        """Offset of a complete, CRC-valid reply of ours later in the buffer (garbage that stalls the front)."""
        buf = self._buf
        address, function = self.request.address, self.request.function
        for offset in range(start, len(buf) - 4):
            if buf[offset] != address or buf[offset + 1] not in (function, function | 0x80):
                continue
            length = 5 if buf[offset + 1] & 0x80 else self.expected
            frame = buf[offset:offset + length]
            if len(frame) == length and self._ours(frame) and _crc_ok(frame):
                return offset
        return None

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self.dropped += n

    def feed(self, data: bytes) -> Reply | None:
        self._buf += data
        buf = self._buf
        while buf:
            length = _reply_length(buf)
            if length == 0:
                self._drop(1)
                continue
            if length is None or len(buf) < length:
                later = self._find_ours(1)
                if later is None:
                    if len(buf) > 2 * MAX_ADU:  # a header that can never complete: slide on
                        self._drop(1)
                        continue
                    return None
                self._drop(later)
                continue
            frame = bytes(buf[:length])
            if not _crc_ok(frame):
                self._drop(1)
                continue
            if not self._ours(frame):
                del buf[:length]
                self.stale += 1
                continue
            del buf[:length]
            return self._decode(frame)
        return None

    def _decode(self, frame: bytes) -> Reply:
        req = self.request
        if frame[1] & 0x80:
            return Reply(frame[0], req.function, exception=frame[2])
        if req.function in (READ_HOLDING, READ_INPUT):
            data = frame[3:-2]
            regs = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
            return Reply(frame[0], req.function, regs)
        start = int.from_bytes(frame[2:4], "big")
        tail = int.from_bytes(frame[4:6], "big")
        want = req.values[0] if req.function == WRITE_SINGLE else req.count
        if start != req.start or tail != want:
            raise ProtocolError(f"address {req.address} echoed register {start} = {tail} to our "
                                f"{req.describe()}; the device and master disagree about the register map")
        return Reply(frame[0], req.function)


@dataclass(frozen=True)
class BadRequest:
    """A CRC-valid request the device must refuse with exception ``code`` (01 function, 03 value)."""

    address: int
    function: int
    code: int


class RequestParser:
    """The device side: cut requests out of the byte stream by function and length, resync on bad CRC."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[Request | BadRequest]:
        """Complete requests so far; a CRC-valid frame the device cannot serve gives a BadRequest."""
        self._buf += data
        buf = self._buf
        out: list[Request | BadRequest] = []
        while len(buf) >= 8:
            function = buf[1]
            length = 8
            if function == WRITE_MULTIPLE:
                if len(buf) < 7:
                    break
                length = 9 + buf[6]
                if len(buf) < length:
                    break
            frame = bytes(buf[:length])
            if buf[0] > 247 or not _crc_ok(frame):
                del buf[:1]
                self.dropped += 1
                continue
            del buf[:length]
            out.append(self._decode(frame))
        return out

    @staticmethod
    def _decode(frame: bytes) -> Request | BadRequest:
        address, function = frame[0], frame[1]
        start = int.from_bytes(frame[2:4], "big")
        word = int.from_bytes(frame[4:6], "big")
        try:
            if function in (READ_HOLDING, READ_INPUT):
                return Request(address, function, start, word)
            if function == WRITE_SINGLE:
                return Request(address, function, start, 1, (word,))
            if function == WRITE_MULTIPLE:
                data = frame[7:-2]
                values = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2))
                if len(values) != word or len(data) != 2 * word:
                    return BadRequest(address, function, 0x03)  # count and byte count disagree
                return Request(address, function, start, word, values)
        except ValueError:
            return BadRequest(address, function, 0x03)
        return BadRequest(address, function, 0x01)
