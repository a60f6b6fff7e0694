"""Draw a ticket the simulator printed as a PNG a person can look at (text, rasters, QR, torn edge).

The QR code is drawn again from the data the printer stored (``GS ( k`` function 80) with ``qrcode``,
so a phone can scan the picture and land on the status page the ticket points to.
"""

from __future__ import annotations

from pathlib import Path

import qrcode
from PIL import Image, ImageDraw

from devices.ticket_printer.simulator import PrintedLine, PrintedTicket
from devices.ticket_printer.ticket import cjk_font

__all__ = ["render_ticket", "save_ticket_png"]

WIDTH = 576  # printable dots of 80 mm paper
MARGIN = 16
BASE = 24  # Font A / hanzi cell height in dots


def _line_image(line: PrintedLine) -> Image.Image:
    font = cjk_font(BASE * line.height)
    text = "".join(ch if ch.isprintable() else "?" for ch in line.text) or " "
    left, _top, right, _bottom = font.getbbox(text)
    ascent, descent = font.getmetrics()
    text_w = int((right - left) * line.width / line.height)
    height = ascent + descent + 4
    canvas = Image.new("L", (max(1, int(right - left) + 2), height), 255)  # the bbox is whole pixels
    ImageDraw.Draw(canvas).text((-left + 1, 2), text, font=font, fill=0, stroke_width=1 if line.bold else 0)
    if line.width != line.height:
        canvas = canvas.resize((max(1, text_w), height))
    if line.reverse:
        canvas = Image.eval(canvas, lambda v: 255 - v)
    row = Image.new("L", (WIDTH, height), 255)
    x = {0: 0, 1: (WIDTH - canvas.width) // 2, 2: WIDTH - canvas.width}.get(line.align, 0)
    row.paste(canvas, (max(0, x), 0))
    return row


def _qr_image(data: str) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=2)
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    row = Image.new("L", (WIDTH, image.height), 255)
    row.paste(image, ((WIDTH - image.width) // 2, 0))
    return row


def render_ticket(ticket: PrintedTicket) -> Image.Image:
    """The whole ticket on a white strip 576 dots wide; a ticket that was not cut gets a ragged edge."""
    rows: list[Image.Image] = []
    for item in ticket.items:
        if isinstance(item, PrintedLine):
            rows.append(_line_image(item))
        elif isinstance(item, Image.Image):
            row = Image.new("L", (WIDTH, item.height), 255)
            row.paste(item.convert("L").crop((0, 0, min(WIDTH, item.width), item.height)), (0, 0))
            rows.append(row)
        elif isinstance(item, tuple) and item[0] == "qr":
            rows.append(_qr_image(item[1]))
    height = sum(r.height for r in rows) + 2 * MARGIN + (0 if ticket.cut else 30)
    page = Image.new("L", (WIDTH + 2 * MARGIN, height), 255)
    y = MARGIN
    for row in rows:
        page.paste(row, (MARGIN, y))
        y += row.height
    draw = ImageDraw.Draw(page)
    if not ticket.cut:
        note = f"(not cut: {ticket.interrupted or 'no cut command'})"
        draw.text((MARGIN, height - 28), note, font=cjk_font(18), fill=0)
        for x in range(0, page.width, 12):
            draw.line([(x, height - 1), (x + 6, height - 7), (x + 12, height - 1)], fill=0)
    return page


def save_ticket_png(ticket: PrintedTicket, path: str | Path) -> Path:
    """Write ``render_ticket`` to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_ticket(ticket).save(path, format="PNG")
    return path
