"""SAM serial framing (GA/T 467 host interface) without I/O, so the driver, the simulator and the fuzzer share it.

A frame is ``AA AA AA 96 69 | len (2, big-endian) | body | XOR`` where ``len`` counts the body plus the
checksum and the XOR runs over the length bytes and the body. Host bodies are ``CMD Para Data``; module
bodies are ``SW1 SW2 SW3 Data``. Only SW3 (the module's own status) is branched on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce

from devices.errors import DeviceStatusError, NoCard, ProtocolError

__all__ = [
    "BAUD_COMMANDS",
    "COMMANDS",
    "MAX_LENGTH",
    "PREAMBLE",
    "SW3_TABLE",
    "CardPulled",
    "CardRejected",
    "CardSelectFailed",
    "ChecksumError",
    "Command",
    "FrameError",
    "FrameParser",
    "HostFrameRejected",
    "LengthError",
    "NoCardOnReader",
    "NoContent",
    "Request",
    "Response",
    "ResponseParser",
    "SamFault",
    "SamNotAuthorised",
    "SamStatusError",
    "build_frame",
    "build_response",
    "check_status",
    "parse_request",
    "parse_response",
    "split_read_data",
    "status_error",
    "xor",
]

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
#: the largest length field any answer uses is 0x090A (read with a 1024-byte fingerprint); allow headroom.
MAX_LENGTH = 0x1000

SW3_OK = 0x90
SW3_FOUND = 0x9F


# ---- errors ----------------------------------------------------------------------------------------
class FrameError(ProtocolError):
    """Bytes that are not a well-formed SAM frame (bad checksum, impossible length)."""


class ChecksumError(FrameError):
    """The XOR checksum does not match: line noise or a garbled frame."""


class LengthError(FrameError):
    """The length field is impossible for this protocol."""


class SamStatusError(DeviceStatusError):
    """The module answered with a failure status (SW3); ``code`` holds SW3."""


class NoCardOnReader(SamStatusError, NoCard):
    """SW3 80: nothing on the reader."""


class CardSelectFailed(SamStatusError):
    """SW3 81: a card was seen but could not be selected."""


class CardPulled(SamStatusError):
    """SW3 41 or an answer cut short: the card left the field during the read."""


class CardRejected(SamStatusError):
    """The card failed authentication or is of a type the module cannot read."""


class NoContent(SamStatusError):
    """SW3 91: the item asked for (e.g. the extra address) is empty on this card."""


class SamFault(SamStatusError):
    """The security module itself is broken (self-test failure, unknown error)."""


class SamNotAuthorised(SamStatusError):
    """The security module is not authorised, or refused an operation as unauthorised."""


class HostFrameRejected(SamStatusError):
    """The module rejected our frame (checksum, length, unknown command): a driver or line problem."""


#: SW3 → (exception class, words with the remedy). SW3 90 and 9F are success and are not listed.
SW3_TABLE: dict[int, tuple[type[SamStatusError], str]] = {
    0x10: (HostFrameRejected, "the reader rejected our frame's checksum; check the cable and its earthing"),
    0x11: (HostFrameRejected, "the reader rejected our frame's length; check the cable and the baud rate"),
    0x21: (HostFrameRejected, "the reader does not know this command; check that it is a SAM (GA/T 467) reader"),
    0x23: (SamNotAuthorised, "the security module refused an unauthorised operation; reset the reader"),
    0x24: (SamFault, "the security module reported an unrecognised error; reset or power-cycle the reader"),
    0x31: (CardRejected, "the card could not authenticate the security module; ask the citizen to place the "
                         "card again, and check the card by hand if it repeats"),
    0x32: (CardRejected, "the security module could not authenticate the card; the card may be damaged or "
                         "not genuine: check it by hand"),
    0x33: (CardRejected, "the card's information failed verification; ask the citizen to place the card "
                         "again, and check the card by hand if it repeats"),
    0x40: (CardRejected, "this card type cannot be read here; ask the citizen for their resident ID card, "
                         "residence permit or permanent residence card"),
    0x41: (CardPulled, "card pulled mid-read; ask the citizen to hold the card still on the reader"),
    0x47: (CardRejected, "the card did not answer the module's challenge; ask the citizen to place the card again"),
    0x60: (SamFault, "the security module failed its self-test and accepts no commands; power-cycle the "
                     "reader and call the vendor if it persists"),
    0x66: (SamNotAuthorised, "the security module is not authorised; the reader must be authorised by its "
                             "vendor before it can read cards"),
    0x80: (NoCardOnReader, "no card on the reader; ask the citizen to place the card flat on the reader"),
    0x81: (CardSelectFailed, "the card could not be selected; ask the citizen to place the card flat and "
                             "hold it still"),
    0x91: (NoContent, "the card holds no such item (for example no extra address); nothing to do, "
                       "the item is optional"),
}


def status_error(sw3: int, context: str) -> SamStatusError:
    """The exception for a failure SW3, its words prefixed by ``context`` (the device and the command)."""
    cls, words = SW3_TABLE.get(sw3, (SamFault, "the security module answered an unknown status; reset the reader"))
    return cls(f"{context}: {words} (SW3 {sw3:02X})", code=sw3)


# ---- frames ----------------------------------------------------------------------------------------
def xor(data: bytes) -> int:
    """XOR of all bytes: the SAM checksum."""
    return reduce(int.__xor__, data, 0)


def build_frame(body: bytes) -> bytes:
    """Wrap a body (host ``CMD Para Data`` or module ``SW1 SW2 SW3 Data``) with preamble, length and XOR."""
    head = (len(body) + 1).to_bytes(2, "big") + body
    return PREAMBLE + head + bytes([xor(head)])


def build_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A module answer frame (used by the simulator and by tests)."""
    return build_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class Command:
    """One host command: its bytes, the SW3 that means success and the data lengths a success carries."""

    name: str
    cmd: int
    para: int
    timeout_s: float
    success: int = SW3_OK
    data_lengths: frozenset[int] = frozenset({0})
    is_card_read: bool = False
    frame: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", build_frame(bytes([self.cmd, self.para])))

    def accepts(self, response: Response) -> bool:
        """Could ``response`` answer this command? (A success of the wrong size is a stale answer.)"""
        return response.sw3 != self.success or len(response.data) in self.data_lengths


