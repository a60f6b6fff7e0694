"""The documented register maps (REGISTERS.md) shared by the drivers and the simulator, as data.

One map per device kind on top of a common part: identity at fixed input registers 0–3, a status block
at input register 16 that the master polls, ``ack_seq`` at holding register 0, and one command block per
kind at holding register 16 whose first register is ``write_seq``. Text is GB18030, two bytes a register,
high byte first, padded with 0x00.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

__all__ = [
    "ACK_SEQ", "COMMAND_BLOCK", "EVENT_SIZE", "FIFO_CAPACITY", "IDENTITY", "IDENTITY_COUNT", "PROTOCOL_VERSION",
    "STATUS_BLOCK", "UNDEBOUNCED_KEYS", "CallPadBlock", "DeviceKind", "DisplayBlock", "DisplayMode", "Key", "Lamp",
    "Led", "RatingBlock", "RatingMode", "StatusBits", "WindowState", "decode_text", "encode_text", "next_seq",
]

PROTOCOL_VERSION = 0x0100  # 1.0: major in the high byte; a master refuses another major

# ---- common input registers ---------------------------------------------------------------------
IDENTITY = 0  # IR 0 kind, IR 1 firmware (major<<8 | minor), IR 2 protocol version, IR 3 FIFO capacity
IDENTITY_COUNT = 4
STATUS_BLOCK = 16  # IR 16 status bits, 17 session, 18 last write_seq, 19 event count, 20.. events
STATUS_BITS, SESSION, LAST_WRITE_SEQ, EVENT_COUNT, EVENTS = 16, 17, 18, 19, 20
EVENT_SIZE = 3  # {seq, code, arg}
FIFO_CAPACITY = 8

# ---- common holding registers -------------------------------------------------------------------
ACK_SEQ = 0  # HR 0: the master writes the seq of the last event it handled
COMMAND_BLOCK = 16  # HR 16: write_seq, then the kind's command registers


class DeviceKind(IntEnum):
    """IR 0: what the device says it is, so a wrong address switch is caught at first contact."""

    CALLPAD = 1
    WINDOW_DISPLAY = 2
    RATING_PAD = 3

    @property
    def words(self) -> str:
        return {1: "call pad (呼叫器)", 2: "window display (窗口屏)", 3: "rating pad (评价器)"}[self.value]


class StatusBits(IntFlag):
    """IR 16: alive is set by a running firmware; the others are faults the technician must see."""

    ALIVE = 0x0001
    LED_FAILURE = 0x0002  # LED module failure (dark segments or driver fault)
    OVERHEATED = 0x0004
    KEY_STUCK = 0x0008


class Key(IntEnum):
    """Call pad event codes; ``arg`` carries the target (transfer) or reason code (pause)."""

    CALL_NEXT = 1
    RECALL = 2
    SKIP = 3
    TRANSFER = 4  # arg: target window number (1..999) or service code (1000 + code)
    PAUSE = 5  # arg: reason code (1 meeting, 2 break, 3 system fault, 4 other)
    RESUME = 6
    FINISH = 7
    START = 8  # the called citizen arrived: start serving
    SIGN_IN = 9  # arg: the staff number typed before it (the digits of the staff id, s001 → 1)
    DIGIT = 10  # arg: 0..9, one PIN digit (a PIN of 6 digits does not fit one 16-bit arg)
    ENTER = 11  # the PIN is complete: sign in
    CLEAR = 12  # clear the digits typed (a second press cancels the sign-in)
    SIGN_OUT = 13


class Led(IntFlag):
    """Call pad HR 17 LED bits."""

    GREEN = 0x01  # serving
    RED = 0x02  # paused
    YELLOW = 0x04  # citizens waiting


class DisplayMode(IntEnum):
    STATIC = 0
    SCROLL = 1
    BLINK = 2


class WindowState(IntEnum):
    SERVING = 0
    PAUSED = 1
    CLOSED = 2


class RatingMode(IntEnum):
    IDLE = 0
    INVITING = 1
    THANK_YOU = 2


class Lamp(IntEnum):
    OFF = 0
    ON = 1
    BLINK = 2


#: rating pad event code 0: the invitation timed out with no key pressed; 1–5 are levels
RATING_TIMEOUT = 0
RATING_WORDS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


@dataclass(frozen=True)
class TextField:
    """A text field in a command block: a length register then ``registers`` of GB18030 bytes."""

    offset: int  # of the length register, relative to COMMAND_BLOCK
    registers: int

    @property
    def max_bytes(self) -> int:
        return 2 * self.registers


class CallPadBlock:
    """HR 16..35: write_seq, leds, beeps, line length, 16 registers of line text (32 bytes)."""

    LEDS, BEEPS = 1, 2
    LINE = TextField(3, 16)
    SIZE = 20


class DisplayBlock:
    """HR 16..57: write_seq, mode, brightness %, window state, number (8 bytes), text (64 bytes)."""

    MODE, BRIGHTNESS, STATE = 1, 2, 3
    NUMBER = TextField(4, 4)
    TEXT = TextField(9, 32)
    SIZE = 42


class RatingBlock:
    """HR 16..29: write_seq, mode, lamp, timeout s, ticket number (8 bytes), staff id (8 bytes)."""

    MODE, LAMP, TIMEOUT = 1, 2, 3
    TICKET = TextField(4, 4)
    STAFF = TextField(9, 4)
    SIZE = 14


def encode_text(text: str, fld: TextField) -> list[int]:
    """Length register + GB18030 registers; too long is an error naming the limit, never a cut character."""
    data = text.encode("gb18030")
    if len(data) > fld.max_bytes:
        raise ValueError(f"{text!r} is {len(data)} bytes in GB18030; this field holds {fld.max_bytes}")
    data = data.ljust(fld.max_bytes, b"\x00")
    return [len(text.encode("gb18030"))] + [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def decode_text(registers: list[int] | tuple[int, ...], fld: TextField) -> str:
    """Inverse of encode_text (registers start at the length register); bad bytes become U+FFFD."""
    length = min(registers[0], fld.max_bytes)
    data = b"".join(r.to_bytes(2, "big") for r in registers[1:1 + fld.registers])
    return data[:length].decode("gb18030", errors="replace")


def next_seq(seq: int) -> int:
    """Sequence numbers run 1..65535 and wrap to 1; 0 means "none yet"."""
    return 1 if seq >= 0xFFFF else seq + 1


#: keys whose repeats are meant (the same PIN digit twice), so the master never debounces them
UNDEBOUNCED_KEYS = frozenset({Key.DIGIT})
