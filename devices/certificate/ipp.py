"""IPP/1.1 messages (RFC 8010/8011) as bytes, sans I/O: build requests, decode responses, name the codes.

Only what a kiosk needs from CUPS: Print-Job, Get-Job-Attributes, Get-Printer-Attributes, Cancel-Job,
and the pause/reject operations a test uses to play a jammed printer. Wire facts that bite:
``attributes-charset`` and ``attributes-natural-language`` must come first, and a multi-valued
attribute repeats with an *empty* name (repeating the name makes CUPS honour only the first value).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from devices.errors import ProtocolError

__all__ = ["JOB_STATES", "PRINTER_STATES", "STATUS_WORDS", "Attr", "IppError", "IppRequest", "IppResponse",
           "Op", "Tag", "decode_response", "status_words"]


class IppError(ProtocolError):
    """Bytes that are not a well-formed IPP message."""


class Op(IntEnum):
    """Operation ids used here (RFC 8011 §5.4.15; CUPS extensions 0x4000+)."""

    PRINT_JOB = 0x0002
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_PRINTER_ATTRIBUTES = 0x000B
    PAUSE_PRINTER = 0x0010
    RESUME_PRINTER = 0x0011
    CUPS_ACCEPT_JOBS = 0x4008
    CUPS_REJECT_JOBS = 0x4009


class Tag(IntEnum):
    """Delimiter and value tags (RFC 8010 §3.5)."""

    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED_GROUP = 0x05
    UNSUPPORTED = 0x10
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEGIN_COLLECTION = 0x34
    TEXT_WITH_LANGUAGE = 0x35
    NAME_WITH_LANGUAGE = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME_TYPE = 0x49
    MEMBER_NAME = 0x4A


#: status-code → words (RFC 8011 §B, CUPS additions); the driver puts these in its errors.
STATUS_WORDS: dict[int, str] = {
    0x0000: "successful-ok",
    0x0001: "successful-ok-ignored-or-substituted-attributes",
    0x0002: "successful-ok-conflicting-attributes",
    0x0400: "client-error-bad-request",
    0x0401: "client-error-forbidden",
    0x0402: "client-error-not-authenticated",
    0x0403: "client-error-not-authorized",
    0x0404: "client-error-not-possible",
    0x0405: "client-error-timeout",
    0x0406: "client-error-not-found (no such printer or job)",
    0x0407: "client-error-gone",
    0x0408: "client-error-request-entity-too-large",
    0x040A: "client-error-document-format-not-supported",
    0x040B: "client-error-attributes-or-values-not-supported",
    0x0410: "client-error-compression-not-supported",
    0x0500: "server-error-internal-error",
    0x0501: "server-error-operation-not-supported",
    0x0502: "server-error-service-unavailable",
    0x0503: "server-error-version-not-supported",
    0x0504: "server-error-device-error",
    0x0505: "server-error-temporary-error",
    0x0506: "server-error-not-accepting-jobs (the queue rejects new jobs)",
    0x0507: "server-error-busy",
    0x0508: "server-error-job-canceled",
}

JOB_STATES: dict[int, str] = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
                              7: "canceled", 8: "aborted", 9: "completed"}
PRINTER_STATES: dict[int, str] = {3: "idle", 4: "processing", 5: "stopped"}

_INT_TAGS = {Tag.INTEGER, Tag.ENUM}
_TEXT_TAGS = {Tag.TEXT, Tag.NAME, Tag.KEYWORD, Tag.URI, Tag.URI_SCHEME, Tag.CHARSET, Tag.LANGUAGE,
              Tag.MIME_TYPE, Tag.MEMBER_NAME}


def status_words(code: int) -> str:
    """``0x0506 server-error-not-accepting-jobs …`` for any code, known or not."""
    words = STATUS_WORDS.get(code)
    if words is None:
        kind = {0: "successful", 4: "client-error", 5: "server-error"}.get(code >> 8, "unknown")
        words = f"{kind} (unlisted code)"
    return f"0x{code:04X} {words}"


@dataclass(frozen=True)
class Attr:
    """One attribute to send: name, value tag, and one or more values (str, int, bool or bytes)."""

    name: str
    tag: Tag
    values: tuple[Any, ...]

    @classmethod
    def of(cls, name: str, tag: Tag, *values: Any) -> Attr:
        return cls(name, tag, values)


def _encode_value(tag: Tag, value: Any) -> bytes:
    if tag in _INT_TAGS:
        return struct.pack(">i", int(value))
    if tag is Tag.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in (Tag.NO_VALUE, Tag.UNKNOWN, Tag.UNSUPPORTED):
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _encode_attr(out: bytearray, attr: Attr) -> None:
    if not attr.values:
        raise ValueError(f"attribute {attr.name!r} has no value")
    for i, value in enumerate(attr.values):
        name = attr.name.encode("utf-8") if i == 0 else b""  # later values: empty name (RFC 8010 §3.1.5)
        data = _encode_value(attr.tag, value)
        if len(name) > 0xFFFF or len(data) > 0xFFFF:
            raise ValueError(f"attribute {attr.name!r} is too long for IPP")
        out += struct.pack(">BH", attr.tag, len(name)) + name + struct.pack(">H", len(data)) + data


@dataclass
class IppRequest:
    """A request: operation, id, operation attributes after the two mandatory ones, optional document."""

    op: Op
    request_id: int
    printer_uri: str
    attributes: list[Attr] = field(default_factory=list)
    job_attributes: list[Attr] = field(default_factory=list)
    document: bytes = b""
    # English on purpose: CUPS localises its messages to this, and the driver recognises some by their words
    language: str = "en"

    def encode(self) -> bytes:
        out = bytearray(struct.pack(">BBHI", 1, 1, self.op, self.request_id))
        out.append(Tag.OPERATION)
        _encode_attr(out, Attr.of("attributes-charset", Tag.CHARSET, "utf-8"))
        _encode_attr(out, Attr.of("attributes-natural-language", Tag.LANGUAGE, self.language))
        _encode_attr(out, Attr.of("printer-uri", Tag.URI, self.printer_uri))
        for attr in self.attributes:
            _encode_attr(out, attr)
        if self.job_attributes:
            out.append(Tag.JOB)
            for attr in self.job_attributes:
                _encode_attr(out, attr)
        out.append(Tag.END)
        return bytes(out) + self.document


@dataclass
class IppResponse:
    """A decoded response: status, request id, and attribute groups as (group tag, {name: [values]})."""

    version: tuple[int, int]
    status: int
    request_id: int
    groups: list[tuple[int, dict[str, list[Any]]]]

    @property
    def ok(self) -> bool:
        return self.status < 0x0100

    @property
    def words(self) -> str:
        message = self.first(Tag.OPERATION, "status-message")
        return status_words(self.status) + (f": {message}" if message else "")

    def group(self, tag: int) -> dict[str, list[Any]]:
        """The first group with ``tag`` (an empty dict if there is none)."""
        return next((attrs for gtag, attrs in self.groups if gtag == tag), {})

    def first(self, tag: int, name: str, default: Any = None) -> Any:
        values = self.group(tag).get(name)
        return values[0] if values else default


class _Reader:
    """Bounds-checked reads over a bytes buffer; running off the end is an IppError, never an IndexError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise IppError(f"IPP response truncated in {what} at byte {self.pos} "
                           f"(needs {n}, has {len(self.data) - self.pos})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack(">H", self.take(2, what))[0]


def _decode_value(tag: int, data: bytes, name: str) -> Any:
    try:
        if tag in _INT_TAGS:
            if len(data) != 4:
                raise IppError(f"IPP attribute {name!r}: integer of {len(data)} bytes (must be 4)")
            return struct.unpack(">i", data)[0]
        if tag == Tag.BOOLEAN:
            if len(data) != 1:
                raise IppError(f"IPP attribute {name!r}: boolean of {len(data)} bytes (must be 1)")
            return data != b"\x00"
        if tag == Tag.RANGE and len(data) == 8:
            return struct.unpack(">ii", data)
        if tag == Tag.RESOLUTION and len(data) == 9:
            return struct.unpack(">iiB", data)
        if tag in _TEXT_TAGS:
            return data.decode("utf-8")
        if tag in (Tag.TEXT_WITH_LANGUAGE, Tag.NAME_WITH_LANGUAGE):
            inner = _Reader(data)
            inner.take(inner.u16(name), name)  # the language
            return inner.take(inner.u16(name), name).decode("utf-8")
    except UnicodeDecodeError as err:
        raise IppError(f"IPP attribute {name!r} is not valid UTF-8") from err
    if tag in (Tag.NO_VALUE, Tag.UNKNOWN, Tag.UNSUPPORTED):
        return None
    return bytes(data)  # octetString, dateTime and tags we do not interpret


def _read_collection(reader: _Reader, depth: int) -> dict[str, list[Any]]:
    """Members of a collection up to its endCollection; nested collections recurse (bounded depth)."""
    if depth > 8:
        raise IppError("IPP collection nested deeper than 8 levels")
    members: dict[str, list[Any]] = {}
    current: str | None = None
    while True:
        tag = reader.u8("a collection member")
        reader.take(reader.u16("a member name length"), "a member name")
        data = reader.take(reader.u16("a member value length"), "a member value")
        if tag == Tag.END_COLLECTION:
            return members
        if tag == Tag.MEMBER_NAME:
            current = _decode_value(tag, data, "memberAttrName")
            members.setdefault(current or "", [])
            continue
        if current is None:
            raise IppError("IPP collection value before any member name")
        nested = tag == Tag.BEGIN_COLLECTION
        value = _read_collection(reader, depth + 1) if nested else _decode_value(tag, data, current)
        members[current].append(value)


def decode_response(data: bytes) -> IppResponse:
    """Decode a whole IPP response body; any malformation raises IppError with the byte offset."""
    reader = _Reader(data)
    major, minor = reader.u8("the version"), reader.u8("the version")
    if major not in (1, 2):
        raise IppError(f"not an IPP response: version {major}.{minor}")
    status = reader.u16("the status code")
    request_id = struct.unpack(">I", reader.take(4, "the request id"))[0]
    groups: list[tuple[int, dict[str, list[Any]]]] = []
    attrs: dict[str, list[Any]] | None = None
    last: str | None = None
    while True:
        tag = reader.u8("a tag")
        if tag == Tag.END:
            break
        if tag <= 0x0F:  # a delimiter: a new attribute group starts
            attrs = {}
            groups.append((tag, attrs))
            last = None
            continue
        if attrs is None:
            raise IppError(f"IPP value tag 0x{tag:02X} before any attribute group")
        name = reader.take(reader.u16("a name length"), "a name").decode("utf-8", errors="replace")
        data_len = reader.u16("a value length")
        value_bytes = reader.take(data_len, f"the value of {name or last!r}")
        if name:
            last = name
        elif last is None:
            raise IppError("IPP additional value with no attribute before it")
        value = (_read_collection(reader, 1) if tag == Tag.BEGIN_COLLECTION
                 else _decode_value(tag, value_bytes, last))
        attrs.setdefault(last, []).append(value)
    return IppResponse((major, minor), status, request_id, groups)