_READ_LENGTHS = frozenset({4 + 256 + 1024})
_READ_FP_LENGTHS = frozenset({6 + 256 + 1024 + n for n in (0, 512, 1024)})

#: Commands by short name; timeouts follow the ones used in the field (protocols.md §1.9).
COMMANDS: dict[str, Command] = {
    "reset": Command("reset SAM (10 FF)", 0x10, 0xFF, 1.0),
    "status": Command("SAM status (11 FF)", 0x11, 0xFF, 0.5),
    "sam_id": Command("read SAM ID (12 FF)", 0x12, 0xFF, 0.5, data_lengths=frozenset({16})),
    "find": Command("find card (20 01)", 0x20, 0x01, 1.0, success=SW3_FOUND, data_lengths=frozenset({4})),
    "select": Command("select card (20 02)", 0x20, 0x02, 1.0, data_lengths=frozenset({8})),
    "read": Command("read card (30 01)", 0x30, 0x01, 3.0, data_lengths=_READ_LENGTHS, is_card_read=True),
    "extra_address": Command("read extra address (30 03)", 0x30, 0x03, 1.5, data_lengths=frozenset({70})),
    "read_fp": Command("read card with fingerprint (30 10)", 0x30, 0x10, 4.0, data_lengths=_READ_FP_LENGTHS,
                       is_card_read=True),
}
#: baud rate → the ``60 xx`` command that sets it
BAUD_COMMANDS: dict[int, Command] = {
    rate: Command(f"set UART {rate} (60 {code:02X})", 0x60, code, 1.0)
    for code, rate in enumerate((115200, 57600, 38400, 19200, 9600))
}


