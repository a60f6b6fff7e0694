"""ISO 7816-4 APDUs without I/O: build commands, parse responses, name status words, play the T=0 rules.

Everything here works on bytes so Hypothesis can feed it garbage; the driver moves the bytes through
pyscard. Status words map to words and to DeviceError subclasses through one table (``STATUS_WORDS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from devices.errors import DeviceStatusError, ProtocolError

__all__ = [
    "STATUS_WORDS", "ApduError", "AuthenticationRequired", "CardStatusError", "CommandApdu", "FileNotFound",
    "RecordNotFound", "ResponseApdu", "T0Exchange", "Tlv", "WrongLength", "bcd_digits", "check", "describe_sw",
    "gbk_text", "iter_tlv", "parse_tlv", "read_record", "select_by_name", "select_file",
]

GET_RESPONSE_INS = 0xC0
#: how many 61xx / 6Cxx turns one exchange may take before we call the card broken
MAX_T0_TURNS = 32


class ApduError(ProtocolError):
    """Bytes that are not a valid APDU (too short, lengths that disagree)."""


class CardStatusError(DeviceStatusError):
    """The card answered with a status word other than success; ``code`` holds SW1SW2."""


class FileNotFound(CardStatusError):
    """6A82: the file or application is not on this card (wrong card type or region)."""


class RecordNotFound(CardStatusError):
    """6A83: the record is not in the file."""


class AuthenticationRequired(CardStatusError):
    """6982: the card wants PSAM (internal/external) authentication before it shows the file."""


class WrongLength(CardStatusError):
    """6700 / 6Cxx that could not be repaired: the length we asked for does not fit."""


class WrongParameters(CardStatusError):
    """6A86 / 6B00 / 6A80: the command's parameters do not fit this card."""


class NotSupported(CardStatusError):
    """6D00 / 6E00: instruction or class not supported (not the card we think it is)."""


class VerifyFailed(CardStatusError):
    """63Cx: a PIN or key check failed; x tries are left."""


class CardBlocked(CardStatusError):
    """6983 / 6984: the key or PIN is blocked, or the reference data is unusable."""


#: SW1SW2 → (words, error class); 63Cx, 61xx and 6Cxx are handled by ``describe_sw``.
STATUS_WORDS: dict[int, tuple[str, type[CardStatusError]]] = {
    0x6283: ("selected file is invalidated (the card application was deactivated)", CardStatusError),
    0x6281: ("part of the returned data may be corrupted", CardStatusError),
    0x6282: ("end of file or record reached before Le bytes", CardStatusError),
    0x6581: ("memory failure in the card", CardStatusError),
    0x6700: ("wrong length (Lc or Le)", WrongLength),
    0x6881: ("logical channel not supported", NotSupported),
    0x6882: ("secure messaging not supported", NotSupported),
    0x6981: ("command incompatible with the file structure", CardStatusError),
    0x6982: ("security status not satisfied: card needs PSAM authentication", AuthenticationRequired),
    0x6983: ("authentication method blocked", CardBlocked),
    0x6984: ("reference data invalidated", CardBlocked),
    0x6985: ("conditions of use not satisfied", CardStatusError),
    0x6986: ("command not allowed (no current EF)", CardStatusError),
    0x6988: ("secure messaging data objects incorrect", CardStatusError),
    0x6A80: ("incorrect parameters in the data field", WrongParameters),
    0x6A81: ("function not supported", NotSupported),
    0x6A82: ("file or application not found", FileNotFound),
    0x6A83: ("record not found", RecordNotFound),
    0x6A84: ("not enough memory space in the file", CardStatusError),
    0x6A86: ("incorrect parameters P1-P2", WrongParameters),
    0x6A88: ("referenced data not found", CardStatusError),
    0x6B00: ("wrong parameters (offset outside the EF)", WrongParameters),
    0x6D00: ("instruction code not supported", NotSupported),
    0x6E00: ("class not supported", NotSupported),
    0x6F00: ("no precise diagnosis (card internal error)", CardStatusError),
}


