"""The simulator's ESC/POS parser and the PNG render: what a ticket's bytes really print."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.faults import Fault
from devices.ticket_printer.render import render_ticket, save_ticket_png
from devices.ticket_printer.simulator import EscPosParser, PrintedTicket, PrinterSimulator
from devices.ticket_printer.ticket import TicketLayout, build_ticket

URL = "https://hall.example/t/7f3a9c"
LAYOUT = TicketLayout("新野县政务服务中心", "社保业务", "A012", 5, 15, dt.datetime(2024, 5, 1, 9, 30), URL,
                      holder_masked="赵*𫖯", priority_mark="绿色通道")


def printed(data: bytes, chunk: int = 0) -> list[PrintedTicket]:
    """Feed bytes to a (not started) simulator, optionally in small chunks, and return its tickets."""
    sim = PrinterSimulator("tcp")
    pieces = [data] if not chunk else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        for event in sim.parser.feed(piece):
            sim._event(event)
    return sim.tickets


def test_ticket_parses_to_text_qr_and_cut():
    [ticket] = printed(build_ticket(LAYOUT))
    assert ticket.cut
    assert ticket.qr_data == [URL]
    lines = {line.text.strip(): line for line in ticket.lines}
    assert lines["A012"].width == 3 and lines["A012"].height == 3
    assert lines["绿色通道"].reverse
    assert "新野县政务服务中心" in lines and "您前面还有 5 人等候" in lines
    assert len(ticket.rasters) == 1  # the holder line with a rare character


def test_parse_is_the_same_in_tiny_chunks():
    data = build_ticket(LAYOUT)
    whole, chunked = printed(data)[0], printed(data, chunk=3)[0]
    assert whole.text == chunked.text and whole.qr_data == chunked.qr_data
    assert [r.tobytes() for r in whole.rasters] == [r.tobytes() for r in chunked.rasters]


def test_dle_eot_between_commands_is_answered():
    parser = EscPosParser()
    events = parser.feed(b"\x1b\x40\x1b\x61\x01\x10\x04\x04\x1d\x21\x11AB\x10\x04\x01\n")
    kinds = [e for e in events if e[0] in ("status", "line")]
    assert kinds[0] == ("status", 4) and kinds[1] == ("status", 1)
    assert kinds[2][1].text == "AB" and kinds[2][1].width == 2


def test_gb18030_outside_chinese_mode_is_not_hanzi():
    parser = EscPosParser()
    events = parser.feed(b"\x1c\x2e" + "号".encode("gb18030") + b"\n")
    assert events[-1][1].text != "号"


def test_render_png_shows_the_ticket(tmp_path):
    [ticket] = printed(build_ticket(LAYOUT))
    path = save_ticket_png(ticket, tmp_path / "A012.png")
    image = Image.open(path)
    assert image.width == 576 + 32 and image.height > 400
    dark = sum(image.convert("L").histogram()[:128])
    assert dark > 5000  # text, number and QR put real ink on it
    assert "A012" in ticket.text


def test_render_marks_an_uncut_ticket():
    ticket = PrintedTicket(cut=False, interrupted="paper out")
    cut = PrintedTicket(cut=True)
    assert render_ticket(ticket).height > render_ticket(cut).height


FUZZ_FAULTS = [Fault.PAPER_OUT, Fault.COVER_OPEN, Fault.CUTTER_ERROR, Fault.PAPER_NEAR_END, Fault.GARBLED,
               Fault.SILENT, Fault.OFFLINE]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 50), st.lists(st.sampled_from(FUZZ_FAULTS), max_size=3))
def test_fuzz_random_bytes_never_crash_the_simulator(data, chunk, faults):
    """Random bytes in random chunks, with random standing faults, through the whole on_bytes path."""
    sim = PrinterSimulator("tcp", faults=faults)  # not started: its answers go nowhere, as on a cut cable
    for i in range(0, len(data), chunk):
        sim.on_bytes(data[i:i + chunk])
    assert sim.bytes_received == len(data)
    assert sim.status_queries <= data.count(b"\x10\x04")
    for ticket in sim.tickets:
        assert isinstance(ticket.text, str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 2000))
def test_fuzz_garbage_then_a_ticket_still_parses_after_reset(garbage, cut_at):
    """Junk, then a truncated ticket, then a whole one: the last ticket always comes out right."""
    data = build_ticket(LAYOUT)
    parser = EscPosParser()
    parser.feed(garbage + data[:cut_at])
    parser._buf.clear()  # a printer's receive buffer is flushed by a power cycle; ESC @ starts clean
    parser._skip = 0
    events = parser.feed(data)
    assert ("qr", URL) in events


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8), st.integers(1, 64))
def test_fuzz_corrupted_tickets_never_crash_the_simulator(flips, chunk):
    """A real ticket with bytes overwritten (lengths, opcodes, GB18030 lead bytes) still only parses."""
    data = bytearray(build_ticket(LAYOUT))
    for where, value in flips:
        data[where % len(data)] = value
    sim = PrinterSimulator("tcp")
    for i in range(0, len(data), chunk):
        sim.on_bytes(bytes(data[i:i + chunk]))
    assert sim.bytes_received == len(data)
    for ticket in sim.tickets:
        render_ticket(ticket)  # whatever came out can still be drawn