@dataclass(frozen=True)
class Response:
    """A module answer: SW1/SW2 relayed from the card, SW3 from the module, and the data."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    def __repr__(self) -> str:  # data may be a citizen's text block: show its size only
        return f"Response(sw3={self.sw3:02X}, sw1={self.sw1:02X}, sw2={self.sw2:02X}, {len(self.data)} data bytes)"


@dataclass(frozen=True)
class Request:
    """A host command as the module sees it."""

    cmd: int
    para: int
    data: bytes = b""


def parse_response(body: bytes) -> Response:
    """Split a module frame body (without preamble, length and XOR) into a Response."""
    if len(body) < 3:
        raise LengthError(f"a SAM answer needs SW1 SW2 SW3, got {len(body)} bytes")
    return Response(body[0], body[1], body[2], bytes(body[3:]))


def parse_request(body: bytes) -> Request:
    """Split a host frame body into a Request."""
    if len(body) < 2:
        raise LengthError(f"a SAM command needs CMD and Para, got {len(body)} bytes")
    return Request(body[0], body[1], bytes(body[2:]))


def check_status(response: Response, command: Command, context: str) -> Response:
    """Return ``response`` if SW3 means success for ``command``; raise the SW3's error in words otherwise."""
    if response.sw3 == command.success or (command.success == SW3_FOUND and response.sw3 == SW3_OK):
        return response
    raise status_error(response.sw3, f"{context}: {command.name}")


class FrameParser:
    """Incremental framer: ``feed(bytes)`` returns a frame body, or None for "need more", or raises FrameError.

    Garbage before a preamble is skipped (counted in ``discarded``); a frame with an impossible length or a
    wrong checksum is dropped and reported, and parsing resumes after it. Call ``feed(b"")`` to get the next
    frame already buffered.
    """

    def __init__(self, min_length: int = 4, max_length: int = MAX_LENGTH) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self._buf = bytearray()
        self.discarded = 0

    @property
    def in_frame(self) -> bool:
        """A preamble has been seen and its frame is not complete yet (so silence now means truncation)."""
        return self._buf.startswith(PREAMBLE)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> bytes | None:
        self._buf += data
        start = self._buf.find(PREAMBLE)
        if start < 0:
            # keep a tail that may be the start of a preamble split across chunks
            keep = next((k for k in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1)
                         if self._buf.endswith(PREAMBLE[:k])), 0)
            self.discarded += len(self._buf) - keep
            del self._buf[:len(self._buf) - keep]
            return None
        if start:
            self.discarded += start
            del self._buf[:start]
        if len(self._buf) < 7:
            return None
        length = int.from_bytes(self._buf[5:7], "big")
        if not self.min_length <= length <= self.max_length:
            del self._buf[:1]  # resynchronise on the next preamble
            raise LengthError(f"impossible length field {length} (expected {self.min_length}..{self.max_length})")
        total = 7 + length
        if len(self._buf) < total:
            return None
        frame = bytes(self._buf[:total])
        del self._buf[:total]
        if xor(frame[5:-1]) != frame[-1]:
            raise ChecksumError(f"checksum {frame[-1]:02X} does not match {xor(frame[5:-1]):02X} "
                                f"in a {total}-byte frame")
        return frame[7:-1]

    def clear(self) -> None:
        self._buf.clear()


class ResponseParser(FrameParser):
    """Framer for module answers: bodies come back as Response objects."""

    def __init__(self) -> None:
        super().__init__(min_length=4)

    def feed_response(self, data: bytes) -> Response | None:
        body = self.feed(data)
        return None if body is None else parse_response(body)


def split_read_data(data: bytes, with_fingerprint: bool) -> tuple[bytes, bytes, bytes]:
    """Split a 30 01 / 30 10 answer into (text, photo, fingerprint) by its big-endian length fields."""
    head = 6 if with_fingerprint else 4
    if len(data) < head:
        raise LengthError(f"a card read answer of {len(data)} bytes has no length header")
    sizes = [int.from_bytes(data[i:i + 2], "big") for i in range(0, head, 2)]
    if sizes[0] != 256 or sizes[1] != 1024 or (with_fingerprint and sizes[2] not in (0, 512, 1024)):
        raise LengthError(f"a card read answer announces text/photo/fingerprint sizes {sizes}, "
                          "expected 256/1024/(0, 512 or 1024)")
    if len(data) != head + sum(sizes):
        raise LengthError(f"a card read answer has {len(data)} bytes but announces {head + sum(sizes)}")
    text = data[head:head + 256]
    photo = data[head + 256:head + 256 + 1024]
    return bytes(text), bytes(photo), bytes(data[head + 256 + 1024:])