def describe_sw(sw: int) -> str:
    """Words for a status word, so every error message can say what the card meant."""
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw == 0x9000:
        return "success"
    if sw1 == 0x61:
        return f"{sw2} more bytes available (GET RESPONSE)"
    if sw1 == 0x6C:
        return f"wrong Le; the card has {sw2} bytes"
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} tries left"
    known = STATUS_WORDS.get(sw)
    if known is not None:
        return known[0]
    return {0x62: "warning, card state unchanged", 0x63: "warning, card state changed",
            0x64: "execution error, card state unchanged", 0x65: "execution error, card state changed",
            0x69: "command not allowed", 0x6A: "wrong parameters"}.get(sw1, "unknown status")


def error_for(sw: int, context: str) -> CardStatusError:
    """The DeviceError that a failing status word becomes, with ``context`` naming device and command."""
    if sw >> 8 == 0x63 and sw & 0xF0 == 0xC0:
        cls: type[CardStatusError] = VerifyFailed
    else:
        cls = STATUS_WORDS.get(sw, ("", CardStatusError))[1]
    return cls(f"{context}: card answered {sw:04X} ({describe_sw(sw)})", code=sw)


@dataclass(frozen=True)
class CommandApdu:
    """A short command APDU; ``le`` None means no Le (cases 1, 3), 0 means "up to 256" (Le byte 00)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ApduError(f"APDU {name} {getattr(self, name)} is not a byte")
        if len(self.data) > 255:
            raise ApduError(f"APDU data of {len(self.data)} bytes needs extended length, which we do not use")
        if self.le is not None and not 0 <= self.le <= 256:
            raise ApduError(f"APDU Le {self.le} is outside 0..256")

    @property
    def case(self) -> int:
        """ISO 7816-3 case: 1 no data/no Le, 2 Le only, 3 data only, 4 data and Le."""
        return (3 if self.data else 1) + (1 if self.le is not None else 0)

    def to_bytes(self) -> bytes:
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le & 0xFF,))
        return out

    def with_le(self, le: int) -> CommandApdu:
        return CommandApdu(self.cla, self.ins, self.p1, self.p2, self.data, le)

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Parse a short C-APDU as a card sees it (the virtual card uses this)."""
        if len(raw) < 4:
            raise ApduError(f"command APDU of {len(raw)} bytes is shorter than its 4-byte header")
        (cla, ins, p1, p2), body = raw[:4], raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            raise ApduError(f"command APDU body of {len(body)} bytes disagrees with Lc={lc}")
        le = None if len(body) == 1 + lc else (body[-1] or 256)
        return cls(cla, ins, p1, p2, data=bytes(body[1:1 + lc]), le=le)

    def __str__(self) -> str:
        return self.to_bytes().hex(" ").upper()


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data then SW1 SW2."""

    data: bytes
    sw1: int
    sw2: int

    @property
    def sw(self) -> int:
        return self.sw1 << 8 | self.sw2

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ApduError(f"response of {len(raw)} bytes has no status word (a card answers at least SW1 SW2)")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    def to_bytes(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))

    def __repr__(self) -> str:
        # data may be personal (names, numbers): show only its length
        return f"ResponseApdu({len(self.data)} bytes, sw={self.sw:04X})"


def check(response: ResponseApdu, context: str) -> bytes:
    """The response's data, or the mapped CardStatusError for any status other than 9000."""
    if response.ok:
        return response.data
    raise error_for(response.sw, context)


