"""``devices print-test``: one test page on a ticket printer (ESC/POS) or on the A4 certificate printer (CUPS).

The page carries Chinese text (the glyphs fonts get wrong: 门 骨 直 …), digits, a QR code and the time it was
printed in the hall's zone, and the command reports what the printer said before and after, or, for CUPS,
the job's outcome: a job counts as printed only once CUPS reports it ``completed``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from devices.certificate.render import Certificate
from devices.errors import DeviceError
from devices.probe import one_shot
from devices.tool_clock import ToolClock

__all__ = ["GLYPH_CHECK", "build_test_page", "print_test"]

GLYPH_CHECK = "门 骨 直 写 画 册 将 说 关 过 对 内 图 边 编 号"


def build_test_page(when: dt.datetime, zone_label: str, queue: str) -> Certificate:
    """The A4 test page: a table of what a technician checks by eye, and a QR code to scan."""
    return Certificate(
        title="打印机自检 PRINT TEST", department="servicehall 自助证照打印", holder="—", holder_id="",
        serial=f"TEST-{when:%Y%m%d-%H%M%S}", issued=when.date(), verify_url="servicehall certificate print test",
        headings=("项目 Item", "内容 Content"),
        rows=(("打印时间 Printed at", f"{when:%Y-%m-%d %H:%M:%S} ({zone_label})"), ("打印队列 Queue", queue),
              ("字形检查 Glyphs", GLYPH_CHECK), ("数字 Digits", "0123456789")),
        paragraphs=("中文测试：请 A012 号到 3 号窗口办理。若本页文字完整清晰、二维码可扫描，打印机工作正常。",),
        note="本页为打印机自检页，不是证明文件。This is a printer test page, not a certificate.")


async def print_test(printer: Any, clock: ToolClock) -> dict[str, Any]:
    """Print one test page on an open ticket or certificate printer; the report says whether it printed."""
    when = clock.now()
    report: dict[str, Any] = {"url": printer.address.url, "device": printer.describe(), "printed": False,
                              "printed_at": clock.stamp(when)}
    before = await printer.status()
    report["before"] = before.as_dict()
    try:
        if printer.kind == "certificate_printer":
            result = await printer.print_certificate(build_test_page(when, clock.label, printer.address.path or "CERT"),
                                                     job_name="servicehall print test")
            report.update(printed=True, job_id=result.job_id, job_state=result.state,
                          elapsed_s=round(result.elapsed_s, 2),
                          reason=f"job {result.job_id} {result.state} in {result.elapsed_s:.2f} s")
        else:
            ticket = await printer.print_test(when)
            report.update(printed=True, bytes_sent=ticket.bytes_sent, reason="test page printed")
    except DeviceError as err:  # the first line of the report already names the device
        report["reason"] = one_shot(str(err)).removeprefix(printer.describe()).lstrip(" :")
    after = await printer.status()
    report["after"] = after.as_dict()
    for side in ("before", "after"):
        report[side]["reason"] = one_shot(report[side]["reason"])
    return report
