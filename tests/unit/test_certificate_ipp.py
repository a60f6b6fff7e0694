"""IPP/1.1 bytes: request layout, response decoding, status words; garbage never crashes the decoder."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.certificate.driver import printer_status
from devices.certificate.ipp import Attr, IppError, IppRequest, Op, Tag, decode_response, status_words
from devices.errors import DeviceError, ProtocolError
from devices.state import DeviceState


def attr_bytes(tag: int, name: str, value: bytes) -> bytes:
    raw = name.encode()
    return struct.pack(">BH", tag, len(raw)) + raw + struct.pack(">H", len(value)) + value


def response(status: int = 0, request_id: int = 7, *groups: tuple[int, bytes], op_extra: bytes = b"") -> bytes:
    body = struct.pack(">BBHI", 1, 1, status, request_id)
    body += bytes([1]) + attr_bytes(0x47, "attributes-charset", b"utf-8")
    body += attr_bytes(0x48, "attributes-natural-language", b"en") + op_extra
    for tag, attrs in groups:
        body += bytes([tag]) + attrs
    return body + b"\x03"


PRINTER_GROUP = (4, attr_bytes(0x23, "printer-state", struct.pack(">i", 5))
                 + attr_bytes(0x41, "printer-state-message", b"paper out")
                 + attr_bytes(0x44, "printer-state-reasons", b"paused")
                 + attr_bytes(0x44, "", b"media-empty-error")
                 + attr_bytes(0x22, "printer-is-accepting-jobs", b"\x01"))


def test_request_header_and_mandatory_attributes_come_first() -> None:
    data = IppRequest(Op.PRINT_JOB, 42, "ipp://127.0.0.1:631/printers/CERT",
                      [Attr.of("job-name", Tag.NAME, "证明")], document=b"%PDF-1.7").encode()
    assert data[:8] == bytes([1, 1, 0, 2, 0, 0, 0, 42])
    assert data[8] == 0x01
    assert data[9:12] == bytes([0x47, 0, 18]) and data[12:30] == b"attributes-charset"
    assert data[30:37] == b"\x00\x05utf-8"
    assert data[37:40] == bytes([0x48, 0, 27]) and data[40:67] == b"attributes-natural-language"
    assert data.index(b"printer-uri") < data.index(b"job-name")
    assert "证明".encode() in data
    assert data.endswith(b"\x03%PDF-1.7")


def test_multi_valued_attribute_uses_empty_names_after_the_first() -> None:
    data = IppRequest(Op.GET_PRINTER_ATTRIBUTES, 1, "ipp://h/printers/Q",
                      [Attr("requested-attributes", Tag.KEYWORD, ("printer-state", "printer-state-message"))]).encode()
    first = attr_bytes(0x44, "requested-attributes", b"printer-state")
    second = attr_bytes(0x44, "", b"printer-state-message")
    assert first + second in data
    assert data.count(b"requested-attributes") == 1


def test_decode_groups_multi_values_and_types() -> None:
    reply = decode_response(response(0, 7, PRINTER_GROUP))
    assert reply.ok and reply.request_id == 7 and reply.version == (1, 1)
    printer = reply.group(Tag.PRINTER)
    assert printer["printer-state"] == [5]
    assert printer["printer-state-reasons"] == ["paused", "media-empty-error"]
    assert printer["printer-is-accepting-jobs"] == [True]
    assert reply.first(Tag.OPERATION, "attributes-charset") == "utf-8"


def test_decode_collection_and_language_values() -> None:
    lang = struct.pack(">H", 2) + b"zh" + struct.pack(">H", 6) + "缺纸".encode()
    col = (attr_bytes(0x34, "media-col", b"") + attr_bytes(0x4A, "", b"media-size")
           + attr_bytes(0x34, "", b"") + attr_bytes(0x4A, "", b"x-dimension")
           + attr_bytes(0x21, "", struct.pack(">i", 21000)) + attr_bytes(0x37, "", b"")
           + attr_bytes(0x37, "", b"") + attr_bytes(0x35, "printer-info", lang))
    printer = decode_response(response(0, 1, (4, col))).group(Tag.PRINTER)
    assert printer["media-col"] == [{"media-size": [{"x-dimension": [21000]}]}]
    assert printer["printer-info"] == ["缺纸"]


def test_status_codes_have_words() -> None:
    reply = decode_response(response(0x0506, 3, op_extra=attr_bytes(0x41, "status-message", b"not accepting")))
    assert not reply.ok
    assert "0x0506 server-error-not-accepting-jobs" in reply.words and "not accepting" in reply.words
    assert status_words(0x0406).startswith("0x0406 client-error-not-found")
    assert status_words(0x04FF) == "0x04FF client-error (unlisted code)"


@pytest.mark.parametrize("cut", range(1, 60, 3))
def test_truncated_response_is_an_ipp_error(cut: int) -> None:
    data = response(0, 7, PRINTER_GROUP)
    with pytest.raises(IppError, match=r"truncated|version"):
        decode_response(data[:cut])


@pytest.mark.parametrize(("data", "words"), [
    (b"HTTP/1.1 200 OK\r\n", "version"),
    (struct.pack(">BBHI", 1, 1, 0, 1) + attr_bytes(0x21, "x", b"\0\0\0\1") + b"\x03", "before any attribute group"),
    (struct.pack(">BBHI", 1, 1, 0, 1) + b"\x04" + attr_bytes(0x21, "", b"\0\0\0\1") + b"\x03", "no attribute"),
    (struct.pack(">BBHI", 1, 1, 0, 1) + b"\x04" + attr_bytes(0x21, "n", b"\0\1") + b"\x03", "integer of 2 bytes"),
    (struct.pack(">BBHI", 1, 1, 0, 1) + b"\x04" + attr_bytes(0x41, "n", b"\xff\xfe") + b"\x03", "UTF-8"),
])
def test_malformed_responses_name_the_fault(data: bytes, words: str) -> None:
    with pytest.raises(IppError, match=words) as caught:
        decode_response(data)
    assert isinstance(caught.value, ProtocolError) and isinstance(caught.value, DeviceError)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_garbage_decodes_or_raises_ipp_error(data: bytes) -> None:
    with contextlib.suppress(IppError):  # any other exception, or a hang, fails the test
        decode_response(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_responses(data: st.DataObject) -> None:
    raw = bytearray(response(0, 7, PRINTER_GROUP))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        reply = decode_response(bytes(raw[:cut]))
    except IppError:
        return
    assert isinstance(reply.groups, list)


def attrs(**values: object) -> dict[str, list[object]]:
    return {name.replace("_", "-"): (v if isinstance(v, list) else [v]) for name, v in values.items()}


def test_printer_status_stopped_paper_out_is_fault_with_words() -> None:
    status = printer_status(attrs(printer_state=5, printer_state_message="paper out",
                                  printer_state_reasons="paused", printer_is_accepting_jobs=True), "CERT")
    assert status.state is DeviceState.FAULT
    assert "paper out" in status.reason and "cupsenable CERT" in status.reason
    assert status.details["paper"] == "out"


def test_printer_status_idle_is_ready_with_paper_unknown() -> None:
    status = printer_status(attrs(printer_state=3, printer_state_message="", printer_state_reasons="none",
                                  printer_is_accepting_jobs=True), "CERT")
    assert status.state is DeviceState.READY and status.details["paper"] == "unknown"


def test_printer_status_rejecting_and_unavailable() -> None:
    rejecting = printer_status(attrs(printer_state=3, printer_state_message="offline",
                                     printer_is_accepting_jobs=False), "Q")
    assert rejecting.state is DeviceState.FAULT and "not accepting" in rejecting.reason
    gone = printer_status(attrs(printer_state=4, printer_is_accepting_jobs=True, printer_state_message=
                                "The printer may not exist or is unavailable at this time."), "Q")
    assert gone.state is DeviceState.DISCONNECTED and "power and network cable" in gone.reason


def test_simulated_printer_unwraps_pjl_like_a_pdf_printer() -> None:
    from devices.certificate.simulator import unwrap_pjl

    job = (b"\x1b%-12345X@PJL\n@PJL JOB NAME = \"c\"\n@PJL ENTER LANGUAGE = PDF\n%PDF-1.7\nbody\n%%EOF\n"
           b"\x1b%-12345X@PJL\n@PJL EOJ \n\x1b%-12345X")
    commands, pdf = unwrap_pjl(job)
    assert pdf == b"%PDF-1.7\nbody\n%%EOF\n"
    assert commands[:2] == ["@PJL", '@PJL JOB NAME = "c"'] and "@PJL EOJ" in commands
    assert unwrap_pjl(b"%PDF-1.4 plain") == ([], b"%PDF-1.4 plain")