class T0Exchange:
    """The T=0 rules as a small state machine: 61xx → GET RESPONSE (looping), 6Cxx → resend with Le=xx.

    ``first`` is what to send; feed every raw response to ``feed``; it returns the next command or None,
    and then ``result`` holds the assembled response.
    """

    def __init__(self, command: CommandApdu) -> None:
        self.first = command
        self._command = command
        self._data = bytearray()
        self._turns = 0
        self._resent = False
        self.result: ResponseApdu | None = None

    def feed(self, raw: bytes) -> CommandApdu | None:
        response = ResponseApdu.parse(raw)
        self._turns += 1
        if self._turns > MAX_T0_TURNS:
            raise ApduError(f"card kept asking for GET RESPONSE after {MAX_T0_TURNS} turns; it is misbehaving")
        if response.sw1 == 0x61:
            self._data += response.data
            self._command = CommandApdu(self.first.cla & 0x03, GET_RESPONSE_INS, 0, 0, le=response.sw2 or 256)
            return self._command
        if response.sw1 == 0x6C and not self._resent:
            self._resent = True
            self._command = self._command.with_le(response.sw2 or 256)
            return self._command
        self.result = ResponseApdu(bytes(self._data) + response.data, response.sw1, response.sw2)
        return None


# ---- commands the social-security card uses -------------------------------------------------------------
def select_by_name(df_name: bytes) -> CommandApdu:
    """SELECT by DF name (P1=04), asking for the FCI (T=0 cards answer 61xx)."""
    return CommandApdu(0x00, 0xA4, 0x04, 0x00, df_name)


def select_file(file_id: int) -> CommandApdu:
    """SELECT an EF under the current DF by its 2-byte identifier (P1=02)."""
    return CommandApdu(0x00, 0xA4, 0x02, 0x00, file_id.to_bytes(2, "big"))


def read_record(number: int, le: int, sfi: int | None = None) -> CommandApdu:
    """READ RECORD ``number`` of short file ``sfi`` (P2 = sfi<<3 | 4), or of the current EF with P2=00.

    P2=00 (record identified by P1 in the current EF) is what deployed social-security readers send.
    """
    p2 = 0x00 if sfi is None else (sfi << 3) | 0x04
    return CommandApdu(0x00, 0xB2, number, p2, le=le)


# ---- TLV records ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tlv:
    """One simple TLV element as the social-security card stores it (1-byte tag, 1-byte length)."""

    tag: int
    value: bytes

    def __repr__(self) -> str:
        return f"Tlv(tag={self.tag:02X}, {len(self.value)} bytes)"


def iter_tlv(raw: bytes) -> Iterator[Tlv]:
    """Walk simple TLVs; trailing 00/FF padding ends the walk, a length past the end is an error."""
    pos = 0
    while pos < len(raw):
        tag = raw[pos]
        if tag in (0x00, 0xFF):
            return
        if pos + 2 > len(raw):
            raise ApduError(f"TLV tag {tag:02X} at offset {pos} has no length byte")
        length = raw[pos + 1]
        end = pos + 2 + length
        if end > len(raw):
            raise ApduError(f"TLV tag {tag:02X} says {length} bytes but only {len(raw) - pos - 2} follow")
        yield Tlv(tag, bytes(raw[pos + 2:end]))
        pos = end


def parse_tlv(raw: bytes, tag: int) -> bytes:
    """The value of the first element, which must carry ``tag`` (a record read answers with one TLV)."""
    for element in iter_tlv(raw):
        if element.tag != tag:
            raise ApduError(f"record starts with tag {element.tag:02X}, expected {tag:02X}")
        return element.value
    raise ApduError(f"record holds no TLV element (expected tag {tag:02X})")


def bcd_digits(value: bytes) -> str:
    """Numeric "cn" field: BCD digits, right-padded with F nibbles."""
    digits: list[str] = []
    for byte in value:
        for nibble in (byte >> 4, byte & 0x0F):
            if nibble == 0x0F:
                return "".join(digits)
            if nibble > 9:
                raise ApduError(f"BCD field {value.hex().upper()} holds the non-digit nibble {nibble:X}")
            digits.append(str(nibble))
    return "".join(digits)


def gbk_text(value: bytes) -> str:
    """Alphanumeric "an" field: GBK text, left-aligned and padded with 00 (some issuers pad with spaces)."""
    try:
        return value.rstrip(b"\x00").decode("gbk").strip()
    except UnicodeDecodeError as err:
        raise ApduError(f"text field of {len(value)} bytes is not valid GBK") from err
